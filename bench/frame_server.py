"""The ingest bench's exchange: recorded Binance frames over TLS websockets, as fast as each
client reads, in a process of its own.

A client gets the recorded frames of the streams it asked for, in recorded order: in the URL
(`/stream?streams=a/b`, `/public/stream?...`, `/market/stream?...`: the fast path and
cryptofeed) or in a `SUBSCRIBE` message (ccxt.pro). cryptofeed asks for `@aggTrade`; it gets
each recorded `@trade` frame rewritten as the equivalent one-trade `aggTrade` frame, one for
one. `exchangeInfo` is answered over HTTPS as the simulator does. The time of each
connection's first frame goes to the parent, which times the run from it.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from http import HTTPStatus
from multiprocessing.connection import Connection
from multiprocessing.queues import Queue
from urllib.parse import parse_qs, urlsplit

import orjson
import websockets
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from streams.simulators.binance import BinanceSimulator


def stream_of(frame: bytes) -> str:
    """`btcusdt@trade` of a combined-stream frame."""
    return frame[11:frame.index(b'"', 11)].decode()


def as_agg_trade(frame: bytes) -> str:
    """A recorded `@trade` frame as the `@aggTrade` frame of that one trade."""
    msg = orjson.loads(frame)
    data = msg["data"]
    agg = {"e": "aggTrade", "E": data["E"], "a": data["t"], "s": data["s"], "p": data["p"],
           "q": data["q"], "f": data["t"], "l": data["t"], "T": data["T"], "m": data["m"]}
    return orjson.dumps({"stream": msg["stream"].replace("@trade", "@aggTrade"),
                         "data": agg}).decode()


class Frames:
    """The recording, indexed by stream name."""

    def __init__(self, frames: list[bytes]) -> None:
        self.frames = [(stream_of(f), f.decode()) for f in frames]
        self._agg: list[str | None] = [
            as_agg_trade(f) if s.endswith("@trade") else None
            for (s, _), f in zip(self.frames, frames, strict=True)]

    def select(self, wanted: list[str]) -> list[str]:
        names = set(wanted)
        agg = {n.replace("@aggTrade", "@trade") for n in names if n.endswith("@aggTrade")}
        out = []
        for (stream, text), agg_text in zip(self.frames, self._agg, strict=True):
            if stream in names:
                out.append(text)
            elif stream in agg and agg_text is not None:
                out.append(agg_text)
        return out

    def count(self, wanted: list[str]) -> int:
        return len(self.select(wanted))


def serve(frames: list[bytes], source: str, certfile: str, port_pipe: Connection,
          starts: Queue[float]) -> None:
    """Run the server until terminated; send its port through `port_pipe`."""
    indexed = Frames(frames)
    info = BinanceSimulator(source=source)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile)

    async def handler(ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path if ws.request else "").query)
        if "streams" in query:
            wanted = query["streams"][0].split("/")
        else:
            request = orjson.loads(await ws.recv())
            wanted = list(request["params"])
            await ws.send(orjson.dumps({"result": None, "id": request["id"]}).decode())
        chosen = indexed.select(wanted)
        starts.put(time.time())
        for frame in chosen:
            await ws.send(frame)
        await ws.wait_closed()

    def rest(connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        status, body = info.http(request.path) or (HTTPStatus.NOT_FOUND, b"{}")
        response = connection.respond(status, body.decode())
        response.headers["Content-Type"] = "application/json"
        return response

    async def main() -> None:
        async with websockets.serve(handler, "127.0.0.1", 0, compression=None, ssl=context,
                                    process_request=rest) as server:
            port_pipe.send(next(iter(server.sockets)).getsockname()[1])
            await server.serve_forever()

    asyncio.run(main())
