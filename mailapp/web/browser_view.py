"""/v/<token>: the "view in browser" copy of a message, served under a strict CSP.

The copy is author HTML (sanitized when saved) rendered for one recipient; the page still
treats it as untrusted: no script, no plugin, no form, no frame may run or load, only
images, inline styles and fonts; it is sandboxed into an opaque origin (links can still
open); and the token in the address never leaks through a Referer.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template
from flask.typing import ResponseReturnValue

from mailapp.delivery.browser_view import NoLongerAvailable, web_copy
from mailapp.errors import NotFound

bp = Blueprint("browser_view", __name__)

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "img-src https: http: data:",
        "style-src 'unsafe-inline'",
        "font-src https: data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "sandbox allow-popups allow-popups-to-escape-sandbox"
        " allow-top-navigation-by-user-activation",
    )
)
# One person's personalized mail: never cached, indexed, or named in a Referer.
PRIVATE = {
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "Cache-Control": "private, no-store",
}
HEADERS = {
    **PRIVATE,
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
}


@bp.get("/v/<token>")
def view(token: str) -> ResponseReturnValue:
    """The message as its recipient got it; a generic page when it cannot be shown."""
    try:
        html = web_copy(token)
    except NotFound:
        return render_template("public/view_not_found.html"), 404, PRIVATE
    except NoLongerAvailable:
        return render_template("public/view_unavailable.html"), 410, PRIVATE
    return Response(html, mimetype="text/html", headers=HEADERS)
