"""An HTTP polling feed: conditional GETs on a jittered interval, rate limits and backoff.

The source-specific part is a sans-I/O `PollProtocol` (which paths to fetch, how to parse a
body); this module is the only place that does HTTP. A value's time is the response's `Date`
header (the server's clock), else the local clock.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from email.utils import parsedate_to_datetime
from typing import Protocol

import aiohttp

from crosscurrent.config import FeedsConfig
from crosscurrent.events import FeedState, FeedStatus, MarketEvent
from streams.feed import FrameError, Sink

log = logging.getLogger(__name__)


class PollProtocol(Protocol):
    source: str

    def paths(self) -> list[str]:
        """Paths (with query) to GET on every round, relative to the base URL."""
        ...

    def parse(self, path: str, body: bytes, ts: int, recv_ns: int) -> list[MarketEvent]: ...


def response_time_ms(date_header: str | None) -> int:
    """The `Date` header as epoch ms; the local clock when it is missing or unreadable."""
    if date_header:
        try:
            return int(parsedate_to_datetime(date_header).timestamp() * 1000)
        except (TypeError, ValueError):
            pass
    return time.time_ns() // 1_000_000


class HttpPoller:
    """Polls one PollProtocol until cancelled. `frames` counts 200 responses handled."""

    def __init__(
        self,
        protocol: PollProtocol,
        base_url: str,
        sink: Sink,
        config: FeedsConfig,
        interval_s: float,
    ) -> None:
        self.protocol = protocol
        self.base_url = base_url.rstrip("/")
        self.sink = sink
        self.config = config
        self.interval_s = interval_s
        self.frames = 0
        self.not_modified = 0
        self.malformed = 0
        self.errors = 0
        self.rate_limited = 0
        self.reconnects = 0
        self.state = FeedState.CONNECTING
        self._etags: dict[str, str] = {}

    @property
    def source(self) -> str:
        return self.protocol.source

    async def _status(self, state: FeedState, detail: str = "") -> None:
        if state == self.state and state != FeedState.DISCONNECTED:
            return
        self.state = state
        await self.sink(FeedStatus(
            source=self.source, ts=time.time_ns() // 1_000_000, state=state, detail=detail,
            reconnects=self.reconnects, messages=self.frames, malformed=self.malformed,
        ))

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await self.sink(FeedStatus(source=self.source, ts=time.time_ns() // 1_000_000,
                                       state=FeedState.CONNECTING))
            backoff = self.config.backoff_initial_s
            while True:
                wait = self.interval_s
                for path in self.protocol.paths():
                    delay = await self._fetch(session, path)
                    if delay is not None:  # failed: back off before the next round
                        wait = max(delay, backoff)
                        backoff = min(backoff * 2, self.config.backoff_max_s)
                        break
                else:
                    backoff = self.config.backoff_initial_s
                await asyncio.sleep(wait * random.uniform(0.9, 1.1))

    async def _fetch(self, session: aiohttp.ClientSession, path: str) -> float | None:
        """One conditional GET; returns a wait in seconds when it failed, else None."""
        headers = {"If-None-Match": self._etags[path]} if path in self._etags else {}
        try:
            async with session.get(self.base_url + path, headers=headers) as response:
                body = await response.read()
                status = response.status
                if status == 304:
                    self.not_modified += 1
                    await self._status(FeedState.CONNECTED)
                    return None
                if status == 429:
                    self.rate_limited += 1
                    retry = _retry_after(response.headers.get("Retry-After"))
                    log.warning("%s: rate limited on %s; waiting %.1fs", self.source, path, retry)
                    await self._status(FeedState.DISCONNECTED, "HTTP 429 rate limited")
                    return retry
                if status == 404:
                    await self._status(FeedState.CONNECTED)
                    return None  # not published (yet): nothing to report for it
                if status != 200:
                    raise aiohttp.ClientResponseError(
                        response.request_info, (), status=status, message=response.reason or "")
                if "ETag" in response.headers:
                    self._etags[path] = response.headers["ETag"]
                ts = response_time_ms(response.headers.get("Date"))
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self.errors += 1
            self.reconnects += 1
            detail = f"{type(exc).__name__}: {exc}"[:200]
            log.warning("%s: GET %s failed (%s)", self.source, path, detail)
            await self._status(FeedState.DISCONNECTED, detail)
            return self.config.backoff_initial_s
        self.frames += 1
        await self._status(FeedState.CONNECTED)
        try:
            events = self.protocol.parse(path, body, ts, time.time_ns())
        except FrameError as exc:
            self.malformed += 1
            log.warning("%s: malformed response to %s skipped: %s", self.source, path, exc)
            return None
        for event in events:
            await self.sink(event)
        return None


def _retry_after(value: str | None, default: float = 5.0) -> float:
    try:
        return max(0.0, float(value)) if value else default
    except ValueError:
        return default
