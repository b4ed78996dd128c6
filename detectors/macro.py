"""Macro context: the risk regime from VIX, the yuan against Hong Kong, dollar and yield
shocks, and risk-on assets rising together with safe havens.

  macro:regime      VIX level or jump: elevated (warning) or stressed (critical); calm is
                    said in the snapshot (and the report), not alerted
  macro:yuan        the offshore yuan weakening while Hong Kong falls (warning): the yuan's
                    move explains foreign selling of HK and A-shares
  macro:shock       the dollar index or the 10-year yield moving hard in a day (warning)
  macro:coherence   equities and crypto up while gold and VIX rise too (warning): risk-on and
                    safe-haven bids at once, a divergence worth a line
"""

from __future__ import annotations

from typing import Any, Final

from crosscurrent.detector_config import MacroConfig
from crosscurrent.events import Alert, Metric, Severity, Tick
from crosscurrent.formatting import signed
from detectors.common import Latch, Moves

NAME: Final = "macro"
REGIME_ZH = {"calm": "平静", "elevated": "升温", "stressed": "紧张"}


def regime(level: float, change: float | None, config: MacroConfig, current: str = "") -> str:
    """calm / elevated / stressed from the VIX level and its change (percent). A jump makes
    a calm market elevated, and an elevated one stressed (a jump from a low level is not
    stress). A regime is left only `vix_band` points below its level (`current`: the regime
    in force), so a VIX hovering at a threshold does not flap."""
    jump = change or 0.0
    band = config.vix_band
    elevated = level >= config.vix_elevated or (
        current in ("elevated", "stressed") and level >= config.vix_elevated - band)
    if level >= config.vix_stressed or (elevated and jump >= config.vix_jump_stressed) or (
            current == "stressed" and level >= config.vix_stressed - band):
        return "stressed"
    if elevated or jump >= config.vix_jump_elevated:
        return "elevated"
    return "calm"


def basis_points(last: float, prev_close: float | None) -> float | None:
    """A yield's move in basis points (yields are quoted in percent)."""
    return None if not prev_close else (last - prev_close) * 100


class MacroDetector:
    name = NAME

    def __init__(self, config: MacroConfig) -> None:
        self.config = config
        self.moves = Moves()
        self.latch = Latch()
        self.regime = ""

    def ids(self) -> frozenset[str]:
        return frozenset({"macro:VIX", "macro:USDCNH", "macro:DXY", "macro:US10Y",
                          "macro:GOLD", "hk:HSI", "us:SPX", "crypto:BTC"})

    def on_event(self, event: Tick | Metric) -> list[Alert]:
        if not isinstance(event, Tick) or not self.moves.moved(event):
            return []
        alerts: list[Alert] = []
        for check in (self._regime, self._yuan, self._shock, self._coherence):
            alerts += check(event)
        return alerts

    def _regime(self, event: Tick) -> list[Alert]:
        level = self.moves.price("macro:VIX")
        if event.id != "macro:VIX" or level is None:
            return []
        change = self.moves.change("macro:VIX")
        self.regime = regime(level, change, self.config, self.regime)
        severity = {"elevated": Severity.WARNING, "stressed": Severity.CRITICAL}.get(
            self.regime)
        return self.latch.alerts(
            NAME, "macro:regime", severity, event, ("macro:VIX",),
            f"Risk regime {self.regime}: VIX {level:.2f} ({signed(change or 0.0)})",
            f"风险状态{REGIME_ZH[self.regime]}:VIX {level:.2f}({signed(change or 0.0)})",
            {"vix": level, "change": round(change or 0.0, 4)})

    def _yuan(self, event: Tick) -> list[Alert]:
        cnh, hsi = self.moves.change("macro:USDCNH"), self.moves.change("hk:HSI")
        if event.id not in ("macro:USDCNH", "hk:HSI") or cnh is None or hsi is None:
            return []
        weak = cnh >= self.config.yuan_move and hsi <= -self.config.hk_move
        return self.latch.alerts(
            NAME, "macro:yuan", Severity.WARNING if weak else None, event,
            ("macro:USDCNH", "hk:HSI"),
            f"Yuan weakening (USD/CNH {signed(cnh)}) as Hong Kong falls (HSI {signed(hsi)})",
            f"人民币走弱(美元/离岸人民币 {signed(cnh)}),港股下跌(恒指 {signed(hsi)})",
            {"usdcnh_change": round(cnh, 4), "hsi_change": round(hsi, 4)})

    def _shock(self, event: Tick) -> list[Alert]:
        if event.id not in ("macro:DXY", "macro:US10Y"):
            return []
        dxy = self.moves.change("macro:DXY")
        quote = self.moves.quotes.get("macro:US10Y")
        bp = basis_points(quote[0], quote[1]) if quote else None
        hit = (dxy is not None and abs(dxy) >= self.config.dxy_move) or \
            (bp is not None and abs(bp) >= self.config.yield_bp)
        return self.latch.alerts(
            NAME, "macro:shock", Severity.WARNING if hit else None, event,
            ("macro:DXY", "macro:US10Y"),
            f"Dollar/yield shock: DXY {signed(dxy or 0.0)}, US 10-year {bp or 0.0:+.0f} bp",
            f"美元/收益率冲击:美元指数 {signed(dxy or 0.0)},美国十年期 {bp or 0.0:+.0f} 个基点",
            {"dxy_change": round(dxy or 0.0, 4), "us10y_bp": round(bp or 0.0, 2)})

    def _coherence(self, event: Tick) -> list[Alert]:
        ids = ("us:SPX", "crypto:BTC", "macro:GOLD", "macro:VIX")
        if event.id not in ids:
            return []
        changes = [self.moves.change(i) for i in ids]
        if any(c is None for c in changes):
            return []
        spx, btc, gold, vix = [c or 0.0 for c in changes]
        both = spx > 0 and btc > 0 and gold >= self.config.gold_move and vix > 0
        return self.latch.alerts(
            NAME, "macro:coherence", Severity.WARNING if both else None, event, ids,
            f"Risk-on and safe havens bid together: S&P {signed(spx)}, BTC {signed(btc)}, "
            f"gold {signed(gold)}, VIX {signed(vix)}",
            f"风险资产与避险资产同涨:标普 {signed(spx)},BTC {signed(btc)},黄金 {signed(gold)},"
            f"VIX {signed(vix)}",
            {"spx": round(spx, 4), "btc": round(btc, 4), "gold": round(gold, 4),
             "vix": round(vix, 4)})

    def snapshot(self) -> dict[str, Any]:
        return {**self.moves.state(), "active": self.latch.active, "regime": self.regime}

    def restore(self, state: dict[str, Any]) -> None:
        self.moves.load(state)
        self.latch.active = dict(state.get("active", {}))
        self.regime = state.get("regime", "")
