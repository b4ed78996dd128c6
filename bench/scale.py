"""The Faust engine scaling out: 1, 2 and 4 `worker --engine faust` processes on
librdkafka's mock cluster (4 partitions), each run draining the same N events over every
instrument of the catalog.

Each run starts its workers first and waits until every one holds partitions (the group has
settled: a rebalance mid-run would measure the rebalance), then sends the backlog, put into
the `KafkaWriter` beforehand, as fast as it goes. Figures: events/s through both stages, from
the first message sent to the last batch of either stage (each worker records when it
finished its last batch, with its CPU time then); the same per CPU second of each worker; how
busy the machine was meanwhile (all its processes: the broker, Redis, this one, and anything
else running); and the state kept per instrument (its table value).

Every process here shares this machine's cores: beyond two workers on two cores the figure
shows the machine, not the engine. The cross-market stage is one partition, so one worker
runs it beside its share of the per-instrument stage: the CPU per worker shows how much of
the run that worker's share decided.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import mean

from rich.console import Console

from bench.machine import process_cpu
from bench.targets import Verdict
from crosscurrent.app import build_detectors
from crosscurrent.catalog import default_catalog
from crosscurrent.config import Config
from crosscurrent.events import Tick
from detectors.stages import Instruments, split
from streams.kafka_bus import KafkaWriter, topic_names
from streams.keys import Keys
from streams.redis_client import connect
from streams.simulators.kafka import PARTITIONS, mock_broker

ONE_WORKER_S = 30_000  # events/s through one Faust worker, both stages (issue 42)
TWO_VS_ONE = 1.7  # two workers against one
SETTLE_TIMEOUT_S = 120  # for the workers to join their group and hold partitions
DRAIN_TIMEOUT_S = 600  # a run that has not drained the backlog by then is reported, not waited on
STALL_S = 60  # nor one that takes nothing more for this long


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


def machine_ticks(stat: Path = Path("/proc/stat")) -> tuple[int, int] | None:
    """(idle, all) CPU ticks of the machine so far; None where the kernel gives none."""
    try:
        fields = [int(f) for f in stat.read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    return fields[3] + fields[4], sum(fields)


@dataclass
class Run:
    """One run: its figures, and each worker's CPU seconds over it."""

    workers: int
    events: int
    seconds: float  # from the first message sent to the last batch of either stage
    instruments_s: float  # ... to the last batch of the per-instrument stage
    cpu: list[float]  # per worker, over the run (until its last batch)
    busy: float | None  # the machine's cores busy over the run (2.0: both, all the time)

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    @property
    def per_cpu(self) -> list[float]:
        """Events per CPU second of each worker (its share: events / workers)."""
        return [self.events / self.workers / c if c > 0 else 0.0 for c in self.cpu]

    def text(self) -> str:
        cpu = ", ".join(f"{c:.2f}" for c in self.cpu)
        busy = "n/a" if self.busy is None else f"{self.busy:.2f}"
        first = self.events / self.instruments_s
        return (f"{self.rate:,.0f} events/s through both stages ({self.rate / self.workers:,.0f} "
                f"per worker; the per-instrument stage done at {first:,.0f}/s); "
                f"CPU s per worker {cpu} for {self.events:,} events "
                f"({self.events / max(sum(self.cpu), 1e-9):,.0f} events per CPU second in all); "
                f"machine's cores busy {busy} of 2 over the {self.seconds:.2f} s")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def one_run(broker: str, url: str, workers: int, ticks: list[Tick], settings: Path
                  ) -> Run:
    keys = Keys("cc", f"bench-scale-{workers}-{time.time_ns()}")
    writer = KafkaWriter(f"kafka://{broker}", topic_names("cc", keys.namespace)[0],
                         buffer=len(ticks) + 1)
    await writer.start()
    await writer.producer.partitions_for(writer.topic)  # the mock makes the topic now
    processes = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "crosscurrent", "worker", "--engine", "faust", "--redis", url,
        "--namespace", keys.namespace, "--config", str(settings),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        for _ in range(workers)]
    redis = await connect(url)
    sending: asyncio.Task[None] | None = None
    try:
        async def workers_hash() -> dict[str, str]:
            return {_text(k): _text(v) for k, v in (await redis.hgetall(keys.workers)).items()}

        async def stats(field: str) -> int:
            return int(await redis.hget(keys.stats, f"agent.faust-{field}") or 0)

        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while sum(bool(v) for k, v in (await workers_hash()).items()
                  if k.endswith(".partitions")) < workers:
            if any(p.returncode is not None for p in processes) or time.monotonic() > deadline:
                raise RuntimeError(f"{workers} worker(s) did not all get partitions in "
                                   f"{SETTLE_TIMEOUT_S} s; run one by hand with --verbose")
            await asyncio.sleep(0.1)
        for tick in ticks:  # encoded and queued, not sent yet
            await writer.put(tick)
        cpu = [process_cpu(p.pid) or 0.0 for p in processes]
        machine = machine_ticks()
        start = time.time()
        sending = asyncio.create_task(writer.run())
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        seen, moved = (-1, -1), time.monotonic()
        while True:
            done = await stats("instruments.consumed")
            forwarded = await stats("instruments.forwarded")
            taken = await stats("market.taken") + await stats("market.repeated")
            if done >= len(ticks) and taken >= forwarded:
                break
            if (done, taken) != seen:
                seen, moved = (done, taken), time.monotonic()
            dead = [p.pid for p in processes if p.returncode is not None]
            if dead or time.monotonic() > min(deadline, moved + STALL_S):
                raise RuntimeError(
                    f"{workers} worker(s) took {done:,} of {len(ticks):,} events (the market "
                    f"stage {taken:,} of {forwarded:,} changes), "
                    + (f"worker(s) {dead} died" if dead else "then nothing more")
                    + "; run one by hand with --verbose (the mock seems to keep a few MB a "
                    "partition: 200,000 events stopped at 134,380 here)")
            await asyncio.sleep(0.05)
        until = machine_ticks()
        said = await workers_hash()
        ends: dict[str, list[float]] = {"instruments": [], "market": []}
        spent = []
        for process, before in zip(processes, cpu, strict=True):
            last = 0.0
            for stage, found in ends.items():
                mark = next((v for k, v in said.items()
                             if k.endswith(f":{process.pid}.{stage}.last")), None)
                if mark:
                    wall, used = (float(x) for x in mark.split())
                    found.append(wall)
                    last = max(last, used)
            spent.append(max(last - before, 0.0))
        busy = None
        if machine and until and until[1] > machine[1]:
            share = 1 - (until[0] - machine[0]) / (until[1] - machine[1])
            busy = share * 2  # of this machine's two cores
        return Run(workers, len(ticks), max(max(ends["instruments"] + ends["market"]) - start,
                                            1e-3),
                   max(max(ends["instruments"]) - start, 1e-3), spent, busy)
    finally:
        if sending is not None:
            sending.cancel()
        await writer.stop()
        await redis.aclose()
        for process in processes:
            if process.returncode is None:
                process.kill()
            await process.wait()


async def run_scale(config: Config, url: str, events: int, console: Console,
                    workdir: Path) -> list[str | Verdict]:
    ticks = backlog(events, time.time_ns() // 1_000_000)
    size = state_size(config, ticks)
    lines: list[str | Verdict] = []
    with mock_broker() as broker:
        settings = workdir / "scale.yaml"
        settings.write_text(f"kafka: {{broker: 'kafka://{broker}', partitions: {PARTITIONS}, "
                            "declare: false, session_timeout_s: 6}\n")
        runs = {}
        for workers in (1, 2, 4):
            runs[workers] = await one_run(broker, url, workers, ticks, settings)
            console.print(f"faust, {workers} worker(s): {runs[workers].text()}", highlight=False)
    one, two, four = runs[1], runs[2], runs[4]
    lines.append(Verdict("Faust, 1 worker", one.rate, ONE_WORKER_S, "events/s",
                         detail=f"{events:,} events through both stages on the mock cluster; "
                         f"{one.per_cpu[0]:,.0f} per CPU second"))
    lines.append(Verdict(
        "Faust, 2 workers vs 1", two.rate / one.rate, TWO_VS_ONE, "×",
        detail=f"{two.rate:,.0f} against {one.rate:,.0f} events/s; CPU s per worker "
        f"{', '.join(f'{c:.2f}' for c in two.cpu)} against {one.cpu[0]:.2f} alone; cores busy "
        + ("n/a" if two.busy is None else f"{two.busy:.2f} of 2")))
    lines.append(f"Faust, 4 workers: {four.rate:,.0f} events/s, {four.rate / one.rate:.2f}× one "
                 f"(four processes on two cores: the machine's figure, not the engine's)")
    lines.append(f"faust table state per instrument: {size:,.0f} bytes")
    return lines
