"""Any symbol's simulated day (`streams/simulators/walk.py`): deterministic, plausible, in its
market's hours; what `demo` and `replay` add for the user's own symbols."""

from __future__ import annotations

from pathlib import Path

from crosscurrent.catalog import default_catalog
from crosscurrent.config import load_config
from streams.simulators.walk import day_of, own_events, price_at
from streams.tape import read_tape
from tests.conftest import SEED_TAPE


def test_a_symbols_day_is_its_own_and_the_same_every_time() -> None:
    assert day_of("NVDA") == day_of("NVDA") != day_of("SOLUSDT")
    close, change = day_of("NVDA")
    assert 10 <= close <= 10_000 and -3 <= change <= 3
    assert price_at("NVDA", 7) == price_at("NVDA", 7)
    assert abs(price_at("NVDA", 7) / close - 1 - change / 100) <= 0.0005


def test_the_tape_gets_the_users_own_symbols_in_their_hours(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("watchlist: [crypto:BTC, SOL/USDT, NVDA]\n")
    watchlist = load_config(config, env={}).watchlist
    tape = read_tape(SEED_TAPE)
    before = len(tape.events)
    added = own_events(tape, watchlist)
    assert added == len(tape.events) - before > 0
    nvda = [e for e in tape.events if e.id == "us:NVDA"]
    calendar = default_catalog()["us:NVDA"].calendar
    assert nvda and all(calendar.is_open(e.ts) for e in nvda)  # NYSE hours only
    assert {e.prev_close for e in nvda} == {day_of("NVDA")[0]}
    assert len([e for e in tape.events if e.id == "crypto:SOL"]) > len(nvda)  # 24/7
    assert [e.ts for e in tape.events] == sorted(e.ts for e in tape.events)
    assert own_events(tape, watchlist) == 0  # the tape has them now; BTC was never added
