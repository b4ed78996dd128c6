"""Five-minute buckets merge to what folding the events in time order gives."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given
from hypothesis import strategies as st

from crosscurrent.events import Metric, Tick
from crosscurrent.intraday import BUCKET_MS, Bucket, gather, merge

START = 1775606400000  # 2026-04-08 00:00 UTC


@dataclass
class Folded:
    """The report's fold of events, one at a time (the oracle)."""

    first: float
    last: float
    high: float
    low: float
    prev_close: float | None
    volume: float | None = None
    samples: dict[int, float] = field(default_factory=dict)


def fold(events: list[Tick | Metric]) -> Folded:
    out: Folded | None = None
    for event in sorted(events, key=lambda e: e.ts):
        value = event.price if isinstance(event, Tick) else event.value
        if out is None:
            out = Folded(value, value, value, value, None)
        out.last, out.high, out.low = value, max(out.high, value), min(out.low, value)
        out.samples[event.ts - event.ts % BUCKET_MS] = value
        if isinstance(event, Tick):
            if event.prev_close:
                out.prev_close = event.prev_close
            if event.day_volume is not None:
                out.volume = max(out.volume or 0.0, event.day_volume)
            elif event.volume is not None:
                out.volume = (out.volume or 0.0) + event.volume
    assert out is not None
    return out


amounts = st.floats(min_value=0.5, max_value=1e6, allow_nan=False)
ticks = st.builds(
    Tick, id=st.just("crypto:BTC"), ts=st.integers(START, START + 6 * 3_600_000),
    price=amounts, prev_close=st.one_of(st.none(), amounts),
    volume=st.one_of(st.none(), amounts), day_volume=st.one_of(st.none(), amounts))


@given(st.lists(ticks, min_size=1, max_size=60))
def test_merged_buckets_equal_the_event_fold(events: list[Tick]) -> None:
    series, expected = gather(events)["crypto:BTC"], fold(list(events))
    assert (series.first, series.last, series.high, series.low) == \
        (expected.first, expected.last, expected.high, expected.low)
    assert series.prev_close == expected.prev_close
    assert series.samples == expected.samples
    if expected.volume is None:
        assert series.volume is None
    else:
        assert series.volume is not None
        assert abs(series.volume - expected.volume) <= 1e-6 * expected.volume


def test_a_bucket_survives_its_wire_form() -> None:
    bucket = Bucket.of(Tick(id="crypto:BTC", ts=START, price=1.0, prev_close=2.0, volume=3.0))
    bucket.take(Metric(id="crypto:BTC", ts=START + 1, value=4.0))
    assert Bucket.load(bucket.dump()) == bucket
    assert merge({START: bucket}).change == 100.0  # 4 against the previous close of 2
