"""Editor-made vs hand-written HTML: messages per second through the real Composer, same run.

A visual template is compiled by MJML once, when its version is saved; sending then renders
the stored HTML exactly like a hand-written template. This measures both: the MJML compile
(and the whole save-time preparation) per version, and N messages composed (render, tracked
links, open pixel, MIME skeleton, DKIM signature) for an editor-made version and for a
hand-written HTML version of similar size. Runs alternate (best of three each) so that a
busy machine slows both alike. Prints figures; asserts nothing.
"""

from __future__ import annotations

import copy
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailapp.content.brand import Brand
from mailapp.content.rendering import compile_content
from mailapp.content.submission import Content, prepare_content
from mailapp.content.visual import compile_document
from mailapp.content.visual_starters import VISUAL_STARTERS
from mailapp.delivery.compose import Composer, Variant
from mailapp.delivery.senders import generate_dkim_key
from mailapp.models import TemplateVersion
from mailapp.urls import LinkSigner

N = 2_000
LINK = "https://example.com"
HELLO = 'Hello {{ contact.first_name | default("there") }},'
CITY = '{{ contact.attributes.city | default("your town") }}'
ROW = """
<tr><td style="padding:16px 24px;font-family:Helvetica,Arial,sans-serif;font-size:16px;
line-height:24px;color:#222222">
<h2 style="margin:0 0 8px;font-size:20px">Story {n}: what is new this week</h2>
<p>Hello {{{{ contact.first_name | default("there") }}}}, two or three sentences that make the
reader want more, for readers in {{{{ contact.attributes.city | default("your town") }}}}.</p>
<a href="https://shop.example.com/stories/{n}?ref=news" style="display:inline-block;
padding:12px 24px;background:#1a5fb4;color:#ffffff;border-radius:4px;text-decoration:none">
Read story {n}</a></td></tr>"""
FOOTER = (
    '<tr><td style="font-size:13px;color:#666666;padding:16px 24px">You receive this email '
    "because you subscribed to {{ project.name }}.<br>{{ project.postal_address }}<br>"
    '<a href="{{ view_in_browser_url }}">View in your browser</a> · '
    '<a href="{{ unsubscribe_url }}">Unsubscribe</a></td></tr>'
)


def editor_document() -> dict:
    """The newsletter starter with six more two-column story rows, every link its own."""
    doc = copy.deepcopy(VISUAL_STARTERS["visual_newsletter"].document)
    stories = doc["sections"][2]
    for n in range(6):
        extra = copy.deepcopy(stories)
        extra["id"] = f"x{n}"
        for column in extra["columns"]:
            column["id"] = f"x{n}{column['id']}"
            for block in column["blocks"]:
                block["id"] = f"x{n}{block['id']}"
        doc["sections"].insert(3, extra)
    count = 0
    for section in doc["sections"]:
        for column in section["columns"]:
            for block in column["blocks"]:
                count += 1
                if block["type"] == "text" and "Two or three" in block["html"]:
                    block["html"] = f"<p>{HELLO} two or three sentences for {CITY}.</p>"
                for field in ("href", "html"):
                    if isinstance(block.get(field), str):
                        block[field] = block[field].replace(LINK, f"{LINK}/story/{count}")
    return doc


def html_source(size: int, links: int) -> str:
    """Hand-written table HTML: `links` story rows, padded to about `size` characters."""
    rows = [ROW.format(n=n) for n in range(links - 1)]
    pad = max(0, (size - sum(map(len, rows)) - len(FOOTER)) // max(1, len(rows)))
    filler = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 40)[:pad]
    body = "".join(row.replace("</p>", f" {filler}</p>", 1) for row in rows)
    return (
        '<table role="presentation" width="100%" style="max-width:600px" cellpadding="0" '
        f'cellspacing="0" align="center">{body}{FOOTER}</table>'
    )


def composer_for(version: TemplateVersion, key: str) -> Composer:
    sender = SimpleNamespace(
        domain="example.com", dkim_selector="s1", dkim_private_key=generate_dkim_key(),
        bounce_domain="bounce.example.com", from_name="Example Shop",
        from_email="news@example.com", reply_to=None,
    )  # fmt: skip
    links = compile_content(version).links
    return Composer(
        kind="delivery",
        project=SimpleNamespace(name="Shop", postal_address="1 Main St, Springfield"),
        sender=sender,
        signer=LinkSigner("bench-secret-" + "x" * 40, "https://mail.example.com"),
        variants={key: Variant(version)},
        link_ids={url: i for i, url in enumerate(links, 1)},
        track_opens=True,
        track_clicks=True,
        list_id="News <news.example.com>",
    )


def run(composer: Composer, key: str, contacts: list) -> float:
    start = time.perf_counter()
    for i, contact in enumerate(contacts):
        composer.compose(i, contact, key)
    return len(contacts) / (time.perf_counter() - start)


def main() -> None:
    brand = Brand()
    doc = editor_document()
    start = time.perf_counter()
    for _ in range(20):
        compiled = compile_document(doc, brand)
    mjml_ms = (time.perf_counter() - start) / 20 * 1000
    start = time.perf_counter()
    for _ in range(5):
        visual = prepare_content(Content(subject="News", html="", document=doc), brand)
    save_ms = (time.perf_counter() - start) / 5 * 1000
    links = len(
        compile_content(TemplateVersion(id=0, subject="x", html=visual.html, locale="en")).links
    )
    source = html_source(len(visual.html), links)
    handmade = prepare_content(Content(subject="News", html=source))
    versions = {
        "editor": TemplateVersion(id=1, subject="News for {{ contact.first_name }}",
                                  html=visual.html, locale="en", locale_variants={}),
        "html": TemplateVersion(id=2, subject="News for {{ contact.first_name }}",
                                html=handmade.html, locale="en", locale_variants={}),
    }  # fmt: skip
    composers = {key: composer_for(v, key) for key, v in versions.items()}
    contacts = [
        SimpleNamespace(email=f"user{i}@example.org", locale=None, first_name=f"Zoë{i}",
                        last_name=None, attributes={"city": "Köln"}, timezone=None)
        for i in range(N)
    ]  # fmt: skip
    counts = {key: len(compile_content(v).links) for key, v in versions.items()}
    print(
        f"editor: MJML compile {mjml_ms:.1f} ms per version ({len(compiled):,} chars out); "
        f"whole save (check + MJML + sanitize + inline) {save_ms:.1f} ms per version"
    )
    print(
        f"stored HTML: editor-made {len(visual.html):,} chars, hand-written "
        f"{len(handmade.html):,} chars; {counts['editor']} vs {counts['html']} tracked links"
    )
    best = dict.fromkeys(versions, 0.0)
    for key in ["editor", "html"] * 3:
        best[key] = max(best[key], run(composers[key], key, contacts))
    print(f"compose {N:,} messages (render, tracking, MIME, DKIM), best of 3, one core:")
    for key, label in (("editor", "editor-made version"), ("html", "hand-written HTML version")):
        print(f"  {label:<28} {best[key]:>8,.0f} msg/s")
    print(f"  ratio editor / HTML          {best['editor'] / best['html']:>8.1%} (target >= 95%)")


if __name__ == "__main__":
    main()
