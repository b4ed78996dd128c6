"""Small SVG charts for the HTML report: plain strings, every label escaped."""

from __future__ import annotations

from html import escape

COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563"]


def lines(title: str, series: dict[str, list[tuple[int, float]]], width: int = 640,
          height: int = 220) -> str:
    """Normalised performance (percent) over time, one line per name."""
    points = [p for values in series.values() for p in values]
    if not points:
        return ""
    t0, t1 = min(p[0] for p in points), max(p[0] for p in points)
    low, high = min(min(p[1] for p in points), 0.0), max(max(p[1] for p in points), 0.0)
    span_t, span_v = max(t1 - t0, 1), max(high - low, 0.01)
    left, right, top, bottom = 44, width - 130, 24, height - 20

    def x(t: int) -> float:
        return left + (t - t0) / span_t * (right - left)

    def y(v: float) -> float:
        return bottom - (v - low) / span_v * (bottom - top)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="{escape(title)}">',
             f'<text x="{left}" y="14" class="t">{escape(title)}</text>',
             f'<line x1="{left}" x2="{right}" y1="{y(0):.1f}" y2="{y(0):.1f}" class="zero"/>',
             f'<text x="4" y="{top + 4}" class="a">{high:+.1f}%</text>',
             f'<text x="4" y="{bottom}" class="a">{low:+.1f}%</text>']
    for n, (name, values) in enumerate(series.items()):
        color = COLORS[n % len(COLORS)]
        path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in values)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.8" '
                     f'points="{path}"/>')
        last = values[-1][1]
        parts.append(f'<text x="{right + 6}" y="{top + 14 * n + 8}" fill="{color}" '
                     f'class="l">{escape(name)} {last:+.2f}%</text>')
    parts.append("</svg>")
    return "".join(parts)


def bars(title: str, items: list[tuple[str, float]], width: int = 640) -> str:
    """Horizontal bars of signed percentages."""
    if not items:
        return ""
    row, left, mid = 22, 230, 430
    height = 30 + row * len(items)
    scale = max(abs(v) for _, v in items) or 1.0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="{escape(title)}">',
             f'<text x="4" y="14" class="t">{escape(title)}</text>',
             f'<line x1="{mid}" x2="{mid}" y1="20" y2="{height}" class="zero"/>']
    for n, (name, value) in enumerate(items):
        top = 24 + n * row
        size = abs(value) / scale * (width - mid - 60)
        x = mid if value >= 0 else mid - size
        color = "#16a34a" if value >= 0 else "#dc2626"
        parts.append(f'<text x="{left - 6}" y="{top + 14}" text-anchor="end" class="l">'
                     f'{escape(name)}</text>')
        parts.append(f'<rect x="{x:.1f}" y="{top + 3}" width="{max(size, 1):.1f}" height="14" '
                     f'fill="{color}"/>')
        parts.append(f'<text x="{mid + (size + 4 if value >= 0 else -size - 4):.1f}" '
                     f'y="{top + 14}" text-anchor="{"start" if value >= 0 else "end"}" '
                     f'class="l">{value:+.2f}%</text>')
    parts.append("</svg>")
    return "".join(parts)
