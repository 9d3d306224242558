"""Journey benchmark (issue 18): 1,000,000 contacts enrolled in one journey, then 100,000
wake-ups due in the same minute run by `engine.wake_due` (condition -> email, so each hands
one Delivery row to the delivery path), against the issue's 60 s; the waking process's peak
memory at 10,000 and at 100,000 due (flat = similar); and beside it the campaign pipeline's
figure for the same number of emails (`prepare_deliveries` of a campaign to 100,000 contacts).

Run by `make bench` (a throwaway PostgreSQL and Redis in TEST_POSTGRES_URL/TEST_REDIS_URL).
Each wake run is its own process, so its peak RSS (getrusage) is that run's alone. Prints
figures; asserts nothing. BENCH_JOURNEY_CONTACTS / BENCH_JOURNEY_DUE / BENCH_JOURNEY_SMALL
scale it down for a quick run; BENCH_KEEP=1 keeps the database.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailapp import create_app
from mailapp.access.audit import Actor
from mailapp.extensions import db

CONTACTS = int(os.environ.get("BENCH_JOURNEY_CONTACTS", "1000000"))
DUE = int(os.environ.get("BENCH_JOURNEY_DUE", "100000"))
SMALL = int(os.environ.get("BENCH_JOURNEY_SMALL", "10000"))
TARGET_SECONDS = 60
ACTOR = Actor.system("bench")


def database(server_url: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def config(database_url: str, redis_url: str, workdir: Path) -> dict:
    return {
        "MAILAPP_ENV": "testing",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "bench-" + "x" * 40,
        "ENCRYPTION_KEY": os.environ.get("BENCH_ENCRYPTION_KEY") or Fernet.generate_key().decode(),
        "INSTANCE_PATH": str(workdir / "instance"),
        "BASE_URL": "https://mail.example.com",
    }


def seed_contacts(project_id: int, list_id: int, count: int) -> None:
    """Contacts (half on plan "pro", for the condition) and memberships by generate_series."""
    db.session.execute(
        sa.text(
            "INSERT INTO contacts (project_id, email, email_raw, status, first_name, attributes,"
            " is_role_address, is_disposable, quarantined, soft_bounces, created_at, updated_at)"
            " SELECT :p, 'c' || g || '@example.org', 'c' || g || '@example.org', 'active',"
            " 'N' || g, CASE WHEN g % 2 = 0 THEN '{\"plan\": \"pro\"}' ELSE '{}' END::json,"
            " false, false, false, 0, now(), now()"
            " FROM generate_series(1, :n) g"
        ),
        {"p": project_id, "n": count},
    )
    db.session.execute(
        sa.text(
            "INSERT INTO list_memberships (project_id, list_id, contact_id, status, created_at)"
            " SELECT :p, :l, id, 'confirmed', now() FROM contacts WHERE project_id = :p"
        ),
        {"p": project_id, "l": list_id},
    )
    db.session.commit()
    analyze("contacts, list_memberships")


def analyze(tables: str) -> None:
    """Fresh statistics, as after any bulk import, so the planner sees the real sizes."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f"ANALYZE {tables}"))


def audience(slug: str, count: int):
    """A project with a sender, a template and a list of `count` contacts."""
    from mailapp.access.projects import create_project
    from mailapp.models import List
    from tests.factories import make_sender, make_template

    project = create_project(f"{slug}-{uuid.uuid4().hex[:6]}", actor=ACTOR)
    sender = make_sender(project)
    template = make_template(project)
    lst = List(project_id=project.id, name="everyone", token=uuid.uuid4().hex)
    db.session.add(lst)
    db.session.commit()
    seed_contacts(project.id, lst.id, count)
    return project, sender, template, lst


def published_journey(project, sender, template):
    """condition (segment rule) -> email -> a week's wait: each wake-up queues one email."""
    from mailapp.journeys.journeys import create_journey, publish_journey

    email = {"type": "email", "template_id": template.id, "sender_id": sender.id}
    steps = {
        "plan": {
            "type": "condition",
            "rule": {"field": "attributes.plan", "op": "eq", "value": "pro"},
            "yes": "welcome",
            "no": "welcome",
        },
        "welcome": email | {"next": "later"},
        "later": {"type": "wait", "mode": "duration", "minutes": 7 * 24 * 60, "next": None},
    }
    journey = create_journey(
        project, "Welcome", actor=ACTOR, graph={"start": "plan", "steps": steps}
    )
    publish_journey(project, journey.id, actor=ACTOR)
    return journey


def make_due(journey_id: int, count: int) -> None:
    """`count` enrollments due within the last minute, the rest a day from now."""
    db.session.execute(
        sa.text("UPDATE enrollments SET wake_at = now() + interval '1 day' WHERE journey_id = :j"),
        {"j": journey_id},
    )
    db.session.execute(
        sa.text(
            "UPDATE enrollments SET wake_at = now() - (id % 60) * interval '1 second'"
            " WHERE id IN (SELECT id FROM enrollments WHERE journey_id = :j"
            " AND status = 'active' ORDER BY id LIMIT :n)"
        ),
        {"j": journey_id, "n": count},
    )
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE enrollments"))


def wake_process(env: dict) -> dict:
    """Run the wake loop in a fresh process; its timing, counts and peak memory."""
    out = subprocess.run(
        [sys.executable, __file__, "--wake"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def peak_rss() -> int:
    """This process's peak resident memory in bytes. VmHWM, not getrusage: ru_maxrss survives
    fork + exec, so a child would report its parent's size (here, the enrolling process's)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def wake_loop() -> None:
    """In the child: `wake_due` in batches (as the wake_journeys actor does) until none due."""
    from mailapp.journeys.engine import wake_due

    os.environ.setdefault("LOG_LEVEL", "WARNING")
    app = create_app(
        config(os.environ["DATABASE_URL"], os.environ["REDIS_URL"], Path(tempfile.mkdtemp()))
    )
    import workers.actors  # noqa: F401 - binds mailapp.tasks: a wake asks for a dispatch tick

    with app.app_context():
        totals: dict[str, int] = {}
        batches = 0
        booted = peak_rss()
        started = time.perf_counter()
        while True:
            counts = wake_due(limit=5000)
            if not counts.get("claimed"):
                break
            batches += 1
            for name, n in counts.items():
                totals[name] = totals.get(name, 0) + n
        elapsed = time.perf_counter() - started
    peak = peak_rss()
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "batches": batches,
                "counts": totals,
                "peak": peak,
                "booted": booted,
            }
        )
    )


def campaign_figure(count: int) -> tuple[float, int]:
    """prepare_deliveries of a launched campaign to `count` contacts: the same emails handed
    to the delivery path by the campaign pipeline."""
    from mailapp.delivery import pipeline
    from mailapp.delivery.campaigns import create_campaign
    from mailapp.delivery.launch import launch_campaign

    project, sender, template, lst = audience("bench-campaign", count)
    campaign = create_campaign(
        project,
        actor=ACTOR,
        name="bench",
        sender_id=sender.id,
        template_id=template.id,
        audience={"lists": [lst.id]},
    )
    launch_campaign(project, campaign.id, actor=ACTOR)
    started = time.perf_counter()
    created = pipeline.prepare_deliveries(campaign.id)
    return time.perf_counter() - started, created


def main() -> None:
    from flask_migrate import upgrade

    from mailapp.audience.segments.store import save_segment
    from mailapp.journeys.enrollment import enroll
    from mailapp.models import Delivery

    postgres, redis_url = os.environ["TEST_POSTGRES_URL"], os.environ["TEST_REDIS_URL"]
    os.environ["REDIS_URL"] = redis_url
    workdir = Path(tempfile.mkdtemp(prefix="mailapp-bench-"))
    database_url = database(postgres)
    settings = config(database_url, redis_url, workdir)
    app = create_app(settings)
    import workers.actors  # noqa: F401 - binds mailapp.tasks for launch's dispatch tick

    env = {k: v for k, v in os.environ.items() if k != "DRAMATIQ_BROKER"}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        BENCH_ENCRYPTION_KEY=settings["ENCRYPTION_KEY"],
        PYTHONPATH=str(ROOT),
        LOG_LEVEL="WARNING",
    )
    try:
        with app.app_context():
            upgrade()
            t = time.perf_counter()
            project, sender, template, lst = audience("bench-journey", CONTACTS)
            print(f"seeded {CONTACTS:,} contacts in {time.perf_counter() - t:.1f} s", flush=True)
            journey = published_journey(project, sender, template)
            segment = save_segment(
                project.id, "everyone", {"field": "list", "op": "in", "value": lst.id}, actor=ACTOR
            )
            t = time.perf_counter()
            entered = enroll(project, journey.id, segment.id, actor=ACTOR)
            enrolled = time.perf_counter() - t
            print(
                f"enroll: {entered:,} contacts from a segment in {enrolled:.1f} s"
                f" ({entered / enrolled:,.0f} a second, one INSERT ... SELECT);"
                f" this process's peak RSS {peak_rss() / 2**20:.0f} MiB",
                flush=True,
            )
            analyze("enrollments")
            runs = {}
            for due in (SMALL, DUE):
                make_due(journey.id, due)
                runs[due] = result = wake_process(env)
                print(
                    f"wake: {result['counts'].get('claimed', 0):,} due wake-ups in"
                    f" {result['seconds']:.1f} s (target {TARGET_SECONDS} s), {result['batches']}"
                    f" batches of 5,000, {result['counts'].get('emails', 0):,} emails queued;"
                    f" {result['counts'].get('claimed', 0) / result['seconds']:,.0f} a second,"
                    f" peak RSS {result['peak'] / 2**20:.0f} MiB"
                    f" ({result['booted'] / 2**20:.0f} MiB before the first batch)",
                    flush=True,
                )
            queued = db.session.scalar(
                sa.select(sa.func.count()).select_from(Delivery).where(Delivery.round > 0)
            )
            small, big = runs[SMALL]["peak"], runs[DUE]["peak"]
            print(
                f"memory: peak RSS {small / 2**20:.0f} MiB at {SMALL:,} due,"
                f" {big / 2**20:.0f} MiB at {DUE:,} due ({big / small:.2f}x;"
                f" {CONTACTS:,} enrollments in the journey)"
            )
            seconds, created = campaign_figure(DUE)
            wake = runs[DUE]["seconds"]
            print(
                f"same {DUE:,} emails handed to the delivery path: journey wake {wake:.1f} s"
                f" (Delivery rows of journeys: {queued:,}), campaign prepare_deliveries"
                f" {seconds:.1f} s ({created:,} rows, one INSERT ... SELECT)"
            )
            db.session.remove()
            db.engine.dispose()
    finally:
        if os.environ.get("BENCH_KEEP"):
            print(f"kept database {database_url}")
        else:
            with psycopg.connect(postgres, autocommit=True) as conn:
                conn.execute(
                    f"DROP DATABASE IF EXISTS {make_url(database_url).database} WITH (FORCE)"
                )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--wake"]:
        wake_loop()
    else:
        main()
