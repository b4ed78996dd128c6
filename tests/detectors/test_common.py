from __future__ import annotations

import pytest

from crosscurrent.events import AlertState, Severity, Tick
from detectors.common import (
    DAY_MS,
    Latch,
    Moves,
    Series,
    Sessions,
    graded_level,
    sticky_level,
    yi,
)
from tests.detectors.helpers import metric, tick


def test_the_latch_reports_only_changes() -> None:
    latch = Latch()
    assert latch.move("k", Severity.WARNING) == (AlertState.FIRING, Severity.WARNING)
    assert latch.move("k", Severity.WARNING) is None
    assert latch.move("k", Severity.CRITICAL) == (AlertState.FIRING, Severity.CRITICAL)
    assert latch.move("k", None) == (AlertState.RESOLVED, Severity.CRITICAL)
    assert latch.move("k", None) is None


def test_moves_ignore_late_and_unusable_ticks() -> None:
    moves = Moves()
    assert moves.update(tick("crypto:BTC", 4.0, ts=10))
    assert not moves.update(tick("crypto:BTC", -9.0, ts=5))  # late
    assert not moves.update(Tick(id="crypto:BTC", ts=11, price=float("nan")))
    assert not moves.update(Tick(id="crypto:BTC", ts=12, price=-3.0))
    assert moves.change("crypto:BTC") == pytest.approx(4.0)
    assert moves.mean_change(("crypto:BTC", "crypto:ETH")) is None  # ETH unknown yet
    moves.update(tick("crypto:ETH", 6.0, ts=10))
    assert moves.mean_change(("crypto:BTC", "crypto:ETH")) == pytest.approx(5.0)


def test_a_held_tick_is_taken_once_for_every_detector_sharing_the_view() -> None:
    moves = Moves(shared=True)
    first = tick("crypto:BTC", 4.0, ts=10)
    moves.hold(first)
    assert moves.take(first) == moves.take(first) == Moves.MOVED  # the held verdict
    again = tick("crypto:BTC", 4.0, ts=11)
    moves.hold(again)
    assert moves.take(again) == Moves.SAME
    assert moves.take(tick("crypto:BTC", 4.0, ts=12)) == Moves.SAME  # not held: taken
    assert moves.state() == {}  # the set snapshots a shared view
    moves.load({"quotes": {"crypto:BTC": [1.0, None, 9], "crypto:ETH": [2.0, None, 9]}})
    assert moves.quotes["crypto:BTC"][2] == 12 and moves.price("crypto:ETH") == 2.0  # merged


def test_series_change_is_over_the_window_against_the_value_in_force_at_its_start() -> None:
    series = Series()
    for hour, value in enumerate((100.0, 90.0, 80.0)):
        series.update(metric("tvl:lido", value, ts=hour * 3_600_000))
    found = series.trailing("tvl:lido")
    assert found is not None and found.pct == pytest.approx(-20.0) and not found.full
    series.update(metric("tvl:lido", 70.0, ts=DAY_MS + 3_600_000))  # 100 was in force before
    found = series.trailing("tvl:lido")
    assert found is not None and found.full and found.base == 90.0  # ... 01:00, the horizon
    assert found.pct == pytest.approx(100 * (70 / 90 - 1)) and found.window_ms == DAY_MS
    assert not series.update(metric("tvl:lido", 1.0, ts=0))  # late


def test_sticky_levels_leave_below_80_percent_of_the_threshold() -> None:
    assert sticky_level(3.0, 3.0, 5.0, None) == Severity.WARNING
    assert sticky_level(2.5, 3.0, 5.0, Severity.WARNING) == Severity.WARNING
    assert sticky_level(2.3, 3.0, 5.0, Severity.WARNING) is None
    assert sticky_level(4.2, 3.0, 5.0, Severity.CRITICAL) == Severity.CRITICAL
    assert sticky_level(3.9, 3.0, 5.0, Severity.CRITICAL) == Severity.WARNING


def test_cny_amounts_read_in_yi() -> None:
    assert yi(1.32e12) == "1.32万亿" and yi(5.07e10) == "507.0亿"


def test_a_quote_silent_for_weeks_has_no_change_and_no_old_previous_close() -> None:
    moves = Moves()
    day = 86_400_000
    moves.update(Tick(id="macro:GOLD", ts=0, price=110.0, prev_close=100.0))
    moves.update(Tick(id="us:SPX", ts=0, price=101.0, prev_close=100.0))
    assert moves.change("macro:GOLD") == pytest.approx(10.0)
    moves.update(Tick(id="us:SPX", ts=20 * day, price=102.0, prev_close=101.0))
    assert moves.change("macro:GOLD") is None  # three weeks older than the newest tick
    # back after the silence without a previous close: no change across the gap
    moves.update(Tick(id="macro:GOLD", ts=21 * day, price=120.0))
    assert moves.change("macro:GOLD") is None
    moves.update(Tick(id="macro:GOLD", ts=22 * day, price=121.0, prev_close=120.0))
    assert moves.change("macro:GOLD") == pytest.approx(121 / 120 * 100 - 100)
    # after a weekend the previous close carries on
    moves.update(Tick(id="us:SPX", ts=25 * day, price=103.0))
    assert moves.change("us:SPX") == pytest.approx(103 / 101 * 100 - 100)


def test_graded_levels_rise_at_thresholds_and_fall_only_below_resolve() -> None:
    def walk(sizes: list[float]) -> list[str | None]:
        level, out = None, []
        for size in sizes:
            level = graded_level(size, 1.5, 3.0, 5.0, 1.0, level)
            out.append(None if level is None else str(level))
        return out
    assert walk([1.6, 3.1, 5.2, 4.1, 3.9, 1.1, 0.9]) == [
        "info", "warning", "critical", "critical", "warning", "warning", None]
    assert walk([1.6, 1.2, 0.9]) == ["info", "info", None]


def test_a_market_open_but_not_traded_yet_has_no_change_today() -> None:
    moves, sessions = Moves(), Sessions()
    day = 86_400_000
    monday = 1_776_038_400_000  # 2026-04-13 00:00Z; Hong Kong opens at 01:30Z
    moves.update(Tick(id="hk:HSI", ts=monday - 2 * day + 7 * 3_600_000, price=101.0,
                      prev_close=100.0))  # Friday's close
    moves.update(Tick(id="crypto:BTC", ts=monday - 60_000, price=110.0, prev_close=100.0))
    before_open = monday + 3_600_000
    assert sessions.change(moves, "hk:HSI", before_open) == pytest.approx(1.0)  # latest
    after_open = monday + 2 * 3_600_000  # 02:00Z: open, no tick yet: Friday's is not today's
    assert sessions.change(moves, "hk:HSI", after_open) is None
    assert sessions.mean_change(moves, ("hk:HSI", "crypto:BTC"), after_open) is None
    assert sessions.change(moves, "crypto:BTC", after_open) == pytest.approx(10.0)  # 24/7
    moves.update(Tick(id="hk:HSI", ts=monday + 5_400_000, price=99.0, prev_close=101.0))
    lunch = monday + 4 * 3_600_000 + 30 * 60_000  # 12:30 HKT: the morning's tick stands
    assert sessions.change(moves, "hk:HSI", lunch) == pytest.approx(99 / 101 * 100 - 100)
    evening = monday + 14 * 3_600_000  # closed: the day's last move stands
    assert sessions.change(moves, "hk:HSI", evening) == pytest.approx(99 / 101 * 100 - 100)
