"""The audience's suppression key is stored with each contact whatever writes the row, and a
page reads an audience once per transaction but never past a write."""

from __future__ import annotations

import hashlib
from pathlib import Path

import sqlalchemy as sa

from mailapp.audience.contacts import upsert_contacts
from mailapp.audience.suppression import suppress
from mailapp.delivery.recipients import audience_zones, count_audience, sample_recipient
from mailapp.extensions import db
from mailapp.models import Contact, SuppressionReason
from tests.factories import TEST_ACTOR, make_contact, make_list, make_project


def _sha(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()


def _stored_hashes(project_id: int) -> dict[str, str | None]:
    rows = db.session.execute(
        sa.select(Contact.email, Contact.email_hash).where(Contact.project_id == project_id)
    )
    return dict(rows.all())


def test_every_write_path_stores_the_suppression_key(app, tmp_path: Path) -> None:
    with app.app_context():
        project = make_project()
        make_contact(project, "orm@x.example")
        upsert_contacts(project.id, [{"email": "Bulk@X.example"}], actor=TEST_ACTOR)
        db.session.execute(
            sa.insert(Contact).values(
                project_id=project.id,
                email="core@x.example",
                email_raw="core@x.example",
                status="active",
                attributes={},
                is_role_address=False,
                is_disposable=False,
                quarantined=False,
                soft_bounces=0,
                created_at=sa.func.now(),
                updated_at=sa.func.now(),
            )
        )
        db.session.commit()
        hashes = _stored_hashes(project.id)
        assert hashes == {e: _sha(e) for e in ("orm@x.example", "bulk@x.example", "core@x.example")}
        # A changed address changes its key; the other contacts keep theirs.
        contact = db.session.scalar(sa.select(Contact).where(Contact.email == "orm@x.example"))
        contact.email = "renamed@x.example"
        db.session.commit()
        assert _stored_hashes(project.id)["renamed@x.example"] == _sha("renamed@x.example")
        assert "orm@x.example" not in _stored_hashes(project.id)


def test_an_audience_is_read_once_until_something_is_written(app) -> None:
    with app.app_context():
        project = make_project()
        news = make_list(project, emails=["a@x.example", "b@x.example", "c@x.example"])
        audience = {"lists": [news.id]}
        selects: list[str] = []

        def count_selects(conn, cursor, statement, *_args) -> None:
            if "FROM contacts" in statement and "GROUP BY" in statement:
                selects.append(statement)

        sa.event.listen(db.engine, "before_cursor_execute", count_selects)
        try:
            assert count_audience(project.id, audience) == 3
            assert audience_zones(project.id, audience) == [(None, 3)]
            assert count_audience(project.id, dict(reversed(audience.items()))) == 3
            assert len(selects) == 1
            first = sample_recipient(project.id, audience)
            assert first is not None
            assert first.email == "a@x.example"
            # A suppression written in the same transaction is seen by the next reading.
            suppress(project.id, "A@x.example", SuppressionReason.MANUAL, actor=TEST_ACTOR)
            assert count_audience(project.id, audience) == 2
            assert sample_recipient(project.id, audience).email == "b@x.example"
            # A Core statement that writes is a write too.
            db.session.execute(sa.delete(Contact).where(Contact.email == "b@x.example"))
            assert count_audience(project.id, audience) == 1
            assert len(selects) == 3
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count_selects)
