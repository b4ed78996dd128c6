"""Cross-market divergence: two ids (or groups of ids) whose changes drift apart.

The change of each side is against its previous close (24 h ago for crypto); a group's is its
members' average; a side whose market is open but has not traded yet this session has no
change yet (its last one is yesterday's move). How wide a gap is worth a word depends on the
pair: Shanghai and Hong Kong differ by 1.5 pp on a quarter of real days, BTC and the Nasdaq by
3 pp. So a gap (percentage
points) beyond the pair's `info` is a finding; a warning needs it beyond `warn` *and* beyond
`z_warn` times the pair's usual daily gap (the standard deviation of the gaps between its
sides' daily changes over the sessions of the history, on at least half of `Baseline.window`
dates both sides traded); critical likewise with `critical` and `z_critical`. Without that
history a gap is a finding at most. A critical is left below 80% of its threshold, a warning
or a finding only below `resolve`, so a gap hovering at a threshold does not flap. The pair's
texts (explanation, implication) read for `a` above `b`; the other way round the alert says
plainly which side leads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from crosscurrent.baselines import Baseline
from crosscurrent.catalog import Catalog, default_catalog
from crosscurrent.detector_config import DivergencePair
from crosscurrent.events import Alert, Metric, Tick
from detectors.common import Latch, Moves, Sessions, graded_level, make_alert, spread

NAME: Final = "divergence"


@dataclass(frozen=True)
class _Watched:
    """A pair with what every alert of it says the same way: its key, the names of its sides,
    its notes for `a` above `b`, its label and side notes, whether it crosses markets."""

    pair: DivergencePair
    key: str
    sides: tuple[str, str, str, str]  # a, a_zh, b, b_zh
    reading: dict[str, str]
    labels: dict[str, str]
    cross_market: float


class DivergenceDetector:
    name = NAME

    def __init__(self, pairs: Sequence[DivergencePair], catalog: Catalog | None = None) -> None:
        self.catalog = catalog or default_catalog()
        self.pairs = tuple(pairs)
        self._by_id: dict[str, list[_Watched]] = {}
        for pair in self.pairs:
            watched = self._watch(pair)
            for ident in {*pair.a, *pair.b}:
                self._by_id.setdefault(ident, []).append(watched)
        self.moves = Moves()
        self.sessions = Sessions(self.catalog)
        self.latch = Latch()
        self.changes: dict[str, dict[str, float]] = {}  # id -> ISO date -> daily change
        self.spreads: dict[str, float] = {}  # pair key -> its usual daily gap, pp

    def set_baselines(self, baselines: Mapping[str, Baseline]) -> None:
        for ident, found in baselines.items():
            if ident not in self._by_id:
                continue
            self.changes[ident] = dict(found.changes)
            for watched in self._by_id[ident]:
                self._spread(watched, found.window // 2)

    def _spread(self, watched: _Watched, least: int) -> None:
        """The pair's usual daily gap, from its sides' changes, once `least` dates have both."""
        pair = watched.pair
        members = [*pair.a, *pair.b]
        changes = [self.changes.get(i, {}) for i in members]
        found = spread(changes, [range(len(pair.a)), range(len(pair.a), len(members))])
        if found is None or found[1] < least or not found[0] > 0:
            self.spreads.pop(watched.key, None)
        else:
            self.spreads[watched.key] = found[0]

    def _watch(self, pair: DivergencePair) -> _Watched:
        a, a_zh = self.side(pair.a), self.side(pair.a, zh=True)
        b, b_zh = self.side(pair.b), self.side(pair.b, zh=True)
        reading = {k: v for k, v in pair.model_dump(include={
            "explanation", "explanation_zh", "implication", "implication_zh"}).items() if v}
        labels = {"label": pair.label, "label_zh": pair.label_zh or pair.label} \
            if pair.label else {}
        labels |= {"side_a": a, "side_a_zh": a_zh, "side_b": b, "side_b_zh": b_zh}
        regions = {self.catalog[i].region for i in (*pair.a, *pair.b)}
        return _Watched(pair, self.key(pair), (a, a_zh, b, b_zh), reading, labels,
                        float(len(regions) > 1))

    def ids(self) -> frozenset[str]:
        return frozenset(self._by_id)

    @staticmethod
    def key(pair: DivergencePair) -> str:
        return f"{NAME}:{'+'.join(pair.a)}/{'+'.join(pair.b)}"

    def side(self, ids: tuple[str, ...], zh: bool = False) -> str:
        if len(ids) == 1:
            instrument = self.catalog[ids[0]]
            return instrument.zh if zh else instrument.en
        return "+".join(self.catalog[i].short for i in ids)

    def on_event(self, event: Tick | Metric) -> list[Alert]:
        pairs = self._by_id.get(event.id)
        if pairs is None or not isinstance(event, Tick) or not self.moves.moved(event):
            return []
        alerts = []
        for watched in pairs:
            alert = self._evaluate(watched, event)
            if alert is not None:
                alerts.append(alert)
        return alerts

    def _evaluate(self, watched: _Watched, event: Tick) -> Alert | None:
        pair, key = watched.pair, watched.key
        at = event.ts
        change_a = self.sessions.mean_change(self.moves, pair.a, at)
        change_b = self.sessions.mean_change(self.moves, pair.b, at)
        if change_a is None or change_b is None:
            return None
        gap = change_a - change_b
        usual = self.spreads.get(key)
        warn = critical = math.inf  # a finding at most, without the pair's history
        if usual is not None:
            warn = max(pair.warn, pair.z_warn * usual)
            critical = max(pair.critical, pair.z_critical * usual)
        level = graded_level(abs(gap), pair.finding, warn, critical, pair.resolve,
                             self.latch.active.get(key))
        transition = self.latch.move(key, level)
        if transition is None:
            return None
        a, a_zh, b, b_zh = watched.sides
        if gap > 0:
            notes = watched.reading | watched.labels
        else:
            notes = leading(watched.labels, abs(gap)) | watched.labels
        return make_alert(
            NAME, key, transition, event, (*pair.a, *pair.b),
            f"{a} {change_a:+.2f}% vs {b} {change_b:+.2f}% (gap {gap:+.2f} pp)",
            f"{a_zh} {change_a:+.2f}% 对 {b_zh} {change_b:+.2f}%(差 {gap:+.2f} 个百分点)",
            {
                "change_a": round(change_a, 4), "change_b": round(change_b, 4),
                "gap": round(gap, 4), "price_a": self.moves.price(pair.a[0]) or 0.0,
                "price_b": self.moves.price(pair.b[0]) or 0.0, "info": pair.finding,
                "warn": round(warn, 4) if usual else pair.warn,
                "critical": round(critical, 4) if usual else pair.critical,
                "resolve": pair.resolve, "cross_market": watched.cross_market,
            } | ({"usual_gap": round(usual, 4), "z": round(abs(gap) / usual, 2)}
                 if usual else {}),
            notes,
        )

    def snapshot(self) -> dict[str, Any]:
        return {**self.moves.state(), "active": self.latch.active, "changes": self.changes,
                "spreads": self.spreads}

    def restore(self, state: dict[str, Any]) -> None:
        self.moves.load(state)
        self.latch.active = dict(state.get("active", {}))
        self.changes = {k: dict(v) for k, v in state.get("changes", {}).items()}
        self.spreads = dict(state.get("spreads", {}))


def leading(sides: dict[str, str], size: float) -> dict[str, str]:
    """The explanation of a gap that side b leads ("Hang Seng TECH leads Bitcoin by 6.48
    pp"), from a divergence's notes (`side_a`, `side_b` and their `_zh`)."""
    return {"explanation": f"{sides['side_b']} leads {sides['side_a']} by {size:.2f} pp",
            "explanation_zh": f"{sides['side_b_zh']}领先{sides['side_a_zh']} {size:.2f} 个百分点"}
