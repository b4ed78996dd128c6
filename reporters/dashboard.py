"""The live dashboard as a rich renderable: a pure function of the board and the screen size.

A macro strip (risk regime, VIX, the 10-year yield, dollar, yuan, gold, oil) and the
transmission chain span the top; below them the panels, by priority: alerts, crypto, Hong
Kong, US, A-shares, divergences, DeFi & stablecoins, feeds. They are laid out in as
many columns as the width allows (1 to 3); what does not fit the height is dropped, lowest
priority first, and the header says how many were left out.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from crosscurrent.catalog import default_catalog
from crosscurrent.detector_config import MacroConfig
from crosscurrent.formatting import NO_PREVIOUS_CLOSE, compact, pct
from crosscurrent.notify_config import Lang
from detectors.macro import REGIME_ZH, regime
from reporters.board import Board
from reporters.history_table import sparkline
from reporters.macro_view import LABELS, quote

SEVERITY = {"info": "cyan", "warning": "yellow", "critical": "bold red"}
MARKETS = (("US", "us:SPX"), ("HK", "hk:HSI"), ("CN", "cn:SSE"))


def name(ident: str, lang: Lang) -> str:
    item = default_catalog()[ident]
    return item.en if lang == "en" else item.zh if lang == "zh" else f"{item.short} {item.zh}"


def _change(value: float | None) -> Text:
    if value is None:
        return Text("n/a", style="dim")
    return Text(pct(value), style="green" if value > 0 else "red" if value < 0 else "")


LEVELS = ("breadth", "turnover", "flow")  # counts and running totals: no "change"
SPARK_WIDTH = 16


def _prices(board: Board, ids: list[str], lang: Lang, title: str, spark: bool) -> Panel:
    catalog = default_catalog()
    table = Table.grid(padding=(0, 1), expand=True)
    table.add_column(ratio=1, min_width=10, no_wrap=True, overflow="ellipsis")
    table.add_column(justify="right", no_wrap=True)
    table.add_column(justify="right", no_wrap=True, min_width=7)
    if spark:
        table.add_column(no_wrap=True, width=SPARK_WIDTH)
    for ident in ids:
        line, asset = board.lines[ident], catalog[ident].asset
        if asset == "funding":
            value, change = f"{line.last * 100:.4f}%", Text("/8h", style="dim")
        elif asset in LEVELS:
            value, change = compact(line.last), Text("")
        else:
            value, change = compact(line.last), _change(line.change)
            if line.change is None and not line.metric:
                change = Text(NO_PREVIOUS_CLOSE, style="dim")
        cells: list[RenderableType] = [name(ident, lang), value, change]
        if spark:
            cells.append(Text(sparkline(list(line.spark)[-SPARK_WIDTH:]), style="blue"))
        table.add_row(*cells)
    return Panel(table, title=title, title_align="left", border_style="grey50")


def _chain(board: Board, lang: Lang) -> Panel:
    broken = board.broken_at()
    text = Text()
    for n, (node, move) in enumerate(board.node_moves()):
        if n:
            text.append(" → ", style="dim")
        label = node.name if lang == "en" else node.name_zh if lang == "zh" else \
            f"{node.name} {node.name_zh}"
        style = "bold white on red" if node.name == broken else "bold"
        text.append(f" {label} ", style=style)
        text.append(" ")
        text.append_text(_change(move))
    if broken:
        text.append(f"   broken at {broken}", style="bold red")
    return Panel(text, title="transmission chain", title_align="left", border_style="grey50")


def _alerts(board: Board, lang: Lang, rows: int) -> Panel:
    table = Table.grid(padding=(0, 1), expand=True)
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
    for alert in list(board.alerts)[:rows]:
        when = datetime.fromtimestamp(alert.ts / 1000, tz=UTC).strftime("%H:%M")
        firing = alert.state == "firing"
        title = alert.title_zh or alert.title if lang == "zh" else alert.title
        table.add_row(Text(when, style="dim"),
                      Text(f"{alert.severity.value[:4].upper()}{'' if firing else ' ok'}",
                           style=SEVERITY[alert.severity.value] if firing else "green"),
                      Text(title, style="" if firing else "dim"))
    if not board.alerts:
        table.add_row("", "", Text("no alerts yet", style="dim"))
    return Panel(table, title="alerts (newest first)", title_align="left",
                 border_style="grey50")


def _divergences(board: Board, lang: Lang) -> Panel:
    table = Table.grid(padding=(0, 1), expand=True)
    table.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
    table.add_column(justify="right", no_wrap=True)
    for alert in board.divergences():
        label = alert.notes.get("label_zh" if lang == "zh" else "label", alert.title)
        gap = board.gap(alert)
        table.add_row(label, Text(f"{gap:+.2f} pp", style=SEVERITY[alert.severity.value]))
    if not board.divergences():
        table.add_row(Text("none beyond its threshold", style="dim"), "")
    return Panel(table, title="divergences", title_align="left", border_style="grey50")


def _health(board: Board) -> Panel:
    table = Table.grid(padding=(0, 1), expand=True)
    table.add_column(ratio=1, no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    colours = {"connected": "green", "closed": "blue", "stale": "yellow",
               "disconnected": "red", "connecting": "yellow"}
    for source, health in sorted(board.health.items()):
        table.add_row(source, Text(health.state, style=colours.get(health.state, "")),
                      f"{health.rate:,.0f}/s", f"↻{health.reconnects}")
    if not board.health:
        table.add_row(Text("no feed status yet", style="dim"), "", "", "")
    return Panel(table, title="feeds", title_align="left", border_style="grey50")


def _macro_strip(board: Board, lang: Lang) -> Text:
    """One line across the screen: the risk regime, then each macro id with its move."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(" macro ", style="bold white on grey35")
    vix = board.lines.get("macro:VIX")
    if vix is not None:
        mood = regime(vix.last, vix.change, MacroConfig())
        text.append(" ")
        text.append(mood if lang == "en" else REGIME_ZH[mood] if lang == "zh" else
                    f"{mood} {REGIME_ZH[mood]}",
                    style={"calm": "green", "elevated": "yellow"}.get(mood, "bold red"))
    for ident in LABELS:
        line = board.lines.get(ident)
        if line is None:
            continue
        shown = quote(ident, line.last, line.prev_close, line.change)
        text.append("  ")
        text.append(f"{shown.label_zh if lang == 'zh' else shown.ticker} {shown.level} ",
                    style="bold")
        text.append(shown.move, style="green" if shown.sign > 0 else "red" if shown.sign < 0
                    else "")
    return text


def _header(board: Board, dropped: int) -> Text:
    text = Text()
    text.append(" crosscurrent ", style="bold white on blue")
    if board.clock:
        text.append(datetime.fromtimestamp(board.clock / 1000, tz=UTC)
                    .strftime("  %Y-%m-%d %H:%M UTC"), style="bold")
        catalog = default_catalog()
        for market, ident in MARKETS:
            is_open = catalog[ident].calendar.is_open(board.clock)
            text.append(f"  {market} ", style="bold")
            text.append("open" if is_open else "closed", style="green" if is_open else "dim")
    text.append(f"   {board.events:,} events", style="dim")
    if dropped:
        text.append(f"   ({dropped} panel(s) left out: enlarge the terminal)", style="dim")
    return text


def render(board: Board, width: int, height: int, lang: Lang = "both") -> RenderableType:
    """The whole screen for a `width` x `height` terminal."""
    columns = 3 if width >= 150 else 2 if width >= 100 else 1
    spark = width >= 120
    header_rows = 1 if width >= 100 else 2
    top: list[RenderableType] = [_chain(board, lang)] if board.nodes else []  # full width
    budget = height - header_rows - 3 * len(top) - 1  # and a line of slack
    if any(i in board.lines for i in LABELS):
        top.insert(0, _macro_strip(board, lang))
        budget -= 1
    alert_rows = max(3, min(12, height // 4))
    candidates: list[tuple[int, Callable[[], Panel]]] = []

    def prices(title: str, *regions: str) -> None:
        ids = board.ids_of(*regions)
        if ids:
            candidates.append((len(ids) + 2, lambda: _prices(board, ids, lang, title, spark)))

    candidates.append((min(len(board.alerts), alert_rows) + 2 if board.alerts else 3,
                       lambda: _alerts(board, lang, alert_rows)))
    prices("crypto", "crypto")
    prices("Hong Kong", "hk")
    prices("US", "us")
    prices("A-shares", "cn")
    prices("Japan, UK, Europe", "jp", "uk", "eu")  # the user's own symbols there
    candidates.append((max(1, len(board.divergences())) + 2, lambda: _divergences(board, lang)))
    prices("DeFi & stablecoins", "defi")
    candidates.append((max(1, len(board.health)) + 2, lambda: _health(board)))

    stacks: list[list[Panel]] = [[] for _ in range(columns)]
    used = [0] * columns
    dropped = 0
    for rows, make in candidates:
        target = min(range(columns), key=lambda c: used[c])
        if used[target] + rows > budget:
            dropped += 1
            continue
        stacks[target].append(make())
        used[target] += rows
    grid = Table.grid(expand=True, padding=(0, 1))
    for _ in range(columns):
        grid.add_column(ratio=1)
    grid.add_row(*(Group(*stack) for stack in stacks))
    return Group(_header(board, dropped), *top, grid)
