"""GET /metrics while a campaign of 1,000,000 deliveries is sending: what one scrape costs.

Seeds PostgreSQL with one sending campaign and a million Delivery rows (mixed statuses; the
contacts' foreign keys are not checked while seeding, as only the deliveries are read), then
times, next to a SELECT 1 round trip:

- the campaign readings alone (one grouped count on the (campaign_id, status) index);
- a whole scrape through the Flask test client, with the readings kept from the previous
  scrape (CAMPAIGN_READING_SECONDS) and without.

Needs PostgreSQL and Redis: TEST_POSTGRES_URL / TEST_REDIS_URL (`make bench` provides them),
else it starts its own. Prints figures; asserts nothing.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DRAMATIQ_BROKER", "stub")

import sqlalchemy as sa
from cryptography.fernet import Fernet
from flask_migrate import upgrade

from bench.bench_tracking import fresh_database, services
from mailapp import create_app
from mailapp.extensions import db
from mailapp.insights import operations
from mailapp.models import CampaignStatus

ROWS = 1_000_000
TOKEN = "bench-metrics-token-" + "b" * 20
SAMPLES = 7


def median_ms(run: Callable[[], object]) -> float:
    run()
    samples = []
    for _ in range(SAMPLES):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def seed() -> int:
    from tests.factories import make_campaign, make_list, make_project, make_sender, make_template

    project = make_project()
    campaign = make_campaign(
        project, make_sender(project), make_template(project), [make_list(project, 1)]
    )
    campaign.status = CampaignStatus.SENDING
    db.session.commit()
    statuses = "(ARRAY['sent','sent','sent','queued','deferred','failed','sending'])"
    db.session.execute(sa.text("SET session_replication_role = replica"))
    db.session.execute(
        sa.text(
            "INSERT INTO deliveries (project_id, campaign_id, contact_id, variant, scheduled_at,"
            " status, attempts, updated_at) SELECT :p, :c, 1000000 + g, 'A', now(),"
            f" {statuses}[1 + g % 7], 0, now() FROM generate_series(1, :n) g"
        ),
        {"p": project.id, "c": campaign.id, "n": ROWS},
    )
    db.session.execute(sa.text("SET session_replication_role = DEFAULT"))
    db.session.commit()
    db.session.execute(sa.text("ANALYZE deliveries"))
    db.session.commit()
    return campaign.id


def main() -> None:
    pg_url, redis_url, started = services()
    instance = Path(tempfile.mkdtemp())
    try:
        database_url = fresh_database(pg_url)
        app = create_app(
            {
                "MAILAPP_ENV": "testing",
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "SECRET_KEY": "bench-secret-" + "k" * 40,
                "ENCRYPTION_KEY": Fernet.generate_key().decode(),
                "INSTANCE_PATH": str(instance),
                "METRICS_TOKEN": TOKEN,
            }
        )
        with app.app_context():
            upgrade()
            campaign_id = seed()
            client = app.test_client()
            headers = {"Authorization": f"Bearer {TOKEN}"}

            def scrape() -> None:
                assert client.get("/metrics", headers=headers).status_code == 200

            round_trip = median_ms(lambda: db.session.execute(sa.text("SELECT 1")))
            readings = median_ms(operations._read_campaigns)
            kept = median_ms(scrape)
            operations.CAMPAIGN_READING_SECONDS = 0
            fresh = median_ms(scrape)
            (_, cid, counts, _), *_ = operations.campaign_readings()
            assert cid == campaign_id
            assert sum(counts.values()) == ROWS
        print(f"/metrics with a sending campaign of {ROWS:,} deliveries (median of {SAMPLES}):")
        print(f"  SELECT 1 round trip           {round_trip:8.1f} ms")
        print(f"  campaign readings (DB)        {readings:8.1f} ms")
        print(f"  scrape, readings counted      {fresh:8.1f} ms")
        print(f"  scrape, readings kept (15 s)  {kept:8.1f} ms")
    finally:
        shutil.rmtree(instance, ignore_errors=True)
        for server in started:
            server.cleanup()


if __name__ == "__main__":
    main()
