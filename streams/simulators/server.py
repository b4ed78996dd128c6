"""What every simulator shares: a websocket server on 127.0.0.1 with per-client topics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from http import HTTPStatus
from typing import NamedTuple

import websockets
from websockets.asyncio.server import Server, ServerConnection
from websockets.http11 import Request, Response

from crosscurrent.catalog import Catalog, default_catalog
from streams.tape import TapeEvent

log = logging.getLogger(__name__)


class HttpReply(NamedTuple):
    """A plain HTTP answer; `headers` are added (a Content-Type replaces the JSON one)."""

    status: HTTPStatus
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


class SimulatorServer:
    """Subclasses say which topics a client subscribes to and which frames an event makes."""

    source = ""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self.catalog = catalog or default_catalog()
        self._server: Server | None = None
        self._clients: dict[ServerConnection, set[str]] = {}
        self._changed = asyncio.Condition()
        self.frames_sent = 0
        self.messages_received = 0
        self.http_failures = 0  # the next N plain HTTP requests get a 500

    # -- to override -----------------------------------------------------------------------
    def path_topics(self, request_path: str) -> set[str]:
        """Topics subscribed by the connection URL itself."""
        return set()

    def message_topics(self, message: str | bytes) -> tuple[set[str], set[str], list[str]]:
        """(subscribe, unsubscribe, replies) for a client message."""
        return set(), set(), []

    def frames(self, event: TapeEvent) -> list[tuple[str, str]]:
        """(topic, frame) pairs that a tape event produces."""
        raise NotImplementedError

    def topic_of(self, instrument_id: str) -> str:
        """The topic a client must hold to receive an id (what `wait_subscribed` checks)."""
        raise NotImplementedError

    def http(self, path: str) -> tuple[HTTPStatus, bytes] | None:
        """A plain HTTP GET on the websocket port (REST endpoints); None: 404."""
        return None

    def http_request(self, request: Request) -> HttpReply | None:
        """A plain HTTP GET with its headers (override to look at them); by default
        `http(request.path)`. None: 404."""
        reply = self.http(request.path)
        return None if reply is None else HttpReply(*reply)

    def render(self, ws: ServerConnection, topic: str, frame: str) -> str:
        """The frame as this connection receives it."""
        return frame

    def serves(self, path: str, topic: str) -> bool:
        """Whether a connection opened on `path` gets the frames of `topic` it subscribes to
        (a subscription it does not serve is still acknowledged)."""
        return True

    def refuses(self, path: str) -> tuple[HTTPStatus, bytes] | None:
        """A status (and body) that every request on `path`, websocket or not, gets instead."""
        return None

    # -- the server ------------------------------------------------------------------------
    def ids(self) -> set[str]:
        return {i.id for i in self.catalog.for_source(self.source)}

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the simulator first"
        host, port = next(iter(self._server.sockets)).getsockname()[:2]
        return f"ws://{host}:{port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = await websockets.serve(
            self._handle, host, port, compression=None, max_queue=1024,
            process_request=self._process_request,
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _process_request(self, connection: ServerConnection, request: Request
                         ) -> Response | None:
        refused = self.refuses(request.path)
        if refused is not None:
            response = connection.respond(refused[0], refused[1].decode())
            response.headers["Content-Type"] = "application/json"
            return response
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        if self.http_failures > 0:
            self.http_failures -= 1
            return connection.respond(HTTPStatus.INTERNAL_SERVER_ERROR, "simulated failure\n")
        reply = self.http_request(request)
        if reply is None:
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        response = connection.respond(reply.status, reply.body.decode())
        del response.headers["Content-Type"]  # respond() says text/plain
        response.headers["Content-Type"] = "application/json"
        for name, value in reply.headers:
            if name.lower() == "content-type":
                del response.headers["Content-Type"]
            response.headers[name] = value
        return response

    async def _set_topics(self, ws: ServerConnection, topics: set[str]) -> None:
        async with self._changed:
            self._clients[ws] = topics
            self._changed.notify_all()

    async def _handle(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request else "/"
        await self._set_topics(ws, {t for t in self.path_topics(path) if self.serves(path, t)})
        try:
            async for message in ws:
                self.messages_received += 1
                add, remove, replies = self.message_topics(message)
                add = {t for t in add if self.serves(path, t)}
                await self._set_topics(ws, (self._clients[ws] | add) - remove)
                for reply in replies:
                    await ws.send(reply)
        except websockets.ConnectionClosed:
            pass
        finally:
            async with self._changed:
                self._clients.pop(ws, None)
                self._changed.notify_all()

    def held_topics(self) -> set[str]:
        """Every topic some client holds."""
        return set().union(*self._clients.values()) if self._clients else set()

    def subscribed(self) -> list[str]:
        """The ids of this source (in the catalog) whose topic some client holds."""
        held = self.held_topics()
        return [i.id for i in self.catalog.for_source(self.source)
                if self.topic_of(i.id) in held]

    async def wait_subscribed(self, ids: Iterable[str], timeout: float = 15.0) -> None:
        """Wait until some client holds the topic of every id (so no event is sent to nobody)."""
        await self.wait_topics({self.topic_of(i) for i in ids}, timeout)

    async def wait_topics(self, wanted: set[str], timeout: float = 15.0) -> None:
        """Wait until some client holds every topic of `wanted`."""

        def ready() -> bool:
            held = set().union(*self._clients.values()) if self._clients else set()
            return wanted <= held

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(ready), timeout)

    async def publish(self, event: TapeEvent) -> int:
        """Send an event's frames to the clients holding their topics; returns frames sent."""
        sent = 0
        for topic, frame in self.frames(event):
            sent += await self.send_raw(frame, topic)
        return sent

    async def send_raw(self, frame: str, topic: str | None = None) -> int:
        """Send a frame to every client (holding `topic`, if given). Waits on slow clients."""
        sent = 0
        for ws, topics in list(self._clients.items()):
            if topic is not None and topic not in topics:
                continue
            try:
                await ws.send(self.render(ws, topic, frame) if topic is not None else frame)
                sent += 1
            except websockets.ConnectionClosed:
                continue
        self.frames_sent += sent
        return sent

    async def drop_clients(self) -> None:
        """Close every connection abruptly (for reconnect tests)."""
        for ws in list(self._clients):
            ws.transport.abort()
