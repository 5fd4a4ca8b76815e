"""Server-rendered SVG bar charts: no script, legible printed and on a 390 px phone.

Each row is drawn as a label line with a horizontal (stacked) bar under it, so long
labels in either language never squeeze the bars. Colours come from CSS classes
(``chart-s0`` ...), so the page's stylesheet (and its print rules) decides them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

WIDTH = 400
ROW_HEIGHT = 42
LABEL_SIZE = 14
BAR_HEIGHT = 16
VALUE_ROOM = 56


def _number(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def bar_chart(
    chart_id: str,
    title: str,
    description: str,
    rows: Sequence[tuple[str, Sequence[float | int | None]]],
    series_names: Sequence[str],
    row_name: Callable[[str], str] = str,
) -> Markup:
    """Return an ``<svg>`` of horizontal bars, one per row, stacked by series.

    ``rows`` are (row key, one value per series); ``series_names`` the display name of
    each series (same order), ``row_name`` gives the display name of a row key.
    """
    totals = [sum(v or 0 for v in values) for _, values in rows]
    largest = max(totals, default=0) or 1
    scale = (WIDTH - VALUE_ROOM) / largest
    height = max(len(rows), 1) * ROW_HEIGHT + 4
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" role="img" '
        f'aria-labelledby="{title_id} {desc_id}" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{title_id}">{escape(title)}</title>',
        f'<desc id="{desc_id}">{escape(description)}</desc>',
    ]
    for index, ((key, values), total) in enumerate(zip(rows, totals, strict=True)):
        top = index * ROW_HEIGHT
        name = row_name(key)
        parts.append(
            f'<text class="chart-label" x="0" y="{top + LABEL_SIZE}">{escape(name)}</text>'
        )
        x = 0.0
        bar_y = top + LABEL_SIZE + 6
        for series, value in enumerate(values):
            if not value:
                continue
            width = value * scale
            parts.append(
                f'<rect class="chart-s{series}" x="{x:.1f}" y="{bar_y}" width="{width:.1f}" '
                f'height="{BAR_HEIGHT}"><title>{escape(name)} · '
                f"{escape(series_names[series])}: {_number(value)}</title></rect>"
            )
            x += width
        parts.append(
            f'<text class="chart-value" x="{x + 6:.1f}" y="{bar_y + BAR_HEIGHT - 3}">'
            f"{_number(total if len(values) > 1 else values[0])}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text above is escaped)
