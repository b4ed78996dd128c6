"""The back-test's summary from hand-built alerts and bars: what is counted, which days are
calm or big, the verdicts and the CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

from crosscurrent.bars import DailyBar
from crosscurrent.events import Alert, AlertState, Severity
from reporters.backtest_summary import Summary, Targets, session_changes, summarize

FIRST, LAST = date(2024, 1, 3), date(2024, 1, 8)


def bar(day: date, close: float) -> DailyBar:
    return DailyBar(date=day, open=close, high=close, low=close, close=close)


def alert(when: str, detector: str, key: str, severity: Severity,
          state: AlertState = AlertState.FIRING) -> Alert:
    ts = int(datetime.fromisoformat(when).replace(tzinfo=UTC).timestamp() * 1000)
    return Alert(ts=ts, detector=detector, key=key, state=state, severity=severity,
                 ids=(key.split(":", 1)[1],), title=key)


BARS = {
    "us:SPX": [bar(date(2024, 1, 2), 100.0),   # before the range: only a previous close
               bar(date(2024, 1, 3), 100.5),   # +0.5%: calm
               bar(date(2024, 1, 4), 105.525),  # +5%: a big move
               bar(date(2024, 1, 5), 105.3),   # -0.2%, but HSI +2%: not calm
               bar(date(2024, 1, 8), 105.4)],  # +0.1%: calm
    "hk:HSI": [bar(date(2024, 1, 4), 100.0),   # its first bar: no change
               bar(date(2024, 1, 5), 102.0)],
    "crypto:BTC": [bar(date(2024, 1, 2), 100.0),
                   bar(date(2024, 1, 3), 101.0),   # +1%: within 3%
                   bar(date(2024, 1, 6), 121.2)],  # Saturday, +20%: big, not a trading day
}
ALERTS = [
    alert("2024-01-03T15:00:00", "divergence", "divergence:crypto:BTC", Severity.WARNING),
    alert("2024-01-04T15:00:00", "large_move", "large_move:us:SPX", Severity.WARNING),
    alert("2024-01-04T16:00:00", "large_move", "large_move:us:SPX", Severity.CRITICAL),
    alert("2024-01-04T20:00:00", "large_move", "large_move:us:SPX", Severity.CRITICAL,
          AlertState.RESOLVED),  # a resolution is no firing
    alert("2024-01-05T02:00:00", "chain", "chain:intact:US", Severity.INFO),
    alert("2024-01-06T12:00:00", "large_move", "large_move:crypto:BTC", Severity.WARNING),
]


def summary(targets: Targets | None = None) -> Summary:
    return summarize(ALERTS, BARS, FIRST, LAST, events=123, targets=targets)


def test_an_alert_counts_once_a_day_at_its_highest_severity() -> None:
    found = summary()
    # SPX's warning escalated to critical on 01-04: one critical alert that day
    assert [(r.detector, r.info, r.warning, r.critical) for r in found.rows] == [
        ("chain", 1, 0, 0), ("divergence", 0, 1, 0), ("large_move", 0, 1, 1)]
    assert (found.total("info"), found.total("warning"), found.total("critical")) == (1, 2, 1)
    total = found.total_row()
    assert (total.detector, total.info, total.warning, total.critical) == ("total", 1, 2, 1)
    assert found.trading_days == 4  # the dates with an SPX or HSI bar; not Saturday's BTC
    assert found.events == 123 and (found.first, found.last) == (FIRST, LAST)
    assert found.loud_per_day == 3 / 4 and found.critical_per_day == 1 / 4
    again = summarize([*ALERTS, alert("2024-01-04T19:00:00", "large_move",
                                      "large_move:us:SPX", Severity.CRITICAL)],
                      BARS, FIRST, LAST, events=1)
    assert again.total("critical") == 1  # fired again the same day: the same alert
    next_day = summarize([*ALERTS, alert("2024-01-05T15:00:00", "large_move",
                                         "large_move:us:SPX", Severity.CRITICAL)],
                         BARS, FIRST, LAST, events=1)
    assert next_day.total("critical") == 2


def test_calm_days_and_the_noise_on_them() -> None:
    found = summary()
    # calm: 01-03 (SPX +0.5%, BTC +1%; a warning fired) and 01-08 (SPX +0.1%)
    assert (found.calm_days, found.calm_days_loud) == (2, 1)
    assert found.calm_noise == 0.5
    looser = summary(Targets(calm_index_pct=3.0))  # HSI's +2% is calm now
    assert (looser.calm_days, looser.calm_days_loud) == (3, 1)


def test_big_move_days_with_what_fired_on_them() -> None:
    found = summary()
    assert [(d.date, d.moves, d.worst, d.critical) for d in found.big_days] == [
        (date(2024, 1, 4), {"us:SPX": 5.0}, "critical", ["large_move:us:SPX"]),
        (date(2024, 1, 6), {"crypto:BTC": 20.0}, "warning", []),
    ]
    assert summary(Targets(big_index_pct=6.0, big_crypto_pct=25.0)).big_days == []


def test_verdicts_name_the_target_the_measure_and_the_missed_days() -> None:
    assert summary().verdicts() == [
        ("warning+critical <= 0.3 per trading day", "0.7500", False),
        ("critical <= 0.05 per trading day", "0.2500", False),
        ("a critical on every big-move day", "1 of 2 (missed 2024-01-06)", False),
    ]
    lenient = summary(Targets(loud_per_day=1.0, critical_per_day=0.25, big_crypto_pct=25.0))
    assert lenient.verdicts() == [
        ("warning+critical <= 1 per trading day", "0.7500", True),
        ("critical <= 0.25 per trading day", "0.2500", True),
        ("a critical on every big-move day", "1 of 1", True),
    ]


def test_csv_has_a_row_per_detector_and_a_total() -> None:
    rows = list(csv.reader(io.StringIO(summary().csv_text())))
    assert rows == [
        ["detector", "info", "warning", "critical", "loud_per_trading_day"],
        ["chain", "1", "0", "0", "0.0000"],
        ["divergence", "0", "1", "0", "0.2500"],
        ["large_move", "0", "1", "1", "0.5000"],
        ["total", "1", "2", "1", "0.7500"],
    ]


def test_no_change_is_taken_across_a_gap_in_the_data() -> None:
    bars = {"us:SPX": [bar(date(2013, 12, 31), 1848.36), bar(date(2016, 8, 1), 2170.84),
                       bar(date(2016, 8, 2), 2157.03)]}
    changes = session_changes(bars, date(2013, 1, 1), date(2016, 12, 31))
    assert set(changes) == {date(2016, 8, 2)}  # not 2016-08-01's +17%
    found = summarize([], bars, date(2016, 8, 1), date(2016, 8, 2), events=8)
    # 2016-08-01 has no change to judge: a trading day, not a calm one
    assert found.big_days == [] and found.trading_days == 2 and found.calm_days == 1
    assert found.rows == [] and found.loud_per_day == 0.0
    assert found.csv_text().splitlines()[-1] == "total,0,0,0,0.0000"


def test_an_empty_range_divides_by_nothing() -> None:
    found = summarize([], BARS, date(2030, 1, 1), date(2030, 1, 2), events=0)
    assert found.trading_days == 0 and found.calm_noise == 0.0
    assert [met for _, _, met in found.verdicts()] == [True, True, True]


def test_only_indices_and_spot_crypto_make_a_big_or_unquiet_day() -> None:
    """Funding rates, perpetuals, volatility and commodities move a lot: not the issue's moves."""
    day, before = date(2024, 1, 3), date(2024, 1, 2)
    bars = {ident: [bar(before, 100.0), bar(day, 150.0)]
            for ident in ("funding:BTC", "perp:BTC", "macro:VIX", "macro:WTI")}
    found = summarize([], bars, day, day, events=0)
    # no index or spot crypto moved that day: nothing says it was calm
    assert found.big_days == [] and (found.calm_days, found.trading_days) == (0, 1)
    bars["crypto:ETH"] = [bar(before, 100.0), bar(day, 116.0)]
    assert [d.moves for d in summarize([], bars, day, day, events=0).big_days] == [
        {"crypto:ETH": 16.0}]
