"""The report's divergence table, capital flow map and risk matrix, with the report's own
figures: the findings are the alerts', the numbers are the report's as of its time (an alert's
figures are those of the moment it fired; the report never shows them beside its own)."""

from __future__ import annotations

import copy
from typing import Any

from crosscurrent.config import Config
from crosscurrent.events import Alert
from detectors.divergence import leading
from detectors.synthesis import read_flow_map, read_risks
from reporters.report_model import Category, Divergence, FlowRow, Report, Risk, Row

RWA_KEY = "flows:category:rwa"


def _close_changes(alert: Alert, rows: dict[str, Row]) -> tuple[float, float] | None:
    """A two-id divergence's changes as the report has them (the close, not the alert)."""
    if len(alert.ids) != 2:
        return None
    found = [rows[i].change if i in rows else None for i in alert.ids]
    if found[0] is None or found[1] is None:
        return None
    return found[0], found[1]


def divergences(fired: dict[str, Alert], rows: dict[str, Row], categories: list[Category]
                ) -> list[Divergence]:
    """The day's divergences (at their last firing) with the report's changes, and the RWA
    outflow when it fired."""
    out = []
    for key, alert in sorted(fired.items()):
        if not key.startswith("divergence:"):
            continue
        v, n = alert.values, alert.notes
        change_a, change_b = _close_changes(alert, rows) or (v["change_a"], v["change_b"])
        said = {"explanation": n.get("explanation", ""),
                "explanation_zh": n.get("explanation_zh", "")}
        if v.get("gap", 0.0) < 0 and change_a < change_b and "side_b_zh" in n:
            said = leading(n, change_b - change_a)  # its size as the report has it
        out.append(Divergence(
            key=key, label=n.get("label", alert.title), label_zh=n.get("label_zh", alert.title_zh),
            severity=str(alert.severity),
            magnitude=f"{n.get('side_a', '')} {change_a:+.2f}% vs "
                      f"{n.get('side_b', '')} {change_b:+.2f}%",
            gap=round(change_a - change_b, 2), explanation=said["explanation"],
            explanation_zh=said["explanation_zh"], implication=n.get("implication", ""),
            implication_zh=n.get("implication_zh", "")))
    rwa = next((c for c in categories if c.category == "rwa"), None)
    if rwa is not None and RWA_KEY in fired:
        outflows = ", ".join(f"{p.name.removesuffix(' TVL')} {p.change:+.0f}%"
                             for p in rwa.protocols if p.change is not None and p.change < 0)
        out.append(Divergence(
            key=RWA_KEY, label="RWA TVL outflow", label_zh="RWA 锁仓量流出",
            severity=str(fired[RWA_KEY].severity), magnitude=outflows, gap=rwa.change,
            explanation="Capital leaving tokenized treasuries while other on-chain yield gains",
            explanation_zh="资金撤出代币化国债,转向其他链上收益",
            implication="DeFi rotating from synthetic bonds to native yield",
            implication_zh="DeFi 从合成债券转向原生收益", window=rwa.window))
    return out


def restate(findings: dict[str, dict[str, Any]], report: Report) -> dict[str, dict[str, Any]]:
    """The synthesis' active findings with the report's figures in place of those they had
    when they fired."""
    out = copy.deepcopy(findings)
    categories = {c.category: c for c in report.crypto.tvl_categories}
    breadth = report.a_share.breadth
    for key, finding in out.items():
        values, ids = finding["values"], finding["ids"]
        first = report.change(ids[0]) if ids else None
        if key == "flows:stablecoins" and report.crypto.stablecoin_net is not None:
            values["net"] = report.crypto.stablecoin_net
        elif key == "breadth:advance" and breadth is not None and breadth.ratio is not None:
            values["ratio"] = breadth.ratio
        elif key.startswith("divergence:") and len(ids) == 2:
            a, b = report.change(ids[0]), report.change(ids[1])
            if a is not None and b is not None:
                values["change_a"], values["change_b"] = a, b
        elif key.startswith("flows:category:"):
            category = categories.get(key.removeprefix("flows:category:"))
            if category is not None:
                values["change"] = category.change
        elif key.startswith(("flows:dex:", "flows:tvl:", "leverage:liquidation:",
                             "large_move:")) and first is not None:
            values["change"] = first
    return out


def restated_flows(synthesis: dict[str, Any], report: Report, config: Config
                   ) -> tuple[list[FlowRow], list[Risk]]:
    """The flow map and the risk matrix read off the synthesis' findings with the report's
    figures; a snapshot without its findings (an older version's) gives its rows as kept."""
    if "findings" not in synthesis:
        return ([FlowRow(**r) for r in synthesis.get("flow_map", [])],
                [Risk(**r) for r in synthesis.get("risks", [])])
    findings = restate(synthesis["findings"], report)
    levels = config.detectors.level_break.levels
    return ([FlowRow(**r) for r in read_flow_map(findings)],
            [Risk(**r) for r in read_risks(findings, levels)])
