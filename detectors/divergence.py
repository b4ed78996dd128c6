"""Cross-market divergence: two instruments whose changes drift apart past a threshold.

The change of each side is against its previous close (24 h ago for crypto). The gap, in
percentage points, fires a warning at `warn`, escalates to critical at `critical`, and
resolves only below `resolve`; each level is left one hysteresis band (`warn - resolve`)
below where it was entered, so a gap hovering at a threshold does not flap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crosscurrent.catalog import Catalog, default_catalog
from crosscurrent.config import DivergencePair
from crosscurrent.events import Alert, AlertState, Metric, Severity, Tick

NAME = "divergence"


class DivergenceDetector:
    name = NAME

    def __init__(self, pairs: Sequence[DivergencePair], catalog: Catalog | None = None) -> None:
        self.catalog = catalog or default_catalog()
        self.pairs = tuple(pairs)
        self._by_id: dict[str, list[DivergencePair]] = {}
        for pair in self.pairs:
            self._by_id.setdefault(pair.a, []).append(pair)
            self._by_id.setdefault(pair.b, []).append(pair)
        # id -> [price, prev_close or None, ts]
        self._quotes: dict[str, list[Any]] = {}
        # pair key -> active severity
        self._active: dict[str, str] = {}

    def ids(self) -> frozenset[str]:
        return frozenset(self._by_id)

    @staticmethod
    def key(pair: DivergencePair) -> str:
        return f"{NAME}:{pair.a}/{pair.b}"

    def change(self, ident: str) -> float | None:
        """Percent change of an id against its previous close, once both are known."""
        quote = self._quotes.get(ident)
        if quote is None or not quote[1]:
            return None
        return float((quote[0] / quote[1] - 1.0) * 100.0)

    def on_event(self, event: Tick | Metric) -> list[Alert]:
        pairs = self._by_id.get(event.id)
        if pairs is None or not isinstance(event, Tick):
            return []
        quote = self._quotes.get(event.id)
        if quote is None:
            self._quotes[event.id] = [event.price, event.prev_close, event.ts]
        elif event.ts >= quote[2]:  # late, out-of-order ticks do not move the state back
            quote[0], quote[2] = event.price, event.ts
            if event.prev_close:
                quote[1] = event.prev_close
        else:
            return []
        alerts = []
        for pair in pairs:
            alert = self._evaluate(pair, event)
            if alert is not None:
                alerts.append(alert)
        return alerts

    def _evaluate(self, pair: DivergencePair, event: Tick) -> Alert | None:
        change_a, change_b = self.change(pair.a), self.change(pair.b)
        if change_a is None or change_b is None:
            return None
        gap = change_a - change_b
        size = abs(gap)
        key = self.key(pair)
        current = self._active.get(key)
        band = pair.warn - pair.resolve
        if size >= pair.critical or (current == Severity.CRITICAL and size >= pair.critical - band):
            new: str | None = Severity.CRITICAL
        elif size >= pair.warn or (current is not None and size >= pair.resolve):
            new = Severity.WARNING
        else:
            new = None
        if new == current:
            return None
        if new is None:
            del self._active[key]
        else:
            self._active[key] = new
        level = new or current
        assert level is not None
        a, b = self.catalog[pair.a], self.catalog[pair.b]
        verb = "resolved: " if new is None else ""
        return Alert(
            ts=event.ts,
            detector=NAME,
            key=key,
            state=AlertState.RESOLVED if new is None else AlertState.FIRING,
            severity=Severity(level),
            ids=(pair.a, pair.b),
            title=(f"{verb}{a.en} {change_a:+.2f}% vs {b.en} {change_b:+.2f}% "
                   f"(gap {gap:+.2f} pp)"),
            values={
                "change_a": round(change_a, 4),
                "change_b": round(change_b, 4),
                "gap": round(gap, 4),
                "price_a": self._quotes[pair.a][0],
                "price_b": self._quotes[pair.b][0],
                "warn": pair.warn,
                "critical": pair.critical,
                "resolve": pair.resolve,
            },
            trigger_recv_ns=event.recv_ns,
        )

    def snapshot(self) -> dict[str, Any]:
        return {"quotes": self._quotes, "active": self._active}

    def restore(self, state: dict[str, Any]) -> None:
        self._quotes = {k: list(v) for k, v in state.get("quotes", {}).items()}
        self._active = dict(state.get("active", {}))
