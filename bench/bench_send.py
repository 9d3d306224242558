"""Send benchmark: a 100,000-contact campaign on PostgreSQL, tracking and DKIM on, to
Postfix's smtp-sink, next to a bare smtplib loop with the same number of connections
sending pre-built messages to the same sink; then the time to prepare 1,000,000 deliveries.

The bare loop is the issue's: one plain loop, each message on the next of the connections
(on this 2-core machine it does the 1,500-2,500 messages/s the issue expects). A stronger
baseline is printed beside it: the worker's own shape, each connection sending in its own
thread, processes on both cores.

Run by `make bench` (throwaway PostgreSQL and Redis in TEST_POSTGRES_URL/TEST_REDIS_URL).
Prints figures; asserts nothing: rates, outcomes, when half/99%/all were accepted, CPU per
message by process kind, worker memory. BENCH_CONTACTS and BENCH_PREPARE change the sizes,
BENCH_PROCESSES/THREADS/POOL the worker shape; BENCH_KEEP=1 keeps logs and database.
"""

from __future__ import annotations

import os
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from multiprocessing import Process
from pathlib import Path

import psutil
import psycopg
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailapp import create_app
from mailapp.access.audit import Actor
from mailapp.delivery import pipeline
from mailapp.delivery.campaigns import create_campaign
from mailapp.delivery.launch import launch_campaign
from mailapp.extensions import db
from mailapp.models import Campaign, CampaignStatus, Delivery, DeliveryStatus
from tests.support.servers import free_port, wait_for_port

CONTACTS = int(os.environ.get("BENCH_CONTACTS", "100000"))
PREPARE = int(os.environ.get("BENCH_PREPARE", "1000000"))
# As the Procfile runs it by default (WORKER_PROCESSES, WORKER_THREADS, SMTP_POOL_SIZE).
PROCESSES = int(os.environ.get("BENCH_PROCESSES", "2"))
THREADS = int(os.environ.get("BENCH_THREADS", "4"))
POOL = int(os.environ.get("BENCH_POOL", "4"))
CONNECTIONS = PROCESSES * min(THREADS, POOL)
ACTOR = Actor.system("bench")
# About 20 KB of HTML with 12 tracked links and a personal greeting: a typical newsletter.
STORY = (
    '<p style="font-family:Arial,sans-serif;font-size:15px;line-height:22px;color:#333">'
    "This week at Example: new features, fixes and stories from our customers, with the "
    "details you asked for and a few pictures from the team. We hope you enjoy reading it "
    "as much as we enjoyed writing it; tell us what you think by answering this message. "
    '<a href="https://example.com/story/{n}">Read story {n}</a>.</p>\n'
)
FILLER = (
    '<p style="font-family:Arial,sans-serif;font-size:15px;line-height:22px;color:#333">'
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud "
    "exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.</p>\n"
)
HTML = (
    '<table width="600" cellpadding="0" cellspacing="0"><tr><td>'
    "<h1>Hello {{ contact.first_name | default('there') }}!</h1>"
    + "".join(STORY.replace("{n}", str(n)) + FILLER * 3 for n in range(12))
    + '<p style="font-size:12px;color:#777">Example Ltd, 1 Example Street, Berlin. You receive'
    ' this because you subscribed. <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
    "</td></tr></table>"
)
PIPELINE_ENV = {
    "SEND_GROUP_SIZE": "50",
    "DISPATCH_BATCH_SIZE": "500",
    "DISPATCH_MAX_BATCHES": "20",
    "SMTP_POOL_SIZE": str(POOL),
    "SCHEDULER_LOCK_TTL": "3",
}


def database(server_url: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def start_sink() -> tuple[subprocess.Popen, int]:
    """Only the smtp-sink binary, on loopback; never the postfix service."""
    port = free_port()
    command = ["/usr/sbin/smtp-sink"]
    if os.geteuid() == 0:
        command += ["-u", "nobody"]
    sink = subprocess.Popen([*command, f"127.0.0.1:{port}", "1024"], stdout=subprocess.DEVNULL)
    wait_for_port(port)
    return sink, port


def seed_contacts(project_id: int, list_id: int, count: int) -> None:
    """Contacts and memberships by generate_series: only the data, not what is measured."""
    db.session.execute(
        sa.text(
            "INSERT INTO contacts (project_id, email, email_raw, status, first_name, attributes,"
            " is_role_address, is_disposable, quarantined, soft_bounces, created_at, updated_at)"
            " SELECT :p, 'c' || g || '@example.org', 'c' || g || '@example.org', 'active',"
            " 'N' || g, '{}', false, false, false, 0, now(), now()"
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
    # Fresh statistics, as after any bulk import, so the planner sees the real sizes.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("ANALYZE contacts, list_memberships"))


def make_campaign(count: int, sink_url: str) -> tuple:
    from mailapp.models import List
    from tests.support.campaigns import make_sender, make_template

    project = create_project_for(f"bench-{uuid.uuid4().hex[:6]}")
    sender = make_sender(project, transport_url=sink_url)
    template = make_template(project, html=HTML, subject="Weekly news for {{ contact.first_name }}")
    lst = List(project_id=project.id, name="everyone", token=uuid.uuid4().hex)
    db.session.add(lst)
    db.session.commit()
    seed_contacts(project.id, lst.id, count)
    campaign = create_campaign(
        project,
        actor=ACTOR,
        name="bench",
        sender_id=sender.id,
        template_id=template.id,
        audience={"lists": [lst.id]},
        track_opens=True,
        track_clicks=True,
    )
    return project, campaign


def create_project_for(slug: str):
    from mailapp.access.projects import create_project

    return create_project(slug, actor=ACTOR)


class PeakMemory(threading.Thread):
    """Peak resident memory of the worker's process tree, sampled every 0.2 s."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.peak_total = self.peak_process = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            try:
                tree = [self.root, *self.root.children(recursive=True)]
                sizes = [p.memory_info().rss for p in tree]
            except psutil.Error:
                continue
            self.peak_total = max(self.peak_total, sum(sizes))
            self.peak_process = max(self.peak_process, max(sizes))


def cpu_seconds() -> dict[str, float]:
    """CPU time (user + system) used so far by each kind of process on the machine."""
    used: dict[str, float] = {}
    for process in psutil.process_iter(["name", "cmdline", "cpu_times"]):
        times, cmdline = process.info["cpu_times"], process.info["cmdline"] or []
        if times is None:
            continue
        name = process.info["name"] or ""
        if "dramatiq" in cmdline or "dramatiq" in name:
            kind = "worker"
        elif name.startswith("postgres") or name == "postmaster":
            kind = "PostgreSQL"
        elif name == "smtp-sink":
            kind = "smtp-sink"
        elif name.startswith("redis"):
            kind = "Redis"
        elif "workers.scheduler" in cmdline:
            kind = "scheduler"
        else:
            continue
        used[kind] = used.get(kind, 0.0) + times.user + times.system
    return used


def run_pipeline(app, env: dict, workdir: Path, project, campaign) -> tuple[float, int, int]:
    worker = subprocess.Popen(
        [sys.executable, "-m", "dramatiq", "workers.actors", "-p", str(PROCESSES), "-t",
         str(THREADS)],
        cwd=ROOT, env=env, stdout=(workdir / "worker.log").open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "workers.scheduler"],
        cwd=ROOT, env=env, stdout=(workdir / "scheduler.log").open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        time.sleep(8)  # both processes booted and the scheduler holds its lock
        memory = PeakMemory(worker.pid)
        memory.start()
        cpu_before = cpu_seconds()
        started = time.time()
        launch_campaign(project, campaign.id, actor=ACTOR)
        while True:
            time.sleep(0.5)
            db.session.expire_all()
            if db.session.get(Campaign, campaign.id).status == CampaignStatus.SENT:
                break
            if time.time() - started > 1800:
                raise RuntimeError("campaign did not finish in 30 minutes")
        memory.stop.set()
        cpu_after = cpu_seconds()
        last = db.session.scalar(
            sa.select(sa.func.max(Delivery.sent_at)).where(Delivery.campaign_id == campaign.id)
        )
        outcomes = dict(
            db.session.execute(
                sa.select(Delivery.status, sa.func.count())
                .where(Delivery.campaign_id == campaign.id)
                .group_by(Delivery.status)
            ).all()
        )
        sent = outcomes.get(DeliveryStatus.SENT, 0)
        print("  outcomes: " + ", ".join(f"{k} {v:,}" for k, v in sorted(outcomes.items())))
        times = db.session.scalars(
            sa.select(Delivery.sent_at)
            .where(Delivery.campaign_id == campaign.id, Delivery.sent_at.is_not(None))
            .order_by(Delivery.sent_at)
        ).all()
        if times:
            marks = {
                share: times[min(len(times) - 1, int(len(times) * share))] for share in (0.5, 0.99)
            }
            print(
                f"  after launch: first sent at {times[0].timestamp() - started:.1f} s,"
                " half at "
                f"{marks[0.5].timestamp() - started:.1f} s, 99% at"
                f" {marks[0.99].timestamp() - started:.1f} s, all at"
                f" {times[-1].timestamp() - started:.1f} s"
            )
        cores = psutil.cpu_count()
        print(f"  CPU per message sent, by process kind ({cores} cores: {cores * 1000:,} µs a ms):")
        for kind, after in sorted(cpu_after.items(), key=lambda item: -item[1]):
            used = after - cpu_before.get(kind, 0.0)
            print(f"    {kind:<12} {used / sent * 1e6:8.0f} µs")
        return sent / (last.timestamp() - started), memory.peak_total, memory.peak_process
    finally:
        for process in (worker, scheduler):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)


def bare_loop(port: int, message: bytes, total: int) -> float:
    """The issue's baseline: one plain smtplib loop over the same number of connections,
    each pre-built message on the next connection in turn."""
    connections = [smtplib.SMTP("127.0.0.1", port) for _ in range(CONNECTIONS)]
    started = time.time()
    for i in range(total):
        connections[i % CONNECTIONS].sendmail("bounces@example.com", [f"c{i}@example.org"], message)
    elapsed = time.time() - started
    for conn in connections:
        conn.quit()
    return total / elapsed


def _parallel_connection(port: int, message: bytes, count: int) -> None:
    conn = smtplib.SMTP("127.0.0.1", port)
    for i in range(count):
        conn.sendmail("bounces@example.com", [f"c{i}@example.org"], message)
    conn.quit()


def _parallel_process(port: int, message: bytes, per_connection: int, connections: int) -> None:
    threads = [
        threading.Thread(target=_parallel_connection, args=(port, message, per_connection))
        for _ in range(connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def parallel_senders(port: int, message: bytes, total: int) -> float:
    """A stronger baseline than the issue's: the worker's own shape (processes x threads),
    every connection sending in its own thread, so both cores push bytes at the sink."""
    per_connection = total // CONNECTIONS
    started = time.time()
    processes = [
        Process(
            target=_parallel_process,
            args=(port, message, per_connection, CONNECTIONS // PROCESSES),
        )
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    return per_connection * CONNECTIONS / (time.time() - started)


def sample_message(app, project, campaign) -> bytes:
    """One message as the pipeline builds it (rendered, tracked, signed)."""
    from mailapp.delivery.batches import CampaignSend
    from mailapp.models import Contact, Project

    contact = db.session.scalar(sa.select(Contact).where(Contact.project_id == project.id).limit(1))
    send = CampaignSend(db.session.get(Campaign, campaign.id), db.session.get(Project, project.id))
    return send.composer.compose(1, contact, "A").data


def main() -> None:
    # A plain `kill` still runs the cleanup below (worker, scheduler, sink, database).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    postgres, redis_url = os.environ["TEST_POSTGRES_URL"], os.environ["TEST_REDIS_URL"]
    os.environ["REDIS_URL"] = redis_url  # the broker launch asks for a dispatch tick on
    if not Path("/usr/sbin/smtp-sink").exists():
        sys.exit("bench_send: /usr/sbin/smtp-sink missing (make bench installs postfix)")
    workdir = Path(tempfile.mkdtemp(prefix="mailapp-bench-"))
    database_url = database(postgres)
    sink, port = start_sink()
    config = {
        "MAILAPP_ENV": "testing",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "bench-" + "x" * 40,
        "ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "INSTANCE_PATH": str(workdir / "instance"),
        "BASE_URL": "https://mail.example.com",
        "SMTP_URL": f"smtp://127.0.0.1:{port}",
        **PIPELINE_ENV,
    }
    env = {k: v for k, v in os.environ.items() if k != "DRAMATIQ_BROKER"}
    env.update(config, PYTHONPATH=str(ROOT), LOG_LEVEL="WARNING")
    app = create_app(config)
    import workers.actors  # noqa: F401 - binds mailapp.tasks: launch asks Redis for a dispatch tick

    try:
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            import redis

            redis.Redis.from_url(redis_url).flushall()
            t = time.time()
            project, campaign = make_campaign(CONTACTS, f"smtp://127.0.0.1:{port}")
            print(f"seeded {CONTACTS:,} contacts in {time.time() - t:.1f} s", flush=True)
            rate, peak_total, peak_process = run_pipeline(app, env, workdir, project, campaign)
            message = sample_message(app, project, campaign)
            bare = bare_loop(port, message, CONTACTS)
            parallel = parallel_senders(port, message, CONTACTS)
            print(
                f"send: {CONTACTS:,} messages ({len(message) / 1024:.1f} KB, DKIM + tracking),"
                f" {PROCESSES} worker processes x {THREADS} threads, {CONNECTIONS} connections"
            )
            print(f"  pipeline, launch -> last accepted:  {rate:8.0f} messages/s")
            print(f"  bare smtplib loop, same sink:       {bare:8.0f} messages/s")
            print(f"  pipeline / bare loop:               {rate / bare:8.0%}")
            print(
                f"  parallel bare senders ({PROCESSES} processes x {CONNECTIONS // PROCESSES}"
                f" threads): {parallel:5.0f} messages/s; pipeline / that: {rate / parallel:.0%}"
            )
            print(
                f"  worker peak memory: {peak_total / 2**20:.0f} MiB for the process tree,"
                f" {peak_process / 2**20:.0f} MiB for the largest process"
            )
            t = time.time()
            big, big_campaign = make_campaign(PREPARE, f"smtp://127.0.0.1:{port}")
            print(f"seeded {PREPARE:,} contacts in {time.time() - t:.1f} s", flush=True)
            launch_campaign(big, big_campaign.id, actor=ACTOR)
            t = time.time()
            created = pipeline.prepare_deliveries(big_campaign.id)
            elapsed = time.time() - t
            print(f"prepare: {created:,} deliveries in {elapsed:.1f} s (one INSERT ... SELECT)")
            db.session.remove()
            db.engine.dispose()
    finally:
        sink.terminate()
        sink.wait(10)
        if os.environ.get("BENCH_KEEP"):
            print(f"kept database {database_url}")
        else:
            with psycopg.connect(postgres, autocommit=True) as conn:
                conn.execute(
                    f"DROP DATABASE IF EXISTS {make_url(database_url).database} WITH (FORCE)"
                )
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"kept {workdir}")


if __name__ == "__main__":
    main()
