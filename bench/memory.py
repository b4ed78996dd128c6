"""Memory over a soak: the latency bench's source and pipeline at a steady rate for M minutes,
sampling the RSS of each process (the pipeline, the source, redis-server) and Redis's
`used_memory`. Memory must level off: the streams keep about `redis.stream_maxlen` events
(trimmed by whole entries), the buffers are bounded, and nothing else grows with time.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from redis import asyncio as aioredis
from rich.console import Console
from rich.table import Table

from bench.latency import caught_up, pipeline
from bench.machine import is_local, redis_pid
from bench.targets import SOAK_GROWTH, Verdict
from crosscurrent.config import Config
from streams.redis_client import connect

SAMPLES = 12


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _used_mb(redis: aioredis.Redis) -> float:
    return int((await redis.info("memory"))["used_memory"]) / 2**20


async def run_memory(config: Config, url: str, rate: float, minutes: float, console: Console
                     ) -> list[str | Verdict]:
    redis = await connect(url)
    local = is_local(url)
    rows: list[tuple[float, float, float, float, float]] = []
    seconds = minutes * 60
    async with pipeline(config, url, rate, seconds, "bench-memory") as running:
        pid = running.source.pid
        assert pid is not None
        started = time.monotonic()
        for n in range(1, SAMPLES + 1):
            await asyncio.sleep(max(0.0, started + seconds * n / SAMPLES - time.monotonic()))
            server_pid, used = await redis_pid(redis), await _used_mb(redis)
            rows.append((time.monotonic() - started, rss_mb(os.getpid()), rss_mb(pid),
                         rss_mb(server_pid) if local else float("nan"), used))
            console.print(f"  {rows[-1][0]:6.0f} s: pipeline {rows[-1][1]:.0f} MB, source "
                          f"{rows[-1][2]:.0f} MB, redis-server {rows[-1][3]:.0f} MB, Redis "
                          f"used_memory {used:.0f} MB", highlight=False)
        sent, _ = await running.sent()
        await caught_up(running, sent)
        lag = sent - running.agent.processed
    await redis.aclose()
    table = Table(title=f"memory over a {minutes:g}-minute soak at {rate:,.0f} events/s",
                  title_justify="left")
    for column in ("time", "pipeline RSS", "source RSS", "redis-server RSS",
                   "Redis used_memory"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(f"{row[0]:.0f} s", *(f"{v:.0f} MB" for v in row[1:]))
    console.print(table)
    half = rows[len(rows) // 2]
    last = rows[-1]
    growth = max(end / mid - 1 if mid else 0.0 for mid, end in ((half[1], last[1]),
                                                                   (half[4], last[4])))
    return [Verdict(
        f"memory over a {minutes:g}-minute soak at {rate:,.0f} events/s, from half-time to "
        "the end", 100 * growth, 100 * SOAK_GROWTH, "% more", ceiling=True,
        condition="+ 1 MB, 0 behind", also=flat((half[1], half[4]), (last[1], last[4]), lag),
        detail=f"{sent:,} sent, agent {lag:,} behind at the end; pipeline RSS {half[1]:.0f} -> "
        f"{last[1]:.0f} MB, Redis used_memory {half[4]:.0f} -> {last[4]:.0f} MB; streams "
        f"capped at {config.redis.stream_maxlen:,} events")]


def flat(half: tuple[float, ...], last: tuple[float, ...], lag: int) -> bool:
    """The soak's verdict: nothing behind, and each figure (MB) at its end at most
    `SOAK_GROWTH` + 1 MB above where it was at half-time."""
    pairs = zip(half, last, strict=True)
    return lag == 0 and all(end <= mid * (1 + SOAK_GROWTH) + 1 for mid, end in pairs)
