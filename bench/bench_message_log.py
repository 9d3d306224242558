"""The transactional activity log timed with 10,000 and with 10,000,000 messages in
PostgreSQL (the issue's target: first page and a recipient search under 300 ms of server time).

Builds two projects in a scratch database: templates, senders and messages seeded by
generate_series SQL (never the ORM): a recipient per ten messages, one tag each, statuses
mostly sent with some failed, deferred and suppressed, 90 days of accept times, and the
hourly MessageStat rows they leave. Then requests each page through the Flask test client
(routing, queries, rendering: the server's share) and prints the median of RUNS requests
for both sizes side by side. Prints figures; asserts nothing but a 200 answer.

Needs TEST_POSTGRES_URL and TEST_REDIS_URL (`make bench` provides them).
BENCH_MESSAGES scales the big project (default 10,000,000; seeding that takes a while on a
small machine). BENCH_KEEP_DATABASE=name seeds into that database and keeps it afterwards;
each run adds its own two projects, so a second run times the log with the first run's
messages in the same table too.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from cryptography.fernet import Fernet
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DRAMATIQ_BROKER", "stub")

from bench.support.signin import sign_in
from bench.support.timing import RUNS, timed
from mailapp import create_app
from mailapp.access.apikeys import create_api_key
from mailapp.access.audit import Actor
from mailapp.access.projects import create_project
from mailapp.access.users import create_user
from mailapp.extensions import db
from mailapp.models import Sender, Template, TemplateVersion, VersionStatus
from mailapp.models.base import utcnow

SIZES = {"small": 10_000, "big": int(os.environ.get("BENCH_MESSAGES", "10000000"))}
TARGET_MS = 300
TAGS = ("receipt", "password-reset", "welcome", "invoice")
ACTOR = Actor.system("bench")


def seed_small_rows(project_id: int) -> None:
    """Senders and published templates: a handful of rows, through the models."""
    for name in ("Shop", "Billing"):
        db.session.add(
            Sender(project_id=project_id, name=name, from_name=name,
                   from_email=f"{name.lower()}@shop.example", domain="shop.example")
        )  # fmt: skip
    for name in ("Receipt", "Password reset", "Welcome"):
        template = Template(project_id=project_id, name=name)
        db.session.add(template)
        db.session.flush()
        version = TemplateVersion(
            project_id=project_id, template_id=template.id, number=1,
            status=VersionStatus.PUBLISHED, subject=name, html=f"<p>{name}</p>",
            published_at=utcnow(),
        )  # fmt: skip
        db.session.add(version)
        db.session.flush()
        template.published_version_id = version.id
    db.session.commit()


def seed_messages(conn: psycopg.Connection, project_id: int, count: int) -> None:
    """The project's messages, tags and hourly stats, set-based in a few statements."""
    p = {"p": project_id, "n": count, "people": max(count // 10, 1)}
    conn.execute("SET session_replication_role = replica")  # seeding: no FK triggers
    conn.execute(
        """
        WITH t AS (SELECT array_agg(t.id ORDER BY t.id) ids,
                          array_agg(t.published_version_id ORDER BY t.id) versions
                   FROM templates t WHERE t.project_id = %(p)s),
             s AS (SELECT array_agg(id ORDER BY id) ids FROM senders WHERE project_id = %(p)s),
             base AS (SELECT coalesce(max(id), 0) AS id FROM messages)
        INSERT INTO messages (id, project_id, idempotency_key, recipient, recipient_key,
                              sender_id, template_id, template_version_id, data, status,
                              scheduled_at, attempts, sent_at, last_reply, message_id,
                              created_at)
        SELECT base.id + g, %(p)s,
               CASE WHEN g %% 2 = 0 THEN 'order-' || %(p)s || '-' || g END,
               'u' || (g %% %(people)s) || '@example.org',
               'u' || (g %% %(people)s) || '@example.org',
               s.ids[g %% 2 + 1], t.ids[g %% 3 + 1], t.versions[g %% 3 + 1], '{}',
               CASE WHEN g %% 100 = 0 THEN 'failed' WHEN g %% 100 = 1 THEN 'deferred'
                    WHEN g %% 100 = 2 THEN 'suppressed' ELSE 'sent' END,
               now() - (%(n)s - g) * (interval '90 days' / %(n)s), 1,
               CASE WHEN g %% 100 > 2 THEN now() - (%(n)s - g) * (interval '90 days' / %(n)s)
                    + interval '1 second' END,
               CASE WHEN g %% 100 = 0 THEN '550 5.1.1 no such user'
                    WHEN g %% 100 > 2 THEN '250 2.0.0 Ok: queued' END,
               '<message.' || (base.id + g) || '@shop.example>',
               now() - (%(n)s - g) * (interval '90 days' / %(n)s)
        FROM generate_series(1, %(n)s) g, t, s, base
        """,
        p,
    )
    conn.execute(
        "SELECT setval(pg_get_serial_sequence('messages', 'id'), (SELECT max(id) FROM messages))"
    )
    conn.execute(
        """
        INSERT INTO message_tags (project_id, message_id, tag)
        SELECT %(p)s, id, (ARRAY['receipt','password-reset','welcome','invoice'])[id %% 4 + 1]
        FROM messages WHERE project_id = %(p)s
        """,
        p,
    )
    conn.execute(
        """
        INSERT INTO message_stats (project_id, dimension, value, hour, metric, count)
        SELECT %(p)s, d.dimension, d.value, date_trunc('hour', m.created_at), d.metric, count(*)
        FROM messages m JOIN message_tags mt ON mt.message_id = m.id
        CROSS JOIN LATERAL (VALUES ('all', '', 'accepted'), ('tag', mt.tag, 'accepted'),
                                   ('template', m.template_id::text, 'accepted'),
                                   ('all', '', 'sent'), ('tag', mt.tag, 'sent'),
                                   ('template', m.template_id::text, 'sent'))
                 AS d(dimension, value, metric)
        WHERE m.project_id = %(p)s AND (d.metric = 'accepted' OR m.sent_at IS NOT NULL)
        GROUP BY 1, 2, 3, 4, 5
        """,
        p,
    )


def pages(conn: psycopg.Connection, project_id: int) -> dict[str, str]:
    """The log's pages for one project: its first page, searches, filters, a deep page."""
    lo, hi, template = conn.execute(
        "SELECT min(id), max(id), min(template_id) FROM messages WHERE project_id = %s",
        (project_id,),
    ).fetchone()
    recipient = conn.execute("SELECT recipient FROM messages WHERE id = %s", (hi,)).fetchone()[0]
    key = conn.execute(
        "SELECT idempotency_key FROM messages WHERE id = %s", (hi - hi % 2,)
    ).fetchone()[0]
    return {
        "activity log, first page": "/admin/messages/",
        "recipient search": f"/admin/messages/?q={recipient}",
        "Idempotency-Key search": f"/admin/messages/?q={key}",
        "Message-ID search": f"/admin/messages/?q=message.{lo}@shop.example",
        "status filter (failed, 1%)": "/admin/messages/?status=failed",
        "tag filter": "/admin/messages/?tag=invoice",
        "template + status filter": f"/admin/messages/?template={template}&status=failed",
        "one day, 30 days ago": "/admin/messages/?since="
        + _days_ago(31)
        + "&until="
        + _days_ago(30),
        "a page in the middle (keyset)": f"/admin/messages/?before={(lo + hi) // 2}",
        "message detail": f"/admin/messages/{hi}/",
        "dashboard by tag, 30 days": "/admin/message_stats/?by=tag",
        "API: recipient search": f"/api/v1/messages?q={recipient}",
        "API: first page": "/api/v1/messages",
    }


def _days_ago(days: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() - days * 86400))


def main() -> None:
    server_url = os.environ["TEST_POSTGRES_URL"]
    keep = os.environ.get("BENCH_KEEP_DATABASE")
    name = keep or f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        fresh = not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if fresh:
            conn.execute(f"CREATE DATABASE {name}")
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    raw = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    app = create_app(
        {
            "MAILAPP_ENV": "testing",
            "DATABASE_URL": url,
            "REDIS_URL": os.environ["TEST_REDIS_URL"],
            "SECRET_KEY": "bench-" + "x" * 40,
            "ENCRYPTION_KEY": os.environ.get("BENCH_ENCRYPTION_KEY")
            or Fernet.generate_key().decode(),
            "INSTANCE_PATH": tempfile.mkdtemp(prefix="bench-instance-"),
        }
    )
    ids: dict[str, tuple[int, int, str]] = {}
    with app.app_context():
        upgrade()
        for slug in SIZES:
            project = create_project(f"tx-{slug}-{uuid.uuid4().hex[:6]}", actor=ACTOR)
            user = create_user(
                f"owner-{project.slug}@bench.example", "bench password 123", role="owner",
                project_slug=project.slug, actor=ACTOR,
            )  # fmt: skip
            _, key = create_api_key(project.id, "bench", ["messages.read"], actor=ACTOR)
            seed_small_rows(project.id)
            ids[slug] = (project.id, user.id, key)
    for slug, count in SIZES.items():
        started = time.perf_counter()
        with psycopg.connect(raw, autocommit=True) as conn:
            seed_messages(conn, ids[slug][0], count)
            conn.execute("VACUUM ANALYZE")
        print(f"seeded {slug}: {count:,} messages in {time.perf_counter() - started:.0f} s")
    results: dict[str, dict[str, float | str]] = {}
    for slug, (project_id, user_id, key) in ids.items():
        with psycopg.connect(raw) as conn:
            found = pages(conn, project_id)
        client = sign_in(app, app.test_client(), user_id)
        auth = {"Authorization": f"Bearer {key}"}
        results[slug] = {
            page: timed(lambda path=path, c=client, h=auth: c.get(path, headers=h).status_code)
            for page, path in found.items()
        }
    print(
        f"\nserver time, median of {RUNS} requests (ms); over {TARGET_MS} ms marked *\n"
        f"{'page':34} {SIZES['small']:>12,} msgs {SIZES['big']:>14,} msgs"
    )
    for page in results["small"]:
        a, b = results["small"][page], results["big"][page]
        mark = " *" if isinstance(b, float) and b > TARGET_MS else ""
        print(f"{page:34} {_cell(a)} {_cell(b)}{mark}")
    with app.app_context():
        db.engine.dispose()
    if not keep:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _cell(value: float | str) -> str:
    return f"{value:>17.1f}" if isinstance(value, float) else f"{value:>17}"


if __name__ == "__main__":
    main()
