from __future__ import annotations

from datetime import date, timedelta

import pytest

from crosscurrent.bars import DailyBar
from crosscurrent.baselines import baseline

TODAY = date(2026, 4, 8)


def history(n: int) -> list[DailyBar]:
    """n completed sessions before TODAY: closes alternate +1% / -1%, volume 100..."""
    bars, close = [], 100.0
    for i in range(n):
        close *= 1.01 if i % 2 else 0.99
        bars.append(DailyBar(date=TODAY - timedelta(days=n - i), open=close, high=close,
                             low=close, close=close, volume=100.0 + i))
    return bars


def test_a_full_window_gives_every_figure() -> None:
    bars = [*history(25), DailyBar(date=TODAY, open=1, high=1, low=1, close=1, volume=5e9)]
    found = baseline(bars, TODAY, window=20, volatility_window=20)
    assert not found.warming_up and found.sessions == 25
    assert found.previous_close == bars[-2].close  # today's bar does not count
    assert found.average_volume == pytest.approx(sum(100.0 + i for i in range(5, 25)) / 20)
    assert found.daily_volatility == pytest.approx((20 / 19) ** 0.5)  # ±1%, sample stdev
    assert found.average_volume is not None
    assert found.volume_ratio(found.average_volume * 1.5) == pytest.approx(1.5)


def test_too_little_history_is_warming_up_not_a_guess() -> None:
    found = baseline(history(3), TODAY, window=20)
    assert found.warming_up and found.sessions == 3
    assert found.previous_close is not None  # one session is enough for that
    assert found.average_volume is None and found.daily_volatility is None
    assert found.volume_ratio(1e9) is None
    assert baseline([], TODAY).previous_close is None


def test_the_usual_move_takes_a_longer_window_and_never_spans_a_gap() -> None:
    bars = history(70)
    assert len(baseline(bars, TODAY, window=20).changes) == 60  # volatility_window
    gapped = [DailyBar(date=TODAY - timedelta(days=400), open=1, high=1, low=1, close=50.0),
              *history(25)]
    found = baseline(gapped, TODAY, window=20)
    assert len(found.changes) == 24  # not the jump from the bar of 400 days before
    assert found.daily_volatility == pytest.approx((24 / 23) ** 0.5, rel=0.01)
    late = baseline(history(25), TODAY + timedelta(days=30), window=20)
    assert late.previous_close is None  # a month of silence: no previous close
