"""Migration s11_0004 gives every delivery round 0 and rebuilds the unique key around it,
keeping every event's and returned mail's link to its delivery (the SQLite rebuild runs with
foreign keys off: dropping the old table would otherwise null them)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from tests.support.migrations import database_at, insert


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_deliveries_keep_their_events_and_get_round_zero(
    request: pytest.FixtureRequest, kind: str, tmp_path: Path, redis_url: str
) -> None:
    with database_at(request, kind, "s11_0003", tmp_path, redis_url) as engine:
        meta = sa.MetaData()
        meta.reflect(engine)
        t = meta.tables
        now = sa.func.current_timestamp()
        with engine.begin() as conn:
            account = insert(conn, t["accounts"], name="A", created_at=now)
            project = insert(
                conn,
                t["projects"],
                account_id=account,
                slug="p",
                name="P",
                timezone="UTC",
                settings={},
                created_at=now,
            )
            contact = insert(
                conn,
                t["contacts"],
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
            campaign = insert(
                conn,
                t["campaigns"],
                project_id=project,
                name="C",
                status="sent",
                audience={},
                schedule_mode="now",
                track_opens=True,
                track_clicks=True,
                utm={},
                guardrails={},
                created_at=now,
            )
            delivery = insert(
                conn,
                t["deliveries"],
                project_id=project,
                campaign_id=campaign,
                contact_id=contact,
                variant="A",
                scheduled_at=now,
                status="sent",
                attempts=1,
                updated_at=now,
            )
            event = insert(
                conn,
                t["events"],
                project_id=project,
                type="open",
                occurred_at=now,
                campaign_id=campaign,
                contact_id=contact,
                delivery_id=delivery,
                is_machine=False,
                payload={},
            )

        upgrade(revision="s11_0004")

        with engine.begin() as conn:
            assert (
                conn.execute(
                    sa.text("SELECT delivery_id FROM events WHERE id = :id"), {"id": event}
                ).scalar_one()
                == delivery
            )
            assert conn.execute(sa.text("SELECT round FROM deliveries")).scalars().all() == [0]
            # The same (campaign, contact) again in another round is a new row; in one, not.
            conn.execute(
                sa.text(
                    "INSERT INTO deliveries (project_id, campaign_id, contact_id, round,"
                    " scheduled_at, status, attempts, updated_at) VALUES"
                    " (:p, :c, :k, 1, CURRENT_TIMESTAMP, 'queued', 0, CURRENT_TIMESTAMP)"
                ),
                {"p": project, "c": campaign, "k": contact},
            )
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO deliveries (project_id, campaign_id, contact_id, round,"
                    " scheduled_at, status, attempts, updated_at) VALUES"
                    " (:p, :c, :k, 1, CURRENT_TIMESTAMP, 'queued', 0, CURRENT_TIMESTAMP)"
                ),
                {"p": project, "c": campaign, "k": contact},
            )
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM deliveries WHERE round = 1"))
        downgrade(revision="s11_0003")
        with engine.begin() as conn:
            assert (
                conn.execute(
                    sa.text("SELECT delivery_id FROM events WHERE id = :id"), {"id": event}
                ).scalar_one()
                == delivery
            )
