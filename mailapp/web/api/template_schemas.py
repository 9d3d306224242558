"""JSON Schemas of the templates API (mailapp.web.api.templates): bodies and answers."""

from __future__ import annotations

from typing import Any

from mailapp.content.starters import MARKETING_STARTERS
from mailapp.content.visual_starters import VISUAL_STARTERS
from mailapp.models import TemplateKind, VersionStatus
from mailapp.web.api import ERROR

PARTS = {
    "subject": {"type": "string", "minLength": 1, "maxLength": 998},
    "preheader": {"type": ["string", "null"], "maxLength": 500},
    "html": {"type": "string", "minLength": 1},
    "text": {"type": ["string", "null"], "description": "made from the HTML when empty"},
}
DOCUMENT = {
    "type": "object",
    "required": ["version", "sections"],
    "description": "the visual editor's document (sections, columns, blocks); sent instead of "
    "html, compiled to html by the server when saved",
    "properties": {"version": {"const": 1}, "sections": {"type": "array"}},
}
# A body has html or a document, not both.
HTML_OR_DOCUMENT = {
    "anyOf": [{"required": ["html"]}, {"required": ["document"]}],
    "not": {"required": ["html", "document"]},
}
CONTENT_FIELDS: dict[str, Any] = {
    **PARTS,
    "locale": {"type": "string", "maxLength": 16, "default": "en"},
    "locale_variants": {
        "type": "object",
        "description": 'other languages, e.g. {"de": {"subject": ..., "html": ...}}',
        "additionalProperties": {
            "type": "object",
            "additionalProperties": False,
            "properties": {**PARTS, "document": DOCUMENT},
        },
    },
    "comment": {"type": ["string", "null"], "description": "what changed, for the reviewer"},
    "document": DOCUMENT,
}
CONTENT_IN = {
    "type": "object",
    "additionalProperties": False,
    "required": ["subject"],
    **HTML_OR_DOCUMENT,
    "properties": CONTENT_FIELDS,
}
CREATE_IN = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "dependentRequired": {"html": ["subject"], "document": ["subject"]},
    "dependentSchemas": {"subject": HTML_OR_DOCUMENT},
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "kind": {"type": "string", "enum": [k.value for k in TemplateKind], "default": "marketing"},
        "starter": {
            "type": "string",
            "enum": sorted(MARKETING_STARTERS) + sorted(VISUAL_STARTERS),
            "description": "start from a gallery layout instead of sending subject and html "
            "(the visual_* ones are visual templates)",
        },
        **CONTENT_FIELDS,
    },
}
COMMENT_IN = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"comment": {"type": ["string", "null"]}},
}
VERSION_SUMMARY = {
    "type": "object",
    "required": ["id", "number", "status", "subject"],
    "properties": {
        "id": {"type": "integer"},
        "number": {"type": "integer"},
        "status": {"type": "string", "enum": [s.value for s in VersionStatus]},
        "subject": {"type": "string"},
        "locale": {"type": "string"},
        "comment": {"type": ["string", "null"]},
        "published_at": {"type": ["string", "null"], "format": "date-time"},
        "created_at": {"type": "string", "format": "date-time"},
    },
}
VERSION_OUT = {
    **VERSION_SUMMARY,
    "properties": {
        **VERSION_SUMMARY["properties"],
        "template_id": {"type": "integer"},
        "preheader": {"type": ["string", "null"]},
        "html": {"type": "string", "description": "as stored: sanitized, CSS inlined"},
        "document": {
            "type": ["object", "null"],
            "description": "the visual editor's document the html was compiled from; null for "
            "a template written as HTML",
        },
        "text": {"type": ["string", "null"]},
        "locale_variants": {"type": "object"},
    },
}
TEMPLATE_OUT = {
    "type": "object",
    "required": ["id", "name", "kind", "published_version_id", "versions"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "kind": {"type": "string", "enum": [k.value for k in TemplateKind]},
        "published_version_id": {"type": ["integer", "null"]},
        "versions": {"type": "array", "items": VERSION_SUMMARY},
        "created_at": {"type": "string", "format": "date-time"},
    },
}
REFUSED = {
    "allOf": [ERROR],
    "description": "the content does not compile or breaks a rule: error.problems says where",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "problems": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "part": {"type": "string"},
                            "line": {"type": ["integer", "null"]},
                            "reason": {"type": "string"},
                        },
                    },
                }
            },
        }
    },
}
