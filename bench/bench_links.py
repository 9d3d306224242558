"""Per-message cost of the link rewrite, next to the render it follows, in one process.

The ~20 KB newsletter of bench_render.py (24 tracked links, a ~7 KB generated text part):
the HTML-only rewrite (what mail carried before text-part links were tracked) against the
rewrite of both parts through one link rewriter (the two timed in alternation, so load
from elsewhere hits both alike), and the UTM tagging of an untracked campaign's links
(cached per link). Best of several `timeit` runs; prints figures, asserts nothing.
"""

from __future__ import annotations

import sys
import timeit
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_render import SOURCE
from mailapp.content.htmlprep import sanitize_html
from mailapp.content.links import rewrite_links, rewrite_text_links
from mailapp.content.rendering import compile_content, render_content, template_context
from mailapp.delivery.compose import link_rewriter
from mailapp.models import Campaign, TemplateVersion
from mailapp.urls import LinkSigner

UTM = {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "{{ campaign.slug }}"}


def best(label: str, fn: Callable[[], object], number: int = 300) -> float:
    micros = min(timeit.repeat(fn, number=number, repeat=9)) / number * 1e6
    print(f"  {label:<52} {micros:>8.1f} µs/message")
    return micros


def paired(
    baseline: Callable[[], object], candidate: Callable[[], object], number: int = 200
) -> tuple[float, float]:
    """Best of 15 alternating runs of each, so that load from elsewhere hits both alike."""
    runs: tuple[list[float], list[float]] = ([], [])
    for _ in range(15):
        for times, fn in zip(runs, (baseline, candidate), strict=True):
            times.append(timeit.timeit(fn, number=number) / number * 1e6)
    return min(runs[0]), min(runs[1])


def main() -> None:
    version = TemplateVersion(
        id=1, subject="News", preheader=None, html=sanitize_html(SOURCE), text=None,
        locale="en", locale_variants={},
    )  # fmt: skip
    compiled = compile_content(version)
    signer = LinkSigner("bench-secret-" + "x" * 40, "https://mail.example.com")
    context = template_context(
        {"first_name": "Zoë", "email": "zoe@example.org", "attributes": {"city": "Köln"}},
        unsubscribe_url=signer.unsubscribe_url(1),
        view_url=signer.view_url(1),
        project={"name": "Shop", "postal_address": "1 Main St, Springfield"},
    )
    rendered = render_content(compiled, context)
    link_ids = {url: n for n, url in enumerate(compiled.links)}
    campaign = Campaign(id=1, name="Spring news")
    print(f"content: {len(rendered.html):,} chars HTML, {len(rendered.text):,} chars text, "
          f"{len(link_ids)} links")  # fmt: skip

    def rewriter(item: int, track: bool) -> Callable[[int, str], str | None]:
        return link_rewriter(signer, item, link_ids, track_clicks=track, utm=UTM, campaign=campaign)

    def html_only() -> None:
        rewrite_links(rendered.html, rewriter(1, True))

    def both_parts() -> None:
        click_url = rewriter(1, True)
        rewrite_links(rendered.html, click_url)
        rewrite_text_links(rendered.text, click_url)

    def untracked_utm() -> None:
        click_url = rewriter(1, False)
        rewrite_links(rendered.html, click_url)
        rewrite_text_links(rendered.text, click_url)

    print("per message, one thread:")
    render = best("render (baseline)", lambda: render_content(compiled, context))
    html, both = paired(html_only, both_parts)
    print(f"  {'tracked links, HTML part only (baseline)':<52} {html:>8.1f} µs/message")
    print(f"  {'tracked links, HTML and text parts':<52} {both:>8.1f} µs/message")
    best("untracked, UTM rule on both parts", untracked_utm)
    best("view-in-browser URL", lambda: signer.view_url(1), number=5000)
    print(f"  text part adds {both - html:.1f} µs ({(both - html) / render:.0%} of a render)")


if __name__ == "__main__":
    main()
