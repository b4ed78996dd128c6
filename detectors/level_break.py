"""Level breaks confirmed by volume: an id crossing a level while its session volume is at
least `volume_ratio` times its average daily volume ("HSI breaks 25K on volume").

The volume compared is the session's so far (index turnover, or summed trade sizes) against
the average full session of the baseline, so a break early in the day needs more conviction.
Without a baseline (warming up) the detector raises nothing and says so in its snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from crosscurrent.baselines import Baseline
from crosscurrent.catalog import Catalog, default_catalog
from crosscurrent.detector_config import LevelRule
from crosscurrent.events import Alert, AlertState, Metric, Severity, Tick
from detectors.common import finite, make_alert

NAME: Final = "level_break"


class LevelBreakDetector:
    name = NAME
    per_instrument = True  # its state for an id depends on that id's events alone

    def __init__(self, rules: Sequence[LevelRule], catalog: Catalog | None = None) -> None:
        self.catalog = catalog or default_catalog()
        self.rules = {rule.id: rule for rule in rules}
        self._baselines: dict[str, Baseline] = {}
        # id -> [session date (ISO), session volume so far, broken (bool)]
        self._state: dict[str, list[Any]] = {}
        self.warming_up: set[str] = set()

    def ids(self) -> frozenset[str]:
        return frozenset(self.rules)

    def set_baselines(self, baselines: Mapping[str, Baseline]) -> None:
        for ident, baseline in baselines.items():
            self._baselines[ident] = baseline
            (self.warming_up.add if baseline.warming_up else self.warming_up.discard)(ident)

    @staticmethod
    def key(rule: LevelRule) -> str:
        side = "below" if rule.below is not None else "above"
        return f"{NAME}:{rule.id}:{side}:{rule.below if rule.below is not None else rule.above:g}"

    def on_event(self, event: Tick | Metric) -> list[Alert]:
        rule = self.rules.get(event.id)
        if rule is None or not isinstance(event, Tick):
            return []
        session = self.catalog[event.id].calendar.session_date(event.ts).isoformat()
        state = self._state.setdefault(event.id, [session, 0.0, False])
        if state[0] != session:  # a new session: its volume starts again
            state[0], state[1] = session, 0.0
        if finite(event.day_volume) and event.day_volume is not None and event.day_volume >= 0:
            state[1] = max(state[1], event.day_volume)
        elif finite(event.volume) and event.volume is not None and event.volume >= 0:
            state[1] += event.volume
        if not finite(event.price) or event.price <= 0:
            return []
        beyond = (rule.below is not None and event.price < rule.below) or \
            (rule.above is not None and event.price > rule.above)
        baseline = self._baselines.get(event.id)
        if beyond and not state[2]:
            ratio = baseline.volume_ratio(state[1]) if baseline else None
            if ratio is None or ratio < rule.volume_ratio:
                return []  # no volume confirmation (or warming up): not a break worth a word
            state[2] = True
            return [self._alert(rule, event, AlertState.FIRING, ratio)]
        if not beyond and state[2]:
            state[2] = False
            return [self._alert(rule, event, AlertState.RESOLVED, None)]
        return []

    def _alert(self, rule: LevelRule, event: Tick, state: AlertState, ratio: float | None
               ) -> Alert:
        level = rule.below if rule.below is not None else rule.above
        assert level is not None
        instrument = self.catalog[rule.id]
        below = rule.below is not None
        side, side_zh = ("below", "跌破") if below else ("above", "突破")
        if state == AlertState.FIRING:
            title = f"{instrument.en} broke {side} {level:,.0f} on volume ({ratio:.1f}x its " \
                    "average)"
            title_zh = f"{instrument.zh}放量{side_zh} {level:,.0f}(成交量为均值的 {ratio:.1f} 倍)"
        else:
            title = f"{instrument.en} back from {side} {level:,.0f} (at {event.price:,.2f})"
            title_zh = f"{instrument.zh}回到 {level:,.0f} {'上方' if below else '下方'}" \
                       f"(现 {event.price:,.2f})"
        values = {"price": event.price, "level": level, "volume": self._state[rule.id][1]}
        if ratio is not None:
            values["volume_ratio"] = round(ratio, 3)
        return make_alert(NAME, self.key(rule), (state, Severity(rule.severity)), event,
                          (rule.id,), title, title_zh, values)

    def snapshot(self) -> dict[str, Any]:
        return {"state": self._state, "warming_up": sorted(self.warming_up)}

    def restore(self, state: dict[str, Any]) -> None:
        self._state = {k: list(v) for k, v in state.get("state", {}).items()}
        self.warming_up = set(state.get("warming_up", []))
