"""`crosscurrent bench`: events through simulator -> adapter -> Redis Streams -> agent -> alert.

A synthetic BTC/ETH tape whose ETH leg swings around BTC, so the ETH/BTC divergence fires and
resolves every ~40 events: N tape events offered as fast as they are taken, end to end (all
in this process, the simulator too) until every entry is acknowledged by the agent. The
sources race to the bus as they do live (not in step with the tape, as replays are).
Latency at fixed loads is `bench/latency.py`.
"""

from __future__ import annotations

import math
import resource
import time

from rich.console import Console

from crosscurrent.app import replay
from crosscurrent.config import Config
from crosscurrent.events import Alert
from streams.tape import Tape, TapeEvent

BTC_PREV = ETH_PREV = 100.0


def synthetic_event(i: int, ts: int) -> TapeEvent:
    """The i-th event: BTC flat, ETH swinging around it (the divergence fires and resolves
    every ~40 events)."""
    if i % 2:
        return TapeEvent(ts=ts, id="crypto:BTC", value=101.0, prev_close=BTC_PREV)
    return TapeEvent(ts=ts, id="crypto:ETH", value=101.0 + 4.0 * math.sin(i / 13.0),
                     prev_close=ETH_PREV)


def synthetic_tape(n: int, step_ms: float, start_ms: int) -> Tape:
    return Tape(events=[synthetic_event(i, start_ms + int(i * step_ms)) for i in range(n)])


class _Clock:
    """The replay's view: notes when the first event went out."""

    def __init__(self) -> None:
        self.first_ns = 0

    def alert(self, alert: Alert) -> None:
        pass

    def progress(self, tape_ts: int, done: int, total: int) -> None:
        if done == 1:
            self.first_ns = time.perf_counter_ns()


def cpu_seconds() -> float:
    """This process's CPU time so far, user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_spine(config: Config, url: str, events: int, console: Console) -> list[str]:
    """The throughput run; returns the summary line."""
    cpu0 = cpu_seconds()
    view = _Clock()
    now_ms = time.time_ns() // 1_000_000
    result = await replay(synthetic_tape(events, 1.0, now_ms), config, url, speed=math.inf,
                          out=None, view=view, namespace="bench", in_step=False)
    wall = (time.perf_counter_ns() - view.first_ns) / 1e9
    cpu = cpu_seconds() - cpu0
    frames = sum(sent for sent, _, _ in result.frames.values())
    lost = sum(sent - read for sent, read, _ in result.frames.values())
    throughput = events / wall
    console.print(f"throughput run: {events} tape events = {frames} websocket frames, "
                  f"{lost} lost, {len(result.alerts)} alerts, {wall:.2f} s wall, "
                  f"{cpu / events * 1e5:.2f} CPU s per 100k tape events (this process)",
                  highlight=False)
    return [f"spine events/s end to end: {throughput:,.0f} tape events/s "
            f"({frames / wall:,.0f} frames/s)"]
