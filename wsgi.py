"""WSGI entry point: `gunicorn wsgi:app` and `flask --app wsgi ...`."""

import sys

from mailapp import ConfigError, create_app
from mailapp.runtime.tracing import setup_tracing

try:
    app = create_app()
    setup_tracing("web")
except ConfigError as exc:
    sys.exit(f"mailapp: configuration error: {exc}")

# The web tier enqueues background work through mailapp.tasks, bound by the actors package.
import workers.actors  # noqa: F401
