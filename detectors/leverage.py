"""Leverage risk: funding-rate spikes, and fast moves on stretched funding.

  leverage:funding:<funding id>     |funding| >= warn (warning) / critical (critical)
  leverage:liquidation:<price id>   a 24 h move beyond move_pct with funding stretched the same
                                    way (>= stretched): crowded positioning into a fast move,
                                    critical
"""

from __future__ import annotations

from typing import Any, Final

from crosscurrent.catalog import Catalog, default_catalog
from crosscurrent.detector_config import FundingPair, LeverageConfig
from crosscurrent.events import Alert, Metric, Severity, Tick
from crosscurrent.formatting import signed
from detectors.common import Latch, Moves, finite, make_alert, sticky_level

NAME: Final = "leverage"


class LeverageDetector:
    name = NAME

    def __init__(self, config: LeverageConfig, catalog: Catalog | None = None) -> None:
        self.config = config
        self.catalog = catalog or default_catalog()
        self.pairs: dict[str, list[FundingPair]] = {}
        for pair in config.pairs:
            self.pairs.setdefault(pair.funding, []).append(pair)
            self.pairs.setdefault(pair.price, []).append(pair)
        self.funding: dict[str, list[float]] = {}  # funding id -> [ts, rate]
        self.moves = Moves()
        self.latch = Latch()

    def ids(self) -> frozenset[str]:
        return frozenset(self.pairs)

    def on_event(self, event: Tick | Metric) -> list[Alert]:
        pairs = self.pairs.get(event.id)
        if pairs is None:
            return []
        if isinstance(event, Metric):
            last = self.funding.get(event.id)
            if not finite(event.value) or (last is not None and event.ts < last[0]):
                return []
            self.funding[event.id] = [event.ts, event.value]
        elif not self.moves.moved(event):
            return []
        alerts: list[Alert] = []
        for pair in pairs:
            alerts += self._evaluate(pair, event)
        return alerts

    def _evaluate(self, pair: FundingPair, event: Tick | Metric) -> list[Alert]:
        if pair.funding not in self.funding:
            return []
        rate, cfg = self.funding[pair.funding][1], self.config
        asset = self.catalog[pair.price]
        alerts: list[Alert] = []
        key = f"{NAME}:funding:{pair.funding}"
        transition = self.latch.move(key, sticky_level(abs(rate), cfg.warn, cfg.critical,
                                                       self.latch.active.get(key)))
        if transition is not None:
            alerts.append(make_alert(
                NAME, key, transition, event, (pair.funding,),
                f"{asset.short} funding rate spike: {rate * 100:.4f}% per 8 h",
                f"{asset.short} 资金费率飙升:每8小时 {rate * 100:.4f}%",
                {"funding": rate, "warn": cfg.warn, "critical": cfg.critical},
                {"explanation": "Leveraged longs pay up to stay in" if rate > 0 else
                 "Leveraged shorts pay up to stay in",
                 "explanation_zh": "杠杆多头付费维持仓位" if rate > 0 else "杠杆空头付费维持仓位"}))
        change = self.moves.change(pair.price)
        if change is None:
            return alerts
        key = f"{NAME}:liquidation:{pair.price}"
        held = key in self.latch.active
        keep = 0.8 if held else 1.0
        crowded = abs(change) >= cfg.move_pct * keep and abs(rate) >= cfg.stretched * keep \
            and (rate > 0) == (change > 0)
        transition = self.latch.move(key, Severity.CRITICAL if crowded else None)
        if transition is not None:
            side, side_zh = ("longs", "多头") if change > 0 else ("shorts", "空头")
            alerts.append(make_alert(
                NAME, key, transition, event, (pair.price, pair.funding),
                f"Liquidation risk: {asset.en} {signed(change)} in 24 h on stretched funding "
                f"({rate * 100:.4f}% per 8 h)",
                f"爆仓风险:{asset.zh} 24小时 {signed(change)},资金费率偏高(每8小时 "
                f"{rate * 100:.4f}%)",
                {"change": round(change, 4), "funding": rate, "move_pct": cfg.move_pct,
                 "stretched": cfg.stretched},
                {"explanation": f"A fast move with crowded {side}: a reversal forces "
                 "deleveraging",
                 "explanation_zh": f"快速行情叠加拥挤的{side_zh}仓位:一旦反转将被迫去杠杆"}))
        return alerts

    def snapshot(self) -> dict[str, Any]:
        return {"funding": self.funding, **self.moves.state(),
                "active": self.latch.active}

    def restore(self, state: dict[str, Any]) -> None:
        self.funding = {k: list(v) for k, v in state.get("funding", {}).items()}
        self.moves.load(state)
        self.latch.active = dict(state.get("active", {}))
