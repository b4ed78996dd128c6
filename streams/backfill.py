"""Backfill: the daily bars a store lacks, fetched from each source's history endpoint.

Only the missing days are asked for (from the day after the newest stored bar, or
`sessions` back); a failure is reported for its id and left for the next round, never fatal.
The source-specific part is a sans-I/O `HistoryProtocol`; this module does the HTTP.
Yahoo's chart API answers plain HTTP clients 429 (rate limited): `YahooChart` asks like a
browser, backs off a few seconds at most, then reports the id for a later round.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import quote
from zoneinfo import ZoneInfo

import aiohttp
import orjson

from crosscurrent.bars import DailyBar
from crosscurrent.catalog import Catalog, Instrument, default_catalog
from streams.feed import FrameError
from streams.history import HistoryStore
from streams.http_body import read_body

log = logging.getLogger(__name__)


class HistorySource(Protocol):
    async def fetch(self, http: aiohttp.ClientSession, instrument: Instrument, since: date,
                    until: date) -> list[DailyBar]:
        """Daily bars from `since` up to (not including) `until`; raises on failure."""
        ...


#: What a desktop Chrome sends: Yahoo answers plain HTTP clients 429 (yfinance does the same).
BROWSER_HEADERS = {
    "User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
                  "Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,application/json;q=0.9,"
              "*/*;q=0.8",
    "Accept-Language": "en-US,en;q=0.9",
}


class RateLimitedError(OSError):
    """A history endpoint kept answering HTTP 429; the message is the whole report."""


class YahooChart:
    """`GET /v8/finance/chart/<symbol>?period1=&period2=&interval=1d` (Yahoo's chart API).

    On HTTP 429 it waits (Retry-After, at least `backoff_s` doubling, at most `max_wait_s`)
    and tries again, `attempts` times in all; then it raises `RateLimitedError`, and for
    `cooldown_s` after that it asks nothing (the other ids fail at once, for a later round)."""

    def __init__(self, base_url: str, attempts: int = 3, backoff_s: float = 1.0,
                 max_wait_s: float = 4.0, cooldown_s: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self.max_wait_s = max_wait_s
        self.cooldown_s = cooldown_s
        self._quiet_until = 0.0  # monotonic: no request before
        self._limited_symbol = ""

    async def fetch(self, http: aiohttp.ClientSession, instrument: Instrument, since: date,
                    until: date) -> list[DailyBar]:
        symbol = instrument.symbol
        if time.monotonic() < self._quiet_until:
            raise RateLimitedError(
                f"yahoo chart API answered HTTP 429 (rate limited) for {self._limited_symbol}, "
                f"so {symbol} was not asked: retrying later; live prices are not affected")
        url = self.base_url + self.path(symbol, since, until)
        for attempt in range(self.attempts):
            async with http.get(url, headers=BROWSER_HEADERS) as response:
                if response.status != HTTPStatus.TOO_MANY_REQUESTS:
                    response.raise_for_status()
                    return self.parse(await response.read(), instrument.calendar.zone)
                retry_after = _seconds(response.headers.get("Retry-After"))
            if attempt + 1 < self.attempts:
                await asyncio.sleep(min(max(retry_after, self.backoff_s * 2 ** attempt),
                                        self.max_wait_s))
        self._quiet_until = time.monotonic() + self.cooldown_s
        self._limited_symbol = symbol
        raise RateLimitedError(f"yahoo chart API answered HTTP 429 (rate limited) for {symbol}: "
                               "retrying later; live prices are not affected")

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


UNKNOWN = (400, 404, 410)  # statuses that say a history source does not know an id


@dataclass(frozen=True)
class Outcome:
    ident: str
    added: int
    error: str | None = None
    rate_limited: bool = False  # `error` is then the whole report
    unknown: bool = False  # the source does not know the id (HTTP 400/404): not retried

    def line(self) -> str:
        if self.error and self.rate_limited:
            return f"{self.ident}: {self.error}"
        if self.error and self.unknown:
            return (f"{self.ident}: the history source does not know it ({self.error}); not "
                    "retried: check the id's symbol (crosscurrent catalog)")
        if self.error:
            return f"{self.ident}: backfill failed ({self.error}); retried later"
        return f"{self.ident}: {self.added} bars added" if self.added else \
            f"{self.ident}: up to date"


class CcxtCandles:
    """Daily candles through ccxt's `fetch_ohlcv` (any exchange; `overrides` as for feeds)."""

    def __init__(self, exchange_id: str, symbols: Mapping[str, str],
                 overrides: dict[str, Any] | None = None) -> None:
        """`symbols` maps the exchange's raw symbols (`BTCUSDT`) to unified ones."""
        self.exchange_id = exchange_id
        self.symbols = symbols
        self.overrides = overrides or {}

    async def fetch(self, http: aiohttp.ClientSession, instrument: Instrument, since: date,
                    until: date) -> list[DailyBar]:
        import ccxt.pro as ccxtpro  # here, not with the module: see streams/ccxt_feed.py
        from ccxt.base import errors as ccxt_errors

        symbol, tz = instrument.symbol, instrument.calendar.zone
        exchange = getattr(ccxtpro, self.exchange_id)({"enableRateLimit": True,
                                                       **self.overrides})
        start = int(datetime.combine(since, datetime.min.time(), UTC).timestamp() * 1000)
        end = int(datetime.combine(until, datetime.min.time(), UTC).timestamp() * 1000)
        rows: list[list[Any]] = []
        try:
            while start < end:
                page = await exchange.fetch_ohlcv(self.symbols.get(symbol, symbol), "1d",
                                                  since=start, limit=500)
                page = [row for row in page if row[0] < end]
                if not page:
                    break
                rows += page
                start = int(page[-1][0]) + 86_400_000
        except ccxt_errors.BaseError as exc:
            raise OSError(f"{self.exchange_id}: {type(exc).__name__}: {exc}") from None
        finally:
            await exchange.close()
        return [DailyBar(date=datetime.fromtimestamp(row[0] / 1000, tz=tz).date(),
                         open=row[1], high=row[2], low=row[3], close=row[4], volume=row[5])
                for row in rows]


class DefiLlamaHistory:
    """DefiLlama's daily series: protocol TVL (`/protocol/<slug>`), DEX daily volume
    (`/summary/dexs/<slug>` with its chart) and stablecoin supply (`/stablecoincharts/all`,
    on the stablecoins host). A day's single value is its bar's open, high, low and close."""

    def __init__(self, api_url: str, stablecoins_url: str) -> None:
        self.api_url = api_url.rstrip("/")
        self.stablecoins_url = stablecoins_url.rstrip("/")

    def url(self, instrument: Instrument) -> str:
        if instrument.asset == "stablecoin":
            return f"{self.stablecoins_url}/stablecoincharts/all?stablecoin={instrument.symbol}"
        if instrument.asset == "dex_volume":
            return (f"{self.api_url}/summary/dexs/{instrument.symbol}?excludeTotalDataChart="
                    "false&excludeTotalDataChartBreakdown=true&dataType=dailyVolume")
        return f"{self.api_url}/protocol/{instrument.symbol}"

    @staticmethod
    def points(asset: str, body: bytes) -> list[tuple[int, float]]:
        """(epoch seconds, value) pairs of a response."""
        try:
            data = orjson.loads(body)
            if asset == "stablecoin":
                return [(int(p["date"]), float(p["totalCirculatingUSD"]["peggedUSD"]))
                        for p in data]
            if asset == "dex_volume":
                return [(int(t), float(v)) for t, v in data["totalDataChart"]]
            return [(int(p["date"]), float(p["totalLiquidityUSD"])) for p in data["tvl"]]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise FrameError(f"not a DefiLlama {asset} series ({type(exc).__name__})") from None

    async def fetch(self, http: aiohttp.ClientSession, instrument: Instrument, since: date,
                    until: date) -> list[DailyBar]:
        async with http.get(self.url(instrument)) as response:
            response.raise_for_status()
            body = await read_body(response)
        return [DailyBar(date=datetime.fromtimestamp(stamp, tz=UTC).date(), open=value,
                         high=value, low=value, close=value)
                for stamp, value in self.points(instrument.asset, body)
                if math.isfinite(value)]


class Backfiller:
    """`sources`: catalog source name -> where its history comes from."""

    def __init__(self, store: HistoryStore, sources: Mapping[str, HistorySource],
                 catalog: Catalog | None = None, timeout_s: float = 20) -> None:
        self.store = store
        self.sources = sources
        self.catalog = catalog or default_catalog()
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def backfill(self, ids: Iterable[str], now_ms: int,
                       progress: Callable[[int, str], None] | None = None) -> list[Outcome]:
        """An outcome per id; nothing is logged here: the caller reports `Outcome.line()`.
        `progress` is told how many ids are done, and the one done last."""
        outcomes: list[Outcome] = []
        async with aiohttp.ClientSession(timeout=self.timeout,
                                         headers={"User-Agent": "crosscurrent"}) as http:
            for ident in ids:
                outcomes.append(await self._one(http, ident, now_ms))
                if progress is not None:
                    progress(len(outcomes), ident)
        return outcomes

    async def _one(self, http: aiohttp.ClientSession, ident: str, now_ms: int) -> Outcome:
        instrument = self.catalog[ident]
        source = self.sources.get(instrument.source)
        if source is None:
            return Outcome(ident, 0, f"no history endpoint for {instrument.source} yet")
        today = instrument.calendar.session_date(now_ms)
        stored = await self.store.get(ident)
        newest = max((b.date for b in stored if b.date < today), default=None)
        since = newest + timedelta(days=1) if newest else \
            today - timedelta(days=math.ceil(self.store.sessions * 7 / 5) + 10)
        if since >= today:
            return Outcome(ident, 0)
        try:
            bars = await _completed_days(source, http, instrument, since, today)
        except RateLimitedError as exc:
            return Outcome(ident, 0, str(exc), rate_limited=True)
        except aiohttp.ClientResponseError as exc:
            return Outcome(ident, 0, f"HTTP {exc.status}", unknown=exc.status in UNKNOWN)
        except (aiohttp.ClientError, TimeoutError, OSError, FrameError) as exc:
            return Outcome(ident, 0, str(exc)[:160] or type(exc).__name__)
        await self.store.put((ident, bar) for bar in bars)
        return Outcome(ident, len(bars))

    async def keep_filling(self, ids: list[str], retry_s: float = 600) -> None:
        """Retry the ids whose backfill failed, every `retry_s`, until all have succeeded;
        each failure is logged (one line)."""
        pending = ids
        while pending:
            await asyncio.sleep(retry_s)
            outcomes = await self.backfill(pending, time.time_ns() // 1_000_000)
            pending = [o.ident for o in outcomes if o.error and not o.unknown]
            for outcome in outcomes:
                if outcome.error:
                    log.warning("backfill %s", outcome.line())


def _seconds(value: str | None) -> float:
    """A Retry-After in seconds (0 when absent or an HTTP date)."""
    try:
        return max(0.0, float(value)) if value else 0.0
    except ValueError:
        return 0.0


async def _completed_days(source: HistorySource, http: aiohttp.ClientSession,
                          instrument: Instrument, since: date, today: date) -> list[DailyBar]:
    """The source's bars from `since`, today's left out: the live recorder builds that one."""
    return [b for b in await source.fetch(http, instrument, since, today)
            if since <= b.date < today]


async def recent_history(sources: Mapping[str, HistorySource], ids: Iterable[str], now_ms: int,
                         days: int, catalog: Catalog | None = None) -> dict[str, list[DailyBar]]:
    """The completed days of the last `days` of each id that has a history source; an id
    whose fetch fails is logged and left out."""
    catalog = catalog or default_catalog()
    found: dict[str, list[DailyBar]] = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20),
                                     headers={"User-Agent": "crosscurrent"}) as http:
        for ident in ids:
            instrument = catalog[ident]
            source = sources.get(instrument.source)
            if source is None:
                continue
            today = instrument.calendar.session_date(now_ms)
            try:
                found[ident] = await _completed_days(source, http, instrument,
                                                     today - timedelta(days=days), today)
            except (aiohttp.ClientError, TimeoutError, OSError, FrameError) as exc:
                log.warning("%s: no history for the tape (%s)", ident, exc)
    return found
