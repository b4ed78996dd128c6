from __future__ import annotations

import asyncio
import math
from pathlib import Path

import orjson
import pytest

from crosscurrent.app import replay
from crosscurrent.baselines import Baseline
from crosscurrent.config import load_config
from crosscurrent.detector_config import LevelRule
from crosscurrent.events import AlertState, Severity, Tick
from detectors.level_break import LevelBreakDetector
from streams.tape import read_tape
from tests.conftest import QuietView

RULE = LevelRule(id="hk:HSI", below=25000, volume_ratio=1.5, severity="critical")


def baseline(average_volume: float | None, sessions: int = 25) -> Baseline:
    return Baseline(sessions=sessions, window=20, previous_close=25100.0,
                    average_volume=average_volume, average_close=None, daily_volatility=None)


def hsi(price: float, turnover: float, ts: int = 0) -> Tick:
    return Tick(id="hk:HSI", ts=ts, price=price, day_volume=turnover)


def test_a_break_on_volume_fires_and_resolves_when_the_level_is_regained() -> None:
    detector = LevelBreakDetector([RULE])
    detector.set_baselines({"hk:HSI": baseline(2e11)})
    assert detector.on_event(hsi(25100, 1e11)) == []
    (fired,) = detector.on_event(hsi(24950, 3.2e11, 1))
    assert fired.state == AlertState.FIRING and fired.severity == Severity.CRITICAL
    assert fired.title == "Hang Seng Index broke below 25,000 on volume (1.6x its average)"
    assert fired.values["volume_ratio"] == pytest.approx(1.6)
    assert detector.on_event(hsi(24900, 3.3e11, 2)) == []  # still broken: said once
    (resolved,) = detector.on_event(hsi(25010, 3.4e11, 3))
    assert resolved.state == AlertState.RESOLVED


def test_a_break_on_thin_volume_is_no_alert() -> None:
    detector = LevelBreakDetector([RULE])
    detector.set_baselines({"hk:HSI": baseline(2e11)})
    assert detector.on_event(hsi(24950, 2.5e11)) == []  # 1.25x: not confirmed


def test_warming_up_raises_nothing_and_says_so() -> None:
    detector = LevelBreakDetector([RULE])
    detector.set_baselines({"hk:HSI": baseline(None, sessions=3)})
    assert detector.on_event(hsi(24000, 9e11)) == []
    assert detector.snapshot()["warming_up"] == ["hk:HSI"]


def test_exactly_one_side_per_rule() -> None:
    with pytest.raises(ValueError, match="exactly one of below / above"):
        LevelRule(id="hk:HSI", below=1, above=2)


def tape(path: Path, history: bool) -> Path:
    lines = [orjson.dumps({"kind": "bar", "date": f"2026-03-{10 + i:02d}", "id": "hk:HSI",
                           "open": 25300, "high": 25400, "low": 25200, "close": 25300,
                           "volume": 2e11}) for i in range(21)] if history else []
    for minute, price, turnover in ((30, 25100, 1e11), (45, 24950, 3.2e11)):
        lines.append(orjson.dumps({"ts": f"2026-04-08T07:{minute}:00Z", "id": "hk:HSI",
                                   "value": price, "volume": turnover, "prev_close": 25300}))
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.mark.parametrize("history", [True, False])
def test_seed_day_trigger_hsi_breaks_25k_on_volume_only_with_a_baseline(
        redis_url: str, tmp_path: Path, history: bool) -> None:
    result = asyncio.run(replay(read_tape(tape(tmp_path / "t.jsonl", history)),
                                load_config(env={}), redis_url, speed=math.inf, out=None,
                                view=QuietView(), namespace=f"level-{history}"))
    breaks = [a for a in result.alerts if a.detector == "level_break"]
    if history:
        assert [a.state for a in breaks] == [AlertState.FIRING]
        assert breaks[0].values["volume_ratio"] == pytest.approx(1.6)
    else:
        assert breaks == []  # warming up: no baseline, no guess


def test_summed_volume_survives_a_restart_and_starts_again_next_session() -> None:
    rule = LevelRule(id="crypto:BTC", below=60000, volume_ratio=1.5)
    first = LevelBreakDetector([rule])
    first.set_baselines({"crypto:BTC": baseline(100.0)})
    day = 1775606400000  # 2026-04-08 00:00 UTC
    first.on_event(Tick(id="crypto:BTC", ts=day, price=61000, volume=120.0))
    second = LevelBreakDetector([rule])  # restarted from the snapshot, baselines given again
    second.restore(orjson.loads(orjson.dumps(first.snapshot())))
    second.set_baselines({"crypto:BTC": baseline(100.0)})
    (fired,) = second.on_event(Tick(id="crypto:BTC", ts=day + 1, price=59000, volume=40.0))
    assert fired.values["volume_ratio"] == pytest.approx(1.6)  # 120 + 40 of the same session
    next_day = LevelBreakDetector([rule])
    next_day.set_baselines({"crypto:BTC": baseline(100.0)})
    next_day.on_event(Tick(id="crypto:BTC", ts=day, price=61000, volume=120.0))
    assert next_day.on_event(Tick(id="crypto:BTC", ts=day + 86_400_000, price=59000,
                                  volume=40.0)) == []  # a new session: 40 alone is thin
