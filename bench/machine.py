"""Gauges of the machine the benchmarks run on, read before and after the parts.

A shared virtual machine varies from hour to hour, and figures per core follow it: the
loop gauge times plain Python, the round-trip gauge times what every hop through the bus
costs (a PING to the bench's Redis over the connection the pipeline's calls use). On some
VMs waking an idle virtual CPU takes a millisecond or more, which no code on it avoids. The
wake-up gauge is the CPU a process spends only to be woken for each of 10,000 messages a
second, sent one at a time as a feed's frames arrive: a floor under the pipeline's CPU at
that load. The steal gauge is the share of the virtual CPUs' time the host gave to others
(Linux's /proc/stat), when a process here was ready to run and did not.
"""

from __future__ import annotations

import asyncio
import os
import platform
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from redis import asyncio as aioredis

from bench import BenchError
from crosscurrent.loop import loop_in_use
from detectors import RUNS_AS, compiled
from streams.redis_client import Link, connect


def machine() -> str:
    return (f"machine: {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, event loop {loop_in_use()}, "
            f"detectors {compiled.described(RUNS_AS)}")


def reference_loop(n: int = 10_000_000) -> float:
    """Seconds a plain Python loop of `n` additions takes: how fast this (shared, virtual)
    machine runs at the moment, so that runs on different days can be set side by side."""
    started, total = time.perf_counter(), 0
    for i in range(n):
        total += i
    return time.perf_counter() - started


@dataclass(frozen=True)
class RoundTrips:
    """Redis round trips in µs: p50 and p99 back to back, and with `gap_ms` between them."""

    back_to_back: tuple[float, float]
    apart: tuple[float, float]
    gap_ms: float

    def line(self) -> str:
        return (f"back to back p50 {self.back_to_back[0]:.0f} / p99 {self.back_to_back[1]:.0f}"
                f" µs, {self.gap_ms:g} ms apart p50 {self.apart[0]:.0f} / p99 "
                f"{self.apart[1]:.0f} µs")


def _p50_p99(samples: list[float]) -> tuple[float, float]:
    samples.sort()
    return samples[len(samples) // 2], samples[int(len(samples) * 0.99)]


async def round_trips(url: str, n: int = 1000, gap_ms: float = 1.0) -> RoundTrips:
    """PING round trips to Redis at `url`, `n` back to back then `n` each `gap_ms` apart."""
    redis = await connect(url)
    link = Link(redis)
    try:
        await link.call("PING")  # connected before the clock
        found = []
        for gap in (0.0, gap_ms / 1000):
            samples = []
            for _ in range(n):
                if gap:
                    await asyncio.sleep(gap)
                started = time.perf_counter()
                await link.call("PING")
                samples.append((time.perf_counter() - started) * 1e6)
            found.append(_p50_p99(samples))
        return RoundTrips(found[0], found[1], gap_ms)
    finally:
        await redis.aclose()


# Writes `n` one-byte messages to fd ARGV[1] at `rate` a second, each on its own.
_SENDER = """
import os, sys, time
fd, rate, n = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
started, sent = time.perf_counter(), 0
while sent < n:
    due = min(n, int((time.perf_counter() - started) * rate) + 1)
    while sent < due:
        os.write(fd, b"x")
        sent += 1
    time.sleep(0.00005)
"""


class GaugeError(BenchError, RuntimeError):
    """A gauge of the machine could not be read."""


class _Counter(asyncio.Protocol):
    def __init__(self, n: int, done: asyncio.Future[None]) -> None:
        self.n, self.left, self.done = n, n, done

    def data_received(self, data: bytes) -> None:
        self.left -= len(data)
        if self.left <= 0 and not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(GaugeError(
                f"the wake-up gauge's sender process stopped after {self.n - self.left:,} of "
                f"{self.n:,} messages; is the machine short of memory or processes? Run the "
                "bench again"))


async def wake_cost(rate: float = 10_000, n: int = 10_000, sender: str = _SENDER) -> float:
    """µs of this process's CPU per message to take `rate` messages a second from another
    process over loopback TCP, each written alone, on the event loop in use, doing nothing
    with them. Raises GaugeError if the sender (`sender`: its Python code) stops early."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    # TCP, as a feed's frames come
    with socket.create_server(("127.0.0.1", 0)) as server, \
            socket.create_connection(server.getsockname()) as theirs:
        theirs.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as asyncio's servers
        ours, _ = server.accept()
        try:
            transport, _ = await loop.create_connection(lambda: _Counter(n, done), sock=ours)
        except BaseException:
            ours.close()
            raise
        try:
            process = subprocess.Popen([sys.executable, "-c", sender, str(theirs.fileno()),
                                        str(rate), str(n)], pass_fds=[theirs.fileno()])
        except BaseException:
            transport.close()
            raise
    # `theirs` is closed here: the sender holds the only copy, so its end ends the connection
    try:
        started = time.process_time()
        await asyncio.wait_for(done, 60)
        return (time.process_time() - started) / n * 1e6
    finally:
        transport.close()
        process.kill()
        process.wait()


def wake_text(before: float, after: float, rate: float = 10_000) -> str:
    return (f"machine's wake-up cost: taking {rate:,.0f} messages a second one at a time "
            f"over TCP from another process took {before:.1f} µs of CPU each before and "
            f"{after:.1f} after ({before * rate / 1e4:.0f}% and {after * rate / 1e4:.0f}% of "
            "a core, before any work on them)")


Ticks = tuple[int, int]  # (stolen, all) ticks of every virtual CPU so far


def cpu_ticks(stat: Path = Path("/proc/stat")) -> Ticks | None:
    """The machine's CPU ticks so far, stolen and all; None where the kernel gives none."""
    try:
        fields = stat.read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    if fields[:1] != ["cpu"] or len(fields) < 9:
        return None
    ticks = [int(f) for f in fields[1:9]]  # user nice system idle iowait irq softirq steal
    return ticks[7], sum(ticks)


def stolen(since: Ticks | None, until: Ticks | None) -> float | None:
    """The share of the virtual CPUs' time the host took between two readings."""
    if since is None or until is None or until[1] == since[1]:
        return None
    return (until[0] - since[0]) / (until[1] - since[1])


def steal_text(share: float | None) -> str:
    return "steal n/a" if share is None else f"steal {share * 100:.1f}%"


def process_cpu(pid: int, proc: Path = Path("/proc")) -> float | None:
    """CPU seconds a process of this machine has used so far, user and system (Linux's
    /proc/PID/stat); None where it cannot be read."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def is_local(url: str) -> bool:
    """Whether a Redis URL points at this machine (so its server's process can be read)."""
    return url.startswith("unix://") or "127.0.0.1" in url or "localhost" in url


async def redis_pid(redis: aioredis.Redis) -> int:
    return int((await redis.info("server"))["process_id"])
