"""Backfill: the daily bars a store lacks, fetched from each source's history endpoint.

Only the missing days are asked for (from the day after the newest stored bar, or
`sessions` back); a failure is reported for its id and left for the next round, never fatal.
The source-specific part is a sans-I/O `HistoryProtocol`; this module does the HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from urllib.parse import quote
from zoneinfo import ZoneInfo

import aiohttp
import orjson

from crosscurrent.bars import DailyBar
from crosscurrent.catalog import Catalog, default_catalog
from streams.feed import FrameError
from streams.history import HistoryStore

log = logging.getLogger(__name__)


class HistoryProtocol(Protocol):
    def path(self, symbol: str, since: date, until: date) -> str: ...

    def parse(self, body: bytes, tz: ZoneInfo) -> list[DailyBar]: ...


class YahooChart:
    """`GET /v8/finance/chart/<symbol>?period1=&period2=&interval=1d` (Yahoo's chart API)."""

    def path(self, symbol: str, since: date, until: date) -> str:
        start = int(datetime.combine(since, datetime.min.time(), UTC).timestamp())
        end = int(datetime.combine(until, datetime.min.time(), UTC).timestamp())
        return (f"/v8/finance/chart/{quote(symbol, safe='')}?period1={start}&period2={end}"
                "&interval=1d")

    def parse(self, body: bytes, tz: ZoneInfo) -> list[DailyBar]:
        try:
            result = orjson.loads(body)["chart"]["result"][0]
            stamps = result["timestamp"]
            series = result["indicators"]["quote"][0]
            columns = [series[k] for k in ("open", "high", "low", "close", "volume")]
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
            raise FrameError("not a Yahoo chart response") from None
        bars = []
        for i, stamp in enumerate(stamps):
            o, h, lo, c, v = (column[i] if i < len(column) else None for column in columns)
            if any(x is None or not math.isfinite(x) for x in (o, h, lo, c)):
                continue  # Yahoo leaves holes (nulls) on days it has no quote
            day = datetime.fromtimestamp(stamp, tz=tz).date()
            bars.append(DailyBar(date=day, open=o, high=h, low=lo, close=c,
                                 volume=float(v) if v is not None else None))
        return bars


@dataclass(frozen=True)
class Outcome:
    ident: str
    added: int
    error: str | None = None

    def line(self) -> str:
        if self.error:
            return f"{self.ident}: backfill failed ({self.error}); retried later"
        return f"{self.ident}: {self.added} bars added" if self.added else \
            f"{self.ident}: up to date"


class Backfiller:
    """`endpoints`: source name -> (history protocol, base URL)."""

    def __init__(self, store: HistoryStore, endpoints: Mapping[str, tuple[HistoryProtocol, str]],
                 catalog: Catalog | None = None, timeout_s: float = 20) -> None:
        self.store = store
        self.endpoints = endpoints
        self.catalog = catalog or default_catalog()
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def backfill(self, ids: Iterable[str], now_ms: int) -> list[Outcome]:
        async with aiohttp.ClientSession(timeout=self.timeout,
                                         headers={"User-Agent": "crosscurrent"}) as http:
            return [await self._one(http, ident, now_ms) for ident in ids]

    async def _one(self, http: aiohttp.ClientSession, ident: str, now_ms: int) -> Outcome:
        instrument = self.catalog[ident]
        endpoint = self.endpoints.get(instrument.source)
        if endpoint is None:
            return Outcome(ident, 0, f"no history endpoint for {instrument.source} yet")
        protocol, base = endpoint
        today = instrument.calendar.session_date(now_ms)
        stored = await self.store.get(ident)
        newest = max((b.date for b in stored if b.date < today), default=None)
        since = newest + timedelta(days=1) if newest else \
            today - timedelta(days=math.ceil(self.store.sessions * 7 / 5) + 10)
        if since >= today:
            return Outcome(ident, 0)
        path = protocol.path(instrument.symbol, since, today)
        try:
            async with http.get(base.rstrip("/") + path) as response:
                response.raise_for_status()
                body = await response.read()
            bars = [b for b in protocol.parse(body, instrument.calendar.zone)
                    if since <= b.date < today]  # today's bar is the live recorder's
        except (aiohttp.ClientError, TimeoutError, OSError, FrameError) as exc:
            log.warning("%s: backfill failed (%s)", ident, exc)
            return Outcome(ident, 0, str(exc)[:160] or type(exc).__name__)
        await self.store.put((ident, bar) for bar in bars)
        return Outcome(ident, len(bars))

    async def keep_filling(self, ids: list[str], retry_s: float = 600) -> None:
        """Retry the ids whose backfill failed, every `retry_s`, until all have succeeded."""
        pending = ids
        while pending:
            await asyncio.sleep(retry_s)
            outcomes = await self.backfill(pending, time.time_ns() // 1_000_000)
            pending = [o.ident for o in outcomes if o.error]
