"""Small SVG charts for the HTML report: plain strings, every label escaped.

Every chart states its axes: a line chart its value axis (what the percentages are against)
above the plot and its time axis (UTC) under it, a bar chart its category axis above the
names and its value axis (with its window) under the bars. The caller passes those labels in
the report's language. Charts are `W` units wide and scale to the width of the page (the
report's CSS), so one layout serves a phone and a desktop: its text is sized for that."""

from __future__ import annotations

import itertools
import math
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563"]
UP, DOWN = "#16a34a", "#dc2626"
W = 480  # the viewBox width of every chart
TITLE, LABEL, TICK = 15, 12, 11  # font sizes, in viewBox units (`.t`, `.ax` and `.l`, `.a`)
PAD = 6
#: time-axis steps, minutes: the smallest giving at most `MAX_TIME_TICKS` ticks is used
TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 180, 240, 360, 720, 1440)
MAX_TIME_TICKS = 7
GAP_STEPS, GAP_MS = 6, 30 * 60_000  # see `runs`


def text_width(text: str, size: float) -> float:
    """An upper estimate of a text's width in a sans-serif font (DejaVu Sans is about the
    widest): East Asian wide characters one em, capitals and digits 0.72, others 0.62."""
    width = 0.0
    for ch in text:
        if unicodedata.east_asian_width(ch) in "WF":
            width += 1.0
        elif ch.isupper() or ch.isdigit() or ch in "%@#&":
            width += 0.72
        elif ch in " .,:;'!|il()[]":
            width += 0.36
        else:
            width += 0.62
    return width * size


def wrap(text: str, size: float, room: float) -> list[str]:
    """The text in lines no wider than `room`: first at " / " (the English and Chinese
    halves of a bilingual label), then between words, or between wide characters."""
    if text_width(text, size) <= room:
        return [text]
    halves = text.split(" / ")
    if len(halves) > 1:
        return [line for i, half in enumerate(halves)
                for line in wrap(half + (" /" if i < len(halves) - 1 else ""), size, room)]
    tokens: list[str] = []
    for ch in text:  # words, and each wide character a token of its own
        wide = unicodedata.east_asian_width(ch) in "WF"
        if tokens and not wide and ch != " " and not tokens[-1].endswith(" ") \
                and unicodedata.east_asian_width(tokens[-1][-1]) not in "WF":
            tokens[-1] += ch
        else:
            tokens.append(ch)
    lines = [""]
    for token in tokens:
        if lines[-1] and text_width((lines[-1] + token).rstrip(), size) > room:
            lines.append(token.lstrip())
        else:
            lines[-1] += token
    return [line.rstrip() for line in lines if line.strip()]


def _text(x: float, y: float, text: str, cls: str, anchor: str = "start",
          fill: str | None = None) -> str:
    color = f' fill="{fill}"' if fill else ""
    end = f' text-anchor="{anchor}"' if anchor != "start" else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" class="{cls}"{end}{color}>{escape(text)}</text>'


def _block(lines: list[str], x: float, y: float, size: float, cls: str) -> tuple[list[str], float]:
    """Lines of text from baseline `y` down: the elements and the baseline after them."""
    parts = []
    for line in lines:
        parts.append(_text(x, y, line, cls))
        y += size * 1.3
    return parts, y


def _centred(lines: list[str], middle: float, y: float) -> tuple[list[str], float]:
    """An axis label's lines centred under its axis, moved in as far as needed to fit."""
    parts = []
    for line in lines:
        half = text_width(line, LABEL) / 2
        parts.append(_text(min(max(middle, PAD + half), W - PAD - half), y, line, "ax xlabel",
                           "middle"))
        y += LABEL * 1.3
    return parts, y


def value_ticks(low: float, high: float, count: int = 5) -> tuple[list[float], int]:
    """Round ticks covering [low, high] (at most about `count`) and the decimals they need."""
    if high - low < 1e-9:  # flat: a unit either side
        low, high = low - 1, high + 1
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * 0.999)
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) + (1 if step / magnitude == 2.5
                                                                 else 0)
    return [round(n * step, 10) for n in range(first, last + 1)], decimals


def _pct(value: float, decimals: int) -> str:
    return "0%" if round(value, decimals) == 0 else f"{value:+.{decimals}f}%"


def time_ticks(t0: int, t1: int) -> list[tuple[int, str]]:
    """Ticks (epoch ms, label) at round UTC times within [t0, t1]: "HH:MM", or the date
    ("04-08") at a midnight when the span crosses one."""
    span = max(t1 - t0, 1)
    step = next((s for s in TIME_STEPS if span / (s * 60_000) < MAX_TIME_TICKS), TIME_STEPS[-1])
    step_ms = step * 60_000
    days = {datetime.fromtimestamp(t / 1000, UTC).date() for t in (t0, t1)}
    ticks = []
    for t in range(math.ceil(t0 / step_ms) * step_ms, t1 + 1, step_ms):
        at = datetime.fromtimestamp(t / 1000, UTC)
        midnight = len(days) > 1 and at.hour == 0 and at.minute == 0
        ticks.append((t, f"{at:%m-%d}" if midnight else f"{at:%H:%M}"))
    return ticks or [(t0, f"{datetime.fromtimestamp(t0 / 1000, UTC):%H:%M}")]


def runs(values: Sequence[tuple[int, float]]) -> list[list[tuple[int, float]]]:
    """A series cut where it has no data for a while (a lunch break, a halt): at a gap over
    `GAP_STEPS` times its usual step and over `GAP_MS`, so that no line is drawn across it."""
    steps = sorted(b[0] - a[0] for a, b in itertools.pairwise(values))
    limit = max(GAP_STEPS * steps[len(steps) // 2], GAP_MS) if steps else 0
    cut: list[list[tuple[int, float]]] = []
    for n, point in enumerate(values):
        if n == 0 or point[0] - values[n - 1][0] > limit:
            cut.append([])
        cut[-1].append(point)
    return cut


def _open(title: str, height: float, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {math.ceil(height)}" '
            f'role="img" aria-label="{escape(title)}" class="chart">'
            f"<title>{escape(title)}</title>" + "".join(body) + "</svg>")


def lines(title: str, series: dict[str, list[tuple[int, float]]], *, y_label: str,
          x_label: str = "time (UTC)") -> str:
    """Percent changes over time, one line per name, a dot and a legend entry (with its last
    value) for each; `y_label` says what the percentages are against."""
    series = {name: values for name, values in series.items() if values}
    points = [p for values in series.values() for p in values]
    if not points:
        return ""
    t0, t1 = min(p[0] for p in points), max(p[0] for p in points)
    low, high = min(min(p[1] for p in points), 0.0), max(max(p[1] for p in points), 0.0)
    ticks, decimals = value_ticks(low, high)
    low, high = ticks[0], ticks[-1]
    span_t, span_v = max(t1 - t0, 1), max(high - low, 1e-9)

    parts, y = _block(wrap(title, TITLE, W - 2 * PAD), PAD, TITLE + 2, TITLE, "t")
    caption, y = _block(wrap(y_label, LABEL, W - 2 * PAD), PAD, y + 2, LABEL, "ax ylabel")
    parts += caption
    labels = [_pct(v, decimals) for v in ticks]
    left = PAD + max(text_width(s, TICK) for s in labels) + 6
    right, top = W - PAD - 14, y - LABEL + 8
    bottom = top + 170

    def x(t: int) -> float:
        return left + (t - t0) / span_t * (right - left)

    def y_of(v: float) -> float:
        return bottom - (v - low) / span_v * (bottom - top)

    for value, label in zip(ticks, labels, strict=True):
        parts.append(f'<line x1="{left:.1f}" x2="{right:.1f}" y1="{y_of(value):.1f}" '
                     f'y2="{y_of(value):.1f}" class="{"zero" if value == 0 else "g"}"/>')
        parts.append(_text(left - 4, y_of(value) + TICK * 0.35, label, "a", "end"))
    for t, label in time_ticks(t0, t1):
        parts.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{bottom:.1f}" '
                     f'y2="{bottom + 4:.1f}" class="tick"/>')
        parts.append(_text(x(t), bottom + 6 + TICK, label, "a", "middle"))
    parts.append(f'<line x1="{left:.1f}" x2="{left:.1f}" y1="{top:.1f}" y2="{bottom:.1f}" '
                 'class="axis"/>')
    parts.append(f'<line x1="{left:.1f}" x2="{right:.1f}" y1="{bottom:.1f}" '
                 f'y2="{bottom:.1f}" class="axis"/>')
    parts_, y = _centred(wrap(x_label, LABEL, W - 2 * PAD), (left + right) / 2,
                         bottom + 10 + TICK + LABEL)
    parts += parts_
    legend_x, y = left, y + 6
    for n, (name, values) in enumerate(series.items()):
        color = COLORS[n % len(COLORS)]
        for run in runs(values):
            if len(run) == 1:
                parts.append(f'<circle cx="{x(run[0][0]):.1f}" cy="{y_of(run[0][1]):.1f}" '
                             f'r="1.4" fill="{color}" class="mark"/>')
                continue
            path = " ".join(f"{x(t):.1f},{y_of(v):.1f}" for t, v in run)
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.8" '
                         f'stroke-linejoin="round" points="{path}" class="mark"/>')
        t_last, last = values[-1]
        parts.append(f'<circle cx="{x(t_last):.1f}" cy="{y_of(last):.1f}" r="2.6" '
                     f'fill="{color}" class="mark"/>')
        entry = f"{name} {last:+.2f}%"
        size = 18 + text_width(entry, LABEL)
        if legend_x > left and legend_x + size > W - PAD:
            legend_x, y = left, y + LABEL * 1.5
        parts.append(f'<rect x="{legend_x:.1f}" y="{y - LABEL * 0.45:.1f}" width="12" '
                     f'height="3" fill="{color}"/>')
        parts.append(_text(legend_x + 16, y, entry, "l", fill=color))
        legend_x += size + 12
    return _open(title, y + PAD, parts)


def bars(title: str, items: Sequence[tuple[str, float]], *, x_label: str, y_label: str,
         notes: Sequence[str] = ()) -> str:
    """Horizontal bars of signed percentages, each with its name and value; `x_label` says
    what the percentages are (and over which window), `y_label` what the names are, and
    `notes` (under the axis) anything more, such as the windows when the bars differ."""
    if not items:
        return ""
    ticks, decimals = value_ticks(min(min(v for _, v in items), 0.0),
                                  max(max(v for _, v in items), 0.0))
    low, high = ticks[0], ticks[-1]
    names = [wrap(name, LABEL, W * 0.34) for name, _ in items]
    label_room = max(text_width(line, LABEL) for lines_ in names for line in lines_)
    values = [f"{v:+.2f}%" for _, v in items]
    value_room = max(text_width(s, TICK) for s in values) + 4
    left = PAD + label_room + 8 + (value_room if low < 0 else 0)
    right = W - PAD - (value_room if high > 0 else 0)

    def x(v: float) -> float:
        return left + (v - low) / max(high - low, 1e-9) * (right - left)

    parts, y = _block(wrap(title, TITLE, W - 2 * PAD), PAD, TITLE + 2, TITLE, "t")
    caption, y = _block(wrap(y_label, LABEL, W - 2 * PAD), PAD, y + 2, LABEL, "ax ylabel")
    parts += caption
    top = y - LABEL + 6
    y = top
    rows = []
    for lines_, (_, value), shown in zip(names, items, values, strict=True):
        height = max(22.0, LABEL * 1.25 * len(lines_) + 8)
        middle = y + height / 2
        for i, line in enumerate(lines_):
            offset = (i - (len(lines_) - 1) / 2) * LABEL * 1.25
            rows.append(_text(PAD + label_room, middle + offset + LABEL * 0.35, line, "l",
                              "end"))
        start, end = sorted((x(0), x(value)))
        rows.append(f'<rect x="{start:.1f}" y="{middle - 7:.1f}" '
                    f'width="{max(end - start, 1):.1f}" height="14" '
                    f'fill="{UP if value >= 0 else DOWN}" class="mark"/>')
        rows.append(_text(end + 4 if value >= 0 else start - 4, middle + TICK * 0.35, shown,
                          "a", "start" if value >= 0 else "end"))
        y += height
    bottom = y + 4
    for value in ticks:
        parts.append(f'<line x1="{x(value):.1f}" x2="{x(value):.1f}" y1="{top:.1f}" '
                     f'y2="{bottom:.1f}" class="{"zero" if value == 0 else "g"}"/>')
        parts.append(_text(x(value), bottom + 6 + TICK, _pct(value, decimals), "a", "middle"))
    parts += rows
    parts.append(f'<line x1="{left:.1f}" x2="{right:.1f}" y1="{bottom:.1f}" '
                 f'y2="{bottom:.1f}" class="axis"/>')
    parts_, y = _centred(wrap(x_label, LABEL, W - 2 * PAD), (left + right) / 2,
                         bottom + 10 + TICK + LABEL)
    parts += parts_
    for note in notes:
        block, y = _block(wrap(note, TICK, W - 2 * PAD), PAD, y + 2, TICK, "a note")
        parts += block
    return _open(title, y - LABEL + PAD + 4, parts)
