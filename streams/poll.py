"""An HTTP polling feed: conditional GETs on a jittered interval, rate limits and backoff.

The source-specific part is a sans-I/O `PollProtocol` (which paths to fetch, how to parse a
body, and optionally the headers every request carries); this module is the only place that
does HTTP. A value's time is the response's `Date` header (the server's clock), else the
local clock.

What a path's answer means here: 404 is "not published yet" (asked again every round); 400
and 410 are "this path does not exist" (skipped for the rest of the run, the other paths go
on); 401/403 is a refused API key (one line, then the usual interval); 429, 5xx and network
errors are host-level (the round ends and the poller backs off).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Protocol

import aiohttp

from crosscurrent.config import FeedsConfig
from crosscurrent.events import FeedState, FeedStatus, MarketEvent
from streams.feed import FrameError, Sink
from streams.http_body import read_body
from streams.rounds import Rounds

log = logging.getLogger(__name__)

#: Statuses that say a path will not come back: skipped for the rest of the run.
GONE = {400: "unknown or renamed id", 410: "gone"}
NOT_YET = 404  # not published (yet): asked again every round
KEY_REFUSED = (401, 403)


class PollProtocol(Protocol):
    """Which paths to poll and how to read them. A protocol may also have a `headers()`
    method (-> dict[str, str]) whose headers go with every request, and an `auth_help()`
    method (-> str) saying what to configure when the server refuses the API key."""

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


@dataclass(frozen=True)
class _EndRound:
    """The round stops here: wait `wait_s`, at least the backoff if `backoff` (and grow it)."""

    wait_s: float
    backoff: bool = True


class HttpPoller:
    """Polls one PollProtocol until cancelled. `frames` counts 200 responses handled;
    `refused` maps each path answered 400/404/410 (while it is) to that status."""

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
        self.key_refused = 0
        self.refused: dict[str, int] = {}
        self.state = FeedState.CONNECTING
        self._etags: dict[str, str] = {}
        self._reported: set[tuple[str, int]] = set()  # (path, status) already logged
        self._key_reported = False
        self.rounds = Rounds()  # a replay asks for each round

    @property
    def source(self) -> str:
        return self.protocol.source

    async def _status(self, state: FeedState, detail: str = "", force: bool = False) -> None:
        if state == self.state and state != FeedState.DISCONNECTED and not force:
            return
        self.state = state
        await self.sink(FeedStatus(
            source=self.source, ts=time.time_ns() // 1_000_000, state=state, detail=detail,
            reconnects=self.reconnects, messages=self.frames, malformed=self.malformed,
        ))

    async def run(self) -> None:
        try:
            await self._poll()
        finally:
            self.rounds.close()

    async def _poll(self) -> None:
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await self.sink(FeedStatus(source=self.source, ts=time.time_ns() // 1_000_000,
                                       state=FeedState.CONNECTING))
            backoff = self.config.backoff_initial_s
            while True:
                wait = self.interval_s
                self.rounds.begin()
                for path in self.protocol.paths():
                    if self.refused.get(path) in GONE:
                        continue
                    end = await self._fetch(session, path)
                    if end is None:
                        continue
                    wait = end.wait_s
                    if end.backoff:  # failed: back off before the next round
                        wait = max(wait, backoff)
                        backoff = min(backoff * 2, self.config.backoff_max_s)
                    break
                else:
                    backoff = self.config.backoff_initial_s
                self.rounds.end()
                await self.rounds.pause(wait * random.uniform(0.9, 1.1))

    def _headers(self, path: str) -> dict[str, str]:
        """The protocol's headers (an API key: never logged), with If-None-Match."""
        extra = getattr(self.protocol, "headers", None)
        headers: dict[str, str] = dict(extra()) if callable(extra) else {}
        if path in self._etags:
            headers["If-None-Match"] = self._etags[path]
        return headers

    async def _fetch(self, session: aiohttp.ClientSession, path: str) -> _EndRound | None:
        """One conditional GET; says how the round ends when it cannot go on, else None."""
        try:
            async with session.get(self.base_url + path, headers=self._headers(path)) as response:
                body = await read_body(response)
                status = response.status
                if status == 304:
                    self.not_modified += 1
                    self.refused.pop(path, None)
                    self._key_reported = False
                    await self._status(FeedState.CONNECTED)
                    return None
                if status == 429:
                    self.rate_limited += 1
                    retry = _retry_after(response.headers.get("Retry-After"))
                    log.warning("%s: rate limited on %s; waiting %.1fs", self.source, path, retry)
                    await self._status(FeedState.DISCONNECTED, "HTTP 429 rate limited")
                    return _EndRound(retry)
                if status == NOT_YET or status in GONE:
                    await self._refused(path, status)
                    return None
                if status in KEY_REFUSED:
                    await self._key_refused(path, status)
                    return _EndRound(self.interval_s, backoff=False)
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
            return _EndRound(self.config.backoff_initial_s)
        self.frames += 1
        self.refused.pop(path, None)
        self._key_reported = False
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

    async def _refused(self, path: str, status: int) -> None:
        """A path answered 400/404/410: noted in `refused`, told once; the round goes on."""
        self.refused[path] = status
        first = (path, status) not in self._reported
        self._reported.add((path, status))
        if status == NOT_YET:
            if first:  # every path of a replay starts so: not worth a warning
                log.info("%s: GET %s answered HTTP 404 (not published yet): asked again "
                         "every round", self.source, path)
            await self._status(FeedState.CONNECTED)
            return
        if first:
            log.warning("%s: GET %s answered HTTP %d (%s): skipped; check the id's symbol in "
                        "the catalog (crosscurrent catalog)", self.source, path, status,
                        GONE[status])
        await self._status(FeedState.CONNECTED, f"refused: {path} (HTTP {status})", force=first)

    async def _key_refused(self, path: str, status: int) -> None:
        """A 401/403: the API key was refused or is missing; told once until it works again."""
        self.key_refused += 1
        if self._key_reported:
            return
        self._key_reported = True
        helper = getattr(self.protocol, "auth_help", None)
        what = "the API key was refused" if callable(helper) else "access was refused"
        hint = f"; {helper()}" if callable(helper) else ""
        log.warning("%s: GET %s answered HTTP %d: %s%s; asking again every %gs", self.source,
                    path, status, what, hint, self.interval_s)
        await self._status(FeedState.DISCONNECTED, f"HTTP {status}: {what}")


def _retry_after(value: str | None, default: float = 5.0) -> float:
    try:
        return max(0.0, float(value)) if value else default
    except ValueError:
        return default
