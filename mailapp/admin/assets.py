"""The asset library page: upload images and files, copy their public URL, delete them."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import expose

from mailapp.access.permissions import Permission
from mailapp.admin.base import ProjectView
from mailapp.admin.context import current_actor, current_project
from mailapp.admin.urlargs import post_only, url_id
from mailapp.content.assets import (
    IMAGE_TYPES,
    asset_url,
    delete_asset,
    list_assets,
    max_bytes,
    upload_asset,
)
from mailapp.errors import ServiceError
from mailapp.extensions import db


class AssetsView(ProjectView):
    permission = Permission.TEMPLATES_WRITE

    @expose("/")
    def index(self) -> ResponseReturnValue:
        assets = list_assets(current_project())
        return self.render(
            "admin/assets.html",
            assets=[(a, asset_url(a)) for a in assets],
            max_kb=max_bytes() // 1024,
            accepted=", ".join(sorted(ext for _, ext in IMAGE_TYPES.values())) + ", .pdf",
        )

    @expose("/upload", methods=("GET", "POST"))
    def upload(self) -> ResponseReturnValue:
        if request.method != "POST":
            return redirect(url_for(".index"))  # the upload form is on the index page
        files = [f for f in request.files.getlist("files") if f.filename]
        if not files:
            flash("Choose at least one file.", "error")
        for file in files:
            try:
                asset = upload_asset(
                    current_project(), file.filename or "", file.read(), actor=current_actor()
                )
            except ServiceError as exc:
                db.session.rollback()
                flash(str(exc), "error")
            else:
                flash(f"Uploaded {asset.filename}.", "success")
        return redirect(url_for(".index"))

    @expose("/<asset_id>/delete", methods=("GET", "POST"))
    def delete(self, asset_id: str) -> ResponseReturnValue:
        post_only()
        try:
            delete_asset(current_project(), url_id(asset_id), actor=current_actor())
        except ServiceError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            flash("Asset deleted.", "success")
        return redirect(url_for(".index"))
