"""Wiring: Redis (given or embedded), simulators, feeds, the bus writer and the agents."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from redis import asyncio as aioredis

from crosscurrent.catalog import default_catalog
from crosscurrent.config import Config
from crosscurrent.events import Alert
from detectors.agent import Agent
from detectors.divergence import DivergenceDetector
from reporters.alert_log import read_alerts, tail_alerts, write_alerts_jsonl
from streams.binance import MARKETS as BINANCE_MARKETS
from streams.binance import BinanceProtocol
from streams.bus import StreamWriter
from streams.feed import SourceProtocol, WebsocketFeed
from streams.keys import Keys
from streams.redis_client import connect
from streams.redis_server import EmbeddedRedis
from streams.replay import Player
from streams.simulators.binance import BinanceSimulator
from streams.simulators.server import SimulatorServer
from streams.simulators.yahoo import YahooSimulator
from streams.tape import Tape
from streams.yahoo import YahooProtocol

log = logging.getLogger(__name__)

#: Sources with a live adapter and a simulator; other ids go straight into the bus on replay.
SIMULATED_SOURCES = ("binance", "binance-usdm", "binance-coinm", "yahoo")


class View(Protocol):
    """What a front end is told while a pipeline runs."""

    def alert(self, alert: Alert) -> None: ...

    def progress(self, tape_ts: int, done: int, total: int) -> None: ...


@contextlib.contextmanager
def redis_url(config: Config, data_dir: Path | None = None) -> Iterator[str]:
    """The configured Redis URL, or that of an embedded redis-server kept up meanwhile."""
    if config.redis.url:
        yield config.redis.url
        return
    server = EmbeddedRedis(data_dir or config.embedded.data_dir, config.embedded.binary)
    with server:
        yield server.url


def build_agents(config: Config, redis: aioredis.Redis, keys: Keys) -> list[Agent]:
    detector = DivergenceDetector(config.detectors.divergence.pairs)
    return [Agent(detector.name, [detector], redis, keys, config.agent)]


def source_protocol(source: str, url: str, ids: Iterable[str], config: Config) -> SourceProtocol:
    if source in BINANCE_MARKETS:
        return BinanceProtocol(url, ids, source=source)
    if source == "yahoo":
        return YahooProtocol(url, ids, config.sources.yahoo.resubscribe_s)
    raise ValueError(f"no live adapter for source {source!r} yet")


def _simulator(source: str) -> SimulatorServer:
    return YahooSimulator() if source == "yahoo" else BinanceSimulator(source=source)


async def clear_namespace(redis: aioredis.Redis, keys: Keys) -> int:
    removed = 0
    async for key in redis.scan_iter(match=keys.pattern, count=1000):
        removed += await redis.unlink(key)
    return removed


@dataclass
class ReplayResult:
    events: int
    bad_lines: int
    alerts: list[Alert]
    seconds: float
    frames: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # sent, read, bad
    direct: int = 0
    files: list[Path] = field(default_factory=list)


class _Tasks:
    """Background tasks that are all cancelled together, and whose failures surface."""

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[Any]] = []

    def start(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        self.tasks.append(asyncio.create_task(coro, name=name))

    def check(self) -> None:
        for task in self.tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise RuntimeError(f"{task.get_name()} failed") from task.exception()

    async def cancel(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def _bus(config: Config, url: str, namespace: str) -> AsyncIterator[
        tuple[aioredis.Redis, Keys, StreamWriter]]:
    redis = await connect(url)
    keys = Keys(config.redis.prefix, namespace)
    writer = StreamWriter(
        redis, keys, maxlen=config.redis.stream_maxlen, batch_size=config.redis.batch_size,
        flush_ms=config.redis.flush_ms, buffer=config.redis.buffer,
    )
    try:
        yield redis, keys, writer
    finally:
        await redis.aclose()


async def replay(
    tape: Tape,
    config: Config,
    url: str,
    *,
    speed: float,
    out: Path | None,
    view: View,
    namespace: str = "replay",
) -> ReplayResult:
    """Replay a tape through simulators, adapters, the bus and the agents; write `out` files."""
    started = time.monotonic()
    catalog = default_catalog()
    tasks = _Tasks()
    simulators: dict[str, SimulatorServer] = {}
    feeds: dict[str, WebsocketFeed] = {}
    async with _bus(config, url, namespace) as (redis, keys, writer):
        await clear_namespace(redis, keys)
        try:
            tasks.start(writer.run(), "bus writer")
            for source in SIMULATED_SOURCES:
                ids = sorted(i for i in tape.ids() if catalog[i].source == source)
                if not ids:
                    continue
                simulator = simulators[source] = _simulator(source)
                await simulator.start()
                sim_url = simulator.url + ("/?version=2" if source == "yahoo" else "")
                feed = feeds[source] = WebsocketFeed(
                    source_protocol(source, sim_url, ids, config), writer.put, config.feeds
                )
                tasks.start(feed.run(), f"{source} feed")
                await simulator.wait_subscribed(ids)
            agents = build_agents(config, redis, keys)
            for agent in agents:
                await agent.start()
                tasks.start(agent.run(), f"agent {agent.name}")
            seen: list[Alert] = []

            def on_alert(alert: Alert) -> None:
                seen.append(alert)
                view.alert(alert)

            tasks.start(tail_alerts(redis, keys, on_alert), "alert log")
            player = Player(tape, simulators, writer.put, speed, catalog)
            await player.play(view.progress)
            await _drain(tasks, simulators, feeds, writer, agents)
            alerts = await read_alerts(redis, keys)
            await _until(lambda: len(seen) >= len(alerts), tasks, "the alert log")
        finally:
            await tasks.cancel()
            for simulator in simulators.values():
                await simulator.stop()
        result = ReplayResult(
            events=len(tape.events), bad_lines=tape.bad_lines, alerts=alerts,
            seconds=time.monotonic() - started, direct=player.sent_direct,
            frames={s: (simulators[s].frames_sent, f.frames, f.malformed)
                    for s, f in feeds.items()},
        )
    if out is not None:
        path = out / "alerts.jsonl"
        write_alerts_jsonl(alerts, path)
        result.files.append(path)
    return result


async def _until(ready: Callable[[], bool], tasks: _Tasks, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        tasks.check()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not catch up within {timeout:.0f}s")
        await asyncio.sleep(0.01)


async def _drain(
    tasks: _Tasks,
    simulators: dict[str, SimulatorServer],
    feeds: dict[str, WebsocketFeed],
    writer: StreamWriter,
    agents: list[Agent],
) -> None:
    """Wait until every frame sent was read, written, consumed and acknowledged."""
    await _until(
        lambda: all(feeds[s].frames >= simulators[s].frames_sent for s in feeds),
        tasks, "the feeds",
    )
    await writer.flush()
    for agent in agents:
        lag = await agent.lag()
        deadline = time.monotonic() + 60
        while lag:
            tasks.check()
            if time.monotonic() > deadline:
                raise TimeoutError(f"agent {agent.name} still has {lag} entries to process")
            await asyncio.sleep(0.01)
            lag = await agent.lag()


async def run_live(
    config: Config, url: str, *, only: str | None, view: View, namespace: str = "live"
) -> None:
    """Follow the watchlist live from the real sources until cancelled."""
    catalog = default_catalog()
    tasks = _Tasks()
    async with _bus(config, url, namespace) as (redis, keys, writer):
        try:
            tasks.start(writer.run(), "bus writer")
            if only in (None, "feeds"):
                by_source: dict[str, list[str]] = {}
                for ident in config.watchlist:
                    by_source.setdefault(catalog[ident].source, []).append(ident)
                for source, ids in by_source.items():
                    if source not in SIMULATED_SOURCES:
                        log.warning("no live adapter for %s yet: %s not followed",
                                    source, ", ".join(ids))
                        continue
                    source_url = config.sources.ws_url(source)
                    feed = WebsocketFeed(source_protocol(source, source_url, ids, config),
                                         writer.put, config.feeds)
                    tasks.start(feed.run(), f"{source} feed")
            if only in (None, "agents"):
                for agent in build_agents(config, redis, keys):
                    tasks.start(agent.run(), f"agent {agent.name}")
            tasks.start(tail_alerts(redis, keys, view.alert, start="$"), "alert log")
            while True:
                await asyncio.sleep(0.5)
                tasks.check()
        finally:
            await tasks.cancel()
