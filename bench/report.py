"""The end-of-day report's cost: the demo day's events (replayed into Redis) read back,
assembled and rendered in all three formats, as `crosscurrent report` does."""

from __future__ import annotations

import math
import statistics
import time
from importlib import resources
from pathlib import Path
from tempfile import TemporaryDirectory

from rich.console import Console

from crosscurrent.config import Config
from reporters.report_data import build, collect
from reporters.report_render import write
from streams.keys import Keys
from streams.redis_client import connect
from streams.tape import read_tape

NAMESPACE = "bench-report"


class _Quiet:
    def alert(self, alert: object) -> None:
        pass

    def progress(self, tape_ts: int, done: int, total: int) -> None:
        pass


async def run_report(config: Config, url: str, console: Console, rounds: int = 5) -> list[str]:
    from crosscurrent.app import replay

    with resources.as_file(resources.files("crosscurrent").joinpath(
            "data/seed-2026-04-08.jsonl")) as path:
        tape = read_tape(path)
    await replay(tape, config, url, speed=math.inf, out=None, view=_Quiet(),
                 namespace=NAMESPACE)
    redis = await connect(url)
    times = []
    try:
        with TemporaryDirectory() as out:
            for _ in range(rounds):
                started = time.perf_counter()
                data = build(*await collect(redis, Keys(config.redis.prefix, NAMESPACE)),
                             config)
                write(data, Path(out))
                times.append(time.perf_counter() - started)
    finally:
        await redis.aclose()
    median = statistics.median(times)
    console.print(f"report: {len(tape.events)} events of a day read from Redis, built and "
                  f"written as md + html + json, {rounds} rounds", highlight=False)
    return [f"end-of-day report for the demo day: {median:.3f} s (median of {rounds})"]
