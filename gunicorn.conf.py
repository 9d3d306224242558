"""gunicorn settings read by every `gunicorn` started from the repository root (Procfile, bench).

Each worker opens its tracking hit spool as soon as it starts, so it also adopts the spool
files of workers that died (SIGKILL, OOM) before the first request arrives.

The access log writes request lines and referrers, whose URLs carry tokens (webhook
endpoints, signed tracking and unsubscribe links): every record gunicorn creates, in the
arbiter and in the workers it forks, goes through mailapp.runtime.redaction first.
"""

from mailapp.runtime import redaction

redaction.install()


def post_worker_init(worker) -> None:
    extensions = getattr(worker.wsgi, "extensions", {})
    if "hit_spool" in extensions:
        extensions["hit_spool"].start()
