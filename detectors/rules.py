"""User rules from the config: fire while the rule's expression holds, resolve when it stops."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from crosscurrent.catalog import Catalog, default_catalog
from crosscurrent.detector_config import UserRule
from crosscurrent.events import Alert, Metric, Severity, Tick
from detectors.common import Latch, Moves, finite, make_alert
from detectors.rule_language import Rule, compile_rule

NAME: Final = "rule"


class RulesDetector:
    name = NAME

    def __init__(self, rules: Sequence[UserRule], catalog: Catalog | None = None) -> None:
        self.catalog = catalog or default_catalog()
        self.rules = [(rule, compile_rule(rule.when)) for rule in rules]
        self._by_id: dict[str, list[tuple[UserRule, Rule]]] = {}
        for rule, compiled in self.rules:
            for ident in compiled.ids:
                self._by_id.setdefault(ident, []).append((rule, compiled))
        self.moves = Moves()
        self.metrics: dict[str, list[float]] = {}  # id -> [ts, value]
        self.latch = Latch()

    def ids(self) -> frozenset[str]:
        return frozenset(self._by_id)

    # -- the rule language's lookups --------------------------------------------------------
    def change(self, ident: str) -> float | None:
        change = self.moves.change(ident)
        return None if change is None else change / 100

    def price(self, ident: str) -> float | None:
        return self.moves.price(ident)

    def value(self, ident: str) -> float | None:
        found = self.metrics.get(ident)
        return found[1] if found else self.moves.price(ident)

    def on_event(self, event: Tick | Metric) -> list[Alert]:
        rules = self._by_id.get(event.id)
        if rules is None:
            return []
        if isinstance(event, Tick):
            if not self.moves.moved(event):
                return []
        else:
            last = self.metrics.get(event.id)
            if not finite(event.value) or (last is not None and event.ts < last[0]):
                return []
            self.metrics[event.id] = [event.ts, event.value]
        alerts = []
        for rule, compiled in rules:
            holds = compiled.evaluate(self)
            if holds is None:
                continue
            key = f"{NAME}:{rule.name}"
            transition = self.latch.move(key, Severity(rule.severity) if holds else None)
            if transition is None:
                continue
            values = {i: v for i in sorted(compiled.ids) if (v := self.value(i)) is not None}
            alerts.append(make_alert(
                NAME, key, transition, event, tuple(sorted(compiled.ids)),
                rule.title or f"rule {rule.name}: {rule.when}",
                rule.title_zh or f"规则 {rule.name}:{rule.when}", values,
                {"rule": rule.when}))
        return alerts

    def snapshot(self) -> dict[str, Any]:
        return {**self.moves.state(), "metrics": self.metrics,
                "active": self.latch.active}

    def restore(self, state: dict[str, Any]) -> None:
        self.moves.load(state)
        self.metrics = {k: list(v) for k, v in state.get("metrics", {}).items()}
        self.latch.active = dict(state.get("active", {}))
