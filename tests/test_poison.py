"""Poison events (absurd times, bad prices) cost only themselves: the replay goes on, says once
what it rejected, and raises the rest of the day's alerts; the agent never dies of one."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import astuple
from pathlib import Path
from typing import Any

from crosscurrent.catalog import default_catalog
from crosscurrent.config import AgentConfig
from crosscurrent.events import Alert, Metric, Tick, encode
from detectors.agent import Agent
from streams.bus import FIELD
from streams.history import HistoryStore
from streams.keys import Keys
from streams.redis_client import connect
from streams.tape import read_tape
from tests.conftest import SEED_TAPE, calm_history
from tests.test_cli import alerts_of, crosscurrent

POISON = '{"ts": "9999-12-31T00:00:00+00:00", "id": "hk:HSTECH", "value": 5567.73, ' \
         '"prev_close": 5610.0}'
YEAR_9999 = 253_402_214_400_000


def poisoned_seed(tmp_path: Path) -> tuple[Path, int]:
    """The seed tape with the poison line in the middle of its events, and its line number."""
    lines = SEED_TAPE.read_text().splitlines()
    events = [i for i, line in enumerate(lines) if line.startswith('{"ts"')]
    at = events[len(events) // 2]
    path = tmp_path / "poison.jsonl"
    path.write_text("\n".join([*lines[:at], POISON, *lines[at:]]) + "\n")
    return path, at + 1


def test_the_poisoned_tape_reads_as_the_seed_tape_with_one_bad_line(tmp_path: Path) -> None:
    path, _ = poisoned_seed(tmp_path)
    poisoned, clean = read_tape(path), read_tape(SEED_TAPE)
    assert poisoned.bad_lines == clean.bad_lines + 1
    assert [astuple(e)[:-1] for e in poisoned.events] == [astuple(e)[:-1] for e in clean.events]
    assert poisoned.end_ms == clean.end_ms  # the tape's clock is never dragged to 9999


def _transitions(out: Path) -> Counter[tuple[object, ...]]:
    return Counter((a["key"], a["state"], a["severity"]) for a in alerts_of(out))


def test_a_9999_event_in_the_seed_tape_gives_the_rest_of_the_day_s_alerts(
        redis_url: str, tmp_path: Path) -> None:
    path, line = poisoned_seed(tmp_path)
    runs = {name: crosscurrent("replay", str(tape), "--speed", "max", "--plain", "--out",
                               str(tmp_path / name), "--redis", redis_url)
            for name, tape in (("clean", SEED_TAPE), ("poison", path))}
    for result in runs.values():
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stdout + result.stderr
    clean, poison = runs["clean"], runs["poison"]
    firing = [row for row in poison.stdout.splitlines() if " FIRING " in row]
    assert len(firing) == len([r for r in clean.stdout.splitlines() if " FIRING " in r]) > 0
    assert _transitions(tmp_path / "poison") == _transitions(tmp_path / "clean")
    said = (poison.stdout + poison.stderr).splitlines()
    named = [row for row in said if "9999-12-31" in row]
    assert len(named) == 1, named
    assert f"poison.jsonl line {line} skipped" in named[0]
    assert "outside the years 1970..2099" in named[0]
    assert "1 bad tape line(s) skipped" in poison.stdout


HISTORY = calm_history(["crypto:BTC", "hk:HSTECH"], "2026-04-08")
HOSTILE = [
    *HISTORY,
    '{"ts":"2026-04-08T01:30:00Z","id":"hk:HSTECH","value":5600,"prev_close":5610}',
    '{"ts":"2026-04-08T01:31:00Z","id":"crypto:BTC","value":71000,"prev_close":68000}',
    '{"ts":"2026-04-08T01:32:00Z","id":"hk:HSTECH","value":-5600,"prev_close":5610}',
    '{"ts":"2026-04-08T01:33:00Z","id":"crypto:BTC","value":-71000,"prev_close":68000}',
    '{"ts":"2026-04-08T01:34:00Z","id":"crypto:BTC","value":1e999,"prev_close":68000}',
    '{"ts":"2019-04-08T01:35:00Z","id":"hk:HSI","value":25000,"prev_close":25100}',
    '{"ts":"2026-04-08T01:35:00Z","id":"funding:BTC","value":-0.0003}',
    '{"ts":"2026-04-08T01:36:00Z","id":"hk:HSTECH","value":-1,"prev_close":5610}',
    '{"ts":"2026-04-08T01:37:00Z","id":"hk:HSTECH","value":5500,"prev_close":5610}',
]


def test_years_past_infinite_and_negative_prices_each_named_once_the_rest_flows(
        redis_url: str, tmp_path: Path) -> None:
    tape = tmp_path / "hostile.jsonl"
    tape.write_text("\n".join(HOSTILE) + "\n")
    result = crosscurrent("replay", str(tape), "--out", str(tmp_path / "out"),
                          "--redis", redis_url, "--speed", "600")
    assert result.returncode == 0, result.stderr
    said = result.stdout + result.stderr
    assert "Traceback" not in said
    # the tape: the infinite price and the event seven years back, each with its line
    assert "2 bad tape line(s) skipped" in result.stdout
    assert f"line {len(HISTORY) + 5} skipped: not JSON (number is infinity" in result.stderr
    assert [row for row in said.splitlines() if "2019-04-08" in row] == [
        row for row in said.splitlines() if f"line {len(HISTORY) + 6} skipped: ts "
        "2019-04-08T01:35Z is 2557 days "
        "before the rest of the tape" in row]
    # the edge: negative prices out of the adapters, one line per source and reason
    assert len(re.findall(r"yahoo: hk:HSTECH at .* rejected: non-positive price", said)) == 1
    assert len(re.findall(r"binance: crypto:BTC at .* rejected: non-positive price", said)) == 1
    assert re.search(r"\d+ events rejected at the edge \(binance: \d+ non-positive price; "
                     r"yahoo: 2 non-positive price\)", result.stdout), result.stdout
    assert "binance-usdm 1 frames sent / 1 read / 0 malformed" in result.stdout  # funding < 0
    divergence = [(a["key"], a["severity"]) for a in alerts_of(tmp_path / "out")
                  if a["detector"] == "divergence"]
    assert divergence == [("divergence:crypto:BTC/hk:HSTECH", "warning"),
                          ("divergence:crypto:BTC/hk:HSTECH", "critical")]
    audited = crosscurrent("audit", "--redis", redis_url, "--namespace", "replay")
    assert audited.returncode == 0, audited.stdout + audited.stderr  # the rest reconciles
    rows = " ".join(audited.stdout.split())
    assert "events rejected 2" in rows and "rejected: 2 non-positive price" in rows, rows


def test_calendars_take_any_time_without_overflowing() -> None:
    for calendar in default_catalog().calendars.values():
        for ts in (YEAR_9999, 10**20, -10**20, -62_135_596_800_000):
            start, end, day = calendar.day_span(ts)
            assert start < end and 1 <= day.year <= 9999
            calendar.is_open(ts)
            assert calendar.session_date(ts) == day


class Fragile:
    """A detector that fails on a price of 13 and counts what it was given."""

    name = "fragile"

    def __init__(self) -> None:
        self.seen: list[float] = []

    def ids(self) -> frozenset[str]:
        return frozenset({"crypto:BTC"})

    def on_event(self, event: Tick | Metric) -> list[Alert]:
        assert isinstance(event, Tick)
        if event.price == 13:
            raise ZeroDivisionError("float division by zero")
        self.seen.append(event.price)
        return []

    def snapshot(self) -> dict[str, Any]:
        return {"seen": self.seen}

    def restore(self, state: dict[str, Any]) -> None:
        self.seen = list(state.get("seen", []))


def test_an_event_a_detector_fails_on_is_counted_malformed_and_skipped(
        redis_url: str, keys: Keys) -> None:
    prices = [1.0, 13.0, 2.0, 13.0, 3.0]

    async def main() -> tuple[Agent, Fragile, dict[bytes, bytes]]:
        redis = await connect(redis_url)
        for i, price in enumerate(prices):
            await redis.xadd(keys.events("crypto"), {FIELD: encode(
                Tick(id="crypto:BTC", ts=1_775_615_760_000 + i, price=price))})
        fragile = Fragile()
        agent = Agent("fragile", [fragile], redis, keys, AgentConfig())
        await agent.start()
        while await agent.step():
            pass
        assert await agent.lag() == 0
        stats: dict[bytes, bytes] = await redis.hgetall(keys.stats)  # type: ignore[assignment]
        await redis.aclose()
        return agent, fragile, stats

    agent, fragile, stats = asyncio.run(main())
    assert fragile.seen == [1.0, 2.0, 3.0]
    assert agent.malformed == 2 and agent.processed == 5
    assert stats[b"agent.fragile.malformed"] == b"2"
    assert stats[b"agent.fragile.consumed"] == b"5"


def test_the_agent_with_baselines_rides_over_a_9999_event(redis_url: str, keys: Keys) -> None:
    from crosscurrent.app import build_detectors
    from crosscurrent.config import load_config

    events = [Tick(id="hk:HSTECH", ts=ts, price=5600.0, prev_close=5610.0)
              for ts in (1_775_615_760_000, YEAR_9999, 1_775_615_820_000)]

    async def main() -> Agent:
        redis = await connect(redis_url)
        for event in events:
            await redis.xadd(keys.events("hk"), {FIELD: encode(event)})
        config = load_config(env={})
        agent = Agent("detectors", build_detectors(config), redis, keys, config.agent,
                      history=HistoryStore(redis, keys, config.history.sessions),
                      window=config.history.window)
        await agent.start()
        while await agent.step():
            pass
        assert await agent.lag() == 0
        await redis.aclose()
        return agent

    agent = asyncio.run(main())
    assert agent.processed == 3
    assert agent.malformed == 0  # the calendars took it: nothing failed on it
