"""The end-of-day report's cost for a full day's state, as `crosscurrent report` builds it.

The demo day is replayed into Redis (its events, alerts and the detectors' state); then every
id of the catalog gets a bucket for each five minutes of the 36 hours the report reads (a
random walk from its last value), as the history recorder keeps them on a live day. The
report is read back, assembled and rendered in all three formats.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from tempfile import TemporaryDirectory

from redis import asyncio as aioredis
from rich.console import Console

from bench.targets import REPORT_S, Verdict
from crosscurrent.catalog import default_catalog
from crosscurrent.config import Config
from crosscurrent.intraday import BUCKET_MS, Bucket
from reporters.report_data import build, collect, day_window
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


async def fill_day(redis: aioredis.Redis, keys: Keys, start: int, end: int) -> int:
    """A bucket every five minutes from `start` to `end` for every catalog id; returns the
    number of buckets written."""
    walk = random.Random(8)
    written = 0
    async with redis.pipeline(transaction=False) as pipe:
        for instrument in default_catalog():
            value = 100.0
            for bucket_start in range(start, end, BUCKET_MS):
                step = value * walk.gauss(0, 0.001)
                bucket = Bucket(bucket_start, value, bucket_start + BUCKET_MS - 1, value + step,
                                max(value, value + step), min(value, value + step),
                                bucket_start, 100.0, 1.0, 1.0, True)
                value += step
                day = datetime.fromtimestamp(bucket_start / 1000, UTC).date().isoformat()
                pipe.hset(keys.intraday(day, instrument.id), str(bucket_start), bucket.dump())
                written += 1
        await pipe.execute()
    return written


async def run_report(config: Config, url: str, console: Console, rounds: int = 5
                     ) -> list[str | Verdict]:
    from crosscurrent.app import replay

    with resources.as_file(resources.files("crosscurrent").joinpath(
            "data/seed-2026-04-08.jsonl")) as path:
        tape = read_tape(path)
    await replay(tape, config, url, speed=math.inf, out=None, view=_Quiet(),
                 namespace=NAMESPACE)
    redis = await connect(url)
    keys = Keys(config.redis.prefix, NAMESPACE)
    start, end = day_window(datetime.fromtimestamp(tape.end_ms / 1000, UTC).date())
    buckets = await fill_day(redis, keys, start, end)
    times = []
    try:
        with TemporaryDirectory() as out:
            for _ in range(rounds):
                started = time.perf_counter()
                write(build(*await collect(redis, keys), config), Path(out))
                times.append(time.perf_counter() - started)
    finally:
        await redis.aclose()
    median = statistics.median(times)
    console.print(f"report: {buckets:,} five-minute buckets ({len(list(default_catalog()))} "
                  "ids, 36 h each) with the demo day's alerts and state, read from Redis, "
                  f"built and written as md + html + json, {rounds} rounds", highlight=False)
    return [Verdict("end-of-day report of a full day", median, REPORT_S, "s", ceiling=True,
                    detail=f"{buckets:,} buckets, median of {rounds}")]
