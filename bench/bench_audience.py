"""Audience benchmark on PostgreSQL: CSV import vs COPY, segment count, import memory.

Run by `make bench` (throwaway PostgreSQL + Redis, TEST_POSTGRES_URL exported) or by hand:

    python -m tests.support.servers -- python bench/bench_audience.py [rows]

`rows` (default 1,000,000, or BENCH_AUDIENCE_ROWS) sizes the large file; the small one is a
tenth of it. Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import csv
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DRAMATIQ_BROKER", "stub")

CITIES = ["Berlin", "Moscow", "Oslo", "Paris", "Tokyo", "Lima", "Cairo", "Austin"]
PLANS = ["free", "pro", "team"]
ZONES = ["Europe/Berlin", "Asia/Tokyo", "America/Lima", ""]
HEADER = ["email", "first_name", "last_name", "timezone", "city", "plan", "age"]


def write_csv(path: Path, rows: int, seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 - synthetic data
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        for i in range(rows):
            out.writerow(
                [
                    f"user{i}.{seed}@example{i % 97}.com",
                    f"First{i}",
                    f"Last{i}",
                    rng.choice(ZONES),
                    rng.choice(CITIES),
                    rng.choice(PLANS),
                    rng.randint(18, 90),
                ]
            )


def make_app(database_url: str):
    import workers.actors  # noqa: F401 - binds mailapp.tasks (start_import enqueues the run)
    from mailapp import create_app
    from tests.conftest import app_config

    instance = Path(tempfile.mkdtemp(prefix="bench-instance-"))
    redis_url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    return create_app(app_config(database_url, redis_url, instance))


def create_database(server_url: str) -> str:
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    app = make_app(url)
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
    return url


PLAIN_TABLE = (
    "CREATE TABLE copy_baseline (email text, first_name text, last_name text, "
    "timezone text, city text, plan text, age int)"
)
# The same columns carrying what every contacts row pays for: a bigserial key, a NOT NULL
# foreign key to its owner, the unique (project, email) key and the (project, status) and
# (project, created_at) indexes. The floor for any import that lands rows in such a table.
KEYED_TABLE = [
    "CREATE TABLE copy_owner (id int PRIMARY KEY)",
    "INSERT INTO copy_owner VALUES (1)",
    "CREATE TABLE copy_baseline (id bigserial PRIMARY KEY, "
    "project_id int NOT NULL DEFAULT 1 REFERENCES copy_owner (id), email text, "
    "first_name text, last_name text, timezone text, city text, plan text, age int, "
    "status text NOT NULL DEFAULT 'active', created_at timestamptz NOT NULL DEFAULT now())",
    "CREATE UNIQUE INDEX ON copy_baseline (project_id, email)",
    "CREATE INDEX ON copy_baseline (project_id, status)",
    "CREATE INDEX ON copy_baseline (project_id, created_at)",
]
FILE_COLUMNS = "(email, first_name, last_name, timezone, city, plan, age)"


def timed_copy(conn, copy_sql: str, path: Path) -> float:
    """Seconds to stream a file through COPY and commit it."""
    start = time.perf_counter()
    with conn.cursor().copy(copy_sql) as cp, path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            cp.write(chunk)
    conn.commit()
    return time.perf_counter() - start


def copy_baseline(database_url: str, path: Path, *, keyed: bool = False) -> float:
    """Seconds for PostgreSQL COPY of the same file into a plain (or contacts-keyed) table."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        for statement in KEYED_TABLE if keyed else [PLAIN_TABLE]:
            conn.execute(statement)
        conn.commit()
        copy_sql = f"COPY copy_baseline {FILE_COLUMNS} FROM STDIN WITH (FORMAT csv, HEADER)"
        elapsed = timed_copy(conn, copy_sql, path)
        conn.execute("DROP TABLE copy_baseline")
        conn.execute("DROP TABLE IF EXISTS copy_owner")
        conn.commit()
    return elapsed


CONTACT_COLUMNS = (
    "(project_id, email, email_raw, first_name, last_name, timezone, attributes, status,"
    " is_role_address, is_disposable, quarantined, soft_bounces, created_at, updated_at)"
)


def copy_into_contacts(server_url: str, path: Path) -> float:
    """Seconds for COPY of the same rows, already shaped as contacts (lower-cased email,
    the other columns as attributes), into the real contacts table of a fresh database.

    No import can land rows in contacts faster than this: it is the floor the import is
    measured against. Shaping the file is not timed; the memberships are not included.
    """
    import psycopg
    from sqlalchemy.engine import make_url

    database_url = create_database(server_url)
    app = make_app(database_url)
    with app.app_context():
        from mailapp.access.audit import Actor
        from mailapp.access.projects import create_project

        project_id = create_project("copy-floor", actor=Actor.system("bench")).id
    shaped = path.with_suffix(".contacts.csv")
    with path.open(newline="", encoding="utf-8") as source, shaped.open("w", newline="") as out:
        rows, writer = csv.reader(source), csv.writer(out)
        next(rows)
        for email, first, last, zone, city, plan, age in rows:
            attributes = json.dumps({"city": city, "plan": plan, "age": int(age)})
            writer.writerow(
                [project_id, email.lower(), email, first, last, zone or None, attributes,
                 "active", "f", "f", "f", 0, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"]
            )  # fmt: skip
    url = make_url(database_url)
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(conninfo) as conn:
            copy_sql = f"COPY contacts {CONTACT_COLUMNS} FROM STDIN WITH (FORMAT csv)"
            return timed_copy(conn, copy_sql, shaped)
    finally:
        shaped.unlink()
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {url.database} WITH (FORCE)")


def child_import(database_url: str, csv_path: str, slug: str) -> None:
    """In a fresh process: import one file, print seconds and peak RSS as JSON."""
    from mailapp.access.audit import Actor
    from mailapp.access.projects import create_project
    from mailapp.audience.imports.runs import run_import
    from mailapp.audience.imports.wizard import create_import, set_mapping, start_import
    from mailapp.audience.lists import create_list

    app = make_app(database_url)
    actor = Actor.system("bench")
    with app.app_context():
        project = create_project(slug, actor=actor)
        everyone = create_list(project.id, "Everyone", actor=actor)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # End to end as a user sees it: from the upload to the job being done.
        start = time.perf_counter()
        with open(csv_path, "rb") as handle:
            job = create_import(
                project.id,
                "bench.csv",
                handle,
                upload_dir=Path(app.instance_path) / "uploads",
                actor=actor,
            )
        set_mapping(project.id, job.id, job.mapping, list_id=everyone.id, actor=actor)
        start_import(project.id, job.id, actor=actor)
        done = run_import(job.id)
        elapsed = time.perf_counter() - start
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(
            json.dumps(
                {
                    "project_id": project.id,
                    "list_id": everyone.id,
                    "rows": done.processed_rows,
                    "created": done.created_count,
                    "invalid": done.invalid_count,
                    "status": done.status.value,
                    "seconds": elapsed,
                    "rss_before_kib": rss_before,
                    "rss_peak_kib": rss_after,
                }
            )
        )


def run_child(database_url: str, path: Path, slug: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", database_url, str(path), slug],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if out.returncode:
        sys.exit(f"bench_audience: the import of {path.name} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def segment_count_ms(database_url: str, project_id: int, list_id: int) -> tuple[int, float, str]:
    """Median of five live counts of attribute + list + engagement, after preparing data."""
    import sqlalchemy as sa

    from mailapp.access.audit import Actor
    from mailapp.audience.lists import create_list
    from mailapp.audience.segments.descriptions import describe_rule
    from mailapp.audience.segments.store import count_rule
    from mailapp.extensions import db
    from mailapp.models import Contact, ListMembership, MembershipStatus
    from mailapp.models.base import utcnow

    app = make_app(database_url)
    with app.app_context():
        half = create_list(project_id, "Half", actor=Actor.system("bench"))
        now = utcnow()
        db.session.execute(
            sa.text(
                "UPDATE contacts SET last_opened_at = :now - make_interval(days => (id % 90)::int) "
                "WHERE project_id = :p AND id % 3 = 0"
            ),
            {"now": now, "p": project_id},
        )
        db.session.execute(
            sa.insert(ListMembership).from_select(
                ["project_id", "list_id", "contact_id", "status", "created_at"],
                sa.select(
                    sa.literal(project_id),
                    sa.literal(half.id),
                    Contact.id,
                    sa.literal(MembershipStatus.CONFIRMED.value),
                    sa.literal(now, type_=ListMembership.__table__.c.created_at.type),
                ).where(Contact.project_id == project_id, Contact.id % 2 == 0),
            )
        )
        db.session.commit()
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
        rule = {
            "all": [
                {"field": "attributes.plan", "op": "eq", "value": "pro"},
                {"field": "list", "op": "in", "value": half.id},
                {"field": "engagement", "op": "opened_or_clicked_within_days", "value": 30},
            ]
        }
        timings, count = [], 0
        for _ in range(5):
            start = time.perf_counter()
            count = count_rule(project_id, rule)
            timings.append((time.perf_counter() - start) * 1000)
        return count, statistics.median(timings), describe_rule(project_id, rule)


def main() -> None:
    server_url = os.environ.get("TEST_POSTGRES_URL")
    if not server_url:
        sys.exit("bench_audience: needs TEST_POSTGRES_URL (run it through `make bench`)")
    rows = int(
        sys.argv[1] if len(sys.argv) > 1 else os.environ.get("BENCH_AUDIENCE_ROWS", 1_000_000)
    )
    small_rows = max(rows // 10, 1000)
    work = Path(tempfile.mkdtemp(prefix="bench-audience-"))
    large, small = work / "large.csv", work / "small.csv"
    write_csv(large, rows, seed=1)
    write_csv(small, small_rows, seed=2)
    print(f"audience benchmark: {rows:,} rows ({large.stat().st_size / 2**20:.0f} MiB), "
          f"small file {small_rows:,} rows")  # fmt: skip

    database_url = create_database(server_url)
    copy_seconds = copy_baseline(database_url, large)
    keyed_seconds = copy_baseline(database_url, large, keyed=True)
    contacts_seconds = copy_into_contacts(server_url, large)
    small_run = run_child(database_url, small, "bench-small")
    large_run = run_child(database_url, large, "bench-large")
    import_rate = large_run["rows"] / large_run["seconds"]
    copy_rate = rows / copy_seconds
    keyed_rate = rows / keyed_seconds
    contacts_rate = rows / contacts_seconds
    for label, rate, seconds in (
        ("COPY of the file into a plain table", copy_rate, copy_seconds),
        ("COPY of the file into a contacts-keyed table", keyed_rate, keyed_seconds),
        ("COPY of the same rows into contacts", contacts_rate, contacts_seconds),
    ):
        print(f"  {label:<46} {rate:>10,.0f} rows/s  ({seconds:.1f} s)")
    print(
        f"  {'CSV import, upload to done':<46} {import_rate:>10,.0f} rows/s  "
        f"({large_run['seconds']:.1f} s, {large_run['created']:,} created, "
        f"{large_run['invalid']:,} invalid)"
    )
    print(
        f"  import / COPY into contacts: {100 * import_rate / contacts_rate:.0f}%;"
        f" / keyed COPY: {100 * import_rate / keyed_rate:.0f}%;"
        f" / plain COPY: {100 * import_rate / copy_rate:.0f}%"
        f" (COPY into contacts itself is {100 * contacts_rate / copy_rate:.0f}% of plain COPY)"
    )
    for label, run in (("small", small_run), ("large", large_run)):
        print(
            f"  import peak RSS, {label:<5} file   {run['rows']:>10,} rows: "
            f"{run['rss_peak_kib'] / 1024:7.1f} MiB (before the import: "
            f"{run['rss_before_kib'] / 1024:.1f} MiB)"
        )
    count, ms, description = segment_count_ms(
        database_url, large_run["project_id"], large_run["list_id"]
    )
    print(f"  segment live count             {ms:>10.1f} ms median of 5 ({count:,} contacts)")
    print(f"    rule: {description}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_import(*sys.argv[2:5])
    else:
        main()
