from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from crosscurrent.bars import BarBuilder
from crosscurrent.events import Metric, Quote, Tick


def ms(text: str, tz: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp() * 1000)


def test_us_evening_ticks_belong_to_the_new_york_session_date() -> None:
    builder = BarBuilder()
    # 15:59 New York on 7 April is already 8 April in UTC (and in Hong Kong)
    late = ms("2026-04-07 15:59", "America/New_York")
    _, bar = builder.update(Tick(id="us:IXIC", ts=late, price=21825.6)) or ("", None)
    assert bar is not None and bar.date == date(2026, 4, 7)


def test_a_hong_kong_day_through_its_lunch_break() -> None:
    builder = BarBuilder()
    for clock, price, turnover in (("09:30", 25300.0, 1e9), ("11:59", 25100.0, 9e10),
                                   ("13:00", 25400.0, 1.1e11), ("16:00", 25180.5, 2.4e11)):
        builder.update(Tick(id="hk:HSI", ts=ms(f"2026-04-08 {clock}", "Asia/Hong_Kong"),
                            price=price, day_volume=turnover))
    bar = builder.current["hk:HSI"]
    assert (bar.open, bar.high, bar.low, bar.close) == (25300.0, 25400.0, 25100.0, 25180.5)
    assert bar.volume == 2.4e11  # cumulative turnover: the latest, not a sum


def test_trade_sizes_add_up_and_a_new_utc_day_starts_a_new_bar() -> None:
    builder = BarBuilder()
    for clock, size in (("2026-04-07 23:59", 0.5), ("2026-04-08 00:00", 0.25),
                        ("2026-04-08 07:00", 0.25)):
        builder.update(Tick(id="crypto:BTC", ts=ms(clock, "UTC"), price=70000.0, volume=size))
    bar = builder.current["crypto:BTC"]
    assert bar.date == date(2026, 4, 8) and bar.volume == 0.5


def test_metrics_make_bars_quotes_and_late_events_do_not() -> None:
    builder = BarBuilder()
    assert builder.update(Metric(id="tvl:lido", ts=ms("2026-04-08 01:00", "UTC"),
                                 value=24e9)) is not None
    assert builder.update(Quote(id="crypto:BTC", ts=0, bid=1, bid_size=1, ask=2,
                                ask_size=1)) is None
    assert builder.update(Metric(id="tvl:lido", ts=ms("2026-04-07 01:00", "UTC"),
                                 value=1.0)) is None
    assert builder.current["tvl:lido"].low == 24e9


def test_a_rolling_24h_volume_is_not_a_session_total() -> None:
    builder = BarBuilder()
    at = ms("2026-04-08 01:00", "UTC")
    builder.update(Tick(id="crypto:BTC", ts=at, price=70000.0, day_volume=15000.0))
    builder.update(Tick(id="crypto:BTC", ts=at + 1, price=70001.0, volume=0.5))
    assert builder.current["crypto:BTC"].volume == 0.5


def test_new_york_dates_hold_across_the_daylight_saving_change() -> None:
    builder = BarBuilder()
    # 15:59 New York is 20:59 UTC in January (EST) and 19:59 UTC in April (EDT)
    for when in ("2026-01-07 15:59", "2026-04-07 15:59"):
        found = builder.update(Tick(id="us:SPX", ts=ms(when, "America/New_York"), price=1.0))
        assert found is not None and found[1].date.isoformat() == when[:10]
