"""Server-side SVG charts: no JavaScript library, no CDN, works offline and in exports."""

from __future__ import annotations

from collections.abc import Callable

from markupsafe import Markup, escape

# One colour per series, the same on every page, chart and legend: a series is named by its
# metric key wherever it is drawn. Machine events are greys, so people's stand out.
SERIES_COLORS = {
    "sent": "#0d6efd",
    "delivered": "#20c997",
    "open": "#198754",
    "click": "#fd7e14",
    "machine_open": "#adb5bd",
    "machine_click": "#6c757d",
    "bounce_hard": "#dc3545",
    "bounce_soft": "#e685b5",
    "complaint": "#6f42c1",
    "unsubscribe": "#ffc107",
}
SERIES_LABELS = {
    "sent": "sent",
    "delivered": "delivered",
    "open": "opens",
    "click": "clicks",
    "machine_open": "machine opens",
    "machine_click": "machine clicks",
    "bounce_hard": "hard bounces",
    "bounce_soft": "soft bounces",
    "complaint": "complaints",
    "unsubscribe": "unsubscribes",
}
# Series that are not metrics (segments compared): told apart by position.
COMPARE_PALETTE = ("#0d6efd", "#d63384", "#198754", "#fd7e14", "#6f42c1", "#0dcaf0")
Series = tuple[str, list[int]] | tuple[str, list[int], str]


def metric_series(keys: tuple[str, ...], values_of: Callable[[str], list[int]]) -> list[Series]:
    """Chart series for metric keys: the shared label, the values, the key for the colour."""
    return [(SERIES_LABELS[key], values_of(key), key) for key in keys]


def color_of(series: Series, index: int) -> str:
    """A metric series' own colour; other series by their position."""
    if len(series) == 3:
        return SERIES_COLORS[series[2]]
    return COMPARE_PALETTE[index % len(COMPARE_PALETTE)]


def _nice_max(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above value (at least 4)."""
    value = max(value, 4)
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


def _tick(value: float) -> str:
    """An axis label: whole numbers with separators, a half where the scale needs it."""
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def line_chart(
    labels: list[str],
    series: list[Series],
    *,
    title: str,
    width: int = 720,
    height: int = 240,
) -> Markup:
    """A line per series over the labels (hours or days), with axis, grid, legend, tooltips."""
    left, right, top, bottom = 52, 12, 28, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max((max(s[1], default=0) for s in series), default=0))
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
            f'text-anchor="end" fill="#6c757d">{_tick(value)}</text>'
        )
    for i in sorted({0, (count - 1) // 4, (count - 1) // 2, 3 * (count - 1) // 4, count - 1}):
        if i < len(labels):
            # The edge labels are anchored inwards, so they are never cut off.
            anchor = "start" if i == 0 and count > 1 else "end" if i == count - 1 else "middle"
            parts.append(
                f'<text x="{x(i):.1f}" y="{height - 8}" font-size="11" text-anchor="{anchor}" '
                f'fill="#6c757d">{escape(labels[i])}</text>'
            )
    for k, item in enumerate(series):
        name, values, color = item[0], item[1], color_of(item, k)
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
