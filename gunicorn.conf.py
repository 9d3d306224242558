"""gunicorn settings read by every `gunicorn` started from the repository root (Procfile, bench).

Each worker opens its tracking hit spool as soon as it starts, so it also adopts the spool
files of workers that died (SIGKILL, OOM) before the first request arrives.

With PROMETHEUS_MULTIPROC_DIR set, each worker keeps its metrics in a file of that directory;
the arbiter removes the files of processes no longer running when it starts, and a worker's
live gauges when it exits (mailapp.runtime.metrics).

The access log writes request lines and referrers, whose URLs carry tokens (webhook
endpoints, signed tracking and unsubscribe links): every record gunicorn creates, in the
arbiter and in the workers it forks, goes through mailapp.runtime.redaction first.
"""

from mailapp.runtime import metrics, redaction

redaction.install()


def on_starting(server) -> None:
    metrics.sweep_dead_files()  # a previous run's counts (running processes keep theirs)


def child_exit(server, worker) -> None:
    metrics.mark_dead(worker.pid)


def post_worker_init(worker) -> None:
    extensions = getattr(worker.wsgi, "extensions", {})
    if "hit_spool" in extensions:
        extensions["hit_spool"].start()
