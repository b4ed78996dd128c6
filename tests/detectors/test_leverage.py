from __future__ import annotations

from crosscurrent.config import load_config
from crosscurrent.events import Severity
from detectors.leverage import LeverageDetector
from tests.detectors.helpers import metric, tick

LEVERAGE = load_config(env={}).detectors.leverage


def test_a_funding_spike_warns_and_escalates() -> None:
    detector = LeverageDetector(LEVERAGE)
    assert detector.on_event(metric("funding:ETH", 0.0001)) == []
    (alert,) = detector.on_event(metric("funding:ETH", 0.0006, 1))
    assert alert.severity == Severity.WARNING and "0.0600%" in alert.title
    (alert,) = detector.on_event(metric("funding:ETH", 0.0012, 2))
    assert alert.severity == Severity.CRITICAL


def test_a_fast_move_on_stretched_funding_the_same_way_is_critical() -> None:
    detector = LeverageDetector(LEVERAGE)
    detector.on_event(metric("funding:ETH", 0.00034))
    (alert,) = detector.on_event(tick("crypto:ETH", 6.05, 1))
    assert alert.key == "leverage:liquidation:crypto:ETH"
    assert alert.severity == Severity.CRITICAL and "爆仓风险" in alert.title_zh
    other = LeverageDetector(LEVERAGE)
    other.on_event(metric("funding:ETH", -0.00034))  # shorts crowded into a rally: not this
    assert other.on_event(tick("crypto:ETH", 6.05, 1)) == []
