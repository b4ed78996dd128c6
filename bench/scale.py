"""The Faust engine scaling out: 1, 2 and 4 `worker --engine faust` processes on
librdkafka's mock cluster (4 partitions), each run draining the same backlog of N events
over every instrument of the catalog. Figures: events/s of the per-instrument stage in all
and per worker, and the state kept per instrument (its table value).

Every process here (the broker, the workers, Redis) shares this machine's cores: beyond
two workers on two cores the figure shows the machine, not the engine.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from pathlib import Path
from statistics import mean

from rich.console import Console

from crosscurrent.app import build_detectors
from crosscurrent.catalog import default_catalog
from crosscurrent.config import Config
from crosscurrent.events import Tick
from detectors.stages import Instruments, split
from streams.kafka_bus import KafkaWriter, topic_names
from streams.keys import Keys
from streams.redis_client import connect
from streams.simulators.kafka import PARTITIONS, mock_broker

DRAIN_TIMEOUT_S = 600  # a run that has not drained the backlog by then is reported, not waited on


def backlog(events: int, start_ms: int) -> list[Tick]:
    """Random walks of every tick id of the catalog, interleaved, one event per ms."""
    ids = [i.id for i in default_catalog() if not i.id.startswith(("defi:", "stable:"))]
    price = dict.fromkeys(ids, 100.0)
    out = []
    for n in range(events):
        ident = ids[n % len(ids)]
        price[ident] *= 1 + random.gauss(0, 0.002)
        out.append(Tick(id=ident, ts=start_ms + n, price=price[ident], prev_close=100.0,
                        volume=1.0))
    return out


def state_size(config: Config, ticks: list[Tick]) -> float:
    """Bytes of table state per instrument after the backlog."""
    live = Instruments(lambda: split(build_detectors(config))[0], frozenset())
    saved: dict[str, bytes] = {}
    for tick in ticks:
        instrument = live.get(tick.id, saved.get(tick.id))
        instrument.on_event(tick)
        saved[tick.id] = live.saved(tick.id, instrument)
    return mean(len(v) for v in saved.values())


async def one_run(broker: str, url: str, workers: int, ticks: list[Tick], settings: Path
                  ) -> float:
    keys = Keys("cc", f"bench-scale-{workers}-{time.time_ns()}")
    writer = KafkaWriter(f"kafka://{broker}", topic_names("cc", keys.namespace)[0])
    await writer.start()
    sending = asyncio.create_task(writer.run())
    for tick in ticks:
        await writer.put(tick)
    await writer.flush()
    sending.cancel()
    await writer.stop()
    processes = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "crosscurrent", "worker", "--engine", "faust", "--redis", url,
        "--namespace", keys.namespace, "--config", str(settings),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        for _ in range(workers)]
    redis = await connect(url)
    try:
        first = last = 0.0
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while True:
            done = int(await redis.hget(keys.stats, "agent.faust-instruments.consumed") or 0)
            if done and not first:
                first = time.monotonic()
            if done >= len(ticks):
                last = time.monotonic()
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{workers} worker(s) took {done:,} of {len(ticks):,} events "
                                   f"in {DRAIN_TIMEOUT_S} s; run one by hand with --verbose")
            await asyncio.sleep(0.1)
        return len(ticks) / max(last - first, 1e-3)
    finally:
        await redis.aclose()
        for process in processes:
            if process.returncode is None:
                process.kill()
            await process.wait()


async def run_scale(config: Config, url: str, events: int, console: Console,
                    workdir: Path) -> list[str]:
    ticks = backlog(events, time.time_ns() // 1_000_000)
    size = state_size(config, ticks)
    lines = []
    with mock_broker() as broker:
        settings = workdir / "scale.yaml"
        settings.write_text(f"kafka: {{broker: 'kafka://{broker}', partitions: {PARTITIONS}, "
                            "declare: false, session_timeout_s: 6}\n")
        rates = {}
        for workers in (1, 2, 4):
            rates[workers] = await one_run(broker, url, workers, ticks, settings)
            console.print(f"faust, {workers} worker(s): {rates[workers]:,.0f} events/s "
                          f"({rates[workers] / workers:,.0f} per worker)", highlight=False)
        lines.append("faust workers on the mock cluster: " + ", ".join(
            f"{w}: {r:,.0f} events/s" for w, r in rates.items())
            + f" ({rates[2] / rates[1]:.2f}x at 2, {rates[4] / rates[1]:.2f}x at 4)")
    lines.append(f"faust table state per instrument: {size:,.0f} bytes")
    return lines
