"""`crosscurrent bench`: events through simulator -> adapter -> Redis Streams -> agent -> alert.

Two runs on a synthetic BTC/ETH tape whose ETH leg swings around BTC, so the ETH/BTC
divergence fires and resolves every ~40 events:
  throughput  N tape events offered as fast as they are taken, end to end until every
              entry is acknowledged by the agent;
  latency     a fixed offered rate for S seconds; tick-to-alert latency is the time from the
              adapter receiving the triggering frame to the alert being read back from the
              alerts stream by a viewer (an HDR histogram).
"""

from __future__ import annotations

import math
import os
import platform
import resource
import time

from hdrh.histogram import HdrHistogram
from rich.console import Console

from crosscurrent.app import replay
from crosscurrent.config import Config
from crosscurrent.events import Alert
from streams.tape import Tape, TapeEvent

BTC_PREV = ETH_PREV = 100.0


def synthetic_tape(n: int, step_ms: float, start_ms: int) -> Tape:
    events = []
    for i in range(n):
        ts = start_ms + int(i * step_ms)
        if i % 2:
            events.append(TapeEvent(ts=ts, id="crypto:BTC", value=101.0, prev_close=BTC_PREV))
        else:
            swing = 4.0 * math.sin(i / 13.0)
            events.append(TapeEvent(ts=ts, id="crypto:ETH", value=101.0 + swing,
                                    prev_close=ETH_PREV))
    return Tape(events=events)


class _LatencyView:
    def __init__(self) -> None:
        self.histogram = HdrHistogram(1, 60_000_000, 3)  # microseconds
        self.first_ns = 0

    def alert(self, alert: Alert) -> None:
        if alert.trigger_recv_ns:
            self.histogram.record_value(max(1, (time.time_ns() - alert.trigger_recv_ns) // 1000))

    def progress(self, tape_ts: int, done: int, total: int) -> None:
        if done == 1:
            self.first_ns = time.perf_counter_ns()

    def percentiles(self) -> str:
        h = self.histogram
        return " ".join(f"p{p:g} {h.get_value_at_percentile(p) / 1000:.2f} ms"
                        for p in (50, 99, 99.9))


def machine() -> str:
    return (f"machine: {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}")


async def run_spine(config: Config, url: str, events: int, rate: float, seconds: float,
                    console: Console) -> list[str]:
    """Run both spine measurements; returns the summary lines."""
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    view = _LatencyView()
    now_ms = time.time_ns() // 1_000_000
    result = await replay(synthetic_tape(events, 1.0, now_ms), config, url, speed=math.inf,
                          out=None, view=view, namespace="bench")
    wall = (time.perf_counter_ns() - view.first_ns) / 1e9
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    frames = sum(sent for sent, _, _ in result.frames.values())
    lost = sum(sent - read for sent, read, _ in result.frames.values())
    throughput = events / wall
    console.print(f"throughput run: {events} tape events = {frames} websocket frames, "
                  f"{lost} lost, {len(result.alerts)} alerts, {wall:.2f} s wall, "
                  f"{cpu / events * 1e5:.2f} CPU s per 100k tape events (this process)",
                  highlight=False)
    console.print(f"  latency under full load: {view.percentiles()}", highlight=False)

    paced = _LatencyView()
    n = max(2, int(rate * seconds))
    paced_result = await replay(synthetic_tape(n, 1000 / rate, now_ms), config, url, speed=1.0,
                                out=None, view=paced, namespace="bench")
    console.print(f"latency run: {n} tape events at {rate:g}/s, "
                  f"{len(paced_result.alerts)} alerts", highlight=False)
    return [
        f"spine events/s end to end: {throughput:,.0f} tape events/s "
        f"({frames / wall:,.0f} frames/s)",
        f"tick-to-alert at {rate:g} events/s: {paced.percentiles()}",
        f"tick-to-alert at full load: {view.percentiles()}",
    ]
