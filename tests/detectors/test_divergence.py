from __future__ import annotations

import orjson
import pytest

from crosscurrent.baselines import Baseline
from crosscurrent.detector_config import DivergencePair
from crosscurrent.events import Alert, AlertState, Metric, Severity, Tick
from detectors.divergence import DivergenceDetector

PAIR = DivergencePair(a="crypto:BTC", b="hk:HSTECH", warn=3.0, critical=5.0, resolve=2.0)


def tick(ident: str, change: float, ts: int, prev: float = 100.0) -> Tick:
    return Tick(id=ident, ts=ts, price=prev * (1 + change / 100), prev_close=prev)


def calibrated(usual: float, pair: DivergencePair = PAIR) -> DivergenceDetector:
    """A detector given 20 sessions of history in which the pair's daily gap alternates
    +usual / -usual (its usual gap: `usual` x sqrt(20/19))."""
    detector = DivergenceDetector([pair])
    days = [f"2026-03-{d:02d}" for d in range(1, 21)]
    btc = tuple((d, usual if i % 2 else -usual) for i, d in enumerate(days))
    detector.set_baselines({
        "crypto:BTC": Baseline(20, 20, 100.0, None, None, usual, btc),
        "hk:HSTECH": Baseline(20, 20, 100.0, None, None, None, tuple((d, 0.0) for d in days))})
    return detector


def feed(detector: DivergenceDetector, btc_changes: list[float], hstech: float = 0.0
         ) -> list[Alert]:
    alerts = detector.on_event(tick("hk:HSTECH", hstech, 0))
    for ts, change in enumerate(btc_changes, start=1):
        alerts += detector.on_event(tick("crypto:BTC", change, ts))
    return alerts


def test_gap_fires_escalates_and_resolves() -> None:
    # a calm pair (usual gap 0.5 pp): the floors decide
    alerts = feed(calibrated(0.5), [1.0, 3.1, 4.0, 5.2, 4.5, 2.5, 1.9])
    assert [(a.state, a.severity, a.ts) for a in alerts] == [
        (AlertState.FIRING, Severity.WARNING, 2),
        (AlertState.FIRING, Severity.CRITICAL, 4),
        (AlertState.FIRING, Severity.WARNING, 6),   # 2.5 < 80% of critical (4.0)
        (AlertState.RESOLVED, Severity.WARNING, 7),
    ]
    first = alerts[0]
    assert first.key == "divergence:crypto:BTC/hk:HSTECH"
    assert first.ids == ("crypto:BTC", "hk:HSTECH")
    assert first.values["gap"] == pytest.approx(3.1)
    assert first.title == "Bitcoin +3.10% vs Hang Seng TECH +0.00% (gap +3.10 pp)"


def test_seed_day_crypto_up_hong_kong_tech_down() -> None:
    alerts = feed(calibrated(0.5), [4.35], hstech=-1.63)
    assert len(alerts) == 1 and alerts[0].severity == Severity.CRITICAL
    assert alerts[0].values["gap"] == pytest.approx(5.98)
    assert alerts[0].values["z"] == pytest.approx(5.98 / (0.5 * (20 / 19) ** 0.5), abs=0.01)
    assert "Bitcoin +4.35% vs Hang Seng TECH -1.63%" in alerts[0].title


def test_the_same_gap_on_a_volatile_pair_is_a_finding_only() -> None:
    # usual gap 2 pp: a warning needs 3.5 x 2.05 = 7.2 pp, a critical 8 x 2.05 = 16.4 pp
    (alert,) = feed(calibrated(2.0), [4.35], hstech=-1.63)
    assert alert.severity == Severity.INFO and alert.values["warn"] == pytest.approx(7.18, 0.01)
    (louder,) = feed(calibrated(2.0), [4.35, 7.0], hstech=-1.63)[1:]
    assert louder.severity == Severity.WARNING


def test_without_the_pairs_history_a_gap_is_a_finding_at_most() -> None:
    alerts = feed(DivergenceDetector([PAIR]), [9.0], hstech=-9.0)
    assert [a.severity for a in alerts] == [Severity.INFO]
    assert "z" not in alerts[0].values


def test_hysteresis_keeps_a_gap_hovering_at_the_threshold_quiet() -> None:
    alerts = feed(calibrated(0.5), [3.05, 2.95, 3.05, 2.1, 3.2, 2.9])
    assert len(alerts) == 1


def test_negative_gaps_count_too() -> None:
    alerts = feed(DivergenceDetector([PAIR]), [-3.5])
    assert alerts[0].values["gap"] == pytest.approx(-3.5)


def test_no_change_without_previous_close_and_no_metrics() -> None:
    detector = DivergenceDetector([PAIR])
    assert detector.on_event(Tick(id="hk:HSTECH", ts=0, price=90.0)) == []
    assert detector.on_event(tick("crypto:BTC", 10, 1)) == []  # HSTECH has no reference yet
    assert detector.on_event(Metric(id="crypto:BTC", ts=2, value=1.0)) == []
    assert detector.on_event(tick("us:DJI", 5, 3)) == []


def test_late_ticks_do_not_move_the_state_back() -> None:
    detector = DivergenceDetector([PAIR])
    feed(detector, [3.5])
    assert detector.on_event(tick("crypto:BTC", 0.0, 0)) == []
    assert detector.moves.change("crypto:BTC") == pytest.approx(3.5)


def test_snapshot_and_restore_resume_exactly() -> None:
    changes = [1.0, 3.1, 4.0, 5.2, 4.5, 2.5, 1.9, 3.3, 6.0, 0.0]
    whole = feed(DivergenceDetector([PAIR]), changes)
    first = DivergenceDetector([PAIR])
    head = feed(first, changes[:4])
    saved = orjson.loads(orjson.dumps(first.snapshot()))  # as it travels through Redis
    second = DivergenceDetector([PAIR])
    second.restore(saved)
    tail = [a for ts, c in enumerate(changes[4:], start=5)
            for a in second.on_event(tick("crypto:BTC", c, ts))]
    assert head + tail == whole


def test_unknown_ids_in_pairs_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown instrument id 'crypto:NOPE'"):
        DivergencePair(a="crypto:NOPE", b="hk:HSI", warn=1, critical=2, resolve=0.5)


def test_notes_read_for_a_above_b_and_say_who_leads_the_other_way() -> None:
    pair = PAIR.model_copy(update={
        "explanation": "Crypto bid, HK tech sold", "explanation_zh": "加密走强,港股科技走弱",
        "implication": "Risk rotates", "implication_zh": "", "label": "BTC vs HSTECH"})
    sides = {"side_a": "Bitcoin", "side_a_zh": "比特币", "side_b": "Hang Seng TECH",
             "side_b_zh": "恒生科技"}
    (up,) = feed(DivergenceDetector([pair]), [3.5])
    assert up.notes == {"explanation": "Crypto bid, HK tech sold",
                        "explanation_zh": "加密走强,港股科技走弱", "implication": "Risk rotates",
                        "label": "BTC vs HSTECH", "label_zh": "BTC vs HSTECH", **sides}
    (down,) = feed(DivergenceDetector([pair]), [-3.5])
    assert down.notes == {"explanation": "Hang Seng TECH leads Bitcoin by 3.50 pp",
                          "explanation_zh": "恒生科技领先比特币 3.50 个百分点",
                          "label": "BTC vs HSTECH", "label_zh": "BTC vs HSTECH", **sides}
    assert up.values["cross_market"] == down.values["cross_market"] == 1.0
