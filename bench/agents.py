"""Detection alone: the detector agent reading a backlog from Redis Streams.

N synthetic tape events (the spine's BTC/ETH tape: the ETH/BTC divergence fires and resolves
every ~40 events) are written to the event streams first; then the agent of the default
config (every detector) reads them through its consumer group, runs the detectors, writes
its alerts and acknowledges, until all are acknowledged. Its events/s and CPU are the
agent's alone (the writing is done before the clock starts). Twice: as a backlog is read
(written in the bus writer's batches, `redis.pack` events an entry, read `agent.batch`
entries at a time), and as live at 10,000 events/s, where the bus writer's batches hold
about 10 events and the agent reads one entry a batch, so the cost of each batch's round
trips counts. Also: the detectors in memory, with no Redis at all. Each `--rounds` times, the
median shown: on a shared VM one run can differ from the next by half.
"""

from __future__ import annotations

import asyncio
import time
from statistics import median

from rich.console import Console

from bench.machine import cpu_ticks, steal_text, stolen
from bench.spine import cpu_seconds, synthetic_tape
from bench.targets import AGENT_PER_CPU_S, judged
from crosscurrent.app import build_agents, build_detectors, clear_namespace, stream_writer
from crosscurrent.config import Config
from crosscurrent.heap import freeze_startup
from detectors.agent import DetectorSet
from streams.keys import Keys
from streams.redis_client import connect
from streams.replay import direct_event


def detectors_rate(config: Config, events: int) -> float:
    """Events/s through every detector in memory, on one core."""
    found = DetectorSet(build_detectors(config))
    ticks = [direct_event(e) for e in synthetic_tape(events, 1.0, time.time_ns() // 10**6)
             .events]
    started = time.process_time()
    for tick in ticks:
        found.on_event(tick)
    return events / (time.process_time() - started)


LIVE_BATCH = 10  # events a batch, written and read, live at 10,000 events/s


async def through_agent(config: Config, url: str, events: int, live: bool
                        ) -> tuple[float, float, int, float | None]:
    """A backlog of `events` through the agent, read as a backlog or in batches the size
    they have `live`: (seconds, CPU seconds, alerts, the host's steal meanwhile)."""
    redis = await connect(url)
    keys = Keys(config.redis.prefix, "bench-agents")
    await clear_namespace(redis, keys)
    if live:
        config = config.model_copy(update={
            "redis": config.redis.model_copy(update={"batch_size": LIVE_BATCH}),
            "agent": config.agent.model_copy(update={"batch": 1})})
    writer = stream_writer(config, redis, keys)
    writing = asyncio.create_task(writer.run())
    for event in synthetic_tape(events, 1.0, time.time_ns() // 10**6).events:
        await writer.put(direct_event(event))
    await writer.flush()
    writing.cancel()
    (agent,) = build_agents(config, redis, keys)
    freeze_startup()  # as `crosscurrent run` does once built
    cpu0, wall0, ticks0 = cpu_seconds(), time.perf_counter(), cpu_ticks()
    running = asyncio.create_task(agent.run())
    while agent.processed < events:
        await asyncio.sleep(0.005)
    wall, cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
    steal = stolen(ticks0, cpu_ticks())
    agent.stop()
    await asyncio.wait_for(running, 5)
    await clear_namespace(redis, keys)
    await redis.aclose()
    return wall, cpu, agent.alerts, steal


async def run_agents(config: Config, url: str, events: int, console: Console, rounds: int = 1
                     ) -> list[str]:
    """Each way of reading `rounds` times: the median, and the range over the rounds."""
    summary = []
    backlog = config.agent.batch * min(config.redis.pack, config.redis.batch_size)
    for live, label in ((False, f"batches of up to {backlog:,} ({config.agent.batch} entries "
                                f"of {config.redis.pack})"),
                        (True, f"batches of {LIVE_BATCH} (one entry, as live at 10k/s)")):
        rates, per_cpu = [], []
        for _ in range(rounds):
            wall, cpu, alerts, steal = await through_agent(config, url, events, live)
            console.print(f"agents: {events} events from Redis through every detector in "
                          f"{label}, {alerts} alerts, {wall:.2f} s wall, {cpu:.2f} s CPU, "
                          f"host {steal_text(steal)}", highlight=False)
            rates.append(events / wall)
            per_cpu.append(events / cpu)
        spread = (f", {rounds} runs: {min(per_cpu):,.0f}–{max(per_cpu):,.0f} per CPU second"
                  if rounds > 1 else "")
        verdict = "" if live else "; " + judged(f"≥ {AGENT_PER_CPU_S:,} per CPU second",
                                                median(per_cpu) >= AGENT_PER_CPU_S)
        summary.append(f"agent events/s from Redis in {label}: {median(rates):,.0f} "
                       f"({median(per_cpu):,.0f} per CPU second{spread}){verdict}")
    in_memory = median(detectors_rate(config, events) for _ in range(rounds))
    return [*summary, f"detectors in memory: {in_memory:,.0f} events/s on one core"]
