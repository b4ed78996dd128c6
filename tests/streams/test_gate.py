"""The edge gate: what it rejects, why, and what it lets through."""

from __future__ import annotations

import math

import pytest

from crosscurrent.events import (
    Alert,
    AlertState,
    FeedState,
    FeedStatus,
    Metric,
    Quote,
    Severity,
    Tick,
)
from streams.gate import (
    BAD_ID,
    LATE,
    NON_FINITE_PRICE,
    NON_FINITE_VALUE,
    NON_POSITIVE_PRICE,
    OUT_OF_WINDOW,
    EventGate,
    span,
    when,
)

NOW = 1_775_615_760_000  # 2026-04-08T02:36Z
MINUTE = 60_000
DAY = 86_400_000
YEAR_9999 = 253_402_214_400_000  # 9999-12-31T00:00Z


def tick(ts: int = NOW, price: float = 5600.0, prev_close: float | None = 5610.0,
         ident: str = "hk:HSTECH", volume: float | None = None) -> Tick:
    return Tick(id=ident, ts=ts, price=price, prev_close=prev_close, source="yahoo",
                volume=volume)


def test_a_sane_event_of_every_kind_passes() -> None:
    gate = EventGate()
    assert gate.check(tick(), NOW) is None
    assert gate.check(Quote(id="crypto:BTC", ts=NOW, bid=70_000, bid_size=1, ask=70_001,
                            ask_size=2, source="binance"), NOW) is None
    assert gate.check(Metric(id="funding:BTC", ts=NOW, value=-0.0003, source="binance-usdm"),
                      NOW) is None
    assert gate.check(Metric(id="cn:NORTHBOUND", ts=NOW, value=0.0, source="eastmoney"),
                      NOW) is None
    assert gate.rejected == 0 and not gate.counts


@pytest.mark.parametrize(("event", "reason"), [
    (tick(ts=YEAR_9999), OUT_OF_WINDOW),
    (tick(ts=NOW - 3 * 365 * DAY), OUT_OF_WINDOW),
    (tick(ts=NOW - 7 * DAY - 1), OUT_OF_WINDOW),
    (tick(ts=NOW + 61 * MINUTE), OUT_OF_WINDOW),
    (tick(ts=-1), OUT_OF_WINDOW),
    (tick(price=math.nan), NON_FINITE_PRICE),
    (tick(price=math.inf), NON_FINITE_PRICE),
    (tick(prev_close=-math.inf), NON_FINITE_PRICE),
    (tick(price=-5600.0), NON_POSITIVE_PRICE),
    (tick(price=0.0), NON_POSITIVE_PRICE),
    (tick(prev_close=0.0), NON_POSITIVE_PRICE),
    (Quote(id="crypto:BTC", ts=NOW, bid=math.nan, bid_size=1, ask=1, ask_size=1,
           source="binance"), NON_FINITE_PRICE),
    (Quote(id="crypto:BTC", ts=NOW, bid=1, bid_size=1, ask=-1, ask_size=1,
           source="binance"), NON_POSITIVE_PRICE),
    (Metric(id="funding:BTC", ts=NOW, value=math.nan, source="binance-usdm"), NON_FINITE_VALUE),
    (Metric(id="stable:USDT", ts=NOW, value=-math.inf, source="defillama"), NON_FINITE_VALUE),
    (Tick.model_construct(id="HSTECH", ts=NOW, price=1.0, source="yahoo"), BAD_ID),
    (tick(ident="hk:NOSUCH"), BAD_ID),
])
def test_bad_events_are_rejected_with_their_reason_and_counted(event: Tick | Quote | Metric,
                                                               reason: str) -> None:
    gate = EventGate()
    assert gate.check(event, NOW) == reason
    assert gate.counts == {(event.source, reason): 1}
    assert gate.rejected == 1


def test_the_window_edges_are_accepted_and_configurable() -> None:
    gate = EventGate(max_past_ms=DAY, max_future_ms=MINUTE)
    assert gate.check(tick(ts=NOW - DAY), NOW) is None
    assert gate.check(tick(ts=NOW + MINUTE), NOW) is None
    assert gate.check(tick(ts=NOW + MINUTE + 1), NOW) == OUT_OF_WINDOW
    assert gate.check(tick(ts=NOW - 2 * DAY), NOW) == OUT_OF_WINDOW


def test_time_going_back_within_the_tolerance_passes_beyond_it_is_late() -> None:
    gate = EventGate(late_tolerance_ms=10 * MINUTE)
    assert gate.check(tick(ts=NOW), NOW) is None
    assert gate.check(tick(ts=NOW - 10 * MINUTE), NOW) is None  # within: accepted
    assert gate.check(tick(ts=NOW - 10 * MINUTE - 1), NOW) == LATE
    assert gate.check(tick(ts=NOW - 10 * MINUTE), NOW) is None  # still measured from NOW
    assert gate.counts == {("yahoo", LATE): 1}


def test_a_rejected_event_does_not_move_its_stream_s_latest_time() -> None:
    gate = EventGate()
    assert gate.check(tick(ts=NOW + 30 * MINUTE, price=-1), NOW) == NON_POSITIVE_PRICE
    assert gate.check(tick(ts=NOW), NOW) is None


def test_late_is_measured_per_stream_not_across_them() -> None:
    gate = EventGate(late_tolerance_ms=MINUTE)
    assert gate.check(tick(ts=NOW), NOW) is None
    # another id, another source, a quote, a trade (with a size): each its own stream
    assert gate.check(tick(ts=NOW - 5 * MINUTE, ident="hk:HSI"), NOW) is None
    assert gate.check(Tick(id="hk:HSTECH", ts=NOW - 5 * MINUTE, price=1.0, source="ccxt:okx"),
                      NOW) is None
    assert gate.check(tick(ts=NOW - 5 * MINUTE, volume=3.0), NOW) is None
    assert gate.check(tick(ts=NOW - 5 * MINUTE), NOW) == LATE


def test_status_and_alerts_pass_untouched() -> None:
    gate = EventGate()
    status = FeedStatus(source="yahoo", ts=YEAR_9999, state=FeedState.CONNECTED)
    alert = Alert(ts=-5, detector="x", key="k", state=AlertState.FIRING,
                  severity=Severity.INFO, ids=("hk:HSI",), title="t")
    assert gate.check(status, NOW) is None and gate.check(alert, NOW) is None
    assert gate.rejected == 0


def test_the_description_names_source_id_time_reason_and_window() -> None:
    gate = EventGate()
    event = tick(ts=YEAR_9999)
    assert gate.check(event, NOW) == OUT_OF_WINDOW
    assert gate.describe(event, OUT_OF_WINDOW, NOW) == (
        "yahoo: hk:HSTECH at 9999-12-31T00:00Z rejected: time out of window "
        "(now 2026-04-08T02:36Z, accepted -7 d … +1 h)")
    bad = tick(price=-3.5)
    assert gate.describe(bad, NON_POSITIVE_PRICE, NOW).endswith(
        "rejected: non-positive price (price -3.5, previous close 5610.0)")
    gate.check(tick(ts=NOW), NOW)
    late = tick(ts=NOW - 15 * MINUTE)
    assert gate.check(late, NOW) == LATE
    assert gate.describe(late, LATE, NOW).endswith(
        "late (15 min before the latest ticker tick of the id, tolerance 10 min)")


def test_times_and_spans_read_well_even_out_of_range() -> None:
    assert when(NOW) == "2026-04-08T02:36Z"
    assert when(10**20) == f"{10**20} ms"
    assert [span(n) for n in (7 * DAY, 3_600_000, 10 * MINUTE, 1500)] == [
        "7 d", "1 h", "10 min", "1.5 s"]
