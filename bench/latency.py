"""Tick-to-alert at fixed offered loads, with the exchange in a process of its own.

A Binance simulator process sends the spine's synthetic BTC/ETH tape (the ETH/BTC divergence
fires and resolves every ~40 events) for S seconds, paced so that the adapter emits a fixed
number of events per second into the bus (each tape event is a trade frame and a ticker
frame, so two bus events). This process runs what `crosscurrent run` runs: the fast Binance
feed, the bus writer, the detector agent (every detector) and the history recorder, and a
viewer reading the alerts stream. Latency is from the adapter receiving the triggering frame
to the viewer reading the alert (an HDR histogram); CPU is this process's, with the source's
and redis-server's beside it (all three share the machine's cores). Each load runs `--rounds`
times: the percentiles are over every alert of the runs, and each run's p99 is shown with the
share of the machine's time the host took meanwhile (steal, one cause of the tail here).

While the source sends, the backlog (frames the feed has taken that the agent has not
committed yet) is sampled every 100 ms: it is flat if its median over the second half of
the sending grew less than 100 ms of the offered load over its median over the first half
(an agent that cannot keep up falls behind by more). Also shown: the agent's events a
round trip and how many of its batches waited for more (adaptive batching,
`agent.max_wait_ms`).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from statistics import median

from hdrh.histogram import HdrHistogram
from rich.console import Console

from bench.machine import cpu_ticks, is_local, process_cpu, redis_pid, steal_text, stolen
from bench.spine import cpu_seconds, synthetic_event
from bench.targets import P99_TARGETS, Verdict
from crosscurrent.app import build_agents, clear_namespace, stream_writer
from crosscurrent.catalog import family
from crosscurrent.config import Config
from crosscurrent.events import Alert
from crosscurrent.heap import freeze_startup
from detectors.agent import Agent
from reporters.alert_log import tail_alerts
from streams.binance import BinanceProtocol
from streams.feed import WebsocketFeed
from streams.history import HistoryRecorder, HistoryStore
from streams.keys import Keys
from streams.redis_client import connect
from streams.simulators.binance import BinanceSimulator

IDS = ["crypto:BTC", "crypto:ETH"]
FRAMES_PER_EVENT = 2  # the simulator's trade and ticker frames


def _source(rate: float, seconds: float, pipe: Connection) -> None:
    """Send frames at `rate` per second for `seconds` once the feed has subscribed (built as
    they go, so a long run holds nothing); send the port, then (frames sent, seconds)."""

    async def main() -> None:
        sim = BinanceSimulator()
        await sim.start()
        pipe.send(int(sim.url.rsplit(":", 1)[1]))
        await sim.wait_subscribed(IDS, timeout=60)
        total, step_ms = int(rate * seconds), 1000 * FRAMES_PER_EVENT / rate
        start_ms, started, sent, n = time.time_ns() // 1_000_000, time.perf_counter(), 0, 0
        while sent < total:
            due = min(total, int((time.perf_counter() - started) * rate) + 1)
            while sent < due:
                for topic, frame in sim.frames(synthetic_event(n, start_ms + int(n * step_ms))):
                    sent += await sim.send_raw(frame, topic)
                n += 1
            await asyncio.sleep(0.0005)
        pipe.send((sent, time.perf_counter() - started))
        await asyncio.sleep(24 * 3600)  # until terminated: the feed must not see a close

    asyncio.run(main())



@dataclass
class Pipeline:
    """What `crosscurrent run` runs, fed by a source process; alerts timed as they land."""

    source: BaseProcess
    results: Connection
    agent: Agent
    feed: WebsocketFeed
    others: dict[str, int | None]  # the pids of the source and of redis-server (if local)
    histogram: HdrHistogram = field(default_factory=lambda: HdrHistogram(1, 600_000_000, 3))
    alerts: int = 0

    def on_alert(self, alert: Alert) -> None:
        self.alerts += 1
        if alert.trigger_recv_ns:
            self.histogram.record_value(max(1, (time.time_ns() - alert.trigger_recv_ns)
                                            // 1000))

    async def sent(self) -> tuple[int, float]:
        """(frames sent, seconds taken), once the source is done."""
        found: tuple[int, float] = await asyncio.to_thread(self.results.recv)
        return found


@asynccontextmanager
async def pipeline(config: Config, url: str, rate: float, seconds: float, namespace: str
                   ) -> AsyncIterator[Pipeline]:
    """A source process at `rate` frames/s for `seconds` and the pipeline reading it."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    source = context.Process(target=_source, args=(rate, seconds, send), daemon=True)
    source.start()
    redis = await connect(url)
    keys = Keys(config.redis.prefix, namespace)
    await clear_namespace(redis, keys)
    writer = stream_writer(config, redis, keys)
    port = await asyncio.to_thread(receive.recv)
    feed = WebsocketFeed(BinanceProtocol(f"ws://127.0.0.1:{port}", IDS), writer.put,
                         config.feeds)
    store = HistoryStore(redis, keys, config.history.sessions,
                         config.history.volatility_window)
    (agent,) = build_agents(config, redis, keys)
    consumers = [agent, HistoryRecorder(redis, keys, {family(i) for i in IDS}, store,
                                        config.agent)]
    running = Pipeline(source, receive, agent, feed, {
        "source": source.pid, "redis-server": await redis_pid(redis) if is_local(url) else None})
    stop_log = asyncio.Event()
    tasks = [asyncio.create_task(c) for c in (
        writer.run(), feed.run(), *(c.run() for c in consumers),
        tail_alerts(redis, keys, running.on_alert, start="$", stop=stop_log))]
    freeze_startup()  # as `crosscurrent run` does
    try:
        yield running
    finally:
        for consumer in consumers:
            consumer.stop()
        stop_log.set()
        await asyncio.sleep(0.3)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        source.terminate()
        await clear_namespace(redis, keys)
        await redis.aclose()


async def caught_up(running: Pipeline, sent: int, timeout: float = 60) -> None:
    """Until the agent has taken every frame sent (one bus event each), or `timeout`."""
    deadline = time.monotonic() + timeout
    while running.agent.processed < sent and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)  # the last alerts to the viewer


@dataclass
class Load:
    """One run at one offered load."""

    histogram: HdrHistogram  # tick-to-alert, µs
    sent: int  # frames
    took: float  # seconds sending
    share: float  # CPU share of the pipeline process
    alerts: int
    steal: float | None  # share of the machine's time the host took meanwhile
    others: dict[str, float | None] = field(default_factory=dict)  # CPU shares, by process
    backlog: list[int] = field(default_factory=list)  # frames taken, not committed; 100 ms apart
    batches: int = 0  # the agent's commits (round trips)
    waits: int = 0  # of them, those that waited for more entries (adaptive batching)
    events: int = 0  # the agent's events

    def backlog_growth(self) -> int:
        """The median backlog over the second half of the sending less its median over the
        first half (0 without samples)."""
        if len(self.backlog) < 2:
            return 0
        half = len(self.backlog) // 2
        return int(median(self.backlog[half:]) - median(self.backlog[:half]))

    def flat(self, rate: float) -> bool:
        """The backlog grew by less than 100 ms of `rate`."""
        return self.backlog_growth() < 0.1 * rate


def _cpu(pids: dict[str, int | None]) -> dict[str, float | None]:
    return {name: None if pid is None else process_cpu(pid) for name, pid in pids.items()}


async def sample_backlog(running: Pipeline, into: list[int], every_s: float = 0.1) -> None:
    """Frames the feed has taken that the agent has not committed, every `every_s`, once the
    first frame came (until cancelled)."""
    while not running.feed.frames:
        await asyncio.sleep(0.01)
    while True:
        into.append(max(0, running.feed.frames - running.agent.processed))
        await asyncio.sleep(every_s)


async def measure(config: Config, url: str, rate: float, seconds: float) -> Load:
    async with pipeline(config, url, rate, seconds, "bench-latency") as running:
        cpu0, wall0, ticks0 = cpu_seconds(), time.perf_counter(), cpu_ticks()
        others0 = _cpu(running.others)
        agent = running.agent
        batches0, waits0, events0 = agent.batches, agent.waits, agent.processed
        backlog: list[int] = []
        sampling = asyncio.create_task(sample_backlog(running, backlog))
        sent, took = await running.sent()
        sampling.cancel()
        await caught_up(running, sent)
        wall = time.perf_counter() - wall0
        others: dict[str, float | None] = {}
        for name, used in _cpu(running.others).items():
            start = others0[name]
            others[name] = None if used is None or start is None else (used - start) / wall
        return Load(running.histogram, sent, took, (cpu_seconds() - cpu0) / wall,
                    running.alerts, stolen(ticks0, cpu_ticks()), others, backlog,
                    agent.batches - batches0, agent.waits - waits0, agent.processed - events0)


def batching_text(loads: list[Load]) -> str:
    """"agent 12.3 events a round trip, 40% of batches waited for more"."""
    batches = sum(load.batches for load in loads)
    if not batches:
        return "agent committed nothing"
    events = sum(load.events for load in loads)
    waited = sum(load.waits for load in loads) / batches
    return (f"agent {events / batches:.1f} events a round trip, {waited:.0%} of its batches "
            "waited for more")


def backlog_text(loads: list[Load]) -> str:
    """"backlog median 120 frames, max 900, grew by 10": over every run's samples (the
    largest growth of a run)."""
    samples = [n for load in loads for n in load.backlog]
    if not samples:
        return "backlog not sampled"
    return (f"backlog median {median(samples):,.0f} frames, max {max(samples):,}, grew by "
            f"{max(load.backlog_growth() for load in loads):,}")


def others_text(loads: list[Load]) -> str:
    """The other processes' median CPU shares over the runs: ", source 22%, redis-server
    18%" (n/a where one could not be read); empty when none was watched."""
    names = loads[0].others
    shares = {name: [s for load in loads if (s := load.others.get(name)) is not None]
              for name in names}
    return "".join(f", {name} {median(found) * 100:.0f}%" if found else f", {name} n/a"
                   for name, found in shares.items())


def summary_line(rate: float, loads: list[Load]) -> str | Verdict:
    """One offered load's figures: percentiles over every run's alerts, and each run's p99;
    a Verdict where the load has a target (`P99_TARGETS`)."""
    runs = ", ".join(f"{load.histogram.get_value_at_percentile(99) / 1000:.2f} ms "
                     f"({steal_text(load.steal)})" for load in loads)
    merged = HdrHistogram(1, 600_000_000, 3)  # a new one: each run's stays its own
    for load in loads:
        merged.add(load.histogram)
    sent = sum(load.sent for load in loads) / sum(load.took for load in loads)
    p99 = merged.get_value_at_percentile(99) / 1000
    figures = (f"{sent:,.0f}/s sent, pipeline "
               f"{median(load.share for load in loads) * 100:.0f}% of a core"
               f"{others_text(loads)}")
    target = P99_TARGETS.get(rate)
    if target is None:
        return (f"tick-to-alert at {rate:,.0f} events/s ({figures}): {percentiles(merged)}; "
                f"p99 of each run, with the host's steal: {runs}")
    limit, backlog_flat = target
    flat = all(load.flat(rate) for load in loads)
    return Verdict(f"p99 at {rate:,.0f} events/s", p99, limit, "ms", ceiling=True,
                   condition="backlog flat" if backlog_flat else "",
                   also=flat or not backlog_flat,
                   detail=f"tick to alert, {figures}; {percentiles(merged)}; p99 of each "
                   f"run, with the host's steal: {runs}; {backlog_text(loads)}"
                   f"{'' if flat else ' (not flat)'}; {batching_text(loads)}")
def percentiles(histogram: HdrHistogram) -> str:
    return " ".join(f"p{p:g} {histogram.get_value_at_percentile(p) / 1000:.2f} ms"
                    for p in (50, 99, 99.9))


async def run_latency(config: Config, url: str, rates: list[float], seconds: float,
                      console: Console, rounds: int = 1) -> list[str | Verdict]:
    """Each load `rounds` times: the percentiles over every alert of its runs, and each run's
    p99."""
    summary: list[str | Verdict] = []
    for rate in rates:
        loads = []
        for _ in range(rounds):
            load = await measure(config, url, rate, seconds)
            console.print(f"latency at {rate:,.0f} events/s offered: {load.sent} sent in "
                          f"{load.took:.2f} s, {load.alerts} alerts, pipeline process "
                          f"{load.share * 100:.0f}% of a core{others_text([load])}, host "
                          f"{steal_text(load.steal)}: {percentiles(load.histogram)}; "
                          f"{backlog_text([load])}; {batching_text([load])}", highlight=False)
            loads.append(load)
        summary.append(summary_line(rate, loads))
    return summary
