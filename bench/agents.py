"""Detection alone: the detector agent reading a backlog from Redis Streams.

N synthetic tape events (the spine's BTC/ETH tape: the ETH/BTC divergence fires and resolves
every ~40 events) are written to the event streams first; then the agent of the default
config (every detector) reads them through its consumer group, runs the detectors, writes
its alerts and acknowledges, until all are acknowledged. Its events/s and CPU are the
agent's alone (the writing is done before the clock starts). Twice: in batches of
`agent.batch`, and of 10, about the size they have live at 10,000 events/s, where the cost of
each batch's round trips counts. Also: the detectors in memory, with no Redis at all.
"""

from __future__ import annotations

import asyncio
import time

from rich.console import Console

from bench.spine import cpu_seconds, synthetic_tape
from crosscurrent.app import build_agents, build_detectors, clear_namespace
from crosscurrent.config import Config
from detectors.agent import DetectorSet
from streams.bus import StreamWriter
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


SMALL_BATCH = 10  # about the agent's batches at 10,000 events/s live: the cost per batch


async def through_agent(config: Config, url: str, events: int, batch: int
                        ) -> tuple[float, float, int]:
    """A backlog of `events` through the agent reading `batch` entries at a time: (seconds,
    CPU seconds, alerts)."""
    redis = await connect(url)
    keys = Keys(config.redis.prefix, "bench-agents")
    await clear_namespace(redis, keys)
    writer = StreamWriter(redis, keys, batch_size=config.redis.batch_size)
    writing = asyncio.create_task(writer.run())
    for event in synthetic_tape(events, 1.0, time.time_ns() // 10**6).events:
        await writer.put(direct_event(event))
    await writer.flush()
    writing.cancel()
    config = config.model_copy(update={"agent": config.agent.model_copy(
        update={"batch": batch})})
    (agent,) = build_agents(config, redis, keys)
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    running = asyncio.create_task(agent.run())
    while agent.processed < events:
        await asyncio.sleep(0.005)
    wall, cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
    agent.stop()
    await asyncio.wait_for(running, 5)
    await clear_namespace(redis, keys)
    await redis.aclose()
    return wall, cpu, agent.alerts


async def run_agents(config: Config, url: str, events: int, console: Console) -> list[str]:
    summary = []
    for batch in (config.agent.batch, SMALL_BATCH):
        wall, cpu, alerts = await through_agent(config, url, events, batch)
        console.print(f"agents: {events} events from Redis through every detector in batches "
                      f"of {batch}, {alerts} alerts, {wall:.2f} s wall, {cpu:.2f} s CPU",
                      highlight=False)
        summary.append(f"agent events/s from Redis in batches of {batch}: {events / wall:,.0f} "
                       f"({events / cpu:,.0f} per CPU second)")
    in_memory = detectors_rate(config, events)
    return [*summary, f"detectors in memory: {in_memory:,.0f} events/s on one core"]
