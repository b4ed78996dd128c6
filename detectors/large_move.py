"""Large moves: an id moving far beyond its usual daily range.

The threshold is the larger of a percentage floor and a multiple of the id's usual daily move
(the standard deviation of its daily changes over the last sessions, from history); while the
history warms up, the floor alone. Warning and critical each have theirs, and a move beyond
`always_critical` is critical however volatile the id has been (a 4% index day pages even in
a turbulent month); a level is left only below 80% of its threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from crosscurrent.baselines import Baseline
from crosscurrent.catalog import Catalog, default_catalog
from crosscurrent.detector_config import LargeMoveRule
from crosscurrent.events import Alert, Metric, Tick
from crosscurrent.formatting import signed
from detectors.common import Latch, Moves, make_alert, sticky_level, take_volatility

NAME: Final = "large_move"


class LargeMoveDetector:
    name = NAME
    per_instrument = True  # its state for an id depends on that id's events alone

    def __init__(self, rules: Sequence[LargeMoveRule], catalog: Catalog | None = None) -> None:
        self.catalog = catalog or default_catalog()
        self.rules = {ident: rule for rule in rules for ident in rule.ids}
        self.volatility: dict[str, float] = {}  # id -> usual daily move, percent
        self.moves = Moves()
        self.latch = Latch()
        self._rethink: set[str] = set()  # ids whose thresholds changed since their last tick
        self._keys = {ident: f"{NAME}:{ident}" for ident in self.rules}  # alert key per id

    def ids(self) -> frozenset[str]:
        return frozenset(self.rules)

    def set_baselines(self, baselines: Mapping[str, Baseline]) -> None:
        take_volatility(self.volatility, baselines, self.rules)
        self._rethink.update(baselines)

    def thresholds(self, ident: str) -> tuple[float, float]:
        rule, sigma = self.rules[ident], self.volatility.get(ident)
        warn, critical = rule.floor_warn, rule.floor_critical
        if sigma is not None:
            warn, critical = max(warn, rule.sigma_warn * sigma), \
                max(critical, rule.sigma_critical * sigma)
        if rule.always_critical is not None:
            critical = min(critical, rule.always_critical)
        return min(warn, critical), critical

    def on_event(self, event: Tick | Metric) -> list[Alert]:
        ident = event.id  # read once: an event's attribute costs three times a plain object's
        if ident not in self.rules or not isinstance(event, Tick):
            return []
        taken = self.moves.take(event)  # the same quote: the same verdict, unless the
        if taken == Moves.IGNORED or (taken == Moves.SAME and ident not in self._rethink):
            return []  # thresholds changed since
        self._rethink.discard(ident)
        change = self.moves.change(ident)
        if change is None:
            return []
        warn, critical = self.thresholds(ident)
        key = self._keys[ident]
        transition = self.latch.move(
            key, sticky_level(abs(change), warn, critical, self.latch.active.get(key)))
        if transition is None:
            return []
        instrument = self.catalog[ident]
        sigma = self.volatility.get(ident)
        usual = f"{sigma:.2f}%" if sigma else "unknown (history warming up)"
        usual_zh = f"{sigma:.2f}%" if sigma else "未知(历史数据不足)"
        times = f", {abs(change) / sigma:.1f}x its usual daily move" if sigma else ""
        times_zh = f",为日常波动的 {abs(change) / sigma:.1f} 倍" if sigma else ""
        values = {"change": round(change, 4), "price": event.price, "warn": round(warn, 4),
                  "critical": round(critical, 4)}
        if sigma:
            values["daily_volatility"] = round(sigma, 4)
        return [make_alert(
            NAME, key, transition, event, (event.id,),
            f"{instrument.en} {signed(change)}: a large move{times}",
            f"{instrument.zh} {signed(change)}:大幅波动{times_zh}",
            values,
            {"explanation": f"Beyond the {warn:.2f}% threshold (usual daily move {usual})",
             "explanation_zh": f"超过 {warn:.2f}% 阈值(日常波动 {usual_zh})"},
        )]

    def snapshot(self) -> dict[str, Any]:
        return {**self.moves.state(), "active": self.latch.active,
                "volatility": self.volatility}

    def restore(self, state: dict[str, Any]) -> None:
        self.moves.load(state)
        self.latch.active = dict(state.get("active", {}))
        self.volatility = dict(state.get("volatility", {}))
