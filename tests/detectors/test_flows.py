from __future__ import annotations

from crosscurrent.baselines import Baseline
from crosscurrent.config import load_config
from crosscurrent.events import Alert, Severity
from detectors.flows import FlowsDetector
from tests.detectors.helpers import metric

FLOWS = load_config(env={}).detectors.flows
HOUR = 3_600_000


def run(series: dict[str, tuple[float, float]]) -> tuple[FlowsDetector, list[Alert]]:
    """Each id from its first value to its second, an hour apart."""
    detector = FlowsDetector(FLOWS)
    alerts: list[Alert] = []
    for ident, (start, _) in series.items():
        alerts += detector.on_event(metric(ident, start, 0))
    for ident, (_, end) in series.items():
        alerts += detector.on_event(metric(ident, end, HOUR))
    return detector, alerts


def keys(alerts: list[Alert]) -> dict[str, Severity]:
    return {a.key: a.severity for a in alerts}


def test_rwa_outflow_into_staking_and_bridges_is_a_rotation() -> None:
    detector, alerts = run({"tvl:lido": (24.1e9, 24.85e9), "tvl:stargate": (410e6, 436e6),
                            "tvl:superstate": (640e6, 486.4e6), "tvl:openeden": (280e6, 255e6),
                            "tvl:ondo-finance": (1.4e9, 1.37e9)})
    found = keys(alerts)
    assert found["flows:tvl:tvl:superstate"] == Severity.WARNING  # -24%
    assert "flows:tvl:tvl:openeden" not in found  # -8.9%: below the 10% protocol threshold
    assert found["flows:category:rwa"] == Severity.WARNING
    rotation = next(a for a in alerts if a.key == "flows:rotation:rwa")
    assert rotation.notes["destination"] == "bridges / liquid staking"
    assert rotation.title_zh.startswith("资金轮动")
    rwa = detector.category_change("rwa", HOUR)
    assert rwa is not None and rwa.pct is not None
    assert round(rwa.pct, 2) == -8.99 and round(rwa.delta) == -208_600_000
    assert rwa.window == "1 h to 01:00Z (09:00 HKT)"  # the hour the series covers


def test_stablecoin_minting_is_an_inflow_and_redemption_a_warning() -> None:
    _, alerts = run({"stable:USDT": (183.7e9, 184.1e9), "stable:USDC": (76.2e9, 76.5e9)})
    (alert,) = alerts  # fired on USDT's +$400M; USDC's +$300M joins the same finding
    assert alert.severity == Severity.INFO and alert.values["net"] == 400e6
    assert "fresh inflow" in alert.title
    _, alerts = run({"stable:USDT": (183.7e9, 181e9)})
    assert keys(alerts) == {"flows:stablecoins": Severity.CRITICAL}


def test_dex_volume_spikes_against_the_trailing_average_when_known() -> None:
    _, alerts = run({"dexvol:curve-dex": (95e6, 411e6)})
    assert keys(alerts) == {"flows:dex:dexvol:curve-dex": Severity.CRITICAL}  # 4.3x
    detector = FlowsDetector(FLOWS)
    detector.set_baselines({"dexvol:curve-dex": Baseline(30, 20, 300e6, None, 300e6, None)})
    assert detector.on_event(metric("dexvol:curve-dex", 411e6)) == []  # 1.4x its average
    (alert,) = detector.on_event(metric("dexvol:curve-dex", 700e6, 1))
    assert alert.severity == Severity.WARNING and alert.values["reference"] == 300e6


def test_changes_are_over_the_trailing_24_hours_and_say_so() -> None:
    detector = FlowsDetector(FLOWS)
    assert detector.on_event(metric("dexvol:curve-dex", 100e6, 0)) == []
    (spike,) = detector.on_event(metric("dexvol:curve-dex", 300e6, 24 * HOUR))
    assert spike.values["change"] == 200.0 and "+200% in 24 h" in spike.title
    (alert,) = detector.on_event(metric("dexvol:curve-dex", 90e6, 36 * HOUR))
    # against the value in force 24 h before: the 100M set at 0 h, still in force at 12 h
    assert alert.state == "resolved" and alert.values["change"] == -10.0
    assert alert.values["window_h"] == 24.0 and alert.ts == 36 * HOUR
