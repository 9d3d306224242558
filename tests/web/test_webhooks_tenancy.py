"""ESP event ids are deduplicated per project: another tenant's ids never shadow ours."""

from __future__ import annotations

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.feedback.esp.intake import create_inbound_webhook
from mailapp.models import Contact, ContactStatus, EspProvider, ProviderEvent, Suppression
from tests.factories import TEST_ACTOR, make_contact, make_project
from tests.web.test_webhooks import POSTMARK_BOUNCE, POSTMARK_SECRET, basic


def test_an_event_id_posted_first_by_another_project_is_still_ours(app, client):
    with app.app_context():
        attacker, victim = make_project("attacker"), make_project("victim")
        contact = make_contact(victim, POSTMARK_BOUNCE["Email"])
        hooks = [
            create_inbound_webhook(
                p.id, EspProvider.POSTMARK, secret=POSTMARK_SECRET, actor=TEST_ACTOR
            )
            for p in (attacker, victim)
        ]
        urls = [f"/webhooks/postmark/{h.token}" for h in hooks]
        headers = basic(POSTMARK_SECRET)
        assert client.post(urls[0], json=POSTMARK_BOUNCE, headers=headers).status_code == 200
        # The victim's genuine bounce with the same id is received and applied, not a 409.
        assert client.post(urls[1], json=POSTMARK_BOUNCE, headers=headers).status_code == 200
        assert db.session.get(Contact, contact.id).status == ContactStatus.BOUNCED
        assert (
            db.session.scalar(
                sa.select(Suppression.project_id).where(Suppression.project_id == victim.id)
            )
            == victim.id
        )
        stored = db.session.scalars(sa.select(ProviderEvent.project_id)).all()
        assert sorted(stored) == sorted([attacker.id, victim.id])
        # Within one project, the same id again is still a replay.
        assert client.post(urls[1], json=POSTMARK_BOUNCE, headers=headers).status_code == 409
