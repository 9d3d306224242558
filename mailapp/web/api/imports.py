"""Imports API: the back office's CSV wizard as calls: upload, map, preview problems, start,
follow the progress, download the rejected rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Response, current_app, g, jsonify, request, stream_with_context

from mailapp.access.permissions import Permission
from mailapp.audience.imports import files, wizard
from mailapp.errors import ServiceError
from mailapp.models import DuplicatePolicy, ImportJob, ImportStatus
from mailapp.web.api import ERROR, bp, document, require

TAGS = ["imports"]
TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
COUNT = {"type": "integer", "minimum": 0}
MAPPING = {
    "type": "object",
    "description": "CSV column -> field: email, first_name, last_name, timezone, locale, list "
    "(a list by name), attributes.<name>, or empty to ignore the column",
    "additionalProperties": {"type": "string"},
}
POLICY = {
    "type": "string",
    "enum": [p.value for p in DuplicatePolicy],
    "description": "what a row does to an existing contact: update it, fill_empty fields "
    "only, or skip it",
}
IMPORT_FIELDS = {
    "id": {"type": "integer"},
    "filename": {"type": "string"},
    "status": {"type": "string", "enum": [s.value for s in ImportStatus]},
    "delimiter": {"type": "string", "enum": [",", ";"]},
    "mapping": MAPPING,
    "list_id": {"type": ["integer", "null"], "description": "every row joins this list"},
    "policy": POLICY,
    "total": {**COUNT, "type": ["integer", "null"], "description": "rows; once counted"},
    "processed": COUNT,
    "created": COUNT,
    "updated": COUNT,
    "skipped": COUNT,
    "invalid": {**COUNT, "description": "rejected rows: see the report"},
    "error": {"type": ["string", "null"], "description": "why the import failed"},
    "created_at": {"type": "string", "format": "date-time"},
    "started_at": TIME_OR_NULL,
    "finished_at": TIME_OR_NULL,
}
IMPORT_OUT = {
    "type": "object",
    "required": list(IMPORT_FIELDS),
    "additionalProperties": False,
    "properties": IMPORT_FIELDS,
}
UPLOAD_OUT = {
    **IMPORT_OUT,
    "required": [*IMPORT_OUT["required"], "header", "preview"],
    "properties": {
        **IMPORT_OUT["properties"],
        "mapping": {**MAPPING, "description": "the suggested mapping: correct it when starting"},
        "header": {"type": "array", "items": {"type": "string"}},
        "preview": {
            "type": "array",
            "description": f"the first {files.PREVIEW_ROWS} rows",
            "items": {"type": "array", "items": {"type": "string"}},
        },
    },
}
UPLOAD_IN = {
    "type": "object",
    "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary", "description": "a CSV file"}},
}
MAPPING_IN = {
    "type": "object",
    "required": ["mapping"],
    "additionalProperties": False,
    "properties": {
        "mapping": MAPPING,
        "list_id": {"type": ["integer", "null"]},
        "policy": POLICY,
    },
}
START_IN = {**MAPPING_IN, "required": []}
PROBLEMS_OUT = {
    "type": "object",
    "required": ["checked", "complete", "counts", "examples"],
    "additionalProperties": False,
    "properties": {
        "checked": {**COUNT, "description": f"rows checked (at most {wizard.PROBLEM_SCAN_ROWS})"},
        "complete": {"type": "boolean", "description": "false when rows were left unchecked"},
        "counts": {"type": "object", "additionalProperties": COUNT},
        "examples": {
            "type": "array",
            "maxItems": wizard.PROBLEM_EXAMPLES,
            "items": {
                "type": "object",
                "required": ["line", "problem"],
                "additionalProperties": False,
                "properties": {"line": {"type": "integer"}, "problem": {"type": "string"}},
            },
        },
    },
}


def import_json(job: ImportJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "filename": job.filename,
        "status": job.status.value,
        "delimiter": job.delimiter,
        "mapping": job.mapping or {},
        "list_id": job.list_id,
        "policy": job.duplicate_policy.value,
        "total": job.total_rows,
        "processed": job.processed_rows,
        "created": job.created_count,
        "updated": job.updated_count,
        "skipped": job.skipped_count,
        "invalid": job.invalid_count,
        "error": job.error,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def _map(job_id: int, body: dict[str, Any]) -> ImportJob:
    return wizard.set_mapping(
        g.project.id,
        job_id,
        body["mapping"],
        list_id=body.get("list_id"),
        policy=DuplicatePolicy(body.get("policy") or "update"),
        actor=g.actor,
    )


@bp.post("/imports")
@document(
    "Upload a CSV file to import",
    description="Comma or semicolon separated, the first line naming the columns. The answer "
    "suggests a mapping of the columns to contact fields and shows the first rows.",
    request=UPLOAD_IN,
    form=True,
    responses={201: UPLOAD_OUT, 422: ERROR},
    tags=TAGS,
)
@require(Permission.CONTACTS_IMPORT)
def imports_upload() -> tuple[Response, int]:
    upload = request.files["file"]
    job = wizard.create_import(
        g.project.id,
        upload.filename or "upload.csv",
        upload.stream,
        upload_dir=Path(current_app.instance_path) / "uploads",
        actor=g.actor,
    )
    head = files.read_upload(job)
    return jsonify({**import_json(job), "header": head.header, "preview": head.rows}), 201


@bp.get("/imports")
@document(
    "The project's recent imports, newest first",
    responses={200: {"type": "array", "items": IMPORT_OUT}},
    tags=TAGS,
)
@require(Permission.CONTACTS_IMPORT)
def imports_list() -> Response:
    return jsonify([import_json(job) for job in wizard.recent_imports(g.project.id)])


@bp.get("/imports/<int:job_id>")
@document("An import: its status, mapping and counts", responses={200: IMPORT_OUT}, tags=TAGS)
@require(Permission.CONTACTS_IMPORT)
def imports_show(job_id: int) -> Response:
    return jsonify(import_json(wizard.get_import(g.project.id, job_id)))


@bp.put("/imports/<int:job_id>/mapping")
@document(
    "Map the columns (and choose the list and policy) before previewing problems",
    request=MAPPING_IN,
    responses={200: IMPORT_OUT, 422: ERROR},
    tags=TAGS,
)
@require(Permission.CONTACTS_IMPORT)
def imports_map(job_id: int) -> Response:
    return jsonify(import_json(_map(job_id, g.body)))


@bp.get("/imports/<int:job_id>/problems")
@document(
    "Check the rows as the import would, before it starts (nothing is written)",
    description="Uses the mapping set last, or the suggested one.",
    responses={200: PROBLEMS_OUT, 422: ERROR},
    tags=TAGS,
)
@require(Permission.CONTACTS_IMPORT)
def imports_problems(job_id: int) -> Response:
    job = wizard.get_import(g.project.id, job_id)
    if job.status not in (ImportStatus.UPLOADED, ImportStatus.MAPPED):
        raise ServiceError("this import has started: its report lists the rejected rows")
    preview = wizard.preview_problems(g.project.id, job.id)
    return jsonify(
        {
            "checked": preview.checked,
            "complete": preview.complete,
            "counts": preview.counts,
            "examples": [{"line": line, "problem": text} for line, text in preview.examples],
        }
    )


@bp.post("/imports/<int:job_id>/start")
@document(
    "Start the import (it runs in the background: follow GET /imports/{job_id})",
    description="Sends the mapping (and list and policy) unless PUT .../mapping set them.",
    request=START_IN,
    responses={202: IMPORT_OUT, 422: ERROR},
    tags=TAGS,
)
@require(Permission.CONTACTS_IMPORT)
def imports_start(job_id: int) -> tuple[Response, int]:
    body = g.body
    policy = None
    if "mapping" in body:
        _map(job_id, body)
    elif "policy" in body:
        policy = DuplicatePolicy(body["policy"])
    job = wizard.start_import(g.project.id, job_id, policy=policy, actor=g.actor)
    return jsonify(import_json(job)), 202


@bp.get("/imports/<int:job_id>/report")
@document(
    "The rejected rows as CSV: line, reason, row (text/csv)",
    responses={200: None},
    tags=TAGS,
)
@require(Permission.CONTACTS_IMPORT)
def imports_report(job_id: int) -> Response:
    lines = wizard.report_lines(g.project.id, job_id)
    # The rows are read page by page while the answer streams: keep the request's session.
    return Response(
        stream_with_context(lines),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="import-{job_id}-report.csv"'},
    )
