"""Forged ESP webhooks (issue 15, held): for every provider a request that is unsigned,
signed with another key, or carries the wrong credential is refused and changes nothing;
the provider's own fixtures and signing helpers come from tests/web/test_webhooks.py."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mailapp.feedback.esp.intake import create_inbound_webhook
from mailapp.models import EspProvider
from tests.factories import TEST_ACTOR
from tests.web import test_webhooks as hooks
from tests.web.test_webhooks import (
    MAILGUN_KEY,
    NOTHING,
    POSTMARK_BOUNCE,
    POSTMARK_SECRET,
    SENDGRID_EVENTS,
    TOPIC,
    basic,
    counts,
    mailgun_body,
    mailgun_failed,
    seed_cert,
    sendgrid_post,
    ses_bounce,
    sns_message,
)

# The provider tests' fixtures: a project with one sent delivery, an SNS and a SendGrid key.
hook_setup, sns_keys, sendgrid_keys = hooks.setup, hooks.sns_key, hooks.sendgrid_key


def _ses(client, hook, keys, forged: bool) -> int:
    key, pem = keys
    seed_cert(pem)
    signer = rsa.generate_private_key(public_exponent=65537, key_size=2048) if forged else key
    body = sns_message(signer, ses_bounce())
    if not forged:
        del body["Signature"]
    return client.post(f"/webhooks/ses/{hook.token}", json=body).status_code


def _sendgrid(client, hook, _keys, forged: bool) -> int:
    body = json.dumps(SENDGRID_EVENTS).encode()
    if forged:
        return sendgrid_post(
            client, hook, ec.generate_private_key(ec.SECP256R1()), body
        ).status_code
    url = f"/webhooks/sendgrid/{hook.token}"
    return client.post(url, data=body, content_type="application/json").status_code


def _mailgun(client, hook, _key, forged: bool) -> int:
    url = f"/webhooks/mailgun/{hook.token}"
    if forged:
        return client.post(url, json=mailgun_body(mailgun_failed(), key="key-wrong")).status_code
    return client.post(url, json={"event-data": mailgun_failed()}).status_code


def _postmark(client, hook, _key, forged: bool) -> int:
    url = f"/webhooks/postmark/{hook.token}"
    headers = basic("wrong-" + POSTMARK_SECRET) if forged else {}
    return client.post(url, json=POSTMARK_BOUNCE, headers=headers).status_code


PROVIDERS = {
    EspProvider.SES: (_ses, lambda _keys: TOPIC),
    EspProvider.SENDGRID: (_sendgrid, lambda keys: keys["sendgrid"][1]),
    EspProvider.MAILGUN: (_mailgun, lambda _keys: MAILGUN_KEY),
    EspProvider.POSTMARK: (_postmark, lambda _keys: POSTMARK_SECRET),
}


@pytest.mark.parametrize("provider", list(PROVIDERS), ids=lambda p: p.value)
def test_unsigned_and_forged_webhooks_are_refused(
    app, client, hook_setup, sns_keys, sendgrid_keys, provider
):
    project, _contact, _delivery = hook_setup
    send, secret = PROVIDERS[provider]
    keys = {"sns": sns_keys, "sendgrid": sendgrid_keys}
    with app.app_context():
        hook = create_inbound_webhook(project.id, provider, secret=secret(keys), actor=TEST_ACTOR)
        key = keys["sns"] if provider == EspProvider.SES else keys["sendgrid"]
        assert send(client, hook, key, forged=False) == 401
        assert send(client, hook, key, forged=True) == 403
        # a genuine token with another provider's path is no endpoint at all
        other = "postmark" if provider != EspProvider.POSTMARK else "mailgun"
        assert client.post(f"/webhooks/{other}/{hook.token}", json={}).status_code == 404
        assert counts() == NOTHING
