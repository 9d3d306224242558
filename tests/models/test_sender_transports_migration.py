"""Migration s11_0001 moves each sender's single transport_url into its first SenderTransport
(never losing one), and its downgrade puts it back."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from mailapp import crypto
from tests.support.migrations import database_at, insert

URL = "smtp://user:hunter2@relay.example:587?starttls=1"


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_senders_transport_url_becomes_its_first_transport(
    request: pytest.FixtureRequest, kind: str, tmp_path: Path, redis_url: str
) -> None:
    with database_at(request, kind, "s10_0002", tmp_path, redis_url) as engine:
        meta = sa.MetaData()
        meta.reflect(engine)
        accounts, projects, senders = (meta.tables[n] for n in ("accounts", "projects", "senders"))
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
            common = {
                "project_id": project,
                "from_name": "News",
                "from_email": "news@example.com",
                "domain": "example.com",
                "verification": {},
                "warmup_plan": {},
                "created_at": now,
            }
            own = insert(conn, senders, name="Own", transport_url=crypto.encrypt(URL), **common)
            default = insert(conn, senders, name="Default", transport_url=None, **common)

        upgrade(revision="s11_0001")

        transports = sa.table(
            "sender_transports",
            *(sa.column(c) for c in ("sender_id", "project_id", "url", "weight", "enabled")),
        )
        with engine.begin() as conn:
            moved = conn.execute(sa.select(transports)).all()
            left = dict(conn.execute(sa.select(senders.c.id, senders.c.transport_url)).all())
        assert len(moved) == 1
        assert (moved[0].sender_id, moved[0].project_id, moved[0].weight) == (own, project, 1)
        assert moved[0].enabled
        assert crypto.decrypt(moved[0].url) == URL
        assert left == {own: None, default: None}  # one place says where mail goes

        downgrade(revision="s10_0002")
        with engine.begin() as conn:
            back = dict(conn.execute(sa.select(senders.c.id, senders.c.transport_url)).all())
        assert crypto.decrypt(back[own]) == URL
        assert back[default] is None
