"""A websocket feed: connect, subscribe, parse, write; reconnect with backoff; report health.

The source-specific part is a sans-I/O `SourceProtocol` (URL, subscription messages, frame
parser); this module is the only place that touches the socket.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import aiohttp
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus

from crosscurrent.config import FeedsConfig
from crosscurrent.events import FeedState, FeedStatus, MarketEvent
from streams.http_body import read_body

log = logging.getLogger(__name__)

Sink = Callable[[MarketEvent | FeedStatus], Awaitable[None]]


class FrameError(ValueError):
    """A frame that cannot be parsed: counted and logged, never fatal."""


class SourceProtocol(Protocol):
    source: str
    resubscribe_s: float | None

    def url(self) -> str: ...

    def subscribe_messages(self) -> list[str]: ...

    def parse(self, frame: str | bytes, recv_ns: int) -> list[MarketEvent]: ...


@runtime_checkable
class Watched(Protocol):
    """A source protocol that knows which of its subscribed streams have gone silent."""

    connection: str  # which of the source's connections it is ("" for its only one)
    seen: dict[str, int]  # stream -> when its latest frame came (recv ns)

    silence_s: float | None  # how long its streams may be quiet (None: stale_after_s)

    def streams(self) -> list[str]: ...

    def silent(self, since_ns: int, now_ns: int, after_s: float) -> list[str]: ...

    def silence_hint(self, streams: list[str]) -> str: ...


def refused_for_good(source: str, where: str, status: int) -> str | None:
    """The one line that says what an HTTP status refusing a source means and what to do, for
    a refusal that retrying cannot cure (HTTP 451); None for any other status."""
    if status != 451:
        return None
    said = (f"{source}: {where} answered HTTP 451 (unavailable for legal reasons): it refuses "
            "this region; not retrying. ")
    if source == "binance":
        return said + ("Point sources.binance.ws_url and rest_url at a spot host that serves "
                       "it (Binance.US: wss://stream.binance.us:9443, https://api.binance.us)")
    return said + ("Take perpetuals and funding from another venue with a `ccxt:` entry (e.g. "
                   "exchange: okx, ids: {perp:BTC: BTC/USDT:USDT, funding:BTC: "
                   "BTC/USDT:USDT}) and remove them from the watchlist")


@runtime_checkable
class Backfilling(Protocol):
    """A source protocol that can recover over REST what a reconnect missed, and the
    sequence numbers its stream skipped (`gaps`, filled by `parse`)."""

    gaps: list[Any]

    def backfill_paths(self) -> list[str]: ...

    def parse_backfill(self, path: str, body: bytes, recv_ns: int
                       ) -> tuple[list[MarketEvent], int]: ...

    def gap_path(self, gap: Any) -> str: ...

    def parse_gap(self, gap: Any, body: bytes, recv_ns: int
                  ) -> tuple[list[MarketEvent], int]: ...


class WebsocketFeed:
    """Runs one SourceProtocol over a websocket until cancelled."""

    LOG_FIRST_MALFORMED = 10

    def __init__(
        self,
        protocol: SourceProtocol,
        sink: Sink,
        config: FeedsConfig,
        market_open: Callable[[], bool] | None = None,
        rest_url: str | None = None,
        watch_streams: bool = True,
    ) -> None:
        """`market_open` tells whether any market of the feed trades now: a silent feed is
        stale only then (default: always, as for 24/7 markets). With `rest_url`, a protocol
        that can (`Backfilling`) recovers a reconnect's gap over REST. `watch_streams`: report
        subscribed streams that go silent (not on a replay, whose pace is the tape's)."""
        self.watch_streams = watch_streams
        self.protocol = protocol
        self.rest_url = rest_url.rstrip("/") if rest_url else None
        self.backfilled = 0
        self.sequence_gaps = 0
        self.skipped_lost = 0  # skipped by the stream and not recoverable over REST
        self.market_open = market_open or (lambda: True)
        self.sink = sink
        self.config = config
        self.frames = 0
        self.malformed = 0
        self.reconnects = 0
        self.state = FeedState.CONNECTING
        self.connected = asyncio.Event()
        self._last_frame = 0.0
        self._ever_connected = False
        self.detail = ""  # of the latest status
        self.silent: list[str] = []  # subscribed streams silent past stale_after_s

    @property
    def source(self) -> str:
        return self.protocol.source

    @property
    def connection(self) -> str:
        return getattr(self.protocol, "connection", "")

    async def _status(self, state: FeedState, detail: str = "", gap_ms: int = 0) -> None:
        self.state, self.detail = state, detail
        await self.sink(FeedStatus(
            source=self.source, connection=self.connection, ts=time.time_ns() // 1_000_000,
            state=state, detail=detail, reconnects=self.reconnects, messages=self.frames,
            malformed=self.malformed, gap_ms=gap_ms,
        ))

    async def run(self) -> None:
        delay = self.config.backoff_initial_s
        while True:
            await self._status(FeedState.CONNECTING)
            try:
                async with websockets.connect(
                    self.protocol.url(), compression=None, max_size=2**24, open_timeout=10,
                ) as ws:
                    for message in self.protocol.subscribe_messages():
                        await ws.send(message)
                    if await self._connected():
                        await self._backfill()  # the new connection's frames queue meanwhile
                    self.connected.set()
                    delay = self.config.backoff_initial_s
                    await self._read(ws)
            except asyncio.CancelledError:
                raise
            except InvalidStatus as exc:
                where = urlsplit(self.protocol.url())._replace(query="").geturl()
                line = refused_for_good(self.source, where, exc.response.status_code)
                if line is None:
                    await self._disconnected(exc, delay)
                else:
                    log.error("%s", line)
                    self.connected.clear()
                    await self._status(FeedState.UNAVAILABLE, line)
                    return
            except (OSError, TimeoutError, websockets.WebSocketException) as exc:
                await self._disconnected(exc, delay)
            self.reconnects += 1
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.config.backoff_max_s)

    async def _disconnected(self, exc: Exception, delay: float) -> None:
        detail = f"{type(exc).__name__}: {exc}"[:200]
        log.warning("%s%s feed disconnected (%s); reconnecting in %.1fs",
                    self.source, self.connection, detail, delay)
        self.connected.clear()
        await self._status(FeedState.DISCONNECTED, detail)

    async def _connected(self) -> bool:
        """Report the connection; after a reconnect, as a gap event with its length (and
        return True)."""
        if not self._ever_connected:
            self._ever_connected = True
            self._last_frame = time.monotonic()
            await self._status(FeedState.CONNECTED)
            return False
        gap_ms = int((time.monotonic() - self._last_frame) * 1000)
        self._last_frame = time.monotonic()  # the watchdog's silence starts again here
        await self._status(FeedState.CONNECTED, f"reconnected: no data for {gap_ms / 1000:.1f}s; "
                           "events in that gap were not received", gap_ms=gap_ms)
        return True

    def _rest(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def _get(self, http: aiohttp.ClientSession, path: str) -> bytes:
        assert self.rest_url is not None
        async with http.get(self.rest_url + path) as response:
            response.raise_for_status()
            return await read_body(response)

    async def _backfill(self) -> None:
        """Recover what the gap missed over REST, where the source offers it; never fatal."""
        protocol = self.protocol
        if self.rest_url is None or not isinstance(protocol, Backfilling):
            return
        recovered = missing = 0
        try:
            async with self._rest() as http:
                for path in protocol.backfill_paths():
                    body = await self._get(http, path)
                    events, lost = protocol.parse_backfill(path, body, time.time_ns())
                    for event in events:
                        await self.sink(event)
                    recovered, missing = recovered + len(events), missing + lost
        except (aiohttp.ClientError, TimeoutError, OSError, FrameError) as exc:
            log.warning("%s: backfill after the reconnect failed (%s)", self.source, exc)
            await self._status(FeedState.CONNECTED, f"backfill failed: {exc}"[:200])
            return
        self.backfilled += recovered
        if recovered or missing:
            detail = f"backfilled {recovered} events over REST"
            if missing:
                detail += f"; {missing} older ones could not be recovered"
            await self._status(FeedState.CONNECTED, detail)

    async def _fill_gaps(self, protocol: Backfilling) -> None:
        """Recover the sequence numbers the stream skipped over REST; count what is lost."""
        gaps, protocol.gaps = protocol.gaps, []
        self.sequence_gaps += len(gaps)
        recovered = lost = 0
        async with self._rest() as http:
            for gap in gaps:
                try:
                    events, missing = protocol.parse_gap(
                        gap, await self._get(http, protocol.gap_path(gap)), time.time_ns())
                except (aiohttp.ClientError, TimeoutError, OSError, FrameError) as exc:
                    log.warning("%s: could not recover %s over REST (%s)", self.source, gap, exc)
                    lost += gap.size
                    continue
                for event in events:
                    await self.sink(event)
                recovered, lost = recovered + len(events), lost + missing
        self.backfilled += recovered
        self.skipped_lost += lost
        detail = f"sequence gap: {recovered} skipped events recovered over REST"
        if lost:
            detail += f", {lost} lost"
            log.warning("%s: %s", self.source, detail)
        await self._status(FeedState.CONNECTED, detail)

    async def _read(self, ws: ClientConnection) -> None:
        resubscribe = self.protocol.resubscribe_s
        helpers = [asyncio.create_task(self._watchdog(ws))]
        if resubscribe:
            helpers.append(asyncio.create_task(self._resubscribe(ws, resubscribe)))
        parse, sink, clock = self.protocol.parse, self.sink, time.monotonic
        gapped = self.protocol if isinstance(self.protocol, Backfilling) else None
        try:
            while True:
                frame = await ws.recv()
                self._last_frame = clock()
                if self.state not in (FeedState.CONNECTED, FeedState.SILENT):
                    await self._status(FeedState.CONNECTED)  # data again after "closed"
                try:
                    events = parse(frame, time.time_ns())
                except FrameError as exc:
                    self.frames += 1
                    self._malformed(frame, exc)
                    continue
                for event in events:
                    await sink(event)
                self.frames += 1  # counted once its events are in the sink: a replay's step
                if gapped is not None and gapped.gaps:
                    if self.rest_url is None:  # nowhere to recover from: counted as lost
                        self.sequence_gaps += len(gapped.gaps)
                        self.skipped_lost += sum(gap.size for gap in gapped.gaps)
                        gapped.gaps.clear()
                    else:
                        await self._fill_gaps(gapped)
        finally:
            for helper in helpers:
                helper.cancel()

    def _malformed(self, frame: str | bytes, exc: FrameError) -> None:
        self.malformed += 1
        n = self.malformed
        if n <= self.LOG_FIRST_MALFORMED or n % 1000 == 0:
            shown = frame[:120] if isinstance(frame, str) else frame[:120].decode(errors="replace")
            log.warning("%s: malformed frame #%d skipped: %s: %r", self.source, n, exc, shown)

    async def _watchdog(self, ws: ClientConnection) -> None:
        """A connection silent for `stale_after_s` while a market of the feed is open is
        stale: report it and drop it (a half-open connection never closes by itself), and
        the reconnect loop takes over. Silent while every market is closed is expected.
        Data flowing while a subscribed stream stays silent that long is `silent`."""
        limit = self.config.stale_after_s
        opened = time.time_ns()
        while True:
            await asyncio.sleep(min(limit / 4, 1.0))
            if time.monotonic() - self._last_frame <= limit:
                await self._check_streams(opened, limit)
                continue
            if not self.market_open():
                if self.state is not FeedState.CLOSED:
                    await self._status(FeedState.CLOSED, "markets closed")
                continue
            await self._status(FeedState.STALE, f"no data for {limit:g}s")
            ws.transport.abort()
            return

    async def _check_streams(self, opened_ns: int, limit: float) -> None:
        """Report the subscribed streams that went silent, once, and their return."""
        protocol = self.protocol
        if not self.watch_streams or not isinstance(protocol, Watched) \
                or not self.market_open():
            return
        limit = min(limit, protocol.silence_s or limit)
        silent = protocol.silent(opened_ns, time.time_ns(), limit)
        if silent == self.silent:
            return
        self.silent = silent
        if silent:
            where = urlsplit(self.protocol.url())._replace(query="").geturl()
            detail = (f"no {', '.join(silent)} for {limit:g}s on {where}: "
                      f"{protocol.silence_hint(silent)}")
            log.warning("%s%s: %s", self.source, self.connection, detail)
            await self._status(FeedState.SILENT, detail)
        elif self.state is FeedState.SILENT:
            await self._status(FeedState.CONNECTED, "every subscribed stream flows again")

    async def _resubscribe(self, ws: ClientConnection, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            for message in self.protocol.subscribe_messages():
                await ws.send(message)

