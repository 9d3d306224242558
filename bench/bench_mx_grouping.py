"""Does grouping recipients by MX provider cost send rate? (issue 16, item 4)

1. The whole send path in one process (claim, re-check, render, DKIM, rate limits, SMTP to
   a local aiosmtpd sink), a campaign of BENCH_MX_CONTACTS contacts spread over
   BENCH_MX_DOMAINS custom domains (40% on Google's MX, 30% on Microsoft's, 30% on 25
   hosting companies) plus gmail.com: MX_GROUPING off (names only) and on with the answers
   cached (a warm worker). The same script run on the code before the change
   (`BENCH_MX_ROOT=/path/to/main`) gives the "before" figure. The sender has per-second and
   per-hour limits too high to bind (BENCH_MX_SENDER_LIMIT), so every group takes from them.
2. The grouping step alone per group of 50 rows: names only; MX with this process's copy;
   MX from Redis only (a fresh worker); cold, asking the DNS server (local, dnslib).
Real Redis (TEST_REDIS_URL, else a throwaway one), SQLite. Prints figures; asserts nothing.
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(os.environ.get("BENCH_MX_ROOT") or Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # tests.support helpers
os.environ["DRAMATIQ_BROKER"] = "stub"

import redis
from cryptography.fernet import Fernet
from flask_migrate import upgrade

from mailapp import create_app
from mailapp.extensions import db

CONTACTS = int(os.environ.get("BENCH_MX_CONTACTS", "3000"))
DOMAINS = int(os.environ.get("BENCH_MX_DOMAINS", "300"))
REPEAT = int(os.environ.get("BENCH_MX_REPEAT", "3"))
GROUP = 50
LIMIT = int(os.environ.get("BENCH_MX_SENDER_LIMIT", "100000"))  # 0: a sender without limits


def zone() -> tuple[dict, list[str]]:
    """MX records for the custom domains, and the recipients' domains in send order."""
    records, domains = {}, []
    for i in range(DOMAINS):
        name = f"company{i}.example"
        if i % 10 < 4:
            host = "aspmx.l.google.com."
        elif i % 10 < 7:
            host = f"company{i}-example.mail.protection.outlook.com."
        else:
            host = f"mx1.hosting{i % 25}.example."
        records[name] = [("MX", (10, host), 3600)]
        domains.append(name)
    return records, domains


def addresses(domains: list[str]) -> list[str]:
    """Every fifth address on gmail.com, the rest round the custom domains."""
    return [
        f"c{i}@gmail.com" if i % 5 == 0 else f"c{i}@{domains[i % len(domains)]}"
        for i in range(CONTACTS)
    ]


def make_app(redis_url: str, workdir: Path, dns: str | None):
    config = {
        "MAILAPP_ENV": "testing",
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
        "REDIS_URL": redis_url,
        "SECRET_KEY": "bench-secret-key-" + "x" * 32,
        "ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "INSTANCE_PATH": str(workdir / "instance"),
        "BASE_URL": "http://mail.test",
        "SMTP_URL": "smtp://127.0.0.1:1",
        "SEND_GROUP_SIZE": GROUP,
        "DISPATCH_BATCH_SIZE": 500,
        "DISPATCH_MAX_BATCHES": 1000,
    }
    if dns:
        config.update(DNS_RESOLVER=dns, DNS_TIMEOUT=2.0)
    app = create_app(config)
    logging.disable(logging.INFO)  # migrations and the sink log every step
    return app


def send_rates(redis_url: str, dns: str | None, emails: list[str]) -> dict[str, list[float]]:
    """Messages per second through the in-process pipeline, MX_GROUPING off and on in turn
    (one app, one sink; a first run fills the caches and warms the process)."""
    import workers.actors  # noqa: F401 - binds mailapp.tasks to the (stub) actors
    from tests.factories import make_campaign, make_list, make_project, make_sender, make_template
    from tests.support.pipeline import launch, pipeline_sink, run_pipeline
    from workers.broker import app_context

    modes = ["on"] + ["off", "on"] * REPEAT if dns else ["before"] * (REPEAT + 1)
    rates: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(redis_url, Path(tmp), dns)
        app_context.set_app(app)
        with app.app_context():
            upgrade()
            redis.Redis.from_url(redis_url).flushdb()
            with pipeline_sink(app):
                app.config.update(SEND_GROUP_SIZE=GROUP, DISPATCH_BATCH_SIZE=500)
                project = make_project()
                # Limits too high to hold anything back: each group's acquire runs the Lua take.
                sender = make_sender(project, rate_per_second=LIMIT, rate_per_hour=LIMIT * 3600)
                template = make_template(project)
                for run, mode in enumerate(modes):
                    app.config["MX_GROUPING"] = mode == "on"
                    recipients = [e.replace("@", f"+r{run}@") for e in emails]
                    campaign = make_campaign(
                        project, sender, template, [make_list(project, emails=recipients)]
                    )
                    launch(project, campaign)
                    started, cpu = time.perf_counter(), time.process_time()
                    run_pipeline(campaign.id, rounds=1000)
                    if run:
                        wall = time.perf_counter() - started
                        rates.setdefault(mode, []).append(len(recipients) / wall)
                        # CPU of this process (pipeline and sink): steadier on a busy machine.
                        used = (time.process_time() - cpu) / len(recipients) * 1e3
                        rates.setdefault(f"{mode} cpu", []).append(used)
            db.session.remove()
            db.engine.dispose()
        app_context.set_app(None)
    return rates


def grouping_costs(redis_url: str, dns: str, emails: list[str]) -> None:
    from mailapp.delivery import mx_providers
    from mailapp.delivery.dns_lookup import Lookup
    from mailapp.delivery.mx_providers import MxGrouper
    from mailapp.delivery.ratelimits import domain_group

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    groups = [emails[i : i + GROUP] for i in range(0, len(emails), GROUP)]
    grouper = MxGrouper(client, Lookup(dns, timeout=2.0), 2.0)

    def per_message(step) -> float:
        started = time.perf_counter()
        for rows in groups:
            step(rows)
        return (time.perf_counter() - started) / len(emails) * 1e6

    mx_providers.forget_local()
    cold = per_message(grouper.by_address)
    names = per_message(lambda rows: {a: domain_group(a) for a in rows})
    local = per_message(grouper.by_address)

    def redis_only(rows: list[str]) -> None:
        mx_providers.forget_local()
        grouper.by_address(rows)

    shared = per_message(redis_only)
    distinct = len({a.rpartition("@")[2] for a in emails})
    print(f"  grouping step, microseconds per message (groups of {GROUP}):")
    print(f"    names only (MX_GROUPING off)          {names:8.1f}")
    print(f"    MX, this process's copy (warm worker) {local:8.1f}")
    print(f"    MX, from Redis only (fresh worker)    {shared:8.1f}")
    print(f"    MX, cold: {distinct} domains asked to DNS    {cold:8.1f}")
    found = grouper.by_address(emails)
    print(f"    distinct groups: {len(set(found.values()))} from {distinct} domains")


def main() -> None:
    from tests.support.dns_server import DnsServer
    from tests.support.servers import RedisServer

    records, domains = zone()
    emails = addresses(domains)
    server = None
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        server = RedisServer().start()
        redis_url = server.url
    try:
        with DnsServer(records) as dns:
            print(f"MX grouping: {CONTACTS} contacts over {DOMAINS} custom domains + gmail.com")
            rates = send_rates(
                redis_url, None if os.environ.get("BENCH_MX_ROOT") else dns.address, emails
            )
            print(f"  send path ({ROOT}), {REPEAT} runs each, alternating:")
            for mode, found in rates.items():
                runs = ", ".join(f"{r:,.2f}" if "cpu" in mode else f"{r:,.0f}" for r in found)
                unit = "ms CPU/message" if "cpu" in mode else "messages/s"
                median = statistics.median(found)
                print(f"    MX_GROUPING {mode:10} median {median:8,.2f} {unit}  ({runs})")
            if os.environ.get("BENCH_MX_ROOT"):
                return
            grouping_costs(redis_url, dns.address, emails)
    finally:
        if server:
            server.cleanup()


if __name__ == "__main__":
    main()
