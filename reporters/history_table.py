"""`crosscurrent history show`: an id's daily bars as a table, with a sparkline of closes."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group
from rich.table import Table
from rich.text import Text

from crosscurrent.bars import DailyBar
from crosscurrent.catalog import Instrument
from crosscurrent.formatting import compact

BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float]) -> str:
    if not values:
        return ""
    low, high = min(values), max(values)
    span = high - low or 1.0
    return "".join(BLOCKS[int((v - low) / span * (len(BLOCKS) - 1))] for v in values)


def _number(value: float | None) -> str:
    return "" if value is None else compact(value)


def history_view(instrument: Instrument, bars: Sequence[DailyBar]) -> Group:
    """Title, sparkline and table of the bars, oldest first."""
    title = Text(f"{instrument.id}  {instrument.en} / {instrument.zh}  ", style="bold")
    title.append(f"{len(bars)} sessions ({instrument.calendar.tz})", style="dim")
    table = Table("date", "open", "high", "low", "close", "change", "volume")
    previous: float | None = None
    for bar in bars:
        change = Text("")
        if previous:
            pct = (bar.close / previous - 1) * 100
            change = Text(f"{pct:+.2f}%", style="green" if pct >= 0 else "red")
        table.add_row(bar.date.isoformat(), _number(bar.open), _number(bar.high),
                      _number(bar.low), _number(bar.close), change, _number(bar.volume))
        previous = bar.close
    return Group(title, Text(sparkline([b.close for b in bars]), style="cyan"), table)
