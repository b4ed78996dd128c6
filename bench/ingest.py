"""Ingest benchmark: recorded Binance frames -> websocket -> fast adapter -> Redis Streams.

The frames of shared/data/binance-futures/usdm-btcusdt-20240808.jsonl.gz (trades and
bookTicker, as in shared/bench/PEERS.md) are served by a websocket server in a process of its
own, as fast as the client reads. The client is crosscurrent's live code path
(WebsocketFeed + BinanceProtocol + StreamWriter); its CPU time is measured apart from the
server's. Also: the parser alone on the same frames, in memory.
"""

from __future__ import annotations

import asyncio
import gzip
import multiprocessing
import resource
import time
from http import HTTPStatus
from multiprocessing.connection import Connection
from pathlib import Path

import orjson
import websockets
from rich.console import Console
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from crosscurrent.config import Config
from streams.binance import BinanceProtocol
from streams.bus import StreamWriter
from streams.ccxt_feed import CcxtFeed
from streams.feed import WebsocketFeed
from streams.keys import Keys
from streams.redis_client import connect
from streams.simulators.binance import BinanceSimulator, ccxt_overrides

RECORDING = Path("data/binance-futures/usdm-btcusdt-20240808.jsonl.gz")
KINDS = (b"@trade", b"@bookTicker")


class BenchInputError(FileNotFoundError):
    """The recorded frames are not where they were looked for."""


def load_frames(shared: Path) -> list[bytes]:
    path = shared / RECORDING
    if not path.exists():
        raise BenchInputError(f"{path} is missing: pass --shared DIR (the shared/ folder)")
    with gzip.open(path, "rb") as lines:
        frames = [line.split(b" ", 1)[1].rstrip(b"\n") for line in lines]
    return [f for f in frames if f.startswith(b'{"stream"') and any(k in f[:40] for k in KINDS)]


def _serve(frames: list[bytes], port_pipe: Connection, ccxt: bool = False) -> None:
    """Send every frame to each client as fast as it reads. For ccxt: answer its REST
    `exchangeInfo` and its SUBSCRIBE first, and send the trade frames only."""
    info = BinanceSimulator(source="binance-usdm")
    if ccxt:
        frames = [f for f in frames if b"@trade" in f[:40]]

    async def handler(ws: ServerConnection) -> None:
        if ccxt:
            request = orjson.loads(await ws.recv())
            await ws.send(orjson.dumps({"result": None, "id": request["id"]}).decode())
        for frame in frames:
            await ws.send(frame.decode())
        await ws.wait_closed()

    def rest(connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        status, body = info.http(request.path) or (HTTPStatus.NOT_FOUND, b"{}")
        response = connection.respond(status, body.decode())
        response.headers["Content-Type"] = "application/json"
        return response

    async def main() -> None:
        async with websockets.serve(handler, "127.0.0.1", 0, compression=None,
                                    process_request=rest) as server:
            port_pipe.send(next(iter(server.sockets)).getsockname()[1])
            await server.serve_forever()

    asyncio.run(main())


def parse_rate(frames: list[bytes]) -> float:
    proto = BinanceProtocol("ws://x", ["perp:BTC"], source="binance-usdm")
    started = time.process_time()
    for frame in frames:
        proto.parse(frame, 0)
    return len(frames) / (time.process_time() - started)


async def _ingest(expected: int, url: str, port: int, config: Config, ccxt: bool
                  ) -> tuple[float, float, int, int]:
    """Wall and CPU seconds until `expected` frames are in Redis; landed; ccxt drops."""
    redis = await connect(url)
    keys = Keys(config.redis.prefix, "bench-ingest")
    async for key in redis.scan_iter(match=keys.pattern):
        await redis.unlink(key)
    writer = StreamWriter(redis, keys, maxlen=config.redis.stream_maxlen,
                          batch_size=config.redis.batch_size, buffer=config.redis.buffer)
    address = f"ws://127.0.0.1:{port}"
    feed: CcxtFeed | WebsocketFeed
    if ccxt:
        feed = CcxtFeed("binanceusdm", {"perp:BTC": "BTC/USDT:USDT"}, writer.put, config.feeds,
                        trades_limit=expected, tickers=False,
                        overrides=ccxt_overrides(address, "binance-usdm"))
    else:
        feed = WebsocketFeed(BinanceProtocol(address, ["perp:BTC"], source="binance-usdm"),
                             writer.put, config.feeds)
    tasks = [asyncio.create_task(writer.run()), asyncio.create_task(feed.run())]
    cpu0, wall0 = _cpu(), time.perf_counter()
    while feed.frames + (feed.drops if isinstance(feed, CcxtFeed) else 0) < expected:
        await asyncio.sleep(0.005)
    await writer.flush()
    wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    landed = await redis.xlen(keys.events("perp")) + await redis.xlen(keys.quotes("perp"))
    await redis.aclose()
    return wall, cpu, landed, feed.drops if isinstance(feed, CcxtFeed) else 0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _measure(frames: list[bytes], url: str, config: Config, ccxt: bool
             ) -> tuple[float, float, int, int, int]:
    """wall s, client CPU s, frames landed, frames ccxt dropped, frames expected."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    server = context.Process(target=_serve, args=(frames, send, ccxt), daemon=True)
    server.start()
    try:
        port = receive.recv()
        expected = sum(1 for f in frames if b"@trade" in f[:40]) if ccxt else len(frames)
        wall, cpu, landed, drops = asyncio.run(_ingest(expected, url, port, config, ccxt))
        return wall, cpu, landed, drops, expected
    finally:
        server.terminate()


def run_ingest(config: Config, url: str, shared: Path, console: Console) -> list[str]:
    """The parser alone, then the fast path and the ccxt.pro path end to end."""
    frames = load_frames(shared)
    summary = [f"parser alone: {parse_rate(frames):,.0f} frames/s on one core"]
    for ccxt, name, what in ((False, "fast path", "trade + bookTicker"),
                             (True, "ccxt.pro", "trades only")):
        wall, cpu, landed, drops, expected = _measure(frames, url, config, ccxt)
        console.print(f"ingest via {name}: {expected} recorded USD-M frames ({what}), "
                      f"{landed} landed in Redis, {drops} dropped by ccxt, {wall:.2f} s wall, "
                      f"client CPU {cpu:.2f} s", highlight=False)
        summary.append(
            f"ingest {name}: {expected / wall:,.0f} frames/s into Redis Streams, "
            f"{cpu / expected * 1e5:.2f} CPU s per 100k frames, {expected - landed} lost "
            f"of {expected} ({what})")
    return summary
