"""Settings → Brand: the colours, font, logo and width every visual template is built with."""

from __future__ import annotations

from dataclasses import asdict

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import expose

from mailapp.access.permissions import Permission
from mailapp.access.validation import InvalidSettings
from mailapp.admin.base import ProjectView
from mailapp.admin.context import current_actor, current_project
from mailapp.content.assets import asset_url, list_assets
from mailapp.content.brand import FONTS, brand_for, update_brand
from mailapp.errors import ServiceError
from mailapp.extensions import db

COLOURS = [
    ("primary", "Brand colour", "Buttons and links."),
    ("text", "Text colour", "Headings and body text."),
    ("background", "Page background", "Around the email."),
    ("content_background", "Content background", "Behind the blocks."),
]
FIELDS = [name for name, _, _ in COLOURS] + ["font", "width", "logo_asset_id"]


class BrandView(ProjectView):
    permission = Permission.TEMPLATES_WRITE

    @expose("/", methods=("GET", "POST"))
    def index(self) -> ResponseReturnValue:
        project = current_project()
        errors: dict[str, str] = {}
        images = [
            (a, asset_url(a)) for a in list_assets(project) if a.content_type.startswith("image/")
        ]
        values = asdict(brand_for(project))
        if request.method == "POST":
            posted = {name: request.form.get(name, "") for name in FIELDS}
            chosen = next((url for a, url in images if str(a.id) == posted["logo_asset_id"]), None)
            posted["logo_asset_id"] = int(posted["logo_asset_id"]) if chosen else None
            posted["logo_url"] = chosen
            try:
                update_brand(project, posted, actor=current_actor())
            except InvalidSettings as exc:
                db.session.rollback()
                errors, values = exc.errors, {**values, **posted}
                flash("Nothing was saved: correct the fields marked below.", "error")
            except ServiceError as exc:
                db.session.rollback()
                errors, values = {}, {**values, **posted}
                flash(f"Nothing was saved: {exc}", "error")
            else:
                flash("Brand saved: visual templates use it from their next save.", "success")
                return redirect(url_for(".index"))
        return self.render(
            "admin/brand_settings.html",
            project=project,
            values=values,
            errors=errors,
            colours=COLOURS,
            fonts=FONTS,
            images=images,
        )
