"""Macro context: unit checks, and the scenario tapes of the issue (the yuan's move explains an
HK selloff; VIX spikes with equities flat), through every detector and into the report."""

from __future__ import annotations

import json
from pathlib import Path

from crosscurrent.config import load_config
from crosscurrent.events import Severity
from crosscurrent.intraday import gather
from detectors.macro import MacroDetector, regime
from reporters.report_data import build
from streams.replay import direct_event
from streams.tape import read_tape
from tests.detectors.helpers import tick
from tests.detectors.scenario import run_tape

CONFIG = load_config(env={})
MACRO = CONFIG.detectors.macro


def tape(path: Path, moves: dict[str, tuple[float, float]]) -> Path:
    """An hour of a session, 2026-04-08 (HK and US hours), each id from prev to last."""
    lines = []
    for step in range(7):
        ts = f"2026-04-08T0{2 + step // 6}:{(step * 10) % 60:02d}:00Z"
        for ident, (prev, last) in moves.items():
            value = prev + (last - prev) * (step + 1) / 7
            lines.append({"ts": ts, "id": ident, "value": round(value, 4), "prev_close": prev})
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


def test_regimes() -> None:
    assert regime(17.3, -3.0, MACRO) == "calm"
    assert regime(22.0, 2.0, MACRO) == "elevated" and regime(16.0, 26.0, MACRO) == "elevated"
    assert regime(16.0, 18.0, MACRO) == "calm"  # a usual day's jump for the VIX
    assert regime(31.0, 0.0, MACRO) == "stressed" and regime(21.0, 41.0, MACRO) == "stressed"
    assert regime(13.0, 45.0, MACRO) == "elevated"  # a jump from a low level is not stress
    # a regime is left only two points below its level
    assert regime(18.5, 0.0, MACRO, "elevated") == "elevated"
    assert regime(17.9, 0.0, MACRO, "elevated") == "calm"
    assert regime(28.5, 0.0, MACRO, "stressed") == "stressed"


def test_a_weaker_yuan_explains_an_hk_selloff(tmp_path: Path) -> None:
    path = tape(tmp_path / "yuan.jsonl", {"macro:USDCNH": (7.20, 7.24), "hk:HSI": (25500, 24900),
                                          "macro:VIX": (16.0, 16.4)})
    alerts, _ = run_tape(path)
    (yuan,) = [a for a in alerts if a.key == "macro:yuan"]
    assert yuan.severity == Severity.WARNING and "Yuan weakening" in yuan.title
    events = [direct_event(e) for e in read_tape(path).events]
    report = build(gather(events), alerts, {}, CONFIG)
    assert report.macro is not None
    assert report.macro.regime == "calm" and report.macro.yuan_weak
    assert "a weaker yuan weighs on Hong Kong" in report.macro.reading
    assert "USD/CNH 7.2400 (+0.56%)" in report.macro.numbers


def test_vix_spiking_with_flat_equities_is_a_stressed_regime(tmp_path: Path) -> None:
    path = tape(tmp_path / "vix.jsonl", {"macro:VIX": (16.0, 23.0), "us:SPX": (6600, 6601)})
    alerts, _ = run_tape(path)
    regimes = [(a.severity, a.title) for a in alerts if a.key == "macro:regime"]
    assert regimes[-1][0] == Severity.CRITICAL and "stressed" in regimes[-1][1]
    assert not [a for a in alerts if a.key.startswith("large_move:us:")]  # equities flat
    events = [direct_event(e) for e in read_tape(path).events]
    narrative = build(gather(events), alerts, {}, CONFIG).us_narrative
    assert narrative is not None and narrative.headline == "Flat Equities, Volatility Spiking"
    assert "Volatility is stressed; VIX 23.00 (+43.75%)" in narrative.en


def test_dollar_shocks_and_risk_on_with_safe_havens() -> None:
    detector = MacroDetector(MACRO)
    (shock,) = detector.on_event(tick("macro:DXY", 1.0))
    assert shock.key == "macro:shock" and "DXY +1.00%" in shock.title
    for ident, change in (("us:SPX", 0.6), ("crypto:BTC", 2.0), ("macro:VIX", 4.0)):
        detector.on_event(tick(ident, change))
    (both,) = detector.on_event(tick("macro:GOLD", 1.2))
    assert both.key == "macro:coherence" and "safe havens" in both.title
    assert "黄金" in both.title_zh
