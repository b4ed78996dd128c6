from __future__ import annotations

from crosscurrent.config import load_config
from crosscurrent.events import Alert, AlertState, Severity
from detectors.synthesis import Synthesis
from tests.detectors.helpers import tick

CONFIG = load_config(env={})
EVENT = tick("crypto:BTC", 4.35)


def finding(key: str, detector: str, ids: tuple[str, ...], values: dict[str, float],
            notes: dict[str, str] | None = None, severity: Severity = Severity.WARNING,
            state: AlertState = AlertState.FIRING) -> Alert:
    return Alert(ts=0, detector=detector, key=key, state=state, severity=severity, ids=ids,
                 title=key, title_zh=key, values=values, notes=notes or {})


BTC_HSTECH = finding(
    "divergence:crypto:BTC/hk:HSTECH", "divergence", ("crypto:BTC", "hk:HSTECH"),
    {"change_a": 4.35, "change_b": -1.63, "cross_market": 1.0},
    {"side_a": "Bitcoin", "side_a_zh": "比特币", "side_b": "Hang Seng TECH",
     "side_b_zh": "恒生科技"})
CHAIN = finding("chain:broken:HK", "chain", ("hk:HSI",), {"US": 0.56, "HK": -1.17})
LIQUIDATION = finding("leverage:liquidation:crypto:ETH", "leverage",
                      ("crypto:ETH", "funding:ETH"), {"change": 6.05, "funding": 0.00034},
                      severity=Severity.CRITICAL)


def test_co_moving_findings_become_flow_rows_and_ranked_risks() -> None:
    synthesis = Synthesis(CONFIG.detectors.level_break.levels)
    alerts = synthesis.on_alerts([BTC_HSTECH, CHAIN, LIQUIDATION], EVENT)
    (row,) = synthesis.flow_map
    assert (row["source"], row["destination"]) == ("Hang Seng TECH selloff", "Bitcoin")
    assert [r["risk"] for r in synthesis.risks] == ["HK/A-share correlation breakdown",
                                                    "Crypto leverage liquidation"]
    hk = synthesis.risks[0]
    assert (hk["probability"], hk["impact"]) == ("High", "Medium")
    assert hk["trigger"] == "If HSI breaks 25,000 on volume (≥1.5x average), A-shares may follow"
    assert "ETH +6.05% in 24 h" in synthesis.risks[1]["trigger"]
    assert {a.key for a in alerts} == {
        "synthesis:flow:Hang Seng TECH selloff->Bitcoin",
        "synthesis:risk:HK/A-share correlation breakdown",
        "synthesis:risk:Crypto leverage liquidation"}
    assert all(a.detector == "synthesis" and a.title_zh for a in alerts)


def test_findings_that_resolve_take_their_rows_and_risks_away() -> None:
    synthesis = Synthesis(CONFIG.detectors.level_break.levels)
    synthesis.on_alerts([BTC_HSTECH, CHAIN], EVENT)
    gone = BTC_HSTECH.model_copy(update={"state": AlertState.RESOLVED})
    alerts = synthesis.on_alerts([gone], EVENT)
    assert synthesis.flow_map == []
    assert [(a.key, a.state, a.severity) for a in alerts] == [
        ("synthesis:flow:Hang Seng TECH selloff->Bitcoin", AlertState.RESOLVED, Severity.INFO),
        # the chain alone: Medium x Medium, down from a warning to info
        ("synthesis:risk:HK/A-share correlation breakdown", AlertState.FIRING, Severity.INFO)]
    assert synthesis.risks[0]["probability"] == "Medium"
    assert alerts[0].title_zh == "已解除:资金流向 恒生科技抛售 → 比特币"
    again = Synthesis()
    again.restore(synthesis.snapshot())
    assert again.on_alerts([gone], EVENT) == []


def test_a_finding_it_does_not_read_changes_nothing_and_is_not_kept() -> None:
    synthesis = Synthesis(CONFIG.detectors.level_break.levels)
    synthesis.on_alerts([BTC_HSTECH, CHAIN], EVENT)
    before = synthesis.snapshot()
    eth_btc = finding("divergence:crypto:ETH/crypto:BTC", "divergence",
                      ("crypto:ETH", "crypto:BTC"),
                      {"change_a": 6.0, "change_b": 4.35, "cross_market": 0.0})
    macro = finding("macro:us:VIX", "macro", ("us:VIX",), {"value": 31.0})
    assert synthesis.on_alerts([eth_btc, macro], EVENT) == []
    assert synthesis.snapshot() == before
    # a snapshot that kept one (taken before the synthesis chose what it reads) drops it
    old = {**before, "findings": {**before["findings"], eth_btc.key: {
        "severity": "warning", "values": dict(eth_btc.values), "notes": {},
        "ids": list(eth_btc.ids), "title": eth_btc.title}}}
    again = Synthesis(CONFIG.detectors.level_break.levels)
    again.restore(old)
    assert again.findings == synthesis.findings
    # a cross-market divergence is still read: its resolution takes its flow row away
    gone = BTC_HSTECH.model_copy(update={"state": AlertState.RESOLVED})
    assert "synthesis:flow:Hang Seng TECH selloff->Bitcoin" in \
        {a.key for a in again.on_alerts([gone], EVENT)}


def test_a_flow_whose_figures_move_stays_one_alert() -> None:
    """A second DEX joining the stablecoin flow changes the row's figures, not its identity:
    no resolve-and-fire pair, the alert that fired stands (with its own figures)."""
    synthesis = Synthesis(CONFIG.detectors.level_break.levels)
    stable = finding("flows:stablecoins", "flows", ("stable:USDT",), {"net": 3.1e8},
                     severity=Severity.INFO)
    curve = finding("flows:dex:dexvol:curve-dex", "flows", ("dexvol:curve-dex",),
                    {"ratio": 2.03, "change": 103.0})
    (first,) = synthesis.on_alerts([stable, curve], EVENT)
    assert first.key == "synthesis:flow:Stablecoin minting->DEX volumes"
    assert "Stablecoin minting ($310.00M) → DEX volumes (Curve +103%)" in first.title
    fluid = finding("flows:dex:dexvol:fluid", "flows", ("dexvol:fluid",),
                    {"ratio": 2.09, "change": 109.0})
    assert synthesis.on_alerts([fluid], EVENT) == []
    assert synthesis.flow_map[0]["destination"] == "DEX volumes (Curve +103%, Fluid +109%)"


def test_risks_from_findings_alone_stay_findings() -> None:
    """A crypto move with no funding finding, or a chain break with a divergence where
    neither is a warning, ranks as a risk but does not warn: the findings are their own
    alerts."""
    synthesis = Synthesis(CONFIG.detectors.level_break.levels)
    move = finding("large_move:crypto:BTC", "large_move", ("crypto:BTC",), {"change": 9.0})
    quiet_chain = finding("chain:broken:HK", "chain", ("hk:HSI",), {"US": 0.6, "HK": -0.4},
                          severity=Severity.INFO)
    quiet_gap = BTC_HSTECH.model_copy(update={"severity": Severity.INFO})
    alerts = synthesis.on_alerts([move, quiet_chain, quiet_gap], EVENT)
    risks = {a.key: a.severity for a in alerts if a.key.startswith("synthesis:risk:")}
    assert risks == {"synthesis:risk:Crypto leverage liquidation": Severity.INFO,
                     "synthesis:risk:HK/A-share correlation breakdown": Severity.INFO}
    assert [r["probability"] for r in synthesis.risks] == ["Medium", "Low"]
    louder = synthesis.on_alerts([BTC_HSTECH], EVENT)  # the gap becomes a warning
    assert [(a.key, a.severity) for a in louder if a.key.startswith("synthesis:risk:")] == [
        ("synthesis:risk:HK/A-share correlation breakdown", Severity.WARNING)]
