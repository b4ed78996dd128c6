"""One number per fact (issue 38): every figure an alert of the demo day holds in its values
and the report also shows, about the same fact over the same window, is the same number.

The demo tape goes through the real pipeline; each alert is then compared with the report
built, from the events the detectors were given, as of the event that raised it (every event
of the bus up to that one, in the order a replay's agent takes them: `stable_order`); and the
report the pipeline wrote (from the five-minute buckets in Redis) is compared with the report
built from every event.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from typing import Any

import orjson
import pytest
from redis import asyncio as aioredis

from crosscurrent.app import replay
from crosscurrent.catalog import default_catalog, family
from crosscurrent.config import Config, load_config
from crosscurrent.events import Alert, Metric, Tick
from crosscurrent.formatting import money, signed
from reporters.report_data import build, recorded
from reporters.report_model import Report
from streams.consumer import stable_order
from streams.keys import Keys
from streams.redis_server import EmbeddedRedis
from streams.tape import read_tape
from tests.conftest import SEED_TAPE, QuietView, stream_events

NAMESPACE = "consistency-test"
PCT = 0.0051  # an alert keeps 4 decimals, the report 2: the same figure, rounded


class Day:
    def __init__(self, config: Config, report: Report, alerts: list[Alert],
                 streams: dict[str, list[Tick | Metric]]) -> None:
        self.config, self.report, self.alerts, self.streams = config, report, alerts, streams


async def _read(url: str, keys: Keys) -> dict[str, list[Tick | Metric]]:
    redis = aioredis.Redis.from_url(url)
    try:
        names = sorted({family(i.id) for i in default_catalog()})
        return {name: [e for e in await stream_events(redis, keys.events(name))
                       if isinstance(e, Tick | Metric)] for name in names}
    finally:
        await redis.aclose()


@pytest.fixture(scope="module")
def day(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Day:
    out = tmp_path_factory.mktemp("consistency")
    config = load_config(env={})
    result = asyncio.run(replay(read_tape(SEED_TAPE), config, redis_server.url,
                                speed=math.inf, out=out, view=QuietView(),
                                namespace=NAMESPACE))
    report = Report.model_validate(orjson.loads((out / "report.json").read_bytes()))
    streams = asyncio.run(_read(redis_server.url, Keys(config.redis.prefix, NAMESPACE)))
    return Day(config, report, result.alerts, streams)


def as_of_alert(day: Day, alert: Alert) -> list[Report]:
    """For each event that may have raised `alert` (events polled together share their time
    and receive time), the report built from every event up to it, in the agent's order."""
    events = sorted((e for stream in day.streams.values() for e in stream), key=stable_order)
    found = [build(recorded(events[:n + 1]), [], {}, day.config)
             for n, event in enumerate(events)
             if event.ts == alert.ts and event.recv_ns == alert.trigger_recv_ns]
    assert found, f"the event behind {alert.key} at {alert.ts} is not on any stream"
    return found


def near(a: float, b: float | None, tolerance: float = PCT) -> bool:
    return b is not None and abs(a - b) <= tolerance


def span(values: dict[str, float]) -> str:
    """An alert's window as the report says it ("24 h")."""
    return f"{values['window_h']:g} h"


def check(alert: Alert, report: Report) -> list[str]:
    """The facts `alert` shares with `report` (each a kind): it fails on any that differ."""
    v, key, kinds = alert.values, alert.key, []
    where = f"{key} at {alert.ts}: alert {v} vs report"
    if key == "flows:stablecoins":
        crypto = report.crypto
        assert near(v["net"], crypto.stablecoin_net, 1.0), f"{where} {crypto.stablecoin_net}"
        assert crypto.stablecoin_window.startswith(span(v) + " to "), where
        for row in crypto.stablecoins:
            assert near(v[f"delta_{row.id.partition(':')[2]}"], row.delta, 0.01), where
        kinds.append("stablecoin net issuance")
    elif key.startswith(("flows:dex:", "flows:tvl:")):
        row = report.markets[alert.ids[0]]
        assert near(v["change"], row.change), f"{where} {row.change}"
        assert row.window.startswith(span(v) + " to "), f"{where} {row.window}"
        if "delta" in v:
            assert near(v["delta"], row.delta, 0.01), f"{where} {row.delta}"
        kinds.append(key.split(":")[1])
    elif key.startswith("flows:category:"):
        (category,) = [c for c in report.crypto.tvl_categories
                       if c.category == key.removeprefix("flows:category:")]
        assert near(v["change"], category.change) and near(v["delta"], category.delta, 1.0), \
            f"{where} {category}"
        assert category.window.startswith(span(v) + " to "), where
        kinds.append("category")
    elif key.startswith("breadth:") and "ratio" in v:
        breadth = report.a_share.breadth
        assert breadth is not None and (v["advancers"], v["decliners"], v["ratio"]) == (
            breadth.advancers, breadth.decliners, breadth.ratio), f"{where} {breadth}"
        kinds.append("breadth")
    elif key.startswith(("large_move:", "leverage:liquidation:")):
        row = report.markets[alert.ids[0]]
        assert near(v["change"], row.change), f"{where} {row.change}"
        kinds.append("price change")
    elif key.startswith("divergence:") and len(alert.ids) == 2:
        a, b = (report.change(i) for i in alert.ids)
        assert near(v["change_a"], a) and near(v["change_b"], b), f"{where} {a}, {b}"
        kinds.append("divergence")
    elif key.startswith("chain:"):
        moves = {n.name: n.move for n in report.chain.nodes}
        assert all(near(value, moves[name]) for name, value in v.items()), f"{where} {moves}"
        kinds.append("chain")
    return kinds


def test_every_alert_agrees_with_the_report_as_of_its_event(day: Day) -> None:
    checked: Counter[str] = Counter()
    for alert in day.alerts:
        if alert.detector in ("flows", "breadth", "large_move", "leverage", "divergence",
                              "chain") and alert.values:
            failed: list[AssertionError] = []
            for report in as_of_alert(day, alert):
                try:
                    checked.update(check(alert, report))
                    break
                except AssertionError as error:
                    failed.append(error)
            else:
                raise failed[0]  # no event that may have raised it gives the alert's figures
    # not vacuous: every fact of the issue was compared at least once
    for kind in ("stablecoin net issuance", "dex", "tvl", "category", "breadth",
                 "price change", "divergence", "chain"):
        assert checked[kind] >= 1, (kind, checked)


def _figures(report: Report) -> dict[str, Any]:
    return {"markets": {i: (r.last, r.change, r.window, r.delta)
                        for i, r in report.markets.items()},
            "net": (report.crypto.stablecoin_net, report.crypto.stablecoin_window),
            "categories": [(c.category, c.change, c.delta, c.window)
                           for c in report.crypto.tvl_categories],
            "breadth": report.a_share.breadth, "chain": [n.move for n in report.chain.nodes]}


def test_the_written_report_is_the_report_of_every_event(day: Day) -> None:
    """The report from the buckets in Redis (which must reach 24 h before the day's metrics)
    says what the report from the events themselves says."""
    events = sorted((e for stream in day.streams.values() for e in stream),
                    key=lambda e: e.ts)
    assert _figures(day.report) == _figures(build(recorded(events), [], {}, day.config))


def test_the_flow_map_quotes_the_reports_own_figures(day: Day) -> None:
    report = day.report
    rows = {r.source.split(" (")[0]: r for r in report.flow_map}
    stable = rows["Stablecoin minting"]
    assert stable.source == f"Stablecoin minting ({money(report.crypto.stablecoin_net or 0)})"
    for dex in report.crypto.dex:
        name = dex.name.removesuffix(" 24h volume")
        if name in stable.destination:
            assert f"{name} {signed(dex.change or 0.0, 0)}" in stable.destination
    breadth = report.a_share.breadth
    assert breadth is not None and breadth.ratio is not None
    assert rows["A-share domestic flows"].destination == \
        f"broad A-share advance ({breadth.ratio:.1f}:1)"
    (risk,) = [r for r in report.risks if r.risk == "Crypto leverage liquidation"]
    assert f"ETH {signed(report.change('crypto:ETH') or 0.0)} in 24 h" in risk.trigger
