"""A replay is a function of its tape: the player publishes in step, tape time by tape time."""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from pathlib import Path

from crosscurrent.app import replay
from crosscurrent.config import load_config
from crosscurrent.events import Metric, Tick
from streams.replay import Player
from streams.tape import Tape, TapeEvent, read_tape
from tests.conftest import SEED_TAPE, QuietView


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
