"""What the HTTP simulators share: an aiohttp server with ETags, `Date` = tape time, faults.

A polled source only shows its latest value, so `publish` waits until the new value has been
served once: a replay through a poller then loses no tape event, whatever its speed.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import format_datetime

from aiohttp import web

from crosscurrent.catalog import Catalog, default_catalog
from streams.tape import TapeEvent

Reply = tuple[bytes, int, set[str]] | None  # body, tape time (ms), ids it carries; None: 404


class HttpSimulator:
    source = ""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self.catalog = catalog or default_catalog()
        self.values: dict[str, tuple[float, int]] = {}  # id -> (value, tape ts)
        self._version: dict[str, int] = {}
        self._served: dict[str, int] = {}
        self._requested: set[str] = set()
        self._changed = asyncio.Condition()
        self._faults: list[tuple[int, str | None]] = []
        self._raw: list[bytes] = []  # bodies served instead of the next real ones
        self._runner: web.AppRunner | None = None
        self.frames_sent = 0
        self.messages_received = 0
        self.in_step = False  # a replay asks the pollers itself after each tape time

    # -- to override -----------------------------------------------------------------------
    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    def ids_of_path(self, request: web.Request) -> set[str]:
        """The ids a request asks for (known even when there is no value yet)."""
        raise NotImplementedError

    # -- the server ------------------------------------------------------------------------
    def ids(self) -> set[str]:
        return {i.id for i in self.catalog.for_source(self.source)}

    @property
    def url(self) -> str:
        assert self._runner is not None, "start() the simulator first"
        host, port = self._runner.addresses[0][:2]
        return f"http://{host}:{port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application()
        app.add_routes(self.routes())
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def fail_next(self, status: int, count: int = 1, retry_after: str | None = None) -> None:
        """Answer the next `count` requests with `status` (429, 500, ...)."""
        self._faults.extend([(status, retry_after)] * count)

    def serve_raw_next(self, body: bytes, count: int = 1) -> None:
        """Answer the next `count` requests that have a value to serve with `body` instead
        (status 200 with an ETag of its own, never a 304): a malformed reply, say. They do not
        count as serving the value, so a `publish` under way waits for a real reply."""
        self._raw.extend([body] * count)

    async def respond(self, request: web.Request, reply: Reply,
                      content_type: str = "application/json") -> web.Response:
        self.messages_received += 1
        async with self._changed:
            self._requested |= self.ids_of_path(request)
            self._changed.notify_all()
        if self._faults:
            status, retry_after = self._faults.pop(0)
            headers = {"Retry-After": retry_after} if retry_after else {}
            return web.Response(status=status, text=f"simulated {status}", headers=headers)
        if reply is None:
            return web.json_response({"message": "not found"}, status=404)
        body, ts, ids = reply
        raw = self._raw.pop(0) if self._raw else None
        if raw is not None:
            body, ids = raw, set()
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        headers = {
            "ETag": etag,
            "Date": format_datetime(datetime.fromtimestamp(ts / 1000, tz=UTC), usegmt=True),
            "Content-Type": content_type,
        }
        served = {i: self._version.get(i, 0) for i in ids}
        if raw is None and request.headers.get("If-None-Match") == etag:
            await self._mark_served(served)
            return web.Response(status=304, headers=headers)
        self.frames_sent += 1
        response = web.Response(body=body, headers=headers)
        await self._mark_served(served)
        return response

    async def _mark_served(self, served: dict[str, int]) -> None:
        async with self._changed:
            for ident, version in served.items():
                self._served[ident] = max(self._served.get(ident, 0), version)
            self._changed.notify_all()

    async def wait_subscribed(self, ids: Iterable[str], timeout: float = 15.0) -> None:
        wanted = set(ids)
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: wanted <= self._requested),
                                   timeout)

    async def publish(self, event: TapeEvent, timeout: float = 60.0) -> int:
        """Set the id's value, then wait until a poller has been served it (`in_step`: the
        caller asks the pollers itself, once for all the values of a tape time)."""
        async with self._changed:
            self.values[event.id] = (event.value, event.ts)
            version = self._version[event.id] = self._version.get(event.id, 0) + 1
            if self.in_step:
                return 1
            await asyncio.wait_for(
                self._changed.wait_for(lambda: self._served.get(event.id, 0) >= version), timeout)
        return 1
