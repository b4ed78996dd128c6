"""The end-of-day report as data: gathered from Redis (`collect`), assembled by plain code
(`build`). Every figure comes from an event or a finding; a figure that is not there is listed
in `missing` with what it prevents concluding, never filled in."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import orjson
from redis import asyncio as aioredis

from crosscurrent.catalog import default_catalog
from crosscurrent.config import Config
from crosscurrent.events import Alert, AlertState
from crosscurrent.formatting import NO_PREVIOUS_CLOSE
from crosscurrent.intraday import Bucket, Series, merge
from detectors.chain import assess
from detectors.macro import REGIME_ZH, basis_points, regime
from reporters.alert_log import read_alerts
from reporters.findings import AGENT
from reporters.macro_view import LABELS, quote
from reporters.report_text import action_plan, disclaimer, key_insight, us_narrative
from streams.keys import Keys


def day_window(day: date) -> tuple[int, int]:
    """The report day in epoch ms: from noon UTC the day before (the US session that Asia
    reacts to) to the end of the day, UTC."""
    start = datetime.combine(day, time.min, UTC) - timedelta(hours=12)
    return int(start.timestamp() * 1000), int((start + timedelta(hours=36)).timestamp() * 1000)


async def collect(redis: aioredis.Redis, keys: Keys, day: date | None = None
                  ) -> tuple[dict[str, Series], list[Alert], dict[str, Any]]:
    """The series, alerts and detector state of a pipeline's namespace for `day` (default:
    the day of the latest event), from the five-minute buckets the history recorder keeps."""
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
    wanted = [(ident, name) for d in ((day - timedelta(days=1)).isoformat(), day.isoformat())
              for ident, name in found.get(d, {}).items()]
    async with redis.pipeline(transaction=False) as pipe:
        for _, name in wanted:
            pipe.hgetall(name)
        replies: list[dict[bytes, bytes]] = await pipe.execute()
    buckets: dict[str, dict[int, Bucket]] = {}
    for (ident, _), fields in zip(wanted, replies, strict=True):
        for bucket_start, raw in fields.items():
            if start <= int(bucket_start) < end:
                buckets.setdefault(ident, {})[int(bucket_start)] = Bucket.load(raw)
    alerts = [a for a in alerts if start <= a.ts < end]
    return {ident: merge(own) for ident, own in sorted(buckets.items())}, alerts, state


def _row(ident: str, series: dict[str, Series]) -> dict[str, Any] | None:
    found = series.get(ident)
    if found is None:
        return None
    item = default_catalog()[ident]
    # a price's change is against its previous close only, never against the first price
    # seen (which would call a monitor's afternoon drift the day's change)
    unreferenced = item.kind == "tick" and not found.prev_close
    change = None if unreferenced else found.change
    return {"id": ident, "name": item.en, "name_zh": item.zh, "last": found.last,
            "change": None if change is None else round(change, 2), "high": found.high,
            "low": found.low, "open": found.first, "prev_close": found.prev_close,
            "volume": found.volume, "currency": item.currency,
            "change_note": NO_PREVIOUS_CLOSE if unreferenced else ""}


def _last_firing(alerts: list[Alert]) -> dict[str, Alert]:
    """Each key's latest firing alert of the day (resolved later or not)."""
    out: dict[str, Alert] = {}
    for alert in alerts:
        if alert.state == AlertState.FIRING:
            out[alert.key] = alert
    return out


def build(series: dict[str, Series], alerts: list[Alert], state: dict[str, Any],
          config: Config) -> dict[str, Any]:
    """The report, as JSON-able data."""
    catalog = default_catalog()
    fired = _last_firing(alerts)
    last_ts = max((s.last_ts for s in series.values()), default=0)
    day = datetime.fromtimestamp(last_ts / 1000, UTC).date().isoformat() if last_ts else ""
    rows = {i.id: r for i in catalog if (r := _row(i.id, series)) is not None}
    missing: list[dict[str, str]] = []

    def region(*prefixes: str) -> list[dict[str, Any]]:
        return [r for i, r in rows.items() if i.startswith(prefixes)]

    # the transmission chain
    nodes = []
    for node in config.detectors.chain.nodes:
        changes = [rows[i]["change"] for i in node.ids if i in rows and
                   rows[i]["change"] is not None]
        move = round(sum(changes) / len(changes), 2) if len(changes) == len(node.ids) else None
        nodes.append({"name": node.name, "name_zh": node.name_zh, "ids": list(node.ids),
                      "move": move,
                      "direction": state.get("chain", {}).get("directions", {}).get(node.name)})
        if move is None:
            missing.append({"what": f"{node.name} index moves",
                            "prevents": "judging the transmission chain at that node"})
    chain_alerts = [a for k, a in fired.items() if k.startswith("chain:")]
    chain_alert = max(chain_alerts, key=lambda a: a.ts, default=None)
    pattern = chain_alert.key.removeprefix("chain:") if chain_alert else None
    text = {"assessment": "", "assessment_zh": ""}
    if pattern and all(n["move"] is not None for n in nodes):
        lead = "up" if (nodes[0]["move"] or 0) > 0 else "down"
        text = assess(config.detectors.chain.nodes, {n["name"]: n["move"] for n in nodes},
                      pattern, lead)
    chain = {"nodes": nodes, "pattern": pattern,
             "broken_at": pattern.removeprefix("broken:") if pattern and
             pattern.startswith("broken:") else None} | text

    # crypto & DeFi
    categories: list[dict[str, Any]] = []
    for category in sorted({i.category for i in catalog if i.asset == "tvl" and i.category}):
        members = [i.id for i in catalog if i.asset == "tvl" and i.category == category]
        now = sum(series[i].last for i in members if i in series)
        base = sum(series[i].first for i in members if i in series)
        if base:
            categories.append({"category": category, "change": round((now / base - 1) * 100, 2),
                               "delta": round(now - base), "protocols": [
                                   _row(i, series) for i in members if i in series]})
    stable_rows = region("stable:")
    stable_delta = sum(series[r["id"]].last - series[r["id"]].first for r in stable_rows)
    crypto = {"assets": region("crypto:"), "stablecoins": stable_rows,
              "stablecoin_net": round(stable_delta) if stable_rows else None,
              "tvl_categories": categories, "dex": region("dexvol:"),
              "funding": region("funding:")}
    if not region("tvl:"):
        missing.append({"what": "DeFi TVL", "prevents": "reading on-chain capital rotation"})
    if not crypto["funding"]:
        missing.append({"what": "perpetual funding rates",
                        "prevents": "judging crypto leverage and liquidation risk"})

    # A-shares
    breadth = None
    if "cn:ADVANCERS" in series and "cn:DECLINERS" in series:
        up, down = series["cn:ADVANCERS"].last, series["cn:DECLINERS"].last
        breadth = {"advancers": up, "decliners": down,
                   "ratio": round(up / down, 2) if down else None}
    else:
        missing.append({"what": "A-share advancers and decliners",
                        "prevents": "judging the breadth of the A-share move"})
    turnover = series["cn:TURNOVER"].last if "cn:TURNOVER" in series else None
    northbound = series["cn:NORTHBOUND"].last if "cn:NORTHBOUND" in series else None
    if northbound is None:
        missing.append({
            "what": "northbound flow (北向资金)",
            "prevents": "telling whether foreign money sold A-shares: the HK/A-share gap may be "
                        "domestic buyers offsetting foreign selling, but that cannot be "
                        "confirmed"})
    a_share = {"indices": [r for r in (rows.get("cn:SSE"), rows.get("cn:CHINEXT")) if r],
               "breadth": breadth, "turnover": turnover, "northbound": northbound}

    # divergences (the day's, at their last firing) and RWA outflows
    divergences = []
    for key, alert in sorted(fired.items()):
        if key.startswith("divergence:"):
            v, n = alert.values, alert.notes
            change_a, change_b = v["change_a"], v["change_b"]
            if len(alert.ids) == 2 and all(rows.get(i, {}).get("change") is not None
                                           for i in alert.ids):  # the close, not the alert
                change_a, change_b = (rows[i]["change"] for i in alert.ids)
            divergences.append({
                "key": key, "label": n.get("label", alert.title),
                "label_zh": n.get("label_zh", alert.title_zh), "severity": str(alert.severity),
                "magnitude": f"{n.get('side_a', '')} {change_a:+.2f}% vs "
                             f"{n.get('side_b', '')} {change_b:+.2f}%",
                "gap": round(change_a - change_b, 2), "explanation": n.get("explanation", ""),
                "explanation_zh": n.get("explanation_zh", ""),
                "implication": n.get("implication", ""),
                "implication_zh": n.get("implication_zh", "")})
    rwa = next((c for c in categories if c["category"] == "rwa"), None)
    if rwa is not None and "flows:category:rwa" in fired:
        outflows = ", ".join(f"{p['name'].removesuffix(' TVL')} {p['change']:+.0f}%"
                             for p in rwa["protocols"] if p and (p["change"] or 0) < 0)
        divergences.append({
            "key": "flows:category:rwa", "label": "RWA TVL outflow",
            "label_zh": "RWA 锁仓量流出", "severity": str(fired["flows:category:rwa"].severity),
            "magnitude": outflows, "gap": rwa["change"],
            "explanation": "Capital leaving tokenized treasuries while other on-chain yield "
                           "gains", "explanation_zh": "资金撤出代币化国债,转向其他链上收益",
            "implication": "DeFi rotating from synthetic bonds to native yield",
            "implication_zh": "DeFi 从合成债券转向原生收益"})

    intraday: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for prefix in ("us", "hk", "cn", "crypto"):
        for ident, found in series.items():
            close = found.prev_close  # no previous close: no line (never the first price)
            if not ident.startswith(f"{prefix}:") or catalog[ident].kind != "tick" or not close:
                continue
            intraday.setdefault(prefix, {})[catalog[ident].short] = [
                (t, round((v / close - 1) * 100, 3)) for t, v in sorted(found.samples.items())]

    synthesis = state.get("synthesis", {})
    macro = _macro(rows, chain, config)
    if macro is None:
        missing.append({"what": "VIX and the other macro ids",
                        "prevents": "naming the risk regime behind the day's moves"})
    report: dict[str, Any] = {
        "date": day,
        "markets": rows,
        "chain": chain,
        "crypto": crypto,
        "us": region("us:"),
        "hk": region("hk:"),
        "a_share": a_share,
        "divergences": divergences,
        "flow_map": synthesis.get("flow_map", []),
        "risks": synthesis.get("risks", []),
        "alerts": {"firing": sum(a.state == AlertState.FIRING for a in alerts),
                   "critical": sum(a.severity == "critical" and a.state == AlertState.FIRING
                                   for a in alerts)},
        "missing": missing,
        "intraday": intraday,
        "macro": macro,
    }
    report["key_insight"] = key_insight(report)
    report["us_narrative"] = us_narrative(report)
    report["action_plan"] = action_plan(report)
    report["disclaimer"] = disclaimer()
    return report


def _macro(rows: dict[str, dict[str, Any]], chain: dict[str, Any], config: Config
           ) -> dict[str, Any] | None:
    """The risk regime with its numbers, financial conditions from the 10-year yield and the
    dollar, and what the macro ids say about the chain."""
    vix = rows.get("macro:VIX")
    if vix is None:
        return None
    settings = config.detectors.macro
    name = regime(vix["last"], vix["change"], settings)
    quotes = [quote(i, rows[i]["last"], rows[i]["prev_close"], rows[i]["change"])
              for i in LABELS if i in rows]
    ten = rows.get("macro:US10Y")
    bp = basis_points(ten["last"], ten["prev_close"]) if ten else None
    dxy = rows.get("macro:DXY", {}).get("change")
    # half the shock thresholds: a move worth a line, not yet an alert
    tighter = (bp or 0.0) >= settings.yield_bp / 2 or (dxy or 0.0) >= settings.dxy_move / 2
    easier = (bp or 0.0) <= -settings.yield_bp / 2 or (dxy or 0.0) <= -settings.dxy_move / 2
    conditions = "tighter" if tighter and not easier else "easier" if easier and not tighter \
        else "steady"
    broken = chain.get("broken_at")
    if name == "calm":
        reading = ("a calm VIX: the break at the " + broken + " node is regional, not global "
                   "stress") if broken else "a calm VIX backs the day's moves"
        reading_zh = f"VIX 平静:{broken}节点的断裂是区域性的,而非全球压力" if broken else \
            "VIX 平静,与当日走势一致"
    else:
        reading = f"an {name} VIX: global risk pressure behind the day's moves"
        reading_zh = f"VIX {REGIME_ZH[name]}:当日走势背后有全球风险压力"
    cnh = rows.get("macro:USDCNH", {}).get("change")
    yuan_weak = cnh is not None and cnh >= settings.yuan_move
    if yuan_weak:
        reading += "; a weaker yuan weighs on Hong Kong and A-shares"
        reading_zh += ";人民币走弱压制港股与A股"
    return {"regime": name, "regime_zh": REGIME_ZH[name],
            "quotes": [{"id": q.ident, "label": q.label, "label_zh": q.label_zh,
                        "level": q.level, "move": q.move} for q in quotes],
            "numbers": ", ".join(q.text() for q in quotes),
            "numbers_zh": ",".join(q.text(zh=True) for q in quotes),
            "conditions": conditions, "yuan_weak": yuan_weak,
            "reading": reading, "reading_zh": reading_zh, "us10y_bp": bp}
