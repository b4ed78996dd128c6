from __future__ import annotations

from crosscurrent.baselines import Baseline
from crosscurrent.config import load_config
from crosscurrent.events import AlertState, Severity
from detectors.large_move import LargeMoveDetector
from tests.detectors.helpers import tick

RULES = load_config(env={}).detectors.large_move.rules


def vol(sigma: float | None) -> Baseline:
    return Baseline(30, 20, 100.0, None, None, sigma)


def test_while_warming_up_the_floor_decides() -> None:
    detector = LargeMoveDetector(RULES)
    assert detector.on_event(tick("hk:HSI", -2.0)) == []
    (alert,) = detector.on_event(tick("hk:HSI", -2.6, 1))
    assert alert.severity == Severity.WARNING and alert.values["change"] == -2.6
    (alert,) = detector.on_event(tick("hk:HSI", -5.2, 2))
    assert alert.severity == Severity.CRITICAL and "大幅波动" in alert.title_zh


def test_a_volatile_id_needs_a_bigger_move() -> None:
    detector = LargeMoveDetector(RULES)
    detector.set_baselines({"hk:HSI": vol(1.0)})  # 3.5 sigma = 3.5% > the 2.5% floor
    assert detector.thresholds("hk:HSI") == (3.5, 4.0)  # critical: 4% however usual
    assert detector.on_event(tick("hk:HSI", -3.0)) == []
    (alert,) = detector.on_event(tick("hk:HSI", -3.6, 1))
    assert alert.severity == Severity.WARNING and "3.6x its usual daily move" in alert.title


def test_a_move_beyond_always_critical_pages_in_a_turbulent_month_too() -> None:
    detector = LargeMoveDetector(RULES)
    detector.set_baselines({"hk:HSI": vol(2.0), "crypto:BTC": vol(6.0)})
    assert detector.thresholds("hk:HSI") == (4.0, 4.0)  # 7% and 13% by sigma alone
    (alert,) = detector.on_event(tick("hk:HSI", -4.1))
    assert alert.severity == Severity.CRITICAL
    assert detector.thresholds("crypto:BTC") == (15.0, 15.0)
    assert detector.on_event(tick("crypto:BTC", 14.0)) == []


def test_it_resolves_only_well_below_the_threshold() -> None:
    detector = LargeMoveDetector(RULES)
    detector.on_event(tick("crypto:ETH", 9.0))
    assert detector.on_event(tick("crypto:ETH", 7.0, 1)) == []  # within the band
    (alert,) = detector.on_event(tick("crypto:ETH", 6.0, 2))
    assert alert.state == AlertState.RESOLVED
