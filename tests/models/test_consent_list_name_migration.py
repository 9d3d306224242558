"""Migration s10_0002 names the list of every consent record that has one; later records are
named when written, and keep the name when their list is deleted."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from tests.support.migrations import database_at, insert


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_existing_consent_records_get_their_lists_name(
    request: pytest.FixtureRequest, kind: str, tmp_path: Path, redis_url: str
) -> None:
    with database_at(request, kind, "s10_0001", tmp_path, redis_url) as engine:
        meta = sa.MetaData()
        meta.reflect(engine)
        accounts, projects, lists, contacts, consents = (
            meta.tables[name]
            for name in ("accounts", "projects", "lists", "contacts", "consent_records")
        )
        now = sa.func.current_timestamp()
        with engine.begin() as conn:
            account = insert(conn, accounts, name="A", created_at=now)
            project = insert(
                conn,
                projects,
                account_id=account,
                slug="p",
                name="P",
                timezone="UTC",
                settings={},
                created_at=now,
            )
            news = insert(
                conn,
                lists,
                project_id=project,
                name="News",
                opt_in="double",
                is_public=True,
                token="t-news",
                created_at=now,
            )
            contact = insert(
                conn,
                contacts,
                project_id=project,
                email="c@x.example",
                email_raw="c@x",
                status="active",
                attributes={},
                is_role_address=False,
                is_disposable=False,
                quarantined=False,
                soft_bounces=0,
                created_at=now,
                updated_at=now,
            )
            given = insert(
                conn,
                consents,
                project_id=project,
                contact_id=contact,
                list_id=news,
                source="form",
                created_at=now,
            )
            orphan = insert(
                conn,
                consents,
                project_id=project,
                contact_id=contact,
                list_id=None,
                source="unsubscribe:link",
                created_at=now,
            )

        upgrade(revision="s10_0002")

        named = sa.table("consent_records", sa.column("id"), sa.column("list_name"))
        with engine.begin() as conn:
            rows = dict(conn.execute(sa.select(named.c.id, named.c.list_name)).all())
        assert rows == {given: "News", orphan: None}
