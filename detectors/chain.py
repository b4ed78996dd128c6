"""The transmission chain, US (previous session) -> HK -> A-share (today).

Each node's move is the average change of its ids; a node is up or down beyond `flat_pct`
(and stays so until its move falls back below half of it), else flat. The chain follows the
first node's direction; it breaks at the first node that does not follow. A break is a
warning when the first node moved at least `strong_pct` and the breaking node went the other
way, else info; intact risk-off (warning when strong) and risk-on (info) chains are findings
too. One pattern is active at a time: a new one resolves the old. A pattern's severity only
rises while it lasts (an escalation is a new transition of the same key).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from crosscurrent.detector_config import ChainConfig, ChainNode
from crosscurrent.events import Alert, AlertState, Metric, Severity, Tick
from crosscurrent.formatting import signed
from detectors.common import Latch, Moves, make_alert

NAME: Final = "chain"
WORDS = {"up": ("up", "上涨"), "down": ("down", "下跌"), "flat": ("flat", "持平")}


class ChainDetector:
    name = NAME

    def __init__(self, config: ChainConfig) -> None:
        self.config = config
        self.nodes = config.nodes
        self.moves = Moves()
        self.latch = Latch()
        self.directions: dict[str, str] = {}  # node name -> up / down / flat

    def ids(self) -> frozenset[str]:
        return frozenset(i for node in self.nodes for i in node.ids)

    def _direction(self, name: str, move: float) -> str:
        flat, current = self.config.flat_pct, self.directions.get(name, "flat")
        if move >= flat or (current == "up" and move >= flat / 2):
            return "up"
        if move <= -flat or (current == "down" and move <= -flat / 2):
            return "down"
        return "flat"

    def on_event(self, event: Tick | Metric) -> list[Alert]:
        if len(self.nodes) < 2 or not isinstance(event, Tick) or not self.moves.update(event):
            return []
        moves = [self.moves.mean_change(node.ids) for node in self.nodes]
        if any(m is None for m in moves):
            return []
        values = {node.name: round(m, 4) for node, m in zip(self.nodes, moves, strict=True)
                  if m is not None}
        for node in self.nodes:
            self.directions[node.name] = self._direction(node.name, values[node.name])
        lead = self.directions[self.nodes[0].name]
        broken = next((n for n in self.nodes[1:] if self.directions[n.name] != lead), None)
        if lead == "flat":
            pattern = None  # nothing to transmit
        elif broken is not None:
            pattern = f"broken:{broken.name}"
        else:
            pattern = "intact:risk-on" if lead == "up" else "intact:risk-off"
        alerts = []
        for key in [k for k in self.latch.active if k != f"{NAME}:{pattern}"]:
            transition = self.latch.move(key, None)
            assert transition is not None
            alerts.append(self._alert(key, transition, event, values))
        if pattern is not None:
            strong = abs(values[self.nodes[0].name]) >= self.config.strong_pct
            opposed = broken is not None and self.directions[broken.name] not in (lead, "flat")
            warn = strong and (opposed or pattern == "intact:risk-off")
            held = self.latch.active.get(f"{NAME}:{pattern}") == Severity.WARNING
            level = Severity.WARNING if warn or held else Severity.INFO  # no flapping down
            transition = self.latch.move(f"{NAME}:{pattern}", level)
            if transition is not None:
                alerts.append(self._alert(f"{NAME}:{pattern}", transition, event, values))
        return alerts

    def _path(self, values: dict[str, float], zh: bool = False) -> str:
        return " → ".join(f"{n.name_zh if zh else n.name} {signed(values[n.name])}"
                          for n in self.nodes)

    def _alert(self, key: str, transition: tuple[AlertState, Severity], event: Tick,
               values: dict[str, float]) -> Alert:
        pattern = key.removeprefix(f"{NAME}:")
        path, path_zh = self._path(values), self._path(values, zh=True)
        first = self.nodes[0]
        if pattern.startswith("broken:"):
            node = next(n for n in self.nodes if n.name == pattern[7:])
            title = f"Transmission chain broken at the {node.name} node: {path}"
            title_zh = f"传导链在{node.name_zh}节点断裂:{path_zh}"
        else:
            risk_on = pattern == "intact:risk-on"
            title = f"{'Risk-on' if risk_on else 'Risk-off'} chain intact: {path}"
            title_zh = f"{'风险偏好' if risk_on else '避险'}传导链完整:{path_zh}"
        notes = assess(self.nodes, values, pattern, self.directions.get(first.name, "flat"))
        ids = tuple(i for n in self.nodes for i in n.ids)
        return make_alert(NAME, key, transition, event, ids, title, title_zh, values, notes)

    def snapshot(self) -> dict[str, Any]:
        return {**self.moves.state(), "active": self.latch.active,
                "directions": self.directions}

    def restore(self, state: dict[str, Any]) -> None:
        self.moves.load(state)
        self.latch.active = dict(state.get("active", {}))
        self.directions = dict(state.get("directions", {}))


def assess(nodes: Sequence[ChainNode], values: dict[str, float], pattern: str, lead: str
           ) -> dict[str, str]:
    """The assessment sentence of a chain pattern (`broken:<node>`, `intact:risk-on|off`),
    from each node's move (`values`) and the first node's direction."""
    first = nodes[0]
    if pattern.startswith("broken:"):
        index = next(i for i, n in enumerate(nodes) if n.name == pattern[7:])
        node, before = nodes[index], nodes[index - 1]
        word, word_zh = WORDS[lead]
        return {
            "assessment": (
                f"{before.name} {signed(values[before.name])} did not transmit to {node.name} "
                f"({signed(values[node.name])}): the {first.name} move ({word}) stops at "
                f"{node.name}; this is fragmented, not synchronized, sentiment."),
            "assessment_zh": (
                f"{before.name_zh} {signed(values[before.name])} 未能传导至{node.name_zh}"
                f"({signed(values[node.name])}):{first.name_zh}的{word_zh}止步于"
                f"{node.name_zh},市场情绪分化而非同步。"),
        }
    if pattern == "intact:risk-on":
        return {"assessment": "A synchronized global rally: each market follows the one before.",
                "assessment_zh": "全球同步上涨:每个市场都跟随前一个市场。"}
    return {"assessment": f"A synchronized sell-off travelling from {first.name} through every "
                          "node.", "assessment_zh": f"同步下跌:从{first.name_zh}传导至每个节点。"}
