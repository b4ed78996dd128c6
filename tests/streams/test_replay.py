"""A replay is a function of its tape: the player publishes in step, tape time by tape time."""

from __future__ import annotations

import asyncio
import json
import math
import re
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from crosscurrent.app import replay
from crosscurrent.config import load_config
from crosscurrent.events import Metric, Tick
from reporters.audit import audit
from streams.keys import Keys
from streams.redis_client import connect
from streams.replay import Player
from streams.tape import Tape, TapeEvent, read_tape
from tests.conftest import SEED_TAPE, QuietView
from tests.test_cli import crosscurrent


class Counting:
    """A stand-in simulator that notes what it was given (the player's own logic)."""

    def __init__(self, source: str, log: list[str]) -> None:
        self.source, self.log, self.frames_sent = source, log, 0

    async def publish(self, event: TapeEvent) -> int:
        self.log.append(f"{self.source} {event.id} {event.ts}")
        return 1


def test_the_player_settles_each_tape_time_before_the_next() -> None:
    """Every event of a tape time is published, then `settle` is told which sources they
    went to, before any event of a later time."""
    log: list[str] = []
    events = [TapeEvent(ts=1, id="crypto:BTC", value=1.0), TapeEvent(ts=1, id="hk:HSI", value=2.0),
              TapeEvent(ts=2, id="stable:USDT", value=3.0),
              TapeEvent(ts=2, id="crypto:BTC", value=4.0),
              TapeEvent(ts=3, id="hk:HSI", value=5.0, source="tape")]
    simulators = {name: Counting(name, log) for name in ("binance", "yahoo", "defillama")}
    direct: list[Tick | Metric] = []

    async def settle(sources: frozenset[str]) -> None:
        log.append("settle " + ",".join(sorted(sources)))

    async def into_bus(event: Tick | Metric) -> None:
        direct.append(event)
        log.append(f"direct {event.id} {event.ts}")

    asyncio.run(Player(Tape(events=events), simulators, into_bus, math.inf)  # type: ignore[arg-type]
                .play(settle=settle))
    assert log == ["binance crypto:BTC 1", "yahoo hk:HSI 1", "settle binance,yahoo",
                   "defillama stable:USDT 2", "binance crypto:BTC 2", "settle binance,defillama",
                   "direct hk:HSI 3", "settle "]


def replayed(redis_url: str, speed: float, out: Path) -> tuple[list[dict[str, object]], str]:
    """The seed day replayed: its alert lines without their wall-clock field, and its
    report.json."""
    tape = read_tape(SEED_TAPE)
    namespace = f"replay-{uuid.uuid4().hex[:8]}"
    config = load_config(None, env={"CROSSCURRENT_REDIS_PREFIX": "cctest"})
    asyncio.run(replay(tape, config, redis_url, speed=speed, out=out, view=QuietView(),
                       namespace=namespace))
    lines = [json.loads(line) for line in (out / "alerts.jsonl").read_text().splitlines()]
    for line in lines:
        assert isinstance(line.pop("trigger_recv_ns"), int)  # when it was processed: wall clock
    return lines, (out / "report.json").read_text()


def test_replays_of_one_tape_give_the_same_alerts_and_report(redis_url: str,
                                                             tmp_path: Path) -> None:
    """At full speed twice and paced once, the seed day gives the same alert transitions
    (every field but the wall-clock one, in the same order) and the same report: the sources
    no longer race each other to the bus."""
    first, report = replayed(redis_url, math.inf, tmp_path / "a")
    assert len(first) >= 10
    assert replayed(redis_url, math.inf, tmp_path / "b") == (first, report)
    assert replayed(redis_url, 20_000, tmp_path / "c") == (first, report)


def feeds_rows(stdout: str) -> dict[str, tuple[str, str]]:
    """The rows of the `feeds` table as printed piped (plain, columns two spaces apart and
    the first four never blank on a source's row), source (and connection) -> its state and
    frames."""
    lines = [re.split(r" {2,}", line.strip()) for line in stdout.splitlines()]
    (start,) = [n for n, cells in enumerate(lines) if cells[:4] == ["source", "ids", "state",
                                                                     "since"]]
    assert lines[start][4:] == ["frames", "malformed", "reconnects", "detail"], stdout
    return {cells[0]: (cells[2], cells[4]) for cells in lines[start + 1:] if len(cells) >= 7}


class Midway(QuietView):
    """A front end that, once the player published the tape's last event (the replay still
    running: the tape's end not settled, drained nor counted), holds the replay's event loop
    while `look` reads its Redis from another thread."""

    def __init__(self, look: Callable[[], None]) -> None:
        self.look, self.looked = look, False

    def progress(self, tape_ts: int, done: int, total: int) -> None:
        if done == total:
            with ThreadPoolExecutor(1) as thread:
                thread.submit(self.look).result()
            self.looked = True


def test_feeds_shows_the_frames_replayed_so_far_as_audit_counts_them(redis_url: str,
                                                                   keys: Keys) -> None:
    """Issue 41: `crosscurrent feeds` during a replay showed 0 frames for every source. An
    hour of the seed day with every simulated source but the A-share one, then a pause of
    4 tape hours (4 s) and one event straight into the bus: during the pause, every frame
    sent was read and flushed, and `feeds` (the command, against the running replay's Redis)
    shows each source's, the figure `audit` counts; after the replay, the same figures, which
    the replay counted once."""
    seed = read_tape(SEED_TAPE)
    start = seed.events[0].ts + 13 * 3_600_000  # 21:00Z: every market but the A-shares
    hour = [e for e in seed.events if start <= e.ts <= start + 3_600_000]
    pause = replace(hour[-1], ts=hour[-1].ts + 4 * 3_600_000, source="tape")  # no frame
    tape = Tape(events=[*hour, pause], bars=seed.bars)
    config = load_config(None, env={"CROSSCURRENT_REDIS_PREFIX": keys.prefix})
    env = {"CROSSCURRENT_REDIS_PREFIX": keys.prefix}
    during: dict[str, Any] = {}

    def look() -> None:
        async def read() -> None:
            redis = await connect(redis_url)
            try:
                during["replay"] = await redis.get(keys.replayed)
                during["audit"] = await audit(redis, keys)
            finally:
                await redis.aclose()

        asyncio.run(read())
        during["feeds"] = crosscurrent("feeds", "--redis", redis_url, "--namespace",
                                       keys.namespace, env=env)

    view = Midway(look)
    result = asyncio.run(replay(tape, config, redis_url, speed=3600, out=None, view=view,
                               namespace=keys.namespace))
    assert view.looked and during["replay"] == b"running"
    assert during["feeds"].returncode == 0, during["feeds"].stderr
    rows = feeds_rows(during["feeds"].stdout)
    counted = {x.name: x.counts for x in during["audit"].lines if x.stage == "feed"}
    assert set(result.frames) == set(counted) == {
        "binance", "binance-usdm", "binance-coinm", "yahoo", "defillama", "coingecko"}
    for source, (sent, received, malformed) in result.frames.items():
        mine = {name: row for name, row in rows.items() if name.split()[0] == source}
        assert mine and all(state == "connected" for state, _ in mine.values()), rows
        shown = [int(frames) for _, frames in mine.values() if frames != "↑"]
        assert shown == [counted[source]["received"]] == [received], (source, rows, counted)
        assert sent == received > 0 and malformed == 0

    # once the replay is over: the same figures, counted once
    after = crosscurrent("feeds", "--redis", redis_url, "--namespace", keys.namespace, env=env)
    assert after.returncode == 0, after.stderr
    assert {name.split()[0]: int(frames) for name, (_, frames) in feeds_rows(
        after.stdout).items() if frames != "↑"} == {
            source: received for source, (_, received, _) in result.frames.items()}
