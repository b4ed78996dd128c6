from __future__ import annotations

from crosscurrent.config import load_config
from crosscurrent.events import Alert, AlertState, Severity
from detectors.chain import ChainDetector
from tests.detectors.helpers import tick

CHAIN = load_config(env={}).detectors.chain


def day(us: float, hk: float, cn: float) -> tuple[ChainDetector, list[Alert]]:
    detector = ChainDetector(CHAIN)
    alerts = []
    for ts, (ident, change) in enumerate([
            ("us:DJI", us), ("us:IXIC", us), ("us:SPX", us), ("hk:HSI", hk),
            ("hk:HSTECH", hk), ("cn:SSE", cn), ("cn:CHINEXT", cn)]):
        alerts += detector.on_event(tick(ident, change, ts))
    return detector, alerts


def test_the_seed_day_breaks_at_the_hk_node() -> None:
    _, alerts = day(0.56, -1.17, 0.31)
    (alert,) = alerts
    assert alert.key == "chain:broken:HK" and alert.severity == Severity.WARNING
    assert alert.values == {"US": 0.56, "HK": -1.17, "A-share": 0.31}
    assert "US +0.56% did not transmit to HK (-1.17%)" in alert.notes["assessment"]
    assert "传导链在港股节点断裂" in alert.title_zh


def test_intact_chains_are_findings_too() -> None:
    _, alerts = day(-1.2, -1.8, -0.9)
    assert [(a.key, a.severity) for a in alerts] == [("chain:intact:risk-off",
                                                      Severity.WARNING)]
    _, alerts = day(0.8, 0.9, 0.5)
    assert [(a.key, a.severity) for a in alerts] == [("chain:intact:risk-on", Severity.INFO)]


def test_a_weak_lead_or_a_flat_node_is_only_info_and_a_flat_us_says_nothing() -> None:
    _, alerts = day(0.3, 0.1, 0.2)
    assert [(a.key, a.severity) for a in alerts] == [("chain:broken:HK", Severity.INFO)]
    assert day(0.1, -2.0, 1.0)[1] == []


def test_a_new_pattern_resolves_the_old_one() -> None:
    detector, _ = day(0.56, -1.17, 0.31)
    alerts = detector.on_event(tick("hk:HSI", 1.5, 10)) + detector.on_event(
        tick("hk:HSTECH", 1.5, 11))
    assert [(a.key, a.state, a.severity) for a in alerts] == [
        # HK flat after the first tick: still broken there, and still a warning (no flapping)
        ("chain:broken:HK", AlertState.RESOLVED, Severity.WARNING),
        ("chain:intact:risk-on", AlertState.FIRING, Severity.INFO)]


def test_snapshot_and_restore() -> None:
    detector, _ = day(0.56, -1.17, 0.31)
    again = ChainDetector(CHAIN)
    again.restore(detector.snapshot())
    assert again.on_event(tick("hk:HSI", -1.17, 20)) == []  # still broken at HK: no news
