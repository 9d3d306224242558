"""The back office's landing page; every admin page requires a logged-in user."""

from __future__ import annotations

from flask import redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import AdminIndexView, expose
from flask_login import current_user


class HomeView(AdminIndexView):
    def is_accessible(self) -> bool:
        return current_user.is_authenticated

    def inaccessible_callback(self, name: str, **kwargs: object) -> ResponseReturnValue:
        target = request.full_path if request.query_string else request.path
        return redirect(url_for("auth.login", next=target))

    @expose("/")
    def index(self) -> ResponseReturnValue:
        return self.render("admin/home.html")
