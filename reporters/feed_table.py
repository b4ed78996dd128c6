"""`crosscurrent feeds`: each configured source with its latest status from the bus."""

from __future__ import annotations

from typing import Any

from redis import asyncio as aioredis
from rich.table import Table
from rich.text import Text

from crosscurrent.catalog import default_catalog
from crosscurrent.config import Config
from crosscurrent.events import FeedState, FeedStatus, decode_entry
from streams.bus import FIELD
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


async def latest_statuses(redis: aioredis.Redis, keys: Keys, scan: int = 5000
                          ) -> dict[str, FeedStatus]:
    """The newest status of each source connection among the last `scan` status events,
    by `label`."""
    newest: dict[str, FeedStatus] = {}
    entries: Any = await redis.xrevrange(keys.status, count=scan)
    for _, fields in entries:
        for event in reversed(decode_entry(fields.get(FIELD, b""))[0]):
            if isinstance(event, FeedStatus) and label(event) not in newest:
                newest[label(event)] = event
    return newest


def _age(ms: int) -> str:
    seconds = max(0, ms) // 1000
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def feeds_table(config: Config, statuses: dict[str, FeedStatus], now_ms: int) -> Table:
    table = Table("source", "ids", "state", "since", "messages", "malformed", "reconnects",
                  "detail", title="feeds")
    sources = configured_sources(config)
    reported = {status.source for status in statuses.values()}
    for name in sorted((set(sources) - reported) | set(statuses)):
        source = statuses[name].source if name in statuses else name
        ids = ", ".join(sources.get(source, [])) or "(not configured)"
        status = statuses.get(name)
        if status is None:
            table.add_row(name, ids, Text("no status yet", style="dim"), "", "", "", "", "")
            continue
        table.add_row(
            name, ids, Text(status.state.value, style=STATE_STYLE[status.state]),
            _age(now_ms - status.ts) + " ago", str(status.messages), str(status.malformed),
            str(status.reconnects), status.detail,
        )
    return table
