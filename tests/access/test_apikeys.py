from datetime import timedelta

import pytest

from mailapp.access.apikeys import (
    KeyProblem,
    authenticate_api_key,
    create_api_key,
    revoke_api_key,
)
from mailapp.access.audit import Actor
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.models.base import utcnow
from tests.factories import make_project
from tests.support.audit import one_audit_entry

ACTOR = Actor(label="ada@example.com", user_id=None, ip="192.0.2.1")


def test_create_returns_the_key_once_and_audits_without_it(app):
    project = make_project()
    with one_audit_entry("api_key.create") as entry:
        api_key, key = create_api_key(
            project.id,
            "crm sync",
            ["contacts.write", "contacts.read"],
            actor=ACTOR,
            expires_in_days=30,
        )
    assert entry[0].actor == ACTOR.label
    assert entry[0].ip == ACTOR.ip
    assert entry[0].object_id == str(api_key.id)
    assert key not in str(entry[0].context)
    assert api_key.scopes == ["contacts.read", "contacts.write"]
    assert timedelta(days=29) < api_key.expires_at - utcnow() <= timedelta(days=30)
    assert authenticate_api_key(key).api_key.id == api_key.id


@pytest.mark.parametrize(
    ("scopes", "kwargs", "message"),
    [
        (["contacts.everything"], {}, "unknown scope"),
        ([], {}, "at least one scope"),
        (["users.manage"], {"grantable": ["contacts.read"]}, "do not hold"),
        (["contacts.read"], {"expires_in_days": 0}, "between 1 and"),
    ],
)
def test_create_refuses_bad_requests(app, scopes, kwargs, message):
    project = make_project()
    with pytest.raises(ServiceError, match=message):
        create_api_key(project.id, "x", scopes, actor=ACTOR, **kwargs)


def test_revoke_is_audited_once_and_scoped_to_the_project(app):
    project, other = make_project(), make_project()
    api_key, key = create_api_key(project.id, "k", ["contacts.read"], actor=ACTOR)
    with pytest.raises(NotFound):
        revoke_api_key(other.id, api_key.id, actor=ACTOR)
    with one_audit_entry("api_key.revoke"):
        revoke_api_key(project.id, api_key.id, actor=ACTOR)
    revoke_api_key(project.id, api_key.id, actor=ACTOR)  # twice: no second entry
    assert authenticate_api_key(key).problem is KeyProblem.REVOKED


def test_authenticate_names_the_problem(app):
    project = make_project()
    api_key, key = create_api_key(project.id, "k", ["contacts.read"], actor=ACTOR)
    assert authenticate_api_key(None).problem is KeyProblem.MISSING
    assert authenticate_api_key(key + "x").problem is KeyProblem.UNKNOWN
    api_key.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert authenticate_api_key(key).problem is KeyProblem.EXPIRED


def test_last_use_is_written_at_most_once_a_minute(app):
    project = make_project()
    api_key, key = create_api_key(project.id, "k", ["contacts.read"], actor=ACTOR)
    authenticate_api_key(key)
    db.session.refresh(api_key)
    first = api_key.last_used_at
    assert first is not None
    authenticate_api_key(key)
    db.session.refresh(api_key)
    assert api_key.last_used_at == first
