"""Property tests: no detector raises on hostile input (NaN, infinities, zero or negative
prices, duplicates, out-of-order timestamps), and a snapshot restored mid-stream gives the same
alerts as the uninterrupted run."""

from __future__ import annotations

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crosscurrent.app import build_detectors
from crosscurrent.config import load_config
from crosscurrent.events import Alert, Metric, Tick
from detectors.agent import DetectorSet

CONFIG = load_config(env={})
TICK_IDS = ["crypto:BTC", "crypto:ETH", "hk:HSI", "hk:HSTECH", "us:IXIC", "us:SPX", "us:DJI",
            "cn:SSE", "cn:CHINEXT"]
METRIC_IDS = ["funding:ETH", "funding:BTC", "tvl:superstate", "tvl:lido", "stable:USDT",
              "dexvol:curve-dex", "cn:ADVANCERS", "cn:DECLINERS", "cn:TURNOVER"]
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -1.0, -0.0, 1e-300, 1e300, float("nan"), float("inf")]),
    st.floats(min_value=-10, max_value=1e6),
)
times = st.integers(min_value=1775600000000, max_value=1775700000000)
ticks = st.builds(Tick, id=st.sampled_from(TICK_IDS), ts=times, price=numbers,
                  prev_close=st.one_of(st.none(), numbers), volume=st.one_of(st.none(), numbers),
                  day_volume=st.one_of(st.none(), numbers))
metrics = st.builds(Metric, id=st.sampled_from(METRIC_IDS), ts=times, value=numbers)
streams = st.lists(st.one_of(ticks, metrics), max_size=60).flatmap(
    lambda events: st.just(events + events[: len(events) // 3]))  # and duplicates


def fresh() -> DetectorSet:
    return DetectorSet(build_detectors(CONFIG))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams)
def test_no_detector_raises_on_hostile_input(events: list[Tick | Metric]) -> None:
    pipeline = fresh()
    for event in events:
        for alert in pipeline.on_event(event):
            assert isinstance(alert, Alert) and alert.title and alert.title_zh


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams, st.integers(min_value=0, max_value=80))
def test_a_restored_snapshot_resumes_exactly(events: list[Tick | Metric], cut: int) -> None:
    whole = fresh()
    expected = [a.uid for e in events for a in whole.on_event(e)]

    first = fresh()
    got = [a.uid for e in events[:cut] for a in first.on_event(e)]
    saved = orjson.dumps(first.snapshot())  # JSON-able
    second = fresh()
    second.restore(orjson.loads(saved))
    got += [a.uid for e in events[cut:] for a in second.on_event(e)]
    assert got == expected
