"""The transmission chain, US (previous session) -> HK -> A-share (today).

Each node's move is the average change of those of its ids that have one (HS TECH did not
exist before 2020; a market open but not traded yet this session has none: its last change
is yesterday's): the alert names the members missing, and a node with none is "no data".
A node is up or down beyond `flat_pct` (and stays so until its move falls back below half of
it), else flat. The chain follows the first node's direction and breaks at the first node
that does not follow. It is judged over the nodes with data up to the first without: a break
after a node with no data could not say whether the move got through it (so US -> A-share is
not judged while Hong Kong has none), and with fewer than two such nodes there is nothing to
judge. The first node's move is
strong when it is at least `strong_pct` and `z_strong` times the node's usual daily move (its
members' average, from history; `strong_pct` alone while that warms up). A break is a warning
when the lead is strong and the breaking node went the other way, else info; intact risk-off
(warning when strong) and risk-on (info) chains are findings too. One pattern is active at a
time: a new one resolves the old. A pattern's severity only rises while it lasts (an
escalation is a new transition of the same key). The chain is judged as the later nodes
trade, against the first node's latest move: a tick of the first node (the US session, after
Asia has closed) only updates that move, which the next Asian session is judged against.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from crosscurrent.baselines import Baseline
from crosscurrent.detector_config import ChainConfig, ChainNode
from crosscurrent.events import Alert, AlertState, Metric, Severity, Tick
from crosscurrent.formatting import signed
from detectors.common import Latch, Moves, Sessions, make_alert, take_volatility

NAME: Final = "chain"
WORDS = {"up": ("up", "上涨"), "down": ("down", "下跌"), "flat": ("flat", "持平")}
NO_DATA = {False: "no data", True: "无数据"}


def node_move(ids: Sequence[str], change: Callable[[str], float | None]
              ) -> tuple[float | None, list[str]]:
    """A node's move, the average change of its ids that have one, and the ids without one
    (None when none has)."""
    changes = [(i, change(i)) for i in ids]
    found = [c for _, c in changes if c is not None]
    missing = [i for i, c in changes if c is None]
    return (sum(found) / len(found) if found else None), missing


class ChainDetector:
    name = NAME

    def __init__(self, config: ChainConfig) -> None:
        self.config = config
        self.nodes = config.nodes
        self.moves = Moves()
        self.sessions = Sessions()
        self.latch = Latch()
        self.directions: dict[str, str] = {}  # node name -> up / down / flat
        self.volatility: dict[str, float] = {}  # id -> usual daily move, percent
        self._leads = frozenset(self.nodes[0].ids) if self.nodes else frozenset()

    def set_baselines(self, baselines: Mapping[str, Baseline]) -> None:
        take_volatility(self.volatility, baselines, self._leads)

    def strong(self, node: ChainNode, move: float) -> bool:
        """Whether the lead node's move is big and unusual enough to make a warning."""
        if abs(move) < self.config.strong_pct:
            return False
        usual = [self.volatility[i] for i in node.ids if i in self.volatility]
        return not usual or abs(move) >= self.config.z_strong * sum(usual) / len(usual)

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
        if len(self.nodes) < 2 or not isinstance(event, Tick) or not self.moves.update(event) \
                or event.id in self._leads:
            return []
        values: dict[str, float] = {}
        missing: dict[str, list[str]] = {}
        for node in self.nodes:
            move, absent = node_move(
                node.ids, lambda i: self.sessions.change(self.moves, i, event.ts))
            if move is not None:
                values[node.name] = round(move, 4)
            if absent:
                missing[node.name] = absent
        judged = list(itertools.takewhile(lambda n: n.name in values, self.nodes))
        if len(judged) < 2:
            return []
        for node in judged:
            self.directions[node.name] = self._direction(node.name, values[node.name])
        lead = self.directions[self.nodes[0].name]
        broken = next((n for n in judged[1:] if self.directions[n.name] != lead), None)
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
            alerts.append(self._alert(key, transition, event, values, missing))
        if pattern is not None:
            strong = self.strong(self.nodes[0], values[self.nodes[0].name])
            opposed = broken is not None and self.directions[broken.name] not in (lead, "flat")
            warn = strong and (opposed or pattern == "intact:risk-off")
            held = self.latch.active.get(f"{NAME}:{pattern}") == Severity.WARNING
            level = Severity.WARNING if warn or held else Severity.INFO  # no flapping down
            transition = self.latch.move(f"{NAME}:{pattern}", level)
            if transition is not None:
                alerts.append(self._alert(f"{NAME}:{pattern}", transition, event, values,
                                          missing))
        return alerts

    def _path(self, values: dict[str, float], zh: bool = False) -> str:
        return " → ".join(f"{n.name_zh if zh else n.name} "
                          f"{signed(values[n.name]) if n.name in values else NO_DATA[zh]}"
                          for n in self.nodes)

    def _alert(self, key: str, transition: tuple[AlertState, Severity], event: Tick,
               values: dict[str, float], missing: dict[str, list[str]]) -> Alert:
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
        if missing:
            notes["missing"] = "; ".join(
                f"{name}: {'no data' if name not in values else ', '.join(ids)}"
                for name, ids in missing.items())
        ids = tuple(i for n in self.nodes for i in n.ids)
        return make_alert(NAME, key, transition, event, ids, title, title_zh, values, notes)

    def snapshot(self) -> dict[str, Any]:
        return {**self.moves.state(), "active": self.latch.active,
                "directions": self.directions, "volatility": self.volatility}

    def restore(self, state: dict[str, Any]) -> None:
        self.moves.load(state)
        self.latch.active = dict(state.get("active", {}))
        self.directions = dict(state.get("directions", {}))
        self.volatility = dict(state.get("volatility", {}))


def assess(nodes: Sequence[ChainNode], values: dict[str, float], pattern: str, lead: str
           ) -> dict[str, str]:
    """The assessment sentence of a chain pattern (`broken:<node>`, `intact:risk-on|off`),
    from each node's move (`values`, the nodes with data) and the first node's direction."""
    first = nodes[0]
    if pattern.startswith("broken:"):
        judged = [n for n in nodes if n.name in values]
        index = next((i for i, n in enumerate(judged) if n.name == pattern[7:]), 0)
        if index == 0:  # resolved as its node went without data (not traded yet today)
            return {"assessment": f"No data from {pattern[7:]} to judge the chain by.",
                    "assessment_zh": f"{pattern[7:]}暂无数据,无法判断传导链。"}
        node, before = judged[index], judged[index - 1]
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
