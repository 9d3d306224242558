"""The starter layouts a new template can begin from: fluid up to 600 px, readable at 320 px.

Each is one column (no fixed-width tables: the table is 100% wide with a 600 px max-width, so
a phone shows it without sideways scrolling), 16 px text, images at most 100% wide, and long
words or links allowed to wrap. Marketing starters carry the footer marketing mail needs.
The <style> block is inlined when the draft is saved, like an author's own.
"""

from __future__ import annotations

from dataclasses import dataclass

_STYLE = """<style>
.page { padding: 16px 8px; background-color: #f4f4f4 }
.sheet { width: 100%; max-width: 600px; margin: 0 auto; background-color: #ffffff;
         border-collapse: collapse }
.body { padding: 24px; font-family: Helvetica, Arial, sans-serif; font-size: 16px;
        line-height: 24px; color: #222222; word-wrap: break-word }
.footer { padding: 16px 24px; font-family: Helvetica, Arial, sans-serif; font-size: 13px;
          line-height: 20px; color: #666666; word-wrap: break-word }
.footer a { color: #666666 }
h1 { margin: 0 0 16px; font-size: 26px; line-height: 32px }
h2 { margin: 24px 0 8px; font-size: 20px; line-height: 26px }
p { margin: 0 0 16px }
img { max-width: 100%; height: auto; border: 0 }
a { color: #1a5fb4 }
.button { display: inline-block; padding: 12px 24px; border-radius: 4px;
          background-color: #1a5fb4; color: #ffffff; font-weight: bold; text-decoration: none }
.muted { color: #666666; font-size: 14px }
.rule { border-top: 1px solid #e5e5e5; padding-top: 16px }
</style>
"""
_FOOTER = """<tr><td class="footer">
You receive this because you subscribed to {{ project.name }}.<br>
{{ project.postal_address }}<br>
<a href="{{ unsubscribe_url }}">Unsubscribe</a>
</td></tr>"""


def _sheet(body: str) -> str:
    return (
        _STYLE
        + '<div class="page">\n'
        + '<table role="presentation" class="sheet" width="100%" cellpadding="0" cellspacing="0">\n'
        + f'<tr><td class="body">\n{body.strip()}\n</td></tr>\n{_FOOTER}\n</table>\n</div>'
    )


@dataclass(frozen=True)
class Starter:
    """A layout to start a marketing template from, as the gallery shows it."""

    key: str
    name: str
    description: str
    subject: str
    html: str


MARKETING_STARTERS: dict[str, Starter] = {
    s.key: s
    for s in (
        Starter(
            "announcement",
            "Announcement",
            "One message, one button: an event, a launch, an offer.",
            "Big news from {{ project.name }}",
            _sheet("""
<h1>Hello {{ contact.first_name | default("there") }}, we have news</h1>
<p>Say in one or two sentences what is new and why it matters to the reader.</p>
<p><a class="button" href="https://example.com">Find out more</a></p>
<p class="muted">Add the date, the place or the conditions here.</p>
"""),
        ),
        Starter(
            "newsletter",
            "Newsletter",
            "A short introduction and three stories, each with a link.",
            "This month at {{ project.name }}",
            _sheet("""
<h1>This month at {{ project.name }}</h1>
<p>Hello {{ contact.first_name | default("there") }}, here is what happened.</p>
<h2>First story</h2>
<p>Two or three sentences that make the reader want more.
<a href="https://example.com">Read the story</a></p>
<h2>Second story</h2>
<p>Two or three sentences that make the reader want more.
<a href="https://example.com">Read the story</a></p>
<h2>Third story</h2>
<p>Two or three sentences that make the reader want more.
<a href="https://example.com">Read the story</a></p>
"""),
        ),
        Starter(
            "letter",
            "Plain letter",
            "Text only, like a personal email: no header, no buttons.",
            "A note from {{ project.name }}",
            _sheet("""
<p>Hello {{ contact.first_name | default("there") }},</p>
<p>Write your message here, as you would write to one person.</p>
<p>Best regards,<br>The {{ project.name }} team</p>
"""),
        ),
        Starter(
            "product_update",
            "Product update",
            "What is new, what improved, what was fixed, and a link to the details.",
            "What's new in {{ project.name }}",
            _sheet("""
<h1>What's new</h1>
<p>Hello {{ contact.first_name | default("there") }}, here is what changed since last time.</p>
<h2>New</h2>
<ul><li>A feature, in one line, and what it lets people do.</li></ul>
<h2>Improved</h2>
<ul><li>Something that got faster or easier.</li></ul>
<h2>Fixed</h2>
<ul><li>A problem people told us about.</li></ul>
<p class="rule"><a class="button" href="https://example.com">See all changes</a></p>
"""),
        ),
    )
}
DEFAULT_STARTER = "announcement"

TRANSACTIONAL_HTML = (
    _STYLE
    + """<div class="page">
<table role="presentation" class="sheet" width="100%" cellpadding="0" cellspacing="0">
<tr><td class="body">
<p>Hello {{ contact.first_name | default("there") }},</p>
<p>Write your message here. Values sent with the request are available as data.key.</p>
</td></tr>
</table>
</div>"""
)
