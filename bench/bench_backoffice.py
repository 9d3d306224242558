"""Every back-office page, timed with 1,000 contacts and with 1,000,000 contacts and 10,000,000
events in PostgreSQL (the issue's target: under 300 ms of server time each).

Builds two projects in a scratch database with the same shape at two sizes: contacts with
attributes, three lists, two segments, ten sent campaigns with deliveries and links, raw events
spread over 60 days and the aggregates they leave (daily stats, engagement, link stats). Then
requests each page through the Flask test client as the project's owner (routing, queries and
rendering: the server's share of a page view) and prints the median of RUNS requests for both
sizes side by side, with a SELECT 1 round trip as the floor. Pages are found from the URL map
(every GET page of the back office that takes no argument) plus the detail pages of one row of
each kind. Prints figures; asserts nothing but a 200 answer.

Needs TEST_POSTGRES_URL and TEST_REDIS_URL (`make bench` provides them).
BENCH_CONTACTS / BENCH_EVENTS scale the big project (defaults 1,000,000 / 10,000,000).
BENCH_KEEP_DATABASE=name seeds into that database once and keeps it, so a later run with the
same name times the pages again without re-seeding (minutes at 1M contacts); BENCH_ONLY=text
times only the pages whose name contains the text; BENCH_QUERIES=1 also prints each timed
page's three slowest SQL statements (one request), to show where a slow page spends its time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psycopg
import sqlalchemy as sa
from cryptography.fernet import Fernet
from flask import Flask, url_for
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
from mailapp.delivery import readings
from mailapp.delivery.recipients import count_audience
from mailapp.extensions import db
from mailapp.models import Campaign, Project
from tests.factories import make_sender, make_template
from workers import actors  # noqa: F401  (binds the seam to the stub broker: dispatch, counts)

SIZES = {
    "small": (1_000, 10_000),
    "big": (
        int(os.environ.get("BENCH_CONTACTS", "1000000")),
        int(os.environ.get("BENCH_EVENTS", "10000000")),
    ),
}
CAMPAIGNS = 10
TARGET_MS = 300
WORKER_MARK = "worker: "  # a row timed in the worker, not a page: no 300 ms mark
# Back-office URLs that are actions or downloads, not pages a person reads.
SKIP = (
    "/static/",
    "/logout",
    "export",
    ".csv",
    "/download",
    "/raw",
    "/ajax/",
    "/details/",
    "/edit/",
)


def scratch_database(server_url: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def seed(conn: psycopg.Connection, project_id: int, contacts: int, events: int) -> None:
    """The project's audience, campaigns and history, set-based in a few statements."""
    p = {"p": project_id, "n": contacts, "e": events, "c": CAMPAIGNS}
    # Seeding only: skip the foreign-key triggers (the rows are made consistent by the
    # statements themselves); 10M events otherwise pay four key checks each.
    conn.execute("SET session_replication_role = replica")
    conn.execute(
        """
        INSERT INTO contacts (project_id, email, email_raw, status, attributes, first_name,
                              timezone, is_role_address, is_disposable, quarantined,
                              soft_bounces, created_at, updated_at, last_opened_at, email_hash)
        SELECT %(p)s, 'c' || g || '@p' || %(p)s || '.example', 'c' || g || '@x',
               CASE WHEN g %% 20 = 0 THEN 'unsubscribed' WHEN g %% 50 = 0 THEN 'bounced'
                    ELSE 'active' END,
               jsonb_build_object('city', (ARRAY['Berlin','Paris','Oslo','Lima'])[g %% 4 + 1],
                                  'plan', (ARRAY['free','pro','team'])[g %% 3 + 1]),
               'Name' || g, 'Europe/Berlin', false, false, g %% 97 = 0, 0,
               now() - (g %% 365) * interval '1 day', now(),
               CASE WHEN g %% 3 = 0 THEN now() - (g %% 60) * interval '1 day' END,
               encode(sha256(convert_to('c' || g || '@p' || %(p)s || '.example', 'UTF8')), 'hex')
        FROM generate_series(1, %(n)s) g
        """,
        p,
    )
    # The triggers that keep the hash and the list counts are off while seeding (replica
    # role), so the statements fill them as the triggers would. One contact in 101 is on the
    # suppression list, so the audience's anti-join finds something to remove.
    conn.execute(
        """
        INSERT INTO suppressions (project_id, email_hash, reason, source, created_at)
        SELECT %(p)s, email_hash, 'unsubscribe', 'bench', now()
        FROM contacts WHERE project_id = %(p)s AND id %% 101 = 0
        """,
        p,
    )
    conn.execute(
        """
        INSERT INTO lists (project_id, name, opt_in, is_public, token, created_at)
        SELECT %(p)s, name, 'single', name = 'Newsletter', md5(random()::text), now()
        FROM unnest(ARRAY['Newsletter', 'Customers', 'Webinar']) name
        """,
        p,
    )
    conn.execute(
        """
        INSERT INTO list_memberships (project_id, list_id, contact_id, status, created_at)
        SELECT %(p)s, l.id, c.id, 'confirmed', now()
        FROM contacts c JOIN lists l ON l.project_id = %(p)s
        WHERE c.project_id = %(p)s
          AND (l.name = 'Newsletter' OR (l.name = 'Customers' AND c.id %% 3 = 0)
               OR (l.name = 'Webinar' AND c.id %% 10 = 0))
        """,
        p,
    )
    conn.execute(
        """
        INSERT INTO list_member_counts (project_id, list_id, status, count)
        SELECT project_id, list_id, status, count(*) FROM list_memberships
        WHERE project_id = %(p)s GROUP BY 1, 2, 3
        """,
        p,
    )
    conn.execute(
        """
        INSERT INTO segments (project_id, name, rule, created_at)
        VALUES (%(p)s, 'Berliners', '{"all": [{"field": "attributes.city", "op": "eq",
                "value": "Berlin"}]}', now()),
               (%(p)s, 'Engaged pros', '{"all": [{"field": "attributes.plan", "op": "eq",
                "value": "pro"}, {"field": "last_opened_at", "op": "within_days", "value": 30}]}',
                now())
        """,
        p,
    )
    conn.execute(
        """
        INSERT INTO campaigns (project_id, name, status, audience, utm, guardrails,
                               schedule_mode, track_opens, track_clicks, created_at, launched_at)
        SELECT %(p)s, 'Campaign ' || n, 'sent',
               jsonb_build_object('lists', jsonb_build_array(
                   (SELECT min(id) FROM lists WHERE project_id = %(p)s))),
               '{}', '{}', 'now', true, true, now() - n * interval '5 days',
               now() - n * interval '5 days'
        FROM generate_series(1, %(c)s) n
        """,
        p,
    )
    # And one draft being prepared, to the whole Newsletter list (the steps and the review).
    conn.execute(
        """
        INSERT INTO campaigns (project_id, name, status, audience, utm, guardrails,
                               schedule_mode, track_opens, track_clicks, created_at)
        SELECT %(p)s, 'Draft', 'draft', jsonb_build_object('lists', jsonb_build_array(min(id))),
               '{}', '{}', 'now', true, true, now()
        FROM lists WHERE project_id = %(p)s
        """,
        p,
    )
    conn.execute(
        """
        INSERT INTO links (project_id, campaign_id, position, url)
        SELECT %(p)s, c.id, pos, 'https://shop.example.com/item/' || pos
        FROM campaigns c, generate_series(0, 4) pos
        WHERE c.project_id = %(p)s AND c.status = 'sent'
        """,
        p,
    )
    # Each campaign went to a tenth of the audience (a million deliveries at 1M contacts).
    conn.execute(
        """
        INSERT INTO deliveries (project_id, campaign_id, contact_id, status, attempts,
                                scheduled_at, sent_at, updated_at, variant)
        SELECT %(p)s, cm.id, ct.id, 'sent', 1, cm.launched_at, cm.launched_at, now(), 'A'
        FROM campaigns cm JOIN contacts ct ON ct.project_id = %(p)s
             AND ct.id %% %(c)s = cm.id %% %(c)s
        WHERE cm.project_id = %(p)s AND cm.status = 'sent'
        """,
        p,
    )
    conn.execute(
        """
        INSERT INTO events (project_id, type, occurred_at, campaign_id, contact_id, delivery_id,
                            link_id, is_machine, payload)
        SELECT %(p)s, t.type, d.sent_at + (g %% 2880) * interval '1 minute', d.campaign_id,
               d.contact_id, d.id,
               CASE WHEN t.type = 'click' THEN (SELECT min(id) FROM links
                    WHERE campaign_id = d.campaign_id) + g %% 5 END,
               g %% 11 = 0, '{}'
        FROM generate_series(1, %(e)s) g
        JOIN LATERAL (SELECT (ARRAY['delivered','open','open','open','click','click',
                              'bounce_soft','sent'])[g %% 8 + 1] AS type) t ON true
        JOIN deliveries d ON d.id = (SELECT min(id) FROM deliveries WHERE project_id = %(p)s)
                                    + g %% (SELECT count(*) FROM deliveries
                                           WHERE project_id = %(p)s)
        """,
        p,
    )
    conn.execute(
        """
        INSERT INTO daily_stats (project_id, day, campaign_id, type, is_machine, count)
        SELECT project_id, occurred_at::date, campaign_id, type, is_machine, count(*)
        FROM events WHERE project_id = %(p)s GROUP BY 1, 2, 3, 4, 5
        """,
        p,
    )
    conn.execute(
        """
        INSERT INTO campaign_engagement (project_id, campaign_id, contact_id, opens, clicks,
                                         machine_opens, machine_clicks, first_opened_at,
                                         first_clicked_at)
        SELECT project_id, campaign_id, contact_id,
               count(*) FILTER (WHERE type = 'open' AND NOT is_machine),
               count(*) FILTER (WHERE type = 'click' AND NOT is_machine),
               count(*) FILTER (WHERE type = 'open' AND is_machine),
               count(*) FILTER (WHERE type = 'click' AND is_machine),
               min(occurred_at) FILTER (WHERE type = 'open'),
               min(occurred_at) FILTER (WHERE type = 'click')
        FROM events WHERE project_id = %(p)s AND type IN ('open', 'click')
        GROUP BY 1, 2, 3
        """,
        p,
    )
    conn.execute(
        """
        INSERT INTO link_stats (project_id, link_id, clicks, machine_clicks)
        SELECT project_id, link_id, count(*) FILTER (WHERE NOT is_machine),
               count(*) FILTER (WHERE is_machine)
        FROM events WHERE project_id = %(p)s AND link_id IS NOT NULL GROUP BY 1, 2
        """,
        p,
    )


# Route arguments filled with the project's first row of their table.
ARGUMENT_TABLES = {
    "campaign_id": "campaigns",
    "contact_id": "contacts",
    "list_id": "lists",
    "segment_id": "segments",
    "sender_id": "senders",
    "template_id": "templates",
}


def pages(app: Flask, project_id: int) -> dict[str, str]:
    """Every GET page of the back office, its id arguments filled with a row of the project."""
    with app.app_context():

        def first(table: str) -> int | None:
            return db.session.scalar(
                sa.text(f"SELECT min(id) FROM {table} WHERE project_id = :p"),
                {"p": project_id},
            )

        ids = {arg: first(table) for arg, table in ARGUMENT_TABLES.items()}
        found: dict[str, str] = {}
        for rule in app.url_map.iter_rules():
            url = rule.rule
            if (
                "GET" not in (rule.methods or ())
                or not (url.startswith("/admin") or url == "/")
                or any(part in url for part in SKIP)
                or not set(rule.arguments) <= set(ARGUMENT_TABLES)
                or any(ids[arg] is None for arg in rule.arguments)
            ):
                continue
            with app.test_request_context():
                path = url_for(rule.endpoint, **{arg: ids[arg] for arg in rule.arguments})
            found[url] = path
        for table, endpoint in (
            ("contacts", "contact"),
            ("campaigns", "campaign"),
            ("lists", "list"),
            ("segments", "segment"),
        ):
            if (row := first(table)) is not None:
                found[f"{endpoint} details"] = f"/admin/{endpoint}/details/?id={row}"
                found[f"{endpoint} edit"] = f"/admin/{endpoint}/edit/?id={row}"
        # The segment builder's live count as a marketer edits: attribute + list + engagement.
        rule = {
            "all": [
                {"field": "attributes.city", "op": "eq", "value": "Berlin"},
                {"field": "list", "op": "in", "value": ids["list_id"]},
                {"field": "last_opened_at", "op": "within_days", "value": 30},
            ]
        }
        found["segment live count (3 conditions)"] = "/admin/segment/preview?" + urlencode(
            {"rule": json.dumps(rule)}
        )
        draft = db.session.scalar(
            sa.text("SELECT id FROM campaigns WHERE project_id = :p AND status = 'draft'"),
            {"p": project_id},
        )
        for step in ("audience", "content", "schedule"):
            found[f"draft campaign: {step} step"] = f"/admin/campaign/{draft}/{step}"
        found["draft campaign: review"] = f"/admin/campaign/launch/{draft}"
        found["campaign click map"] = f"/admin/analytics/campaign/{ids['campaign_id']}/clickmap"
    return found


def _cell(value: float | str) -> str:
    return f"{value:>18.1f}" if isinstance(value, float) else f"{value:>18}"


def slowest_queries(app: Flask, client: Any, path: str) -> list[tuple[float, str]]:
    """The three slowest statements of one request to path, with their milliseconds."""
    spent: list[tuple[float, str]] = []
    started: list[float] = []

    def before(*_args: Any) -> None:
        started.append(time.perf_counter())

    def after(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        spent.append(((time.perf_counter() - started.pop()) * 1000, " ".join(statement.split())))

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    try:
        client.get(path)
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
        sa.event.remove(engine, "after_cursor_execute", after)
    return sorted(spent, reverse=True)[:3]


def time_pages(app: Flask, user_id: int, found: dict[str, str]) -> dict[str, float | str]:
    client = sign_in(app, app.test_client(), user_id)
    results = {}
    for name, path in found.items():
        results[name] = timed(lambda path=path: client.get(path).status_code)
        if os.environ.get("BENCH_QUERIES"):
            print(f"{name}: {results[name]}")
            for ms, statement in slowest_queries(app, client, path):
                print(f"    {ms:8.1f} ms  {statement[:300]}")
    return results


def time_review_count(app: Flask, project_id: int, user_id: int) -> dict[str, float | str]:
    """A large audience's review counts in a worker: the review's checks answer "counting"
    at once (timed with the pages), the worker counts exactly (what the marketer waits for,
    about a second later), and the checks are timed again once the count is kept."""
    client = sign_in(app, app.test_client(), user_id)
    with app.app_context():
        draft, audience = db.session.execute(
            sa.text(
                "SELECT id, audience FROM campaigns WHERE project_id = :p AND status = 'draft'"
            ),
            {"p": project_id},
        ).one()
        samples = []
        for _ in range(RUNS):
            started = time.perf_counter()
            readings.count_and_keep(project_id, audience)
            samples.append((time.perf_counter() - started) * 1000)
            db.session.rollback()
    path = f"/admin/campaign/launch/{draft}/checks"
    return {
        f"{WORKER_MARK}the audience's exact count": statistics.median(samples),
        "review checks, once the worker has counted": timed(lambda: client.get(path).status_code),
    }


def time_launches(app: Flask, project_id: int, user_id: int) -> dict[str, float]:
    """Milliseconds of one launch of a copy of the draft campaign: through the back office's
    review (its confirmed audience size is checked by preparation, in the worker, not in the
    request) and through the API (which checks only that somebody receives it). The copies
    are deleted afterwards."""
    with app.app_context():
        draft = db.session.scalar(
            sa.select(Campaign)
            .where(Campaign.project_id == project_id, Campaign.status == "draft")
            .order_by(Campaign.id)
        )
        columns = [c.key for c in sa.inspect(Campaign).column_attrs if c.key not in ("id", "name")]
        # The seeded draft has no content yet: the copies get a valid sender and template
        # (the test factories' ones, which pass every pre-flight check).
        project = db.session.get(Project, project_id)
        fields = {k: getattr(draft, k) for k in columns}
        fields.update(sender_id=make_sender(project).id, template_id=make_template(project).id)
        copies = [Campaign(name=f"bench launch {n}", **fields) for n in ("admin", "api")]
        db.session.add_all(copies)
        db.session.flush()
        ids = [c.id for c in copies]
        _key, secret = create_api_key(
            project_id, "bench launch", ["campaigns.send"], actor=Actor.system("bench")
        )
        db.session.commit()
        confirm = count_audience(project_id, db.session.get(Campaign, ids[0]).audience)
    client = sign_in(app, app.test_client(), user_id)
    started = time.perf_counter()
    admin = client.post(f"/admin/campaign/launch/{ids[0]}", data={"confirm_count": confirm})
    admin_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    api = client.post(
        f"/api/v1/campaigns/{ids[1]}/launch", headers={"Authorization": f"Bearer {secret}"}
    )
    api_ms = (time.perf_counter() - started) * 1000
    assert admin.status_code == 302, re.sub(r"<[^>]+>|\s+", " ", admin.get_data(as_text=True))
    assert api.status_code == 200, api.get_data(as_text=True)
    with app.app_context():
        db.session.execute(sa.text("DELETE FROM campaigns WHERE id = ANY(:ids)"), {"ids": ids})
        db.session.commit()
    return {"launch from the review": admin_ms, "launch through the API": api_ms}


def database(server_url: str) -> tuple[str, bool]:
    """The database to bench in, and whether it still needs migrating and seeding."""
    keep = os.environ.get("BENCH_KEEP_DATABASE")
    if not keep:
        return scratch_database(server_url), True
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (keep,)).fetchone()
        if not exists:
            conn.execute(f"CREATE DATABASE {keep}")
    return make_url(server_url).set(database=keep).render_as_string(hide_password=False), (
        not exists
    )


def main() -> None:
    server_url = os.environ["TEST_POSTGRES_URL"]
    url, fresh = database(server_url)
    app = create_app(
        {
            "MAILAPP_ENV": "testing",
            "DATABASE_URL": url,
            "REDIS_URL": os.environ["TEST_REDIS_URL"],
            "SECRET_KEY": "bench-" + "x" * 40,
            # A kept database keeps its encrypted rows readable from run to run.
            "ENCRYPTION_KEY": base64.urlsafe_b64encode(
                hashlib.sha256(os.environ["BENCH_KEEP_DATABASE"].encode()).digest()
            ).decode()
            if os.environ.get("BENCH_KEEP_DATABASE")
            else Fernet.generate_key().decode(),
            "INSTANCE_PATH": tempfile.mkdtemp(prefix="bench-instance-"),
            "WTF_CSRF_ENABLED": False,
        }
    )
    actor = Actor.system("bench")
    users, projects = {}, {}
    raw = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with app.app_context():
        upgrade()
        for slug in SIZES:
            if not fresh:
                projects[slug], users[slug] = db.session.execute(
                    sa.text(
                        "SELECT p.id, u.id FROM projects p JOIN users u ON u.email = :email"
                        " WHERE p.slug = :slug"
                    ),
                    {"slug": slug, "email": f"owner@{slug}.example"},
                ).one()
                continue
            projects[slug] = create_project(slug, actor=actor, timezone="Europe/Berlin").id
            users[slug] = create_user(
                f"owner@{slug}.example", "bench password 123", role="owner",
                project_slug=slug, actor=actor,
            ).id  # fmt: skip
    for slug, (contacts, events) in SIZES.items() if fresh else ():
        started = time.perf_counter()
        with psycopg.connect(raw, autocommit=True) as conn:
            seed(conn, projects[slug], contacts, events)
            conn.execute("VACUUM ANALYZE")
        print(
            f"seeded {slug}: {contacts:,} contacts, {events:,} events"
            f" in {time.perf_counter() - started:.0f} s"
        )
    results: dict[str, dict[str, float | str]] = {}
    names: dict[str, str] = {}
    for slug in SIZES:
        found = pages(app, projects[slug])
        if only := os.environ.get("BENCH_ONLY"):
            found = {name: path for name, path in found.items() if only in name}
        names.update(found)
        results[slug] = time_pages(app, users[slug], found)
    if not os.environ.get("BENCH_ONLY") or "count" in os.environ["BENCH_ONLY"]:
        for slug in SIZES:
            counted = time_review_count(app, projects[slug], users[slug])
            results[slug].update(counted)
            names.update(dict.fromkeys(counted, ""))
    if not os.environ.get("BENCH_ONLY"):
        for slug in SIZES:
            launches = time_launches(app, projects[slug], users[slug])
            results[slug].update(launches)
            names.update(dict.fromkeys(launches, ""))
    with app.app_context():
        floor = timed(lambda: db.session.execute(sa.text("SELECT 1")) and 200)
    small, big = SIZES["small"], SIZES["big"]
    print(
        f"\nserver time, median of {RUNS} requests (ms); pages over {TARGET_MS} ms marked *\n"
        f"{'page':44} {small[0]:>9,} contacts {big[0]:>11,} contacts / {big[1]:,} events"
    )
    slow = 0
    # Pages that answer a redirect or a refusal to an owner with no argument are not pages.
    shown = [n for n in sorted(names) if any(isinstance(r.get(n), float) for r in results.values())]
    for name in shown:
        a, b = results["small"].get(name, "-"), results["big"].get(name, "-")
        page = not name.startswith(WORKER_MARK)
        mark = " *" if page and isinstance(b, float) and b > TARGET_MS else ""
        slow += bool(mark)
        print(f"{name[:44]:44} {_cell(a)} {_cell(b)}{mark}")
    print(f"{'baseline: SELECT 1 round trip':44} {floor:>18.2f}")
    print(f"\n{len(shown)} pages, {slow} over {TARGET_MS} ms with {big[0]:,} contacts")
    with app.app_context():
        db.engine.dispose()
    if os.environ.get("BENCH_KEEP_DATABASE"):
        return
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {make_url(url).database} WITH (FORCE)")


if __name__ == "__main__":
    main()
