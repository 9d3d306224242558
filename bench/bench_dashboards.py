"""Dashboards over aggregates worth 10,000,000 events: project trends and trends per segment.

Seeds PostgreSQL with the aggregate rows 10M events leave behind (bench_tracking.py's
`seed_aggregates`: DailyStat over a year for 300 campaigns, each active 21 days), names a
segment in each campaign's frozen audience (12 segments, 25 campaigns each, every fifth with
lists too), then times, next to a SELECT 1 round trip measured in the same run:

- the project dashboard (30 and 365 days), the figure the per-segment view is compared with;
- trends of one segment (30 and 365 days) and of six compared segments (365 days);
- the two pages over HTTP (Flask test client, logged in; includes the SVG charts).

Needs PostgreSQL and Redis: TEST_POSTGRES_URL / TEST_REDIS_URL (`make bench` provides them),
else it starts its own. Prints figures; asserts nothing. Target: dashboards under 300 ms.
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

import psycopg
import sqlalchemy as sa
from cryptography.fernet import Fernet
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

from bench.bench_tracking import fresh_database, seed_aggregates, services
from bench.support.signin import sign_in
from mailapp import create_app
from mailapp.extensions import db
from mailapp.insights.reports import project_dashboard
from mailapp.insights.segment_trends import segment_trends

SEGMENTS = 12
SAMPLES = 9


def seed(database_url: str) -> tuple[int, int, list[int]]:
    """bench_tracking's aggregates of 10M events, each campaign sent to one of the segments."""
    from mailapp.access.audit import Actor
    from mailapp.access.projects import create_project
    from mailapp.access.users import create_user

    actor = Actor.system("bench")
    project_id = create_project("bench", actor=actor).id
    user_id = create_user(
        "owner@bench.example", "bench password 123", role="owner", project_slug="bench", actor=actor
    ).id
    first, total = seed_aggregates(database_url, project_id)
    url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            INSERT INTO segments (project_id, name, rule, created_at)
            SELECT %s, 'Segment ' || n, '{"all": []}', now() FROM generate_series(1, %s) n
            """,
            (project_id, SEGMENTS),
        )
        segments = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM segments WHERE project_id = %s ORDER BY id", (project_id,)
            )
        ]
        # Campaign n was sent to segment n % SEGMENTS; every fifth to a list as well.
        conn.execute(
            """
            UPDATE campaigns SET launched_at = now() - ((id - %(first)s) || ' hours')::interval,
                   snapshot = jsonb_build_object('audience', jsonb_build_object(
                       'segment_id', (%(segments)s::int[])[1 + (id - %(first)s) %% %(k)s],
                       'lists', CASE WHEN id %% 5 = 0 THEN '[1]'::jsonb ELSE '[]'::jsonb END))
            WHERE project_id = %(p)s AND name LIKE 'Campaign %%'
            """,
            {"p": project_id, "first": first, "segments": segments, "k": SEGMENTS},
        )
        conn.execute("ANALYZE")
        rows = conn.execute("SELECT count(*) FROM daily_stats").fetchone()[0]
    print(f"daily_stats: {rows:,} rows, sum(count) = {total:,}; {SEGMENTS} segments")
    return project_id, user_id, segments


def timed(label: str, fn: Callable[[], object]) -> None:
    fn()  # warm the connection pool and caches
    samples = []
    for _ in range(SAMPLES):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
        db.session.remove()
    print(f"{label:46} median {statistics.median(samples):7.1f} ms   max {max(samples):7.1f} ms")


def main() -> None:
    pg_url, redis_url, started = services()
    workdir = Path(tempfile.mkdtemp(prefix="bench-dashboards-"))
    try:
        database_url = fresh_database(pg_url)
        app = create_app(
            {
                "MAILAPP_ENV": "testing",
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "SECRET_KEY": "bench-secret-" + "k" * 40,
                "ENCRYPTION_KEY": Fernet.generate_key().decode(),
                "INSTANCE_PATH": str(workdir),
                "BASE_URL": "http://127.0.0.1",
                "LOG_LEVEL": "WARNING",
            }
        )
        with app.app_context():
            upgrade()
            print("seeding aggregates worth 10,000,000 events ...", flush=True)
            project_id, user_id, segments = seed(database_url)
            client = sign_in(app, app.test_client(), user_id)
            six = "&".join(f"segment={s}" for s in segments[:6])

            def page(url: str) -> Callable[[], None]:
                def get() -> None:
                    response = client.get(url)
                    if response.status_code != 200:
                        sys.exit(f"{url}: HTTP {response.status_code}")

                return get

            print(f"\n{SAMPLES} samples each, PostgreSQL")
            timed("baseline: SELECT 1 round trip", lambda: db.session.execute(sa.text("SELECT 1")))
            timed("project dashboard, 30 days", lambda: project_dashboard(project_id, days=30))
            timed("project dashboard, 365 days", lambda: project_dashboard(project_id, days=365))
            for days in (30, 365):
                timed(
                    f"one segment, {days} days",
                    lambda days=days: segment_trends(project_id, segments[:1], days=days),
                )
            timed(
                "six segments compared (opens), 365 days",
                lambda: segment_trends(project_id, segments[:6], days=365, series=["open"]),
            )
            timed("page: /admin/analytics/?days=365", page("/admin/analytics/?days=365"))
            timed(
                "page: segments, six compared, 365 days",
                page(f"/admin/analytics/segments/?days=365&{six}"),
            )
            timed(
                "page: segments, one segment, 365 days",
                page(f"/admin/analytics/segments/?days=365&segment={segments[0]}"),
            )
            print("(target: dashboards under 300 ms)")
            db.session.remove()
            db.engine.dispose()
    finally:
        for server in started:
            server.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
