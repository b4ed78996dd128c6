from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from crosscurrent.baselines import Baseline
from crosscurrent.config import load_config
from crosscurrent.events import Severity
from detectors.breadth import BreadthDetector
from tests.detectors.helpers import metric

BREADTH = load_config(env={}).detectors.breadth


def shanghai(hour: int, minute: int = 0) -> int:
    at = datetime(2026, 4, 8, hour, minute, tzinfo=ZoneInfo("Asia/Shanghai"))
    return int(at.timestamp() * 1000)


def test_advance_decline_ratio() -> None:
    detector = BreadthDetector(BREADTH)
    assert detector.on_event(metric("cn:ADVANCERS", 1584)) == []
    (alert,) = detector.on_event(metric("cn:DECLINERS", 713))
    assert (alert.key, alert.severity) == ("breadth:advance", Severity.INFO)
    assert "1584:713 (2.2:1)" in alert.title and "涨跌比" in alert.title_zh
    alerts = detector.on_event(metric("cn:DECLINERS", 7000, 1))
    assert [(a.key, a.state, a.severity) for a in alerts] == [
        ("breadth:advance", "resolved", Severity.INFO),
        ("breadth:decline", "firing", Severity.CRITICAL)]


def test_turnover_is_judged_against_its_pace_once_a_quarter_of_the_session_is_in() -> None:
    detector = BreadthDetector(BREADTH)
    detector.on_event(metric("cn:TURNOVER", 1e11, shanghai(9, 40)))  # no average: nothing
    detector.set_baselines({"cn:TURNOVER": Baseline(30, 20, 1.1e12, None, 1.0e12, None)})
    assert detector.on_event(metric("cn:TURNOVER", 1e11, shanghai(9, 45))) == []  # too early
    (alert,) = detector.on_event(metric("cn:TURNOVER", 1e11, shanghai(11, 0)))
    assert alert.severity == Severity.WARNING and "thin" in alert.title
    (alert,) = detector.on_event(metric("cn:TURNOVER", 1.8e12, shanghai(15, 0)))
    assert alert.severity == Severity.INFO and alert.values["pace"] == 1.8
