"""`crosscurrent feeds`: each configured source with its latest status from the bus, and its
frames as Redis counts them (the counters `audit` reads)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redis import asyncio as aioredis
from rich.table import Table
from rich.text import Text

from crosscurrent.catalog import default_catalog
from crosscurrent.config import Config
from crosscurrent.events import FeedState, FeedStatus, decode_entry
from streams.bus import FIELD
from streams.feed_counts import read_counts
from streams.keys import Keys

STATE_STYLE = {
    FeedState.CONNECTED: "green",
    FeedState.CLOSED: "cyan",
    FeedState.CONNECTING: "yellow",
    FeedState.STALE: "bold red",
    FeedState.DISCONNECTED: "bold red",
    FeedState.SILENT: "bold yellow",
    FeedState.UNAVAILABLE: "bold red",
}


def configured_sources(config: Config) -> dict[str, list[str]]:
    """Source name -> the ids it is followed for."""
    catalog = default_catalog()
    sources: dict[str, list[str]] = {}
    for ident in config.watchlist:
        sources.setdefault(catalog[ident].source, []).append(ident)
    for entry in config.ccxt:
        sources.setdefault(f"ccxt:{entry.exchange}", []).extend(entry.ids)
    return sources


def label(status: FeedStatus) -> str:
    """A source, and which of its connections where it has several (`binance-usdm /market`)."""
    return f"{status.source} {status.connection}" if status.connection else status.source


class FeedStates(dict[str, FeedStatus]):
    """The newest status of each source connection, by `label`; and `counted`: each source's
    frames received and malformed as the feeds' counters in Redis hold them (`read_counts`),
    for the sources whose feeds flushed them (a live run's, or a replay's as it plays)."""

    def __init__(self, statuses: Mapping[str, FeedStatus] | None = None,
                 counted: Mapping[str, tuple[int, int]] | None = None) -> None:
        super().__init__(statuses or {})
        self.counted = dict(counted or {})


async def latest_statuses(redis: aioredis.Redis, keys: Keys, scan: int = 5000) -> FeedStates:
    """The newest status of each source connection among the last `scan` status events,
    by `label`, and each source's counted frames."""
    newest: dict[str, FeedStatus] = {}
    entries: Any = await redis.xrevrange(keys.status, count=scan)
    for _, fields in entries:
        for event in reversed(decode_entry(fields.get(FIELD, b""))[0]):
            if isinstance(event, FeedStatus) and label(event) not in newest:
                newest[label(event)] = event
    return FeedStates(newest, await read_counts(redis, keys))


def _age(ms: int) -> str:
    seconds = max(0, ms) // 1000
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def feeds_table(config: Config, statuses: Mapping[str, FeedStatus], now_ms: int,
                counted: Mapping[str, tuple[int, int]] | None = None) -> Table:
    """A row per source connection. Its frames and malformed ones are the source's counters
    in Redis (`counted`, by default those `latest_statuses` read), the figures `audit`
    counts, on its first row where it has several connections (the others: "↑"); a source
    that never flushed them shows what its connection's latest status said."""
    if counted is None:
        counted = statuses.counted if isinstance(statuses, FeedStates) else {}
    table = Table("source", "ids", "state", "since", "frames", "malformed", "reconnects",
                  "detail", title="feeds")
    sources = configured_sources(config)
    reported = {status.source for status in statuses.values()}
    shown: set[str] = set()  # sources whose counters a row already shows
    for name in sorted(((set(sources) | set(counted)) - reported) | set(statuses)):
        source = statuses[name].source if name in statuses else name
        ids = ", ".join(sources.get(source, [])) or "(not configured)"
        status = statuses.get(name)
        numbers = ["", ""]
        if source in counted:  # another connection's row shows them: "↑"
            numbers = ["↑", "↑"] if source in shown else [str(n) for n in counted[source]]
            shown.add(source)
        elif status is not None:
            numbers = [str(status.messages), str(status.malformed)]
        if status is None:
            table.add_row(name, ids, Text("no status yet", style="dim"), "", *numbers, "", "")
            continue
        table.add_row(
            name, ids, Text(status.state.value, style=STATE_STYLE[status.state]),
            _age(now_ms - status.ts) + " ago", *numbers, str(status.reconnects), status.detail,
        )
    if counted:
        table.caption = ("frames: each source's (all its connections', on its first row), "
                         "counted in Redis over every run as of its feeds' last flush (once a "
                         "second), as `audit` counts them")
    return table
