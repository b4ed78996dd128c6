"""Detection alone: the detector agent reading a backlog from Redis Streams.

N synthetic tape events (the spine's BTC/ETH tape: the ETH/BTC divergence fires and resolves
every ~40 events) are written to the event streams first; then the agent of the default
config (every detector) reads them through its consumer group, runs the detectors, writes
its alerts and acknowledges, until all are acknowledged. Its events/s and CPU are the
agent's alone (the writing is done before the clock starts). Three ways:

- a backlog as the bus writer writes it under load: `redis.pack` events an entry, read
  `agent.batch` entries at a time;
- entries of 10 events, as the bus writer writes them live at 10,000 events/s, read under
  load: the agent takes up to `agent.batch` of them a round trip (what adaptive batching,
  `agent.max_wait_ms`, lets it do while entries keep coming; with the backlog already
  there, every read is full), the entries a round trip shown;
- the same entries strictly one a read and commit (`agent.batch` 1): the cost of each
  batch's round trip in full, as for entries that come one at a time.

Then the strict way once more under cProfile (CPU time): its 15 functions of most CPU of
their own. Also: the detectors in memory, with no Redis at all. Each way `--rounds` times,
the median shown: on a shared VM one run can differ from the next by half.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
import time
from dataclasses import dataclass
from statistics import median

from rich.console import Console

from bench.machine import cpu_ticks, steal_text, stolen
from bench.spine import cpu_seconds, synthetic_tape
from bench.targets import AGENT_PER_CPU_S, Verdict
from crosscurrent.app import build_agents, build_detectors, clear_namespace, stream_writer
from crosscurrent.config import Config
from crosscurrent.heap import freeze_startup
from detectors.agent import DetectorSet
from streams.keys import Keys
from streams.redis_client import connect
from streams.replay import direct_event

LIVE_BATCH = 10  # events an entry, as the bus writer writes them live at 10,000 events/s
PROFILED_EVENTS = 20_000  # at most, in the profiled run
TOP = 15  # functions of the profile shown


def detectors_rate(config: Config, events: int) -> float:
    """Events/s through every detector in memory, on one core."""
    found = DetectorSet(build_detectors(config))
    ticks = [direct_event(e) for e in synthetic_tape(events, 1.0, time.time_ns() // 10**6)
             .events]
    started = time.process_time()
    for tick in ticks:
        found.on_event(tick)
    return events / (time.process_time() - started)


@dataclass
class Run:
    """One run of the agent through a backlog."""

    wall: float  # seconds
    cpu: float  # CPU seconds
    alerts: int
    steal: float | None  # the host's share of the machine meanwhile
    entries: int  # entries committed
    batches: int  # commits: one round trip each, its read ahead included


def _configured(config: Config, live: bool, strict: bool) -> Config:
    """`config` with the writer's batches of `LIVE_BATCH` events if `live`, and reads of one
    entry if `strict`."""
    if live:
        config = config.model_copy(update={
            "redis": config.redis.model_copy(update={"batch_size": LIVE_BATCH})})
    if strict:
        config = config.model_copy(update={
            "agent": config.agent.model_copy(update={"batch": 1})})
    return config


async def through_agent(config: Config, url: str, events: int, live: bool,
                        strict: bool | None = None, profile: cProfile.Profile | None = None
                        ) -> Run:
    """A backlog of `events` through the agent: written in the writer's batches (of
    `LIVE_BATCH` events if `live`), read `agent.batch` entries at a time (one if `strict`,
    which `live` alone means too). `profile`: enabled while the agent runs."""
    redis = await connect(url)
    keys = Keys(config.redis.prefix, "bench-agents")
    await clear_namespace(redis, keys)
    config = _configured(config, live, live if strict is None else strict)
    writer = stream_writer(config, redis, keys)
    writing = asyncio.create_task(writer.run())
    for event in synthetic_tape(events, 1.0, time.time_ns() // 10**6).events:
        await writer.put(direct_event(event))
    await writer.flush()
    writing.cancel()
    (agent,) = build_agents(config, redis, keys)
    freeze_startup()  # as `crosscurrent run` does once built
    cpu0, wall0, ticks0 = cpu_seconds(), time.perf_counter(), cpu_ticks()
    if profile is not None:
        profile.enable()
    running = asyncio.create_task(agent.run())
    while agent.processed < events:
        await asyncio.sleep(0.005)
    if profile is not None:
        profile.disable()
    wall, cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
    steal = stolen(ticks0, cpu_ticks())
    agent.stop()
    await asyncio.wait_for(running, 5)
    await clear_namespace(redis, keys)
    await redis.aclose()
    return Run(wall, cpu, agent.alerts, steal, agent.entries, agent.batches)


def top_functions(profile: cProfile.Profile, n: int = TOP) -> list[str]:
    """The profile's `n` functions of most time of their own: a header and a line each."""
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("tottime").print_stats(n)
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
    return [line for line in lines[start:start + n + 1] if line.strip()]


async def profiled(config: Config, url: str, events: int) -> tuple[Run, list[str]]:
    """The strict way under cProfile, timed in this thread's CPU time (not wall time, which
    would put the waits for Redis's replies first)."""
    profile = cProfile.Profile(time.thread_time)
    found = await through_agent(config, url, events, live=True, strict=True, profile=profile)
    return found, top_functions(profile)


async def run_agents(config: Config, url: str, events: int, console: Console, rounds: int = 1
                     ) -> list[str | Verdict]:
    """Each way `rounds` times: the median, and the range over the rounds."""
    summary: list[str | Verdict] = []
    backlog = config.agent.batch * min(config.redis.pack, config.redis.batch_size)
    ways = (
        (False, False, "agent, a backlog",
         f"batches of up to {backlog:,} events: {config.agent.batch} entries of "
         f"{config.redis.pack}"),
        (True, False, f"agent, batches of {LIVE_BATCH} under load",
         f"entries of {LIVE_BATCH} events as written live at 10,000 events/s, read up to "
         f"{config.agent.batch} a round trip"),
        (True, True, f"agent, batches of {LIVE_BATCH} strictly",
         f"one entry of {LIVE_BATCH} events a read and commit"))
    for live, strict, name, label in ways:
        runs = []
        for _ in range(rounds):
            run = await through_agent(config, url, events, live, strict)
            console.print(f"{name}: {events} events from Redis through every detector, "
                          f"{label} ({run.entries / max(run.batches, 1):.1f} entries a round "
                          f"trip), {run.alerts} alerts, {run.wall:.2f} s wall, {run.cpu:.2f} s "
                          f"CPU, host {steal_text(run.steal)}", highlight=False)
            runs.append(run)
        per_cpu = sorted(events / run.cpu for run in runs)
        rate = median(events / run.wall for run in runs)
        spread = (f", {rounds} runs: {per_cpu[0]:,.0f}–{per_cpu[-1]:,.0f}" if rounds > 1
                  else "")
        if live and not strict:  # how many entries adaptive batching took a round trip
            trips = median(run.entries / max(run.batches, 1) for run in runs)
            label += f" (adaptive batching: {trips:.1f} entries a round trip)"
        summary.append(Verdict(name, median(per_cpu), AGENT_PER_CPU_S, "events per CPU second",
                               detail=f"{label}; {rate:,.0f} events/s{spread}"))
    profiled_events = min(events, PROFILED_EVENTS)
    run, top = await profiled(config, url, profiled_events)
    console.print(f"profile of agent, batches of {LIVE_BATCH} strictly ({profiled_events:,} "
                  f"events, cProfile in CPU time, {run.cpu:.2f} s CPU with it): the {TOP} "
                  "functions of most CPU time of their own", highlight=False)
    for line in top:
        console.print(line, highlight=False, soft_wrap=True)
    in_memory = median(detectors_rate(config, events) for _ in range(rounds))
    return [*summary, f"detectors in memory: {in_memory:,.0f} events/s on one core"]
