"""The end-of-day report as data: gathered from Redis (`collect`), assembled by plain code
(`build`) into the typed model of `report_model`. Every figure comes from an event or a
finding, computed once with its window (`crosscurrent.facts`, the functions the detectors'
alerts use); a figure that is not there is listed in `missing` with what it prevents
concluding, never filled in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import orjson
from redis import asyncio as aioredis

from crosscurrent.catalog import default_catalog
from crosscurrent.config import Config
from crosscurrent.events import Alert, AlertState, Metric, Tick
from crosscurrent.facts import (
    DAY_MS,
    SINCE_PREVIOUS_CLOSE,
    Change,
    advance_decline,
    breadth_text,
    clock,
    percent,
    summed,
    trailing_change,
)
from crosscurrent.formatting import NO_PREVIOUS_CLOSE
from crosscurrent.intraday import Bucket, Series, bucket_of, merge
from detectors.chain import assess, node_move
from detectors.macro import REGIME_ZH, basis_points, regime
from reporters.alert_log import read_alerts
from reporters.findings import AGENT
from reporters.macro_view import LABELS, quote
from reporters.report_flows import divergences, restated_flows
from reporters.report_model import (
    AShare,
    Bilingual,
    Breadth,
    Category,
    Chain,
    ChainNode,
    Crypto,
    Macro,
    MacroQuote,
    Missing,
    Report,
    Row,
)
from reporters.report_text import action_plan, disclaimer, key_insight, us_narrative
from streams.keys import Keys


def day_window(day: date) -> tuple[int, int]:
    """The report day in epoch ms: from noon UTC the day before (the US session that Asia
    reacts to) to the end of the day, UTC."""
    start = datetime.combine(day, time.min, UTC) - timedelta(hours=12)
    return int(start.timestamp() * 1000), int((start + timedelta(hours=36)).timestamp() * 1000)


LOOKBACK_MS = DAY_MS + 12 * 3_600_000  # metrics: read this far before the day, for the value
# in force 24 h before any moment of it (with half a day to spare for a sparse series)


@dataclass
class Recorded(Series):
    """A day's series, with its exact points (each bucket's first and last) from
    `LOOKBACK_MS` before the day: what a metric's 24 h change is computed from."""

    points: list[tuple[int, float]] = field(default_factory=list)


def _points(buckets: Iterable[Bucket]) -> list[tuple[int, float]]:
    seen: dict[int, float] = {}
    for bucket in sorted(buckets, key=lambda b: b.first_ts):
        seen[bucket.first_ts] = bucket.first
        seen[bucket.last_ts] = bucket.last
    return sorted(seen.items())


def _recorded(own: dict[int, Bucket], start: int, end: int, metric: bool) -> Recorded | None:
    """The day's series of an id's buckets (with the points before it, for a metric)."""
    day = {s: b for s, b in own.items() if start <= s < end}
    if not day:
        return None
    found = merge(day)
    points = _points(own.values()) if metric else []
    return Recorded(**{k: getattr(found, k) for k in Series.__dataclass_fields__},
                    points=points)


async def collect(redis: aioredis.Redis, keys: Keys, day: date | None = None
                  ) -> tuple[dict[str, Series], list[Alert], dict[str, Any]]:
    """The series, alerts and detector state of a pipeline's namespace for `day` (default:
    the day of the latest event), from the five-minute buckets the history recorder keeps:
    the report day's, and for metrics also those of the day and a half before it."""
    catalog = default_catalog()
    prefix = keys.intraday("", "")[:-1]  # <base>:intraday:
    found: dict[str, dict[str, str]] = {}  # UTC day -> id -> key
    async for key in redis.scan_iter(match=prefix + "*", count=1000):
        name = key.decode() if isinstance(key, bytes) else key
        bucket_day, ident = name[len(prefix):].split(":", 1)
        found.setdefault(bucket_day, {})[ident] = name
    saved = await redis.hget(keys.state(AGENT), "detectors")
    state = orjson.loads(saved) if saved else {}
    alerts = await read_alerts(redis, keys)
    if not found:
        return {}, alerts, state
    day = day or date.fromisoformat(max(found))
    start, end = day_window(day)

    def metric(ident: str) -> bool:
        return ident in catalog and catalog[ident].kind == "metric"

    wanted = [(ident, name) for back in (2, 1, 0)
              for ident, name in found.get((day - timedelta(days=back)).isoformat(), {}).items()
              if back < 2 or metric(ident)]
    async with redis.pipeline(transaction=False) as pipe:
        for _, name in wanted:
            pipe.hgetall(name)
        replies: list[dict[bytes, bytes]] = await pipe.execute()
    buckets: dict[str, dict[int, Bucket]] = {}
    for (ident, _), fields in zip(wanted, replies, strict=True):
        since = start - LOOKBACK_MS if metric(ident) else start
        for bucket_start, raw in fields.items():
            if since <= int(bucket_start) < end:
                buckets.setdefault(ident, {})[int(bucket_start)] = Bucket.load(raw)
    alerts = [a for a in alerts if start <= a.ts < end]
    series: dict[str, Series] = {}
    for ident, own in sorted(buckets.items()):
        if (recorded := _recorded(own, start, end, metric(ident))) is not None:
            series[ident] = recorded
    return series, alerts, state


def recorded(events: Iterable[Tick | Metric]) -> dict[str, Series]:
    """What `collect` reads, from events in memory (in arrival order): the series of the day
    of the latest one, as of it."""
    catalog = default_catalog()
    every: dict[str, dict[int, Bucket]] = {}
    exact: dict[str, dict[int, float]] = {}
    latest = 0
    for event in events:
        own = every.setdefault(event.id, {})
        start = bucket_of(event.ts)
        if start in own:
            own[start].take(event)
        else:
            own[start] = Bucket.of(event)
        if isinstance(event, Metric):
            exact.setdefault(event.id, {})[event.ts] = event.value
        latest = max(latest, event.ts)
    if not latest:
        return {}
    start, end = day_window(datetime.fromtimestamp(latest / 1000, UTC).date())
    out: dict[str, Series] = {}
    for ident, own in sorted(every.items()):
        metric = ident in catalog and catalog[ident].kind == "metric"
        found = _recorded(own, start, end, metric)
        if found is not None:
            found.points = sorted(exact.get(ident, {}).items()) if metric else []
            out[ident] = found
    return out


def _window(ident: str, found: Series) -> str:
    """A price's change window: the previous close, which for a market that never closes
    (crypto) is the price 24 h before."""
    if len(default_catalog()[ident].calendar.days) == 7:
        return f"24 h to {clock(found.last_ts)}"
    return SINCE_PREVIOUS_CLOSE


def metric_change(found: Series, as_of: int | None = None) -> Change | None:
    """A metric's change over the 24 h to its latest value (at or before `as_of`)."""
    points = found.points if isinstance(found, Recorded) and found.points else \
        [(found.first_ts, found.first), (found.last_ts, found.last)]
    return trailing_change(points, DAY_MS, as_of)


def _row(ident: str, found: Series, as_of: int) -> Row:
    item = default_catalog()[ident]
    note, window, delta = "", "", None
    if item.kind == "metric":
        moved = metric_change(found, as_of)
        change = None if moved is None else moved.pct
        if moved is not None:
            window, delta = moved.window, round(moved.delta, 2)
        else:
            note = "no earlier value"
    elif not found.prev_close:
        # a price's change is against its previous close only, never against the first
        # price seen (which would call a monitor's afternoon drift the day's change)
        change, note = None, NO_PREVIOUS_CLOSE
    else:
        change, window = percent(found.last, found.prev_close), _window(ident, found)
    return Row(id=ident, name=item.en, name_zh=item.zh, last=found.last,
               change=None if change is None else round(change, 2), high=found.high,
               low=found.low, open=found.first, prev_close=found.prev_close,
               volume=found.volume, currency=item.currency, change_note=note, window=window,
               delta=delta, as_of=found.last_ts)


def raw_change(ident: str, series: dict[str, Series]) -> float | None:
    """A price's change since its previous close, unrounded (what the detectors average)."""
    found = series.get(ident)
    if found is None or not found.prev_close:
        return None
    return percent(found.last, found.prev_close)


def _last_firing(alerts: list[Alert]) -> dict[str, Alert]:
    """Each key's latest firing alert of the day (resolved later or not)."""
    out: dict[str, Alert] = {}
    for alert in alerts:
        if alert.state == AlertState.FIRING:
            out[alert.key] = alert
    return out


def build(series: dict[str, Series], alerts: list[Alert], state: dict[str, Any],
          config: Config) -> Report:
    """The report as of the latest value in `series`."""
    catalog = default_catalog()
    fired = _last_firing(alerts)
    as_of = max((s.last_ts for s in series.values()), default=0)
    day = datetime.fromtimestamp(as_of / 1000, UTC).date().isoformat() if as_of else ""
    rows = {i.id: _row(i.id, series[i.id], as_of) for i in catalog if i.id in series}
    missing: list[Missing] = []

    def region(*prefixes: str) -> list[Row]:
        return [r for i, r in rows.items() if i.startswith(prefixes)]

    # the transmission chain: each node's average change, as the chain detector takes it
    nodes = []
    for node in config.detectors.chain.nodes:
        average, absent = node_move(node.ids, lambda i: raw_change(i, series))
        move = None if average is None else round(average, 2)
        nodes.append(ChainNode(
            name=node.name, name_zh=node.name_zh, ids=list(node.ids), move=move,
            direction=state.get("chain", {}).get("directions", {}).get(node.name)))
        if move is None:
            missing.append(Missing(what=f"{node.name} index moves",
                                   prevents="judging the transmission chain at that node"))
        elif absent:
            missing.append(Missing(what=f"{', '.join(absent)} (the {node.name} node is "
                                   "read from the others)", prevents="the node's full average"))
    chain_alert = next((a for a in reversed(alerts)  # the pattern in force last
                        if a.detector == "chain" and a.state == AlertState.FIRING), None)
    pattern = chain_alert.key.removeprefix("chain:") if chain_alert else None
    text = {"assessment": "", "assessment_zh": ""}
    if pattern and nodes[0].move is not None:
        lead = "up" if nodes[0].move > 0 else "down"
        text = assess(config.detectors.chain.nodes,
                      {n.name: n.move for n in nodes if n.move is not None}, pattern, lead)
    chain = Chain(nodes=nodes, pattern=pattern,
                  broken_at=pattern.removeprefix("broken:") if pattern and
                  pattern.startswith("broken:") else None, **text)

    # crypto & DeFi: every change over the 24 h to the metric's latest value
    categories: list[Category] = []
    for category in sorted({i.category for i in catalog if i.asset == "tvl" and i.category}):
        members = [i.id for i in catalog if i.asset == "tvl" and i.category == category
                   and i.id in series]
        total = summed(metric_change(series[i], as_of) for i in members)
        if total is not None and total.base > 0 and total.pct is not None:
            categories.append(Category(
                category=category, change=round(total.pct, 2), delta=round(total.delta),
                protocols=[rows[i] for i in members], window=total.window))
    stable_rows = region("stable:")
    net = summed(metric_change(series[r.id], as_of) for r in stable_rows)
    crypto = Crypto(assets=region("crypto:"), stablecoins=stable_rows,
                    stablecoin_net=None if net is None else round(net.delta),
                    stablecoin_window=net.window if net is not None else "",
                    tvl_categories=categories, dex=region("dexvol:"),
                    funding=region("funding:"))
    if not region("tvl:"):
        missing.append(Missing(what="DeFi TVL", prevents="reading on-chain capital rotation"))
    if not crypto.funding:
        missing.append(Missing(what="perpetual funding rates",
                               prevents="judging crypto leverage and liquidation risk"))

    # A-shares
    breadth = None
    if "cn:ADVANCERS" in series and "cn:DECLINERS" in series:
        up, down = series["cn:ADVANCERS"].last, series["cn:DECLINERS"].last
        breadth = Breadth(advancers=up, decliners=down, ratio=advance_decline(up, down),
                          text=breadth_text(up, down))
    else:
        missing.append(Missing(what="A-share advancers and decliners",
                               prevents="judging the breadth of the A-share move"))
    turnover = series["cn:TURNOVER"].last if "cn:TURNOVER" in series else None
    northbound = series["cn:NORTHBOUND"].last if "cn:NORTHBOUND" in series else None
    if northbound is None:
        missing.append(Missing(
            what="northbound flow (北向资金)",
            prevents="telling whether foreign money sold A-shares: the HK/A-share gap may be "
                     "domestic buyers offsetting foreign selling, but that cannot be "
                     "confirmed"))
    a_share = AShare(indices=[r for r in (rows.get("cn:SSE"), rows.get("cn:CHINEXT")) if r],
                     breadth=breadth, turnover=turnover, northbound=northbound)

    intraday: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for prefix in ("us", "hk", "cn", "crypto"):
        for ident, found in series.items():
            close = found.prev_close  # no previous close: no line (never the first price)
            if not ident.startswith(f"{prefix}:") or catalog[ident].kind != "tick" or not close:
                continue
            intraday.setdefault(prefix, {})[catalog[ident].short] = [
                (t, round((v / close - 1) * 100, 3)) for t, v in sorted(found.samples.items())]

    macro = _macro(rows, chain, config)
    if macro is None:
        missing.append(Missing(what="VIX and the other macro ids",
                               prevents="naming the risk regime behind the day's moves"))
    report = Report(
        date=day, as_of=as_of, as_of_text=clock(as_of) if as_of else "", markets=rows,
        chain=chain, crypto=crypto, us=region("us:"), hk=region("hk:"), a_share=a_share,
        divergences=divergences(fired, rows, categories), missing=missing,
        intraday=intraday, macro=macro,
        alerts={"firing": sum(a.state == AlertState.FIRING for a in alerts),
                "critical": sum(a.severity == "critical" and a.state == AlertState.FIRING
                                for a in alerts)})
    report.flow_map, report.risks = restated_flows(state.get("synthesis", {}), report, config)
    report.key_insight = key_insight(report)
    report.us_narrative = us_narrative(report)
    report.action_plan = action_plan(report)
    report.disclaimer = Bilingual(**disclaimer())
    return report


def _macro(rows: dict[str, Row], chain: Chain, config: Config) -> Macro | None:
    """The risk regime with its numbers, financial conditions from the 10-year yield and the
    dollar, and what the macro ids say about the chain."""
    vix = rows.get("macro:VIX")
    if vix is None:
        return None
    settings = config.detectors.macro
    name = regime(vix.last, vix.change, settings)
    quotes = [quote(i, rows[i].last, rows[i].prev_close, rows[i].change)
              for i in LABELS if i in rows]
    ten = rows.get("macro:US10Y")
    bp = basis_points(ten.last, ten.prev_close) if ten else None
    dxy = rows["macro:DXY"].change if "macro:DXY" in rows else None
    # half the shock thresholds: a move worth a line, not yet an alert
    tighter = (bp or 0.0) >= settings.yield_bp / 2 or (dxy or 0.0) >= settings.dxy_move / 2
    easier = (bp or 0.0) <= -settings.yield_bp / 2 or (dxy or 0.0) <= -settings.dxy_move / 2
    conditions = "tighter" if tighter and not easier else "easier" if easier and not tighter \
        else "steady"
    broken = chain.broken_at
    if name == "calm":
        reading = ("a calm VIX: the break at the " + broken + " node is regional, not global "
                   "stress") if broken else "a calm VIX backs the day's moves"
        reading_zh = f"VIX 平静:{broken}节点的断裂是区域性的,而非全球压力" if broken else \
            "VIX 平静,与当日走势一致"
    else:
        reading = f"an {name} VIX: global risk pressure behind the day's moves"
        reading_zh = f"VIX {REGIME_ZH[name]}:当日走势背后有全球风险压力"
    cnh = rows["macro:USDCNH"].change if "macro:USDCNH" in rows else None
    yuan_weak = cnh is not None and cnh >= settings.yuan_move
    if yuan_weak:
        reading += "; a weaker yuan weighs on Hong Kong and A-shares"
        reading_zh += ";人民币走弱压制港股与A股"
    return Macro(regime=name, regime_zh=REGIME_ZH[name],
                 quotes=[MacroQuote(id=q.ident, label=q.label, label_zh=q.label_zh,
                                    level=q.level, move=q.move) for q in quotes],
                 numbers=", ".join(q.text() for q in quotes),
                 numbers_zh=",".join(q.text(zh=True) for q in quotes),
                 conditions=conditions, yuan_weak=yuan_weak, reading=reading,
                 reading_zh=reading_zh, us10y_bp=bp)
