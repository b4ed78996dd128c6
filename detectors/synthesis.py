"""The capital flow map and the risk matrix, derived from the other detectors' live findings.

It reads alerts, not market events: every alert transition of the other detectors updates the
set of active findings, from which
  - flow rows (source -> destination -> mechanism) are read off co-moving findings: a cross-
    market divergence with one side up and the other down, a TVL rotation between categories,
    stablecoin minting alongside DEX volume spikes, A-share breadth holding up where the chain
    broke;
  - risks are ranked by probability x impact, each with the trigger to watch.
Both are alerts (`synthesis:flow:*` info; `synthesis:risk:*` by score, whose notes also say
what the risk was read off, `explanation`, and what to `watch`, for the notifications) and data
in the snapshot (`flow_map`, `risks`, with the `findings` they were read off). Their figures are
those of the findings when they fired; the end-of-day report reads the rows off the same
findings with its own figures (`read_flow_map`, `read_risks` on restated values), so its flow
map quotes what its sections say.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from crosscurrent.catalog import Catalog, default_catalog
from crosscurrent.detector_config import LevelRule
from crosscurrent.events import Alert, AlertState, Metric, Severity, Tick
from crosscurrent.formatting import money, signed
from detectors.common import Latch, make_alert

NAME: Final = "synthesis"
SCORE = {"High": 3, "Medium": 2, "Low": 1}
ZH = {"High": "高", "Medium": "中", "Low": "低"}
# The findings the flow map and the risk matrix are read off (and a divergence, when it
# crosses markets or involves Hong Kong): no other finding is kept, so no other alert can
# change either, and one is taken without rebuilding them.
READS = ("flows:", "breadth:advance", "chain:broken:", "level_break:hk:", "leverage:",
         "large_move:crypto:")


def reads(key: str, values: Mapping[str, float], ids: Sequence[str]) -> bool:
    """Whether the synthesis keeps the finding of alert key `key` (with its values and ids)."""
    if key.startswith("divergence:"):
        return bool(values.get("cross_market")) or any(i.startswith("hk:") for i in ids)
    return key.startswith(READS)


class Synthesis:
    name = NAME

    def __init__(self, levels: Sequence[LevelRule] = (), catalog: Catalog | None = None) -> None:
        self.catalog = catalog or default_catalog()
        self.levels = tuple(levels)
        self.findings: dict[str, dict[str, Any]] = {}  # active alert key -> what it said
        self.flow_map: list[dict[str, Any]] = []
        self.risks: list[dict[str, Any]] = []
        self.titles: dict[str, tuple[str, str]] = {}  # active key -> its short titles (EN, ZH)
        self.latch = Latch()

    def ids(self) -> frozenset[str]:
        return frozenset()  # findings in, not market events

    def on_event(self, event: Tick | Metric) -> list[Alert]:
        return []

    def on_alerts(self, alerts: Sequence[Alert], event: Tick | Metric) -> list[Alert]:
        """Take the transitions the other detectors raised on `event`; return its own."""
        changed = False
        for alert in alerts:
            if alert.detector == NAME or not reads(alert.key, alert.values, alert.ids):
                continue
            changed = True
            if alert.state == AlertState.FIRING:
                self.findings[alert.key] = {"severity": str(alert.severity),
                                            "values": dict(alert.values),
                                            "notes": dict(alert.notes), "ids": list(alert.ids),
                                            "title": alert.title}
            else:
                self.findings.pop(alert.key, None)
        if not changed:
            return []
        self.flow_map = read_flow_map(self.findings, self.catalog)
        read = _risks(self.findings, self.levels, self.catalog)
        self.risks = [_plain(r) for r in read]
        out: list[Alert] = []
        rows = {f"{NAME}:flow:{unfigured(r['source'])}->{unfigured(r['destination'])}": r
                for r in self.flow_map}
        risks = {f"{NAME}:risk:{r['risk']}": r for r in read}
        for key in [k for k in self.latch.active if k not in rows and k not in risks]:
            transition = self.latch.move(key, None)
            assert transition is not None
            title, title_zh = self.titles.pop(key)
            out.append(make_alert(NAME, key, transition, event, (), title, title_zh, {}))
        for key, row in rows.items():
            transition = self.latch.move(key, Severity.INFO)
            if transition is not None:
                self.titles[key] = (f"capital flow {row['source']} → {row['destination']}",
                                    f"资金流向 {row['source_zh']} → {row['destination_zh']}")
                out.append(make_alert(
                    NAME, key, transition, event, tuple(row["ids"]),
                    f"Capital flow: {row['source']} → {row['destination']} "
                    f"({row['mechanism']})",
                    f"资金流向:{row['source_zh']} → {row['destination_zh']}"
                    f"({row['mechanism_zh']})", {},
                    {k: v for k, v in row.items() if k != "ids"}))
        for rank, (key, risk) in enumerate(risks.items(), start=1):
            score = SCORE[risk["probability"]] * SCORE[risk["impact"]]
            level = Severity.CRITICAL if score >= 9 else \
                Severity.WARNING if score >= 6 else Severity.INFO
            transition = self.latch.move(key, level)
            if transition is not None:
                self.titles[key] = (f"risk {risk['risk']}", f"风险 {risk['risk_zh']}")
                out.append(make_alert(
                    NAME, key, transition, event, tuple(risk["ids"]),
                    f"Risk #{rank}: {risk['risk']} (probability {risk['probability']}, impact "
                    f"{risk['impact']}); watch: {risk['trigger']}",
                    f"风险 #{rank}:{risk['risk_zh']}(概率{ZH[risk['probability']]},影响"
                    f"{ZH[risk['impact']]});关注:{risk['trigger_zh']}",
                    {"rank": rank, "score": score},
                    {k: v for k, v in _plain(risk).items() if isinstance(v, str)}
                    | {note: risk[field] for field, note in READING.items() if risk[field]}))
        return out

    def snapshot(self) -> dict[str, Any]:
        return {"findings": self.findings, "flow_map": self.flow_map, "risks": self.risks,
                "active": self.latch.active, "titles": self.titles}

    def restore(self, state: dict[str, Any]) -> None:
        self.findings = {k: f for k, f in state.get("findings", {}).items()
                         if reads(k, f["values"], f["ids"])}  # a snapshot from before `reads`
        self.flow_map = list(state.get("flow_map", []))
        self.risks = list(state.get("risks", []))
        self.latch.active = dict(state.get("active", {}))
        self.titles = {k: (v[0], v[1]) for k, v in state.get("titles", {}).items()}


def unfigured(text: str) -> str:
    """A flow's side without its figures ("Stablecoin minting ($309.85M)" -> "Stablecoin
    minting"): its alert's identity, which a figure moving does not change."""
    return FIGURES.sub("", text)


FIGURES = re.compile(r"\s*\([^)]*\)")


def read_flow_map(findings: Mapping[str, dict[str, Any]], catalog: Catalog | None = None
                  ) -> list[dict[str, Any]]:
    """The flow map read off active findings (alert key -> severity, values, notes, ids),
    with the figures of their values."""
    catalog = catalog or default_catalog()

    def active(prefix: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in findings.items() if k.startswith(prefix)}

    rows: list[dict[str, Any]] = []
    for finding in active("divergence:").values():
        values, notes = finding["values"], finding["notes"]
        if not values.get("cross_market"):
            continue
        up, down = ("a", "b") if values["change_a"] > 0 > values["change_b"] else \
            ("b", "a") if values["change_b"] > 0 > values["change_a"] else (None, None)
        if up is None or down is None:
            continue
        rows.append({
            "source": f"{notes[f'side_{down}']} selloff",
            "source_zh": f"{notes[f'side_{down}_zh']}抛售",
            "destination": notes[f"side_{up}"], "destination_zh": notes[f"side_{up}_zh"],
            "mechanism": f"rotation out of {notes[f'side_{down}']} beta",
            "mechanism_zh": f"资金从{notes[f'side_{down}_zh']}轮动", "ids": finding["ids"]})
    for finding in active("flows:rotation:").values():
        notes = finding["notes"]
        rows.append({key: notes[key] for key in (
            "source", "source_zh", "destination", "destination_zh", "mechanism",
            "mechanism_zh")} | {"ids": finding["ids"]})
    stable = findings.get("flows:stablecoins")
    dex = active("flows:dex:")
    if stable is not None and stable["values"].get("net", 0) > 0 and dex:
        names = ", ".join(catalog[f["ids"][0]].en.removesuffix(" 24h volume") + " " + signed(
            f["values"].get("change", (f["values"]["ratio"] - 1) * 100), 0)
            for f in dex.values())
        rows.append({
            "source": f"Stablecoin minting ({money(stable['values']['net'])})",
            "source_zh": f"稳定币增发({money(stable['values']['net'])})",
            "destination": f"DEX volumes ({names})", "destination_zh": f"DEX成交({names})",
            "mechanism": "fresh fiat → on-chain deployment",
            "mechanism_zh": "新增法币 → 链上部署",
            "ids": stable["ids"] + [i for f in dex.values() for i in f["ids"]]})
    breadth = findings.get("breadth:advance")
    if breadth is not None and active("chain:broken:"):
        ratio = breadth["values"].get("ratio", 0.0)
        rows.append({
            "source": "A-share domestic flows", "source_zh": "A股境内资金",
            "destination": f"broad A-share advance ({ratio:.1f}:1)",
            "destination_zh": f"A股普涨(涨跌比 {ratio:.1f}:1)",
            "mechanism": "foreign absence, local support",
            "mechanism_zh": "外资缺席,境内资金托底", "ids": breadth["ids"]})
    return rows


#: What a risk was read off and what to watch, in words with the findings' figures: the risk
#: alert's notes (field -> note), not part of the risk matrix.
READING = {"seen": "explanation", "seen_zh": "explanation_zh", "watch": "watch",
           "watch_zh": "watch_zh"}


def _plain(risk: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in risk.items() if k not in READING}


def read_risks(findings: Mapping[str, dict[str, Any]], levels: Sequence[LevelRule] = (),
               catalog: Catalog | None = None) -> list[dict[str, Any]]:
    """The risk matrix read off active findings, ranked by probability x impact."""
    return [_plain(r) for r in _risks(findings, levels, catalog)]


def _clause(text: str, mark: str) -> str:
    """A sentence's first clause ("US +0.56% did not transmit to HK (-0.10%)")."""
    return text.split(mark, 1)[0]


def _hours(values: Mapping[str, float]) -> str:
    """A finding's window ("in 21 h"), or nothing without one."""
    return f"{round(values['window_h'], 1):g} h" if "window_h" in values else ""


def _risks(findings: Mapping[str, dict[str, Any]], levels: Sequence[LevelRule],
           catalog: Catalog | None) -> list[dict[str, Any]]:
    """The risk matrix, each risk with its reading (`READING`)."""
    catalog = catalog or default_catalog()

    def active(prefix: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in findings.items() if k.startswith(prefix)}

    out: list[dict[str, Any]] = []
    broken = active("chain:broken:")
    hk_cn = {k: f for k, f in active("divergence:").items()
             if any(i.startswith("hk:") for i in f["ids"])}
    if broken or hk_cn:
        hk_break = [rule for rule in levels if rule.id.startswith("hk:")]
        if hk_break:
            rule = hk_break[0]
            name = catalog[rule.id]
            side = "breaks" if rule.below is not None else "clears"
            level = rule.below if rule.below is not None else rule.above
            trigger = (f"If {name.short} {side} {level:,.0f} on volume "
                       f"(≥{rule.volume_ratio:g}x average), A-shares may follow")
            trigger_zh = (f"若{name.zh}放量{'跌破' if rule.below is not None else '突破'}"
                          f" {level:,.0f}(≥{rule.volume_ratio:g}倍均量),A股或将跟随")
            watch = trigger[0].lower() + trigger[1:]  # "watch: if HSI breaks ..."
        else:
            trigger, trigger_zh = "Hong Kong selling spreading to A-shares", "港股抛压蔓延至A股"
            watch = trigger
        seen, seen_zh = _hk_reading(findings, broken, hk_cn, catalog)
        realised = any(k.startswith("level_break:hk:") for k in findings)
        loud = any(f["severity"] != "info" for f in [*broken.values(), *hk_cn.values()])
        probability = "High" if realised or (broken and hk_cn and loud) else "Medium"
        out.append({
            "risk": "HK/A-share correlation breakdown", "risk_zh": "港股/A股相关性破裂",
            "probability": probability, "impact": "Medium", "trigger": trigger,
            "trigger_zh": trigger_zh, "seen": seen, "seen_zh": seen_zh, "watch": watch,
            "watch_zh": trigger_zh,
            "ids": sorted({i for f in [*broken.values(), *hk_cn.values()]
                           for i in f["ids"]})})
    rwa = {k: f for k, f in findings.items()
           if k in ("flows:category:rwa", "flows:rotation:rwa")
           or (k.startswith("flows:tvl:") and catalog[f["ids"][0]].category == "rwa"
               and f["values"].get("change", 0) < 0)}
    if rwa:
        names = sorted({catalog[i].en.removesuffix(" TVL") for f in rwa.values()
                        for i in f["ids"] if catalog[i].category == "rwa"})
        critical = any(f["severity"] == "critical" for f in rwa.values())
        out.append({
            "risk": "RWA DeFi contagion", "risk_zh": "RWA DeFi 传染",
            "probability": "High" if critical else "Medium", "impact": "Medium",
            "trigger": f"Further outflows from tokenized treasuries ({', '.join(names)}) "
                       "signal institutional exit",
            "trigger_zh": f"代币化国债({', '.join(names)})继续流出意味着机构撤离",
            **_rwa_reading(rwa, catalog),
            "watch": f"further outflows from tokenized treasuries ({', '.join(names)})",
            "watch_zh": f"代币化国债({', '.join(names)})继续流出",
            "ids": sorted({i for f in rwa.values() for i in f["ids"]})})
    leverage = active("leverage:")
    crypto_moves = {k: f for k, f in active("large_move:crypto:").items()}
    if leverage or crypto_moves:
        liquidation = active("leverage:liquidation:")
        if liquidation:
            finding = next(iter(liquidation.values()))
            asset = catalog[finding["ids"][0]]
            move = signed(finding["values"]["change"])
            trigger = f"Funding rates spiking; {asset.short} {move} in 24 h invites " \
                      "deleveraging"
            trigger_zh = f"资金费率飙升;{asset.short} 24小时 {move},易引发去杠杆"
        else:
            trigger, trigger_zh = "Funding rates spiking", "资金费率飙升"
        out.append({
            "risk": "Crypto leverage liquidation", "risk_zh": "加密货币杠杆清算",
            # a crypto move alone, with no funding finding, is a low-probability risk: the
            # move is its own alert
            "probability": "High" if len(liquidation) > 1 else "Medium" if leverage else "Low",
            "impact": "High", "trigger": trigger, "trigger_zh": trigger_zh,
            **_leverage_reading(leverage, crypto_moves, catalog),
            "watch": "funding rates", "watch_zh": "资金费率",
            "ids": sorted({i for f in [*leverage.values(), *crypto_moves.values()]
                           for i in f["ids"]})})
    out.sort(key=lambda r: -SCORE[r["probability"]] * SCORE[r["impact"]])
    return out


def _hk_reading(findings: Mapping[str, dict[str, Any]], broken: Mapping[str, dict[str, Any]],
                hk_cn: Mapping[str, dict[str, Any]], catalog: Catalog) -> tuple[str, str]:
    """What the HK/A-share risk was read off: the chain's break, the divergences with Hong
    Kong, a level broken there."""
    en: list[str] = []
    zh: list[str] = []
    for finding in broken.values():
        notes = finding["notes"]
        if notes.get("assessment"):
            en.append(_clause(notes["assessment"], ": "))
            zh.append(_clause(notes.get("assessment_zh") or notes["assessment"], ":"))
    for finding in hk_cn.values():
        values, notes = finding["values"], finding["notes"]
        if "side_a" in notes and "side_b" in notes:
            a, b = signed(values["change_a"]), signed(values["change_b"])
            en.append(f"{notes['side_a']} {a} vs {notes['side_b']} {b}")
            zh.append(f"{notes.get('side_a_zh', notes['side_a'])} {a} 对 "
                      f"{notes.get('side_b_zh', notes['side_b'])} {b}")
    for key, finding in findings.items():
        if key.startswith("level_break:hk:") and "level" in finding["values"]:
            name, level = catalog[finding["ids"][0]], finding["values"]["level"]
            below = ":below:" in key
            en.append(f"{name.short} broke {'below' if below else 'above'} {level:,.0f}")
            zh.append(f"{name.zh}{'跌破' if below else '突破'} {level:,.0f}")
    return "; ".join(en), ";".join(zh)


def _rwa_reading(rwa: Mapping[str, dict[str, Any]], catalog: Catalog) -> dict[str, str]:
    """What the RWA risk was read off: the category's TVL change, its protocols' outflows."""
    en: list[str] = []
    zh: list[str] = []
    category = rwa.get("flows:category:rwa") or rwa.get("flows:rotation:rwa")
    if category is not None and "change" in category["values"]:
        move, span = signed(category["values"]["change"]), _hours(category["values"])
        en.append(f"RWA TVL {move}" + (f" in {span}" if span else ""))
        zh.append("RWA 锁仓量" + (f" {span}" if span else "") + f" {move}")
    for key, finding in rwa.items():
        if key.startswith("flows:tvl:"):
            name, values = catalog[finding["ids"][0]], finding["values"]
            move, span = signed(values["change"]), _hours(values)
            en.append(f"{name.en} {move}" + (f" in {span}" if span else ""))
            zh.append(name.zh + (f" {span}" if span else "") + f" {move}")
    return {"seen": "; ".join(en), "seen_zh": ";".join(zh)}


def _leverage_reading(leverage: Mapping[str, dict[str, Any]],
                      crypto_moves: Mapping[str, dict[str, Any]], catalog: Catalog
                      ) -> dict[str, str]:
    """What the leverage risk was read off: fast moves on stretched funding, else funding
    spikes and large crypto moves."""
    liquidation = [f for k, f in leverage.items() if k.startswith("leverage:liquidation:")]
    if liquidation:
        moves = [(catalog[f["ids"][0]].short, signed(f["values"]["change"]))
                 for f in liquidation]
        return {"seen": ", ".join(f"{name} {move}" for name, move in moves)
                + " in 24 h on stretched funding",
                "seen_zh": "、".join(f"{name} 24小时 {move}" for name, move in moves)
                + ",资金费率偏高"}
    en: list[str] = []
    zh: list[str] = []
    for key, finding in leverage.items():
        if key.startswith("leverage:funding:") and "funding" in finding["values"]:
            name, rate = catalog[finding["ids"][0]].short, finding["values"]["funding"] * 100
            en.append(f"{name} funding {rate:.4f}% per 8 h")
            zh.append(f"{name} 资金费率每8小时 {rate:.4f}%")
    for finding in crypto_moves.values():
        if "change" in finding["values"]:
            name, move = catalog[finding["ids"][0]].short, signed(finding["values"]["change"])
            en.append(f"{name} {move} in 24 h")
            zh.append(f"{name} 24小时 {move}")
    return {"seen": "; ".join(en), "seen_zh": ";".join(zh)}
