"""WSGI entry point: `gunicorn wsgi:app` and `flask --app wsgi ...`."""

import sys

from mailapp import ConfigError, create_app

try:
    app = create_app()
except ConfigError as exc:
    sys.exit(f"mailapp: configuration error: {exc}")
