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
from multiprocessing.connection import Connection
from pathlib import Path

import websockets
from rich.console import Console
from websockets.asyncio.server import ServerConnection

from crosscurrent.config import Config
from streams.binance import BinanceProtocol
from streams.bus import StreamWriter
from streams.feed import WebsocketFeed
from streams.keys import Keys
from streams.redis_client import connect

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


def _serve(frames: list[bytes], port_pipe: Connection) -> None:
    async def handler(ws: ServerConnection) -> None:
        for frame in frames:
            await ws.send(frame.decode())
        await ws.wait_closed()

    async def main() -> None:
        async with websockets.serve(handler, "127.0.0.1", 0, compression=None) as server:
            port_pipe.send(next(iter(server.sockets)).getsockname()[1])
            await server.serve_forever()

    asyncio.run(main())


def parse_rate(frames: list[bytes]) -> float:
    proto = BinanceProtocol("ws://x", ["perp:BTC"], source="binance-usdm")
    started = time.process_time()
    for frame in frames:
        proto.parse(frame, 0)
    return len(frames) / (time.process_time() - started)


async def _ingest(frames: list[bytes], url: str, port: int, config: Config
                  ) -> tuple[float, float, int]:
    redis = await connect(url)
    keys = Keys(config.redis.prefix, "bench-ingest")
    async for key in redis.scan_iter(match=keys.pattern):
        await redis.unlink(key)
    writer = StreamWriter(redis, keys, maxlen=config.redis.stream_maxlen,
                          batch_size=config.redis.batch_size, buffer=config.redis.buffer)
    feed = WebsocketFeed(
        BinanceProtocol(f"ws://127.0.0.1:{port}", ["perp:BTC"], source="binance-usdm"),
        writer.put, config.feeds)
    tasks = [asyncio.create_task(writer.run()), asyncio.create_task(feed.run())]
    cpu0, wall0 = _cpu(), time.perf_counter()
    while feed.frames < len(frames):
        await asyncio.sleep(0.005)
    await writer.flush()
    wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    landed = await redis.xlen(keys.events("perp")) + await redis.xlen(keys.quotes("perp"))
    await redis.aclose()
    return wall, cpu, landed


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_ingest(config: Config, url: str, shared: Path, console: Console) -> list[str]:
    """Run both measurements; returns the summary lines."""
    frames = load_frames(shared)
    parsed = parse_rate(frames)
    receive, send = multiprocessing.get_context("spawn").Pipe(duplex=False)
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(frames, send),
                                                         daemon=True)
    server.start()
    try:
        port = receive.recv()
        wall, cpu, landed = asyncio.run(_ingest(frames, url, port, config))
    finally:
        server.terminate()
    console.print(f"ingest: {len(frames)} recorded USD-M frames (trade + bookTicker), "
                  f"{landed} landed in Redis, {wall:.2f} s wall, client CPU {cpu:.2f} s",
                  highlight=False)
    return [
        f"parser alone: {parsed:,.0f} frames/s on one core",
        f"ingest end to end: {len(frames) / wall:,.0f} frames/s into Redis Streams, "
        f"{cpu / len(frames) * 1e5:.2f} CPU s per 100k frames, "
        f"{len(frames) - landed} lost of {len(frames)}",
    ]
