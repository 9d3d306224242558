"""Server-side SVG charts: no JavaScript library, no CDN, works offline and in exports."""

from __future__ import annotations

from markupsafe import Markup, escape

PALETTE = ("#0d6efd", "#198754", "#adb5bd", "#ced4da", "#dc3545", "#fd7e14", "#6f42c1")


def _nice_max(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above value (at least 4)."""
    value = max(value, 4)
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


def line_chart(
    labels: list[str],
    series: list[tuple[str, list[int]]],
    *,
    title: str,
    width: int = 720,
    height: int = 240,
) -> Markup:
    """A line per series over the labels (days), with axis, grid, legend and tooltips."""
    left, right, top, bottom = 52, 12, 28, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max((max(values, default=0) for _, values in series), default=0))
    count = max(len(labels), 1)

    def x(i: int) -> float:
        return left + (plot_w * i / (count - 1) if count > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h - plot_h * v / top_value

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="mailapp-chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for n in range(5):
        value = top_value * n / 4
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'stroke="#e9ecef"/><text x="{left - 6}" y="{y(value) + 4:.1f}" font-size="11" '
            f'text-anchor="end" fill="#6c757d">{int(value):,}</text>'
        )
    for i in sorted({0, (count - 1) // 2, count - 1}):
        if i < len(labels):
            parts.append(
                f'<text x="{x(i):.1f}" y="{height - 8}" font-size="11" text-anchor="middle" '
                f'fill="#6c757d">{escape(labels[i])}</text>'
            )
    for k, (name, values) in enumerate(series):
        color = PALETTE[k % len(PALETTE)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(
            f'<g class="series" data-name="{escape(name)}">'
            f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>'
        )
        parts += [
            f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{color}">'
            f"<title>{escape(labels[i] if i < len(labels) else '')}: {escape(name)} {v:,}</title>"
            f"</circle>"
            for i, v in enumerate(values)
        ]
        parts.append("</g>")
        legend_x = left + k * 130
        parts.append(
            f'<rect x="{legend_x}" y="6" width="10" height="10" fill="{color}"/>'
            f'<text x="{legend_x + 14}" y="15" font-size="12">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
