"""Visual documents: each block and starter compiles to HTML that passes the content checks."""

from __future__ import annotations

import copy
import re

import pytest
from mjml import mjml2html

from mailapp.access.audit import Actor
from mailapp.content.blocks import BLOCK_TYPES, check_document, new_document
from mailapp.content.brand import Brand
from mailapp.content.htmlprep import html_to_text
from mailapp.content.rendering import compile_content, render_content, template_context
from mailapp.content.submission import Content, prepare_content, starter_content
from mailapp.content.templates import create_template
from mailapp.content.visual import compile_document, document_to_mjml
from mailapp.content.visual_starters import VISUAL_STARTERS
from mailapp.delivery.preflight import content_checks
from mailapp.extensions import db
from mailapp.models import TemplateKind
from tests.factories import make_project

ONE_OF_EACH = {
    "heading": {"text": 'Hi {{ contact.first_name | default("there") }}', "level": 2},
    "text": {"html": '<p>Read <a href="https://example.com/a?b=1&amp;c=2">this</a></p>'},
    "image": {"src": "https://example.com/i.png", "asset_id": None, "alt": "A cat", "width": 400},
    "button": {"label": "Go", "href": "https://example.com/go?plan={{ contact.attributes.plan }}"},
    "divider": {},
    "spacer": {"height": 24},
    "social": {"links": [{"network": "mastodon", "href": "https://example.social/@us"}]},
    "footer": {"text": "You asked for our news."},
}
SENDER_CHECKS = {"sender", "from", "reply_to", "dkim", "bounce_domain"}


def with_block(block_type: str, **fields) -> dict:
    doc = new_document()
    blocks = doc["sections"][0]["columns"][0]["blocks"]
    if block_type != "footer":
        blocks.insert(0, {"id": "x1", "type": block_type, **ONE_OF_EACH[block_type], **fields})
    else:
        blocks[-1].update(fields or ONE_OF_EACH["footer"])
    return doc


def rendered_for_a_contact(html: str) -> str:
    compiled = compile_content(
        type("V", (), {"id": None, "subject": "S", "preheader": "", "html": html, "text": "",
                       "locale": "en", "locale_variants": {}})()
    )  # fmt: skip
    context = template_context(
        {"first_name": "Ann", "email": "ann@example.org", "attributes": {"plan": "gold"}},
        unsubscribe_url="https://u.example/unsub",
        view_url="https://u.example/view",
        project={"name": "Acme", "postal_address": "1 Main Street, Town"},
    )
    return render_content(compiled, context).html


def assert_sendable(html: str) -> None:
    assert 'href="{{ unsubscribe_url }}"' in html
    assert 'href="{{ view_in_browser_url }}"' in html
    assert "{{ project.postal_address }}" in html
    out = rendered_for_a_contact(html)
    assert "{{" not in out
    assert "{%" not in out
    assert "https://u.example/unsub" in out
    assert "1 Main Street, Town" in out
    # No fixed width a phone cannot shrink: a px width over 320 is a max-width or MJML's
    # desktop-only width (its class collapses it below 480 px).
    for match in re.finditer(r'(?<![-\w])width(?::\s*|=")(\d+)px', out):
        if int(match[1]) > 320:
            tag = out[out.rfind("<", 0, match.start()) : out.find(">", match.start())]
            assert "mj-full-width-mobile" in tag or "max-width" in tag, tag


@pytest.mark.parametrize("block_type", sorted(BLOCK_TYPES))
def test_each_block_type_alone_compiles_to_sendable_html(block_type):
    doc = with_block(block_type)
    assert check_document(doc) == []
    prepared = prepare_content(Content(subject="Hello", html="", document=doc))
    assert prepared.document == doc
    assert_sendable(prepared.html)


def test_tags_survive_mjml_in_text_and_links():
    doc = with_block("button")
    html = compile_document(doc, Brand())
    assert 'href="https://example.com/go?plan={{ contact.attributes.plan }}"' in html
    assert "{{ unsubscribe_url }}" in html
    heading = with_block("heading")
    assert 'Hi {{ contact.first_name | default("there") }}' in compile_document(heading, Brand())
    out = rendered_for_a_contact(prepare_content(Content("S", "", document=doc)).html)
    assert "https://example.com/go?plan=gold" in out


def test_the_brand_is_applied():
    brand = Brand(primary="#ff0000", font="georgia", width=640, logo_url="https://e.com/l.png")
    mjml = document_to_mjml(with_block("button"), brand)
    assert 'width="640px"' in mjml
    assert "Georgia" in mjml
    html = compile_document(with_block("button"), brand)
    assert "#ff0000" in html
    assert "https://e.com/l.png" in html
    assert "max-width:640px" in html


def test_media_queries_survive_preparation_in_the_head():
    doc = new_document()
    doc["sections"].insert(
        0,
        {
            "id": "s0",
            "background": "#eeeeee",
            "columns": [
                {"id": "a", "blocks": [{"id": "t1", "type": "text", "html": "<p>left</p>"}]},
                {"id": "b", "blocks": [{"id": "t2", "type": "text", "html": "<p>right</p>"}]},
            ],
        },
    )
    prepared = prepare_content(Content(subject="Hello", html="", document=doc))
    assert prepared.html.startswith("<style>\n@media only screen and (min-width:480px)")
    assert ".mj-column-per-50 { width: 50% !important" in prepared.html
    out = rendered_for_a_contact(prepared.html)
    head, body = out.split("</head>", 1)
    assert "@media only screen" in head
    assert "@media" not in body
    text = html_to_text(prepared.html)
    assert "left" in text
    assert "@media" not in text
    assert "mj-column" not in text


def test_media_rules_are_sanitized():
    html = (
        "<style>@media screen and (max-width:400px) { .a { width: 100% !important;"
        " position: fixed; background-image: url(https://t.example/x) } "
        ".b</style><script>{ color: red } }</style><p class='a'>x</p>"
    )
    prepared = prepare_content(Content(subject="S", html=html))
    assert ".a { width: 100% !important; }" in prepared.html
    assert "position" not in prepared.html
    assert "url(" not in prepared.html


@pytest.mark.parametrize("key", sorted(VISUAL_STARTERS))
def test_each_visual_starter_passes_the_content_checks(app, key):
    with app.app_context():
        project = make_project()
        project.postal_address = "1 Main Street, Town"
        db.session.commit()
        template = create_template(
            project, "From the gallery", actor=Actor.system("t"), starter=key
        )
        version = template.versions[0]
        assert version.document == VISUAL_STARTERS[key].document
        assert_sendable(version.html)
        checks = [c for c in content_checks(version, None, project) if c.name not in SENDER_CHECKS]
        assert checks
        assert all(c.ok for c in checks), [c for c in checks if not c.ok]
        assert "<img" in version.html or key in ("visual_welcome", "visual_receipt")
        assert all(
            re.search(r'<img [^>]*alt="[^"]+"', tag)
            for tag in re.findall(r"<img [^>]*>", version.html)
        )


def test_visual_starters_do_not_clash_with_html_ones():
    html = starter_content(TemplateKind.MARKETING, "announcement")
    assert html.document is None
    assert "<style>" in html.html
    visual = starter_content(TemplateKind.MARKETING, "visual_announcement")
    assert visual.document is not None
    visual.document["sections"] = []  # a copy: the gallery's own stays intact
    assert VISUAL_STARTERS["visual_announcement"].document["sections"]


def bad(doc: dict, path: list, value) -> dict:
    doc = copy.deepcopy(doc)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


BLOCK0 = ["sections", 0, "columns", 0, "blocks", 0]


@pytest.mark.parametrize(
    ("change", "part", "reason"),
    [
        (
            lambda d: bad(d, BLOCK0, {"id": "b1", "type": "video"}),
            "block s1/c1/b1 (video)",
            "unknown block type 'video'",
        ),
        (lambda d: bad(d, [*BLOCK0, "text"], ""), "block s1/c1/b1 (heading)", "text is missing"),
        (
            lambda d: bad(d, BLOCK0, {"id": "b1", "type": "image", "src": "https://e.com/i.png"}),
            "block s1/c1/b1 (image)",
            "alt text is missing",
        ),
        (
            lambda d: bad(
                d,
                ["sections", 0, "columns", 0, "blocks", 1, "html"],
                "<p>hi</p><script>alert(1)</script>",
            ),
            "block s1/c1/b2 (text)",
            "script is not allowed in rich text",
        ),
        (
            lambda d: bad(
                d, ["sections", 0, "columns", 0, "blocks", 1, "html"], '<p onclick="x()">hi</p>'
            ),
            "block s1/c1/b2 (text)",
            "script is not allowed",
        ),
        (
            lambda d: bad(
                d,
                ["sections", 0, "columns", 0, "blocks", 1, "html"],
                '<a href=" jav&#x61;script:x()">hi</a>',
            ),
            "block s1/c1/b2 (text)",
            "javascript: link",
        ),
        (
            lambda d: bad(
                d,
                ["sections", 0, "columns", 0, "blocks", 1, "html"],
                '<p><div class="x">hi</div></p>',
            ),
            "block s1/c1/b2 (text)",
            "<div> is not allowed in rich text",
        ),
        (
            lambda d: bad(d, [*BLOCK0, "text"], "{{ contact.phone }}"),
            "block s1/c1/b1 (heading)",
            "unknown variable 'contact.phone'",
        ),
        (
            lambda d: bad(
                d,
                BLOCK0,
                {"id": "b1", "type": "button", "label": "x", "href": "javascript:alert(1)"},
            ),
            "block s1/c1/b1 (button)",
            "javascript: links are not allowed",
        ),
        (
            lambda d: bad(d, BLOCK0, {"id": "b1", "type": "spacer", "height": 500}),
            "block s1/c1/b1 (spacer)",
            "height must be a whole number from 8 to 96",
        ),
        (
            lambda d: bad(
                d, ["sections", 0, "columns", 0, "blocks", 2], {"id": "b3", "type": "divider"}
            ),
            "document",
            "exactly one footer block",
        ),
        (lambda d: bad(d, [*BLOCK0, "id"], "b2"), "block s1/c1/b2 (text)", "used twice"),
        (lambda d: bad(d, ["sections", 0, "columns"], []), "section s1", "1 to 3 columns"),
    ],
)
def test_bad_documents_are_refused_naming_the_block(change, part, reason):
    problems = check_document(change(new_document()))
    assert any(p.part == part and reason in p.reason for p in problems), problems


def test_rich_text_cannot_run_into_the_next_block():
    doc = with_block("text", html="<p>Hello <b>bold")
    html = compile_document(doc, Brand())
    text_block = html.split('class="rich"')[1].split("</div>")[0]
    assert text_block.endswith("<p>Hello <b>bold</b></p>")


def test_tags_in_social_links_and_image_addresses_are_checked():
    links = [{"network": "x", "href": "https://x.com/{{ contact.phone }}"}]
    problems = check_document(with_block("social", links=links))
    assert [(p.part, p.reason.split(" (")[0]) for p in problems] == [
        ("block s1/c1/x1 (social)", "x link: unknown variable 'contact.phone'")
    ]
    problems = check_document(with_block("image", src="https://e.com/{{contact.email}}.png"))
    assert [p.reason for p in problems] == ["src must be an http(s) address of an image"]


def test_odd_json_is_refused_not_crashed():
    doc = with_block("heading")
    doc["sections"][0]["columns"][0]["blocks"][0]["type"] = ["heading"]
    problems = check_document(doc)
    assert problems[0].reason == "unknown block type ['heading']"
    assert check_document([]) == check_document({"version": 2, "sections": []})


def test_mjml_itself_leaves_tags_alone_in_text_and_links():
    """compile_document sets tags aside anyway (a `"` inside one would end an attribute)."""
    html = mjml2html(
        "<mjml><mj-body><mj-section><mj-column>"
        '<mj-text>Hi {{ contact.first_name | default("there") }} {% if x %}y{% endif %}</mj-text>'
        "<mj-button href=\"https://e.com/?p={{ contact.attributes.plan | default('') }}\">Go"
        "</mj-button></mj-column></mj-section></mj-body></mjml>"
    )
    assert 'Hi {{ contact.first_name | default("there") }} {% if x %}y{% endif %}' in html
    assert "href=\"https://e.com/?p={{ contact.attributes.plan | default('') }}\"" in html
