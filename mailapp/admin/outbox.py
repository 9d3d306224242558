"""The Outbox: what the development capture SMTP server stored instead of delivering.

A captured message is untrusted HTML: it is shown only inside an iframe with an empty
`sandbox` attribute, served from its own URL with a CSP that forbids scripts, forms,
plugins and remote loads.
"""

from __future__ import annotations

from email.message import EmailMessage

from flask import Response, abort, current_app
from flask.typing import ResponseReturnValue
from flask_admin import expose
from flask_login import current_user

from mailapp.access.permissions import Permission
from mailapp.admin.base import ProjectView
from mailapp.admin.context import current_project
from mailapp.errors import NotFound
from mailapp.runtime.outbox import get_captured, list_captured, message_bodies, outbox_path

BODY_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox"
)


class OutboxView(ProjectView):
    """The current project's captured mail (operators also see mail of no project); only
    registered in development (DEV_OUTBOX), so elsewhere its URLs are a 404."""

    permission = Permission.SENDERS_MANAGE

    @expose("/")
    def index(self) -> ResponseReturnValue:
        folder = outbox_path(current_app.instance_path)
        messages = list_captured(folder, current_project().id, unmapped=current_user.is_superuser)
        return self.render("admin/outbox.html", messages=messages, folder=folder)

    @expose("/<key>/")
    def message(self, key: str) -> ResponseReturnValue:
        captured = self._load(key)
        html, text = message_bodies(captured)
        headers = [(name, str(value)) for name, value in captured.items()]
        return self.render(
            "admin/outbox_message.html", key=key, headers=headers, html=html, text=text
        )

    @expose("/<key>/body")
    def body(self, key: str) -> ResponseReturnValue:
        html, _ = message_bodies(self._load(key))
        if html is None:
            abort(404)
        response = Response(html, mimetype="text/html")
        response.headers["Content-Security-Policy"] = BODY_CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        return response

    def _load(self, key: str) -> EmailMessage:
        try:
            return get_captured(
                outbox_path(current_app.instance_path),
                key,
                current_project().id,
                unmapped=current_user.is_superuser,
            )
        except NotFound:
            abort(404)
