"""Brand API: the colours, font, logo and width the project's visual templates are compiled with.

Kept in one place, GET/PUT /api/v1/brand; a change applies to templates saved after it, never to
a version already saved. Marketers who write templates may change it (templates.write).
"""

from __future__ import annotations

from flask import Response, g, jsonify

from mailapp.access.permissions import Permission
from mailapp.content.brand import FONTS, WIDTH_RANGE, brand_for, update_brand
from mailapp.web.api import bp, document, require

COLOR = {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$", "description": "#rrggbb"}
FIELDS = {
    "primary": {**COLOR, "description": "buttons and links (#rrggbb)"},
    "text": {**COLOR, "description": "body text (#rrggbb)"},
    "background": {**COLOR, "description": "around the content (#rrggbb)"},
    "content_background": {**COLOR, "description": "behind the content (#rrggbb)"},
    "font": {"type": "string", "enum": sorted(FONTS), "description": "a web-safe font stack"},
    "logo_url": {"type": ["string", "null"], "format": "uri"},
    "logo_asset_id": {"type": ["integer", "null"], "description": "the logo's asset, if any"},
    "width": {"type": "integer", "minimum": WIDTH_RANGE[0], "maximum": WIDTH_RANGE[1]},
}
BRAND_OUT = {"type": "object", "required": sorted(FIELDS), "properties": FIELDS}
BRAND_IN = {"type": "object", "additionalProperties": False, "properties": FIELDS}
INVALID = {"$ref": "#/components/schemas/Error"}
TAGS = ["templates"]


@bp.get("/brand")
@document("The project's brand for visual templates", responses={200: BRAND_OUT}, tags=TAGS)
@require(Permission.TEMPLATES_WRITE)
def brand_show() -> Response:
    return jsonify(brand_for(g.project).as_dict())


@bp.put("/brand")
@document(
    "Change the brand",
    description="Only the keys sent change. Applies to visual templates saved from now on. "
    "One wrong field refuses the whole change (422, with error.fields). Audited.",
    request=BRAND_IN,
    responses={200: BRAND_OUT, 422: INVALID},
    tags=TAGS,
)
@require(Permission.TEMPLATES_WRITE)
def brand_update() -> Response:
    return jsonify(update_brand(g.project, g.body, actor=g.actor).as_dict())
