"""The CSV import wizard: upload -> map columns -> problems preview and policy -> progress."""

from __future__ import annotations

from pathlib import Path

from flask import (
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    request,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_admin import expose

from mailapp.access.permissions import Permission
from mailapp.admin.base import ProjectView
from mailapp.admin.context import current_actor, current_project
from mailapp.admin.paths import path_id
from mailapp.audience import lists
from mailapp.audience.imports import files, wizard
from mailapp.errors import NotFound, ServiceError
from mailapp.models import DuplicatePolicy, ImportJob, ImportStatus

FIELD_CHOICES = [
    ("", "(ignore)"),
    ("email", "Email"),
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("timezone", "Time zone"),
    ("locale", "Locale"),
    ("list", "List (by name)"),
]
POLICIES = [
    (DuplicatePolicy.UPDATE, "Update existing contacts with the file's values"),
    (DuplicatePolicy.FILL_EMPTY, "Only fill fields that are empty"),
    (DuplicatePolicy.SKIP, "Skip contacts that exist already"),
]


class ImportView(ProjectView):
    permission = Permission.CONTACTS_IMPORT

    @expose("/", methods=("GET", "POST"))
    def index(self) -> ResponseReturnValue:
        project = current_project()
        if request.method == "POST":
            upload = request.files.get("file")
            if upload is None or not upload.filename:
                flash("Choose a CSV file.", "error")
            else:
                try:
                    job = wizard.create_import(
                        project.id,
                        upload.filename,
                        upload.stream,
                        upload_dir=Path(current_app.instance_path) / "uploads",
                        actor=current_actor(),
                    )
                except ServiceError as exc:
                    flash(str(exc), "error")
                else:
                    return redirect(url_for(".mapping", job_id=job.id))
        return self.render("admin/import_upload.html", jobs=wizard.recent_imports(project.id))

    @expose("/<job_id>/map", methods=("GET", "POST"))
    def mapping(self, job_id: str) -> ResponseReturnValue:
        project = current_project()
        job = _job(project.id, job_id)
        upload = files.read_upload(job)
        if request.method == "POST":
            chosen = {
                column: request.form.get(f"col-{i}", "") for i, column in enumerate(upload.header)
            }
            for i, column in enumerate(upload.header):
                if chosen[column] == "attribute":
                    chosen[column] = "attributes." + request.form.get(f"attr-{i}", "").strip()
            list_id = request.form.get("list_id") or None
            try:
                wizard.set_mapping(
                    project.id,
                    job.id,
                    chosen,
                    list_id=int(list_id) if list_id else None,
                    actor=current_actor(),
                )
            except (ServiceError, ValueError) as exc:
                flash(str(exc), "error")
            else:
                return redirect(url_for(".problems", job_id=job.id))
        return self.render(
            "admin/import_map.html",
            job=job,
            upload=upload,
            choices=FIELD_CHOICES,
            lists=lists.project_lists(project.id),
        )

    @expose("/<job_id>/problems", methods=("GET", "POST"))
    def problems(self, job_id: str) -> ResponseReturnValue:
        project = current_project()
        job = _job(project.id, job_id)
        if request.method == "POST":
            try:
                policy = DuplicatePolicy(request.form.get("policy", "update"))
                wizard.start_import(project.id, job.id, policy=policy, actor=current_actor())
            except (ServiceError, ValueError) as exc:
                flash(str(exc), "error")
            else:
                return redirect(url_for(".status", job_id=job.id))
        if job.status is not ImportStatus.MAPPED:
            return redirect(url_for(".status", job_id=job.id))
        return self.render(
            "admin/import_problems.html",
            job=job,
            preview=wizard.preview_problems(project.id, job.id),
            policies=POLICIES,
            scan_rows=wizard.PROBLEM_SCAN_ROWS,
        )

    @expose("/<job_id>/")
    def status(self, job_id: str) -> ResponseReturnValue:
        job = _job(current_project().id, job_id)
        return self.render(
            "admin/import_status.html", job=job, progress=wizard.progress(job.project_id, job.id)
        )

    @expose("/<job_id>/progress.json")
    def progress(self, job_id: str) -> Response:
        job = _job(current_project().id, job_id)
        return jsonify(wizard.progress(job.project_id, job.id))

    @expose("/<job_id>/report.csv")
    def report(self, job_id: str) -> Response:
        job_id = _job(current_project().id, job_id).id
        lines = wizard.report_lines(current_project().id, job_id)
        # The rows stream from a server-side cursor: keep the request (and session) open.
        return Response(
            stream_with_context(lines),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="import-{job_id}-report.csv"'},
        )


def _job(project_id: int, job_id: str) -> ImportJob:
    """The project's import of that id; 404 for an unknown one or another project's."""
    try:
        return wizard.get_import(project_id, path_id(job_id))
    except NotFound:
        abort(404)
