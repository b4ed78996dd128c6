from __future__ import annotations

from crosscurrent.detector_config import UserRule
from crosscurrent.events import AlertState, Severity
from detectors.rules import RulesDetector
from tests.detectors.helpers import metric, tick

RULE = UserRule(name="eth-hot", when='change("crypto:ETH", "24h") > 0.06 and '
                'funding("ETH") > 0.0005', severity="critical", title="ETH hot",
                title_zh="ETH 过热")


def test_a_rule_fires_while_it_holds_and_resolves_after() -> None:
    detector = RulesDetector([RULE])
    assert detector.ids() == {"crypto:ETH", "funding:ETH"}
    assert detector.on_event(tick("crypto:ETH", 6.5)) == []  # funding unknown: undecided
    (alert,) = detector.on_event(metric("funding:ETH", 0.0007, 1))
    assert (alert.key, alert.state, alert.severity) == ("rule:eth-hot", AlertState.FIRING,
                                                        Severity.CRITICAL)
    assert alert.title == "ETH hot" and alert.title_zh == "ETH 过热"
    assert alert.values["funding:ETH"] == 0.0007
    assert detector.on_event(metric("funding:ETH", 0.0008, 2)) == []
    (alert,) = detector.on_event(tick("crypto:ETH", 2.0, 3))
    assert alert.state == AlertState.RESOLVED
