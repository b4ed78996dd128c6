"""PreviousCloses: the close of the last daily bar before a tick's date in its market's zone."""

from __future__ import annotations

from datetime import date

import pytest

from crosscurrent.bars import DailyBar
from crosscurrent.references import CloseReference, PreviousCloses

HK_MORNING = 1775611800000  # 2026-04-08 01:30 UTC = 09:30 Hong Kong, 21:30 (04-07) New York
HK_PRE_OPEN = 1775605500000  # 2026-04-07 23:45 UTC = 07:45 on 04-08 in Hong Kong
NY_EVENING = 1775608200000  # 2026-04-08 00:30 UTC = 20:30 on 04-07 in New York


def bar(day: int, close: float) -> DailyBar:
    return DailyBar(date=date(2026, 4, day), open=close, high=close, low=close, close=close)


def closes() -> PreviousCloses:
    found = PreviousCloses()
    found.set("hk:HSI", [bar(8, 25180.0), bar(3, 24900.0), bar(7, 25357.21), bar(6, 25001.0)])
    found.set("us:SPX", [bar(6, 6600.5), bar(7, 6650.25)])
    return found


@pytest.mark.parametrize(("ident", "ts", "expected"), [
    ("hk:HSI", HK_MORNING, 25357.21),  # the 04-07 close: 04-08's own bar does not count
    ("hk:HSI", HK_PRE_OPEN, 25357.21),  # UTC says 04-07, Hong Kong says 04-08
    ("us:SPX", NY_EVENING, 6600.5),  # UTC says 04-08, New York says 04-07
    ("us:SPX", HK_MORNING, 6600.5),
    ("crypto:BTC", HK_MORNING, None),  # no history for it
])
def test_the_close_before_the_tick_s_date_in_the_market_s_zone(
        ident: str, ts: int, expected: float | None) -> None:
    assert closes().previous_close(ident, ts) == expected


def test_nothing_before_the_first_bar_and_nothing_for_a_time_no_calendar_places() -> None:
    found = closes()
    assert found.previous_close("hk:HSI", 1775174400000) is None  # 2026-04-03, the first bar
    assert found.previous_close("hk:HSI", 2**62) is None


def test_set_replaces_add_inserts_in_order_and_bad_closes_are_skipped() -> None:
    found = closes()
    found.set("hk:HSI", [bar(6, 1.0), bar(6, 2.0), bar(7, float("nan")), bar(1, 0.0)])
    assert found.previous_close("hk:HSI", HK_MORNING) == 2.0  # 04-07 skipped; later 04-06 wins
    found.add("hk:HSI", bar(7, 3.0))
    assert found.previous_close("hk:HSI", HK_MORNING) == 3.0
    found.add("hk:HSI", bar(7, 4.0))  # a day's close replaced
    found.add("hk:HSI", bar(2, 5.0))  # an older day inserted before the rest
    assert found.previous_close("hk:HSI", HK_MORNING) == 4.0
    assert found.previous_close("hk:HSI", 1775260800000) == 5.0  # on 04-04: the 04-02 close


def test_unknown_ids_use_utc_dates() -> None:
    found = PreviousCloses()
    found.set("xx:NEW", [bar(7, 10.0), bar(8, 11.0)])
    assert found.previous_close("xx:NEW", HK_PRE_OPEN) is None  # 04-07 UTC: nothing before
    assert found.previous_close("xx:NEW", HK_MORNING) == 10.0


def test_it_is_a_close_reference() -> None:
    reference: CloseReference = PreviousCloses()
    assert reference.previous_close("hk:HSI", HK_MORNING) is None
