"""The demo tape carries the seed report's whole day: every 24/7 metric over the 24 h up to
2026-04-08T08:00Z, and the report's headline figures come out of the detectors' own
computation (their `Series`: the change against the oldest point of the trailing day), not
from reading the tape."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

import pytest

from crosscurrent.catalog import default_catalog
from crosscurrent.events import Metric
from detectors.common import DAY_MS, Series
from detectors.flows import FlowsDetector
from streams.replay import direct_event
from streams.tape import read_tape
from tests.conftest import SEED_TAPE
from tests.detectors.scenario import run_tape

END = int(datetime(2026, 4, 8, 8, tzinfo=UTC).timestamp() * 1000)

#: The seed report's figures, as it rounds them: "USDT +0.25%", "Curve +333%", "Superstate -24%".
STABLECOINS = {"stable:USDT": 0.25, "stable:USDC": 0.43}
DEX = {"dexvol:uniswap-v3": 132, "dexvol:fluid": 163, "dexvol:curve-dex": 333}
TVL = {"tvl:superstate": -24, "tvl:openeden": -9}


def test_every_24_7_metric_covers_the_seed_day() -> None:
    catalog, tape = default_catalog(), read_tape(SEED_TAPE)
    times: dict[str, list[int]] = {}
    for event in tape.events:
        times.setdefault(event.id, []).append(event.ts)
    metrics = [i for i in times if catalog[i].kind == "metric"
               and len(catalog[i].calendar.days) == 7]  # not the A-share session's breadth
    assert {"crypto:TOTAL_MCAP", "stable:USDT", "funding:ETH", "tvl:superstate",
            "tvl:uniswap", "dexvol:curve-dex"} <= set(metrics)
    for ident in metrics:
        assert max(times[ident]) == END, ident
        assert END - min(times[ident]) >= DAY_MS, ident
        assert len(times[ident]) >= 25, ident  # hourly at least


def day_change(series: Series, ident: str) -> float:
    """The 24 h change the detectors see at the tape's end, checked to span the whole day."""
    found = series.trailing(ident)
    assert found is not None, ident
    assert found.full and found.as_of == END and found.base_ts == END - DAY_MS, ident
    assert found.pct is not None, ident
    return found.pct


def test_the_detectors_compute_the_seed_figures_over_the_tape() -> None:
    _, pipeline = run_tape(SEED_TAPE)
    (flows,) = [d for d in pipeline.detectors if isinstance(d, FlowsDetector)]
    for ident, figure in STABLECOINS.items():
        assert round(day_change(flows.series, ident), 2) == figure, ident
    for ident, figure in (DEX | TVL).items():
        assert round(day_change(flows.series, ident)) == figure, ident
        assert ident not in flows.average  # no other reference than the day's own start
    # the seed's "stablecoin growth (+$600M+ combined)"
    net = 0.0
    for ident in STABLECOINS:
        found = flows.series.trailing(ident)
        assert found is not None
        net += found.delta
    assert net > 600e6


def test_the_total_market_cap_is_the_seeds_through_a_detector_series() -> None:
    """No detector reads the market cap: its figure is checked through the same `Series`."""
    catalog, series = default_catalog(), Series()
    for event in read_tape(SEED_TAPE).events:
        if event.id == "crypto:TOTAL_MCAP":
            metric = direct_event(event, catalog)
            assert isinstance(metric, Metric)
            series.update(metric)
    assert series.latest("crypto:TOTAL_MCAP") == pytest.approx(2.53e12)  # "$2.53T"
    assert round(day_change(series, "crypto:TOTAL_MCAP"), 2) == 4.02


def test_the_metric_paths_are_not_straight_ramps() -> None:
    tape = read_tape(SEED_TAPE)
    for ident in ("crypto:TOTAL_MCAP", "stable:USDT", "tvl:superstate", "dexvol:curve-dex"):
        values = [e.value for e in tape.events if e.id == ident]
        steps = [round(b - a, -3) for a, b in pairwise(values)]
        assert len(set(steps)) > len(steps) // 2, ident
