"""The figures every reader shares (`crosscurrent.facts`): one computation per fact."""

from __future__ import annotations

from crosscurrent.facts import (
    DAY_MS,
    HOUR_MS,
    advance_decline,
    breadth_text,
    clock,
    summed,
    trailing_change,
)

T0 = 1775548800000  # 2026-04-07 08:00 UTC


def test_the_24_h_change_is_against_the_value_in_force_24_h_before() -> None:
    points = [[T0 - HOUR_MS, 90.0], [T0 + HOUR_MS, 100.0], [T0 + DAY_MS, 150.0]]
    change = trailing_change(points)
    assert change is not None and change.full
    # the value at T0 is 90 (set an hour before); 100 came after the window opened
    assert (change.base, change.value, change.pct, change.delta) == (90.0, 150.0,
                                                                     (150 / 90 - 1) * 100, 60.0)
    assert change.window == "24 h to 08:00Z (16:00 HKT)"


def test_a_series_shorter_than_the_window_says_the_span_it_covers() -> None:
    change = trailing_change([[T0 + 12 * HOUR_MS, 100.0], [T0 + DAY_MS, 110.0]])
    assert change is not None and not change.full and change.base == 100.0
    assert change.window == "12 h to 08:00Z (16:00 HKT)"
    assert trailing_change([[T0, 1.0]]) is None and trailing_change([]) is None


def test_as_of_takes_the_series_as_it_was_then() -> None:
    points = [[T0, 100.0], [T0 + 6 * HOUR_MS, 120.0], [T0 + 12 * HOUR_MS, 150.0]]
    change = trailing_change(points, as_of=T0 + 6 * HOUR_MS + 1)  # the value in force then
    assert change is not None and (change.value, change.as_of) == (120.0, T0 + 6 * HOUR_MS + 1)
    assert trailing_change(points, as_of=T0) is None  # one value then: no change


def test_sums_add_the_members_with_a_change() -> None:
    usdt = trailing_change([[T0, 183.7e9], [T0 + DAY_MS, 184.1e9]])
    usdc = trailing_change([[T0 + 12 * HOUR_MS, 76.2e9], [T0 + DAY_MS, 76.5e9]])
    total = summed([usdt, usdc, None])
    assert total is not None and round(total.delta) == 700_000_000
    assert total.window == "12 h to 08:00Z (16:00 HKT)"  # the shortest member's span
    assert summed([None]) is None


def test_breadth_is_one_ratio_to_two_decimals() -> None:
    assert advance_decline(1584, 713) == 2.22 and advance_decline(10, 0) is None
    assert breadth_text(1584, 713) == "1584:713 (2.2:1)" and breadth_text(5, 0) == "5:0"
    assert clock(T0) == "08:00Z (16:00 HKT)"


def test_series_asked_as_of_one_moment_share_one_window() -> None:
    """Two supplies polled together, one already updated at 21:00 and one not yet: asked as
    of 21:00 both are over the same 13 h, the second at the value in force (its 20:00)."""
    hour = 3_600_000
    usdc = [[8 * hour, 100.0], [20 * hour, 110.0], [21 * hour, 112.0]]
    usdt = [[8 * hour, 200.0], [20 * hour, 204.0]]
    a, b = trailing_change(usdc, as_of=21 * hour), trailing_change(usdt, as_of=21 * hour)
    assert a is not None and b is not None
    assert (a.value, b.value) == (112.0, 204.0)
    assert a.window == b.window == "13 h to 21:00Z (05:00 HKT)"
    total = summed([a, b])
    assert total is not None and total.delta == 16.0 and total.window == a.window
