"""Per-core throughput of the per-recipient content path, next to the stdlib and dkimpy.

One process, one thread: a ~20 KB HTML newsletter rendered for a contact (sandboxed Jinja),
its links rewritten to click URLs, an open pixel added, the MIME skeleton filled and the
message DKIM-signed with `cryptography`. Baselines measured in the same run on the same
rendered content: stdlib `EmailMessage` + `as_bytes()`, and dkimpy's signer.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import email.policy
import sys
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dkim

from mailapp.content.htmlprep import sanitize_html
from mailapp.content.links import add_open_pixel, rewrite_links
from mailapp.content.rendering import compile_content, render_content, template_context
from mailapp.delivery.senders import generate_dkim_key
from mailapp.mail.dkim import DkimSigner
from mailapp.mail.mime import MessageSkeleton, format_address, make_message_id
from mailapp.models import TemplateVersion
from mailapp.urls import LinkSigner

ROW = """
<tr><td style="padding:16px 24px;font-family:Helvetica,Arial,sans-serif;font-size:15px;
line-height:22px;color:#333333" class="item">
<h2 style="margin:0 0 8px;font-size:20px">Article {n}: what is new this week</h2>
<p>Hello {{{{ contact.first_name | default("there") }}}}, here is a story picked for readers in
{{{{ contact.attributes.city | default("your town") }}}}. Lorem ipsum dolor sit amet, consectetur
adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.</p>
<a href="https://shop.example.com/articles/{n}?ref=news" class="button"
style="display:inline-block;padding:10px 18px;background:#0a66c2;color:#ffffff;border-radius:4px;
text-decoration:none">Read article {n}</a></td></tr>"""
SOURCE = (
    "<style>.item h2 { color: #0a66c2 } .button { font-weight: bold }</style>"
    '<table role="presentation" width="600" cellpadding="0" cellspacing="0" align="center">'
    + "".join(ROW.format(n=n) for n in range(24))
    + '<tr><td style="font-size:12px;color:#777777;padding:24px">You receive this because you '
    "subscribed at shop.example.com. {{ project.postal_address }}. "
    '<a href="{{ unsubscribe_url }}">Unsubscribe</a> · '
    '<a href="{{ view_in_browser_url }}">View in browser</a></td></tr></table>'
)


def rate(label: str, fn: Callable[[int], object], seconds: float = 2.0, minimum: int = 20) -> float:
    fn(0)  # warm up caches
    count, start = 0, time.perf_counter()
    while count < minimum or time.perf_counter() - start < seconds:
        fn(count)
        count += 1
    per_second = count / (time.perf_counter() - start)
    print(f"  {label:<58} {per_second:>9,.0f} msg/s")
    return per_second


def main() -> None:
    html = sanitize_html(SOURCE)
    version = TemplateVersion(
        id=1, subject="News for {{ contact.first_name }} — week 47", preheader="Top stories",
        html=html, text=None, locale="en", locale_variants={},
    )  # fmt: skip
    compiled = compile_content(version)
    links = LinkSigner("bench-secret-" + "x" * 40, "https://mail.example.com")
    key = generate_dkim_key()
    signer = DkimSigner("example.com", "s1", key)
    skeleton = MessageSkeleton(
        "Example Shop", "news@example.com", headers={"List-Id": "News <news.example.com>"}
    )

    def context(i: int) -> dict:
        return template_context(
            {"first_name": f"Zoë{i}", "email": f"user{i}@example.org",
             "attributes": {"city": "Köln"}},
            unsubscribe_url=links.unsubscribe_url(i), view_url=f"https://mail.example.com/v/{i}",
            project={"name": "Shop", "postal_address": "1 Main St, Springfield"},
        )  # fmt: skip

    def headers(i: int, subject: str) -> dict[str, str]:
        return {
            "To": format_address(f"Zoë{i}", f"user{i}@example.org"),
            "Subject": subject,
            "Message-ID": make_message_id("delivery", i, "example.com"),
            "List-Unsubscribe": f"<{links.unsubscribe_url(i)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }

    def tracked(i: int):
        rendered = render_content(compiled, context(i))
        body = rewrite_links(rendered.html, lambda pos, _url: links.click_url(i, pos))
        return rendered, add_open_pixel(body, links.open_url(i))

    sample, sample_html = tracked(0)
    sample_bytes = skeleton.render(headers(0, sample.subject), sample_html, sample.text)
    print(f"content: {len(sample_html.encode()):,} bytes HTML, message {len(sample_bytes):,} bytes")
    print("per core (one process, one thread):")
    rate("render only (sandboxed Jinja)", lambda i: render_content(compiled, context(i)))
    rate("render + tracking rewrite", tracked)
    rate(
        "skeleton fill only",
        lambda i: skeleton.render(headers(i, sample.subject), sample_html, sample.text),
    )
    rate(
        "stdlib EmailMessage + as_bytes() only (baseline)", lambda i: stdlib(i, sample, sample_html)
    )
    rate("DKIM sign only, cryptography", lambda _i: signer.sign(sample_bytes))
    rate(
        "DKIM sign only, dkimpy (baseline)",
        lambda _i: dkim.sign(sample_bytes, b"s1", b"example.com", key.encode()),
        minimum=10,
    )

    def ours(i: int) -> bytes:
        rendered, body = tracked(i)
        return signer.sign(skeleton.render(headers(i, rendered.subject), body, rendered.text))

    def baseline(i: int) -> bytes:
        rendered, body = tracked(i)
        raw = stdlib(i, rendered, body)
        return dkim.sign(raw, b"s1", b"example.com", key.encode()) + raw

    print("whole per-recipient path (render + tracking + MIME + DKIM):")
    ours_rate = rate("ours: skeleton + cryptography DKIM", ours)
    base_rate = rate("baseline: EmailMessage.as_bytes() + dkimpy", baseline, minimum=10)
    print(f"  ratio ours / baseline: {ours_rate / base_rate:.1f}x")


def stdlib(i: int, rendered, html: str) -> bytes:
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = "Example Shop <news@example.com>"
    message["To"] = f"Zoë{i} <user{i}@example.org>"
    message["Subject"] = rendered.subject
    message["Message-ID"] = make_message_id("delivery", i, "example.com")
    message["List-Id"] = "News <news.example.com>"
    message.set_content(rendered.text)
    message.add_alternative(html, subtype="html")
    return message.as_bytes()


if __name__ == "__main__":
    main()
