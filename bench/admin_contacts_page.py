"""Contacts pages of the back office stay flat as a project grows to a million contacts.

Needs TEST_POSTGRES_URL and TEST_REDIS_URL (`make bench` provides them). Builds a small
project (baseline) and a big one in a scratch database, then times the first list page,
a status filter and the dashboard for both, next to the COUNT(*) a numbered pager would add.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import sqlalchemy as sa
from cryptography.fernet import Fernet
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DRAMATIQ_BROKER", "stub")

from bench.support.signin import sign_in
from mailapp import create_app
from mailapp.access.audit import Actor
from mailapp.access.projects import create_project
from mailapp.access.users import create_user
from mailapp.extensions import db, get_redis
from mailapp.insights.dashboard import contact_counts_key
from mailapp.models import Contact

SMALL, BIG = 1_000, int(os.environ.get("BENCH_CONTACTS", "1000000"))
RUNS = 7


def scratch_database(server_url: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def fill(project_id: int, count: int) -> None:
    """Set-based: generate_series writes the rows in one statement."""
    db.session.execute(
        sa.text(
            "INSERT INTO contacts (project_id, email, email_raw, status, attributes,"
            " is_role_address, is_disposable, quarantined, soft_bounces, created_at, updated_at)"
            " SELECT :pid, 'c' || g || '@p' || :pid || '.example', 'c' || g || '@x', "
            " CASE WHEN g % 10 = 0 THEN 'unsubscribed' ELSE 'active' END, '{}',"
            " false, false, false, 0, now(), now() FROM generate_series(1, :n) g"
        ),
        {"pid": project_id, "n": count},
    )
    db.session.commit()
    db.session.execute(sa.text("ANALYZE contacts"))
    db.session.commit()


def timed(client, url: str, before=None) -> float:
    samples = []
    for _ in range(RUNS):
        if before is not None:
            before()
        start = time.perf_counter()
        response = client.get(url)
        samples.append(time.perf_counter() - start)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(samples) * 1000


def main() -> None:
    server_url = os.environ["TEST_POSTGRES_URL"]
    url = scratch_database(server_url)
    instance = Path(tempfile.mkdtemp(prefix="bench-instance-"))
    app = create_app(
        {
            "MAILAPP_ENV": "testing",
            "DATABASE_URL": url,
            "REDIS_URL": os.environ["TEST_REDIS_URL"],
            "SECRET_KEY": "bench-" + "x" * 40,
            "ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "INSTANCE_PATH": str(instance),
            "WTF_CSRF_ENABLED": False,
        }
    )
    actor = Actor.system("bench")
    with app.app_context():
        upgrade()
        users, project_ids = {}, {}
        for slug, size in (("small", SMALL), ("big", BIG)):
            project = create_project(slug, actor=actor)
            project_ids[slug] = project.id
            started = time.perf_counter()
            fill(project.id, size)
            print(f"filled {slug}: {size:,} contacts in {time.perf_counter() - started:.1f}s")
            users[slug] = create_user(
                f"owner@{slug}.example",
                "bench password 123",
                role="owner",
                project_slug=slug,
                actor=actor,
            ).id
        count_ms = {}
        for slug in ("small", "big"):
            start = time.perf_counter()
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(Contact)
                .where(Contact.project_id == project_ids[slug])
            )
            count_ms[slug] = (time.perf_counter() - start) * 1000
    pages = {
        "contacts, first page": "/admin/contact/",
        "contacts, status filter": "/admin/contact/?flt0_0=unsubscribed",
        "contacts, page 20": "/admin/contact/?page=20",
        "dashboard": "/admin/",
    }
    results = {}
    for slug, user_id in users.items():
        client = sign_in(app, app.test_client(), user_id)
        results[slug] = {name: timed(client, page) for name, page in pages.items()}
        with app.app_context():
            key = contact_counts_key(project_ids[slug])
            results[slug]["dashboard, counts not cached"] = timed(
                client, "/admin/", before=lambda key=key: get_redis().delete(key)
            )
    print(f"\nmedian of {RUNS} requests, ms     {SMALL:>10,} contacts {BIG:>12,} contacts")
    for name in [*pages, "dashboard, counts not cached"]:
        print(f"{name:32} {results['small'][name]:>19.1f} {results['big'][name]:>21.1f}")
    label = "(COUNT(*) a numbered pager adds)"
    print(f"{label:32} {count_ms['small']:>19.1f} {count_ms['big']:>21.1f}")
    with app.app_context():
        db.engine.dispose()
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {make_url(url).database} WITH (FORCE)")


if __name__ == "__main__":
    main()
