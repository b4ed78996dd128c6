from __future__ import annotations

from crosscurrent.baselines import Baseline
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
    # judged as soon as HK trades, on the members with data; the alert names the others
    assert alert.values == {"US": 0.56, "HK": -1.17}
    assert alert.notes["missing"] == "HK: hk:HSTECH; A-share: no data"
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


def test_a_node_is_read_from_the_members_with_data_and_judged_up_to_one_without() -> None:
    detector = ChainDetector(CHAIN)
    alerts = []
    # no HS TECH (before 2020), no A-share at all: the chain is judged on US and the HSI
    for ts, (ident, change) in enumerate([("us:SPX", 1.2), ("hk:HSI", -0.9)]):
        alerts += detector.on_event(tick(ident, change, ts))
    (alert,) = alerts
    assert alert.key == "chain:broken:HK" and alert.values == {"US": 1.2, "HK": -0.9}
    assert alert.notes["missing"] == "US: us:DJI, us:IXIC; HK: hk:HSTECH; A-share: no data"
    assert "HK no data" not in alert.title and "A-share no data" in alert.title
    assert "US +1.20% did not transmit to HK (-0.90%)" in alert.notes["assessment"]
    # without the first node there is no lead to follow; without HK, no telling whether the
    # US move got through to the A-shares
    lone = ChainDetector(CHAIN)
    assert lone.on_event(tick("hk:HSI", -2.0)) + lone.on_event(tick("cn:SSE", 1.0, 1)) == []
    skipped = ChainDetector(CHAIN)
    assert skipped.on_event(tick("us:SPX", 1.2)) + skipped.on_event(tick("cn:SSE", -1.0)) == []


def test_the_us_session_moves_the_lead_but_only_asia_is_judged() -> None:
    detector = ChainDetector(CHAIN)
    detector.on_event(tick("us:SPX", 1.2))
    assert detector.on_event(tick("hk:HSI", -0.9, 1))
    assert detector.on_event(tick("us:SPX", -1.5, 2)) == []  # today's US: no judgement yet
    (resolved, intact) = detector.on_event(tick("hk:HSI", -1.0, 3))  # next Asian tick
    assert (resolved.key, intact.key) == ("chain:broken:HK", "chain:intact:risk-off")


def test_a_strong_lead_is_one_unusual_for_the_us() -> None:
    usual = Baseline(30, 20, 100.0, None, None, 1.0)
    for volatility, severity in ((1.0, Severity.INFO), (0.3, Severity.WARNING)):
        detector = ChainDetector(CHAIN)
        detector.set_baselines({"us:SPX": Baseline(30, 20, 100.0, None, None, volatility),
                                "us:DJI": usual if volatility == 1.0 else
                                Baseline(30, 20, 100.0, None, None, volatility)})
        detector.on_event(tick("us:SPX", 1.2))
        (alert,) = detector.on_event(tick("hk:HSI", -0.9, 1))
        # 1.2% is 1.2 usual moves of a 1% market (info), 4 of a 0.3% one (warning)
        assert alert.severity == severity
