"""How a new template starts: in the visual editor (a gallery layout or blank) or in HTML."""

from __future__ import annotations

from typing import Any

from wtforms import RadioField
from wtforms.fields.choices import SelectChoice

from mailapp.content.blocks import new_document
from mailapp.content.starters import DEFAULT_STARTER, MARKETING_STARTERS
from mailapp.content.submission import Content, starter_content
from mailapp.content.visual_starters import VISUAL_STARTERS
from mailapp.errors import ServiceError
from mailapp.models import TemplateKind

VISUAL, HTML, BLANK = "visual", "html", "blank"


def add_start_fields(form: Any) -> Any:
    """The create form's choices: the editor, then the layout for each editor."""
    form.editor = RadioField(
        "Write it in",
        choices=[
            SelectChoice(VISUAL, "Visual editor (recommended): blocks you arrange, no code"),
            SelectChoice(HTML, "HTML (for developers): you write the HTML yourself"),
        ],
        default=VISUAL,
    )
    form.visual_starter = RadioField(
        "Visual layout",
        choices=[SelectChoice(BLANK, "Blank: a heading, a text and the footer")]
        + [SelectChoice(s.key, f"{s.name}: {s.description}") for s in VISUAL_STARTERS.values()],
        default=BLANK,
        description="For the visual editor. You can change everything afterwards.",
    )
    form.starter = RadioField(
        "HTML layout",
        choices=[
            SelectChoice(s.key, f"{s.name}: {s.description}") for s in MARKETING_STARTERS.values()
        ],
        default=DEFAULT_STARTER,
        description="For HTML templates (marketing only; a transactional one starts from a "
        "plain note).",
    )
    return form


def start_content(form: Any, kind: TemplateKind, name: str) -> Content:
    """The first draft of a new template, as the create form chose it."""
    if getattr(form, "editor", None) is None or form.editor.data != VISUAL:
        return starter_content(kind, form.starter.data if hasattr(form, "starter") else None)
    key = form.visual_starter.data or BLANK
    if key == BLANK:
        return Content(subject=name.strip() or "Untitled", html="", document=new_document())
    starter = VISUAL_STARTERS.get(key)
    if starter is None:
        raise ServiceError(f"visual layout: there is no layout {key!r}")
    return Content(
        subject=starter.subject,
        html="",
        preheader=starter.preheader or None,
        document=starter.document,
    )
