"""Migration s9_0001 counts the memberships that exist when it runs; its triggers count the
rest."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from tests.support.migrations import database_at, insert


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_existing_memberships_are_counted_and_later_ones_kept(
    request: pytest.FixtureRequest, kind: str, tmp_path: Path, redis_url: str
) -> None:
    with database_at(request, kind, "s6_0004", tmp_path, redis_url) as engine:
        meta = sa.MetaData()
        meta.reflect(engine)
        accounts, projects, lists, contacts, members = (
            meta.tables[name]
            for name in ("accounts", "projects", "lists", "contacts", "list_memberships")
        )
        now = sa.func.current_timestamp()
        person = {"status": "active", "attributes": {}, "is_role_address": False,
                  "is_disposable": False, "quarantined": False, "soft_bounces": 0,
                  "created_at": now, "updated_at": now}  # fmt: skip
        with engine.begin() as conn:
            account = insert(conn, accounts, name="A", created_at=now)
            project = insert(conn, projects, account_id=account, slug="p", name="P", timezone="UTC",
                          settings={}, created_at=now)  # fmt: skip
            list_ids = [insert(conn, lists, project_id=project, name=name, opt_in="single",
                            is_public=False, token=f"t-{name}", created_at=now)
                        for name in ("news", "other")]  # fmt: skip
            for i, status in enumerate(["confirmed", "confirmed", "unsubscribed"]):
                contact = insert(conn, contacts, project_id=project, email=f"c{i}@x.example",
                              email_raw=f"c{i}@x", **person)  # fmt: skip
                conn.execute(members.insert().values(project_id=project, list_id=list_ids[0],
                             contact_id=contact, status=status, created_at=now))  # fmt: skip

        upgrade(revision="s9_0001")

        counts = sa.table("list_member_counts", sa.column("project_id"), sa.column("list_id"),
                          sa.column("status"), sa.column("count"))  # fmt: skip
        query = sa.select(counts).order_by(counts.c.list_id, counts.c.status)
        with engine.begin() as conn:
            assert conn.execute(query).all() == [
                (project, list_ids[0], "confirmed", 2),
                (project, list_ids[0], "unsubscribed", 1),
            ]
            conn.execute(
                members.update()
                .where(members.c.list_id == list_ids[0], members.c.status == "unsubscribed")
                .values(list_id=list_ids[1])
            )
            assert conn.execute(query).all() == [
                (project, list_ids[0], "confirmed", 2),
                (project, list_ids[0], "unsubscribed", 0),
                (project, list_ids[1], "unsubscribed", 1),
            ]
