"""A-share breadth and liquidity: the advance/decline ratio, and turnover against its pace.

  breadth:advance   advancers / decliners >= strong (info: broad participation)
  breadth:decline   <= weak (warning), <= very_weak (critical)
  breadth:turnover  turnover against the average day's turnover scaled to the share of the
                    session elapsed: >= heavy (info), <= thin (warning); judged once a quarter
                    of the session has passed, and only with a history average
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from crosscurrent.baselines import Baseline
from crosscurrent.catalog import Catalog, default_catalog
from crosscurrent.detector_config import BreadthConfig
from crosscurrent.events import Alert, Metric, Severity, Tick
from crosscurrent.facts import advance_decline, breadth_text
from detectors.common import Latch, finite, yi

NAME: Final = "breadth"
ADVANCERS, DECLINERS, TURNOVER = "cn:ADVANCERS", "cn:DECLINERS", "cn:TURNOVER"
MIN_ELAPSED = 0.25


class BreadthDetector:
    name = NAME

    def __init__(self, config: BreadthConfig, catalog: Catalog | None = None) -> None:
        self.config = config
        self.catalog = catalog or default_catalog()
        self.latest: dict[str, list[float]] = {}  # id -> [ts, value]
        self.average_turnover: float | None = None
        self.latch = Latch()

    def ids(self) -> frozenset[str]:
        return frozenset({ADVANCERS, DECLINERS, TURNOVER})

    def set_baselines(self, baselines: Mapping[str, Baseline]) -> None:
        if TURNOVER in baselines:
            self.average_turnover = baselines[TURNOVER].average_close

    def on_event(self, event: Tick | Metric) -> list[Alert]:
        if event.id not in self.ids() or not isinstance(event, Metric) \
                or not finite(event.value) or event.value < 0:
            return []
        last = self.latest.get(event.id)
        if last is not None and event.ts < last[0]:
            return []
        self.latest[event.id] = [event.ts, event.value]
        if event.id == TURNOVER:
            return self._turnover(event)
        return self._ratio(event)

    def _ratio(self, event: Metric) -> list[Alert]:
        if ADVANCERS not in self.latest or DECLINERS not in self.latest:
            return []
        up, down = self.latest[ADVANCERS][1], self.latest[DECLINERS][1]
        if up + down <= 0:
            return []
        found = advance_decline(up, down)  # the ratio the report and the flow map show
        ratio = float("inf") if found is None else found
        cfg = self.config
        values = {"advancers": up, "decliners": down, "ratio": 1e9 if found is None else found}
        text = breadth_text(up, down)
        ids = (ADVANCERS, DECLINERS)
        advance = Severity.INFO if ratio >= cfg.strong or (
            "breadth:advance" in self.latch.active and ratio >= cfg.strong * 0.9) else None
        decline = Severity.CRITICAL if ratio <= cfg.very_weak else \
            Severity.WARNING if ratio <= cfg.weak else None
        return [
            *self.latch.alerts(
                NAME, "breadth:advance", advance, event, ids,
                f"A-share breadth: advancers/decliners {text}, broad participation",
                f"A股涨跌比 {text},上涨面广", values),
            *self.latch.alerts(
                NAME, "breadth:decline", decline, event, ids,
                f"A-share breadth: advancers/decliners {text}, broad decline",
                f"A股涨跌比 {text},普跌", values),
        ]

    def _turnover(self, event: Metric) -> list[Alert]:
        average = self.average_turnover
        if not average:
            return []
        calendar = self.catalog[TURNOVER].calendar
        opens, closes = calendar.session_bounds(calendar.session_date(event.ts))
        start, end = opens.timestamp() * 1000, closes.timestamp() * 1000
        elapsed = min(1.0, max(0.0, (event.ts - start) / (end - start))) if end > start else 1.0
        if elapsed < MIN_ELAPSED:
            return []
        pace = event.value / (average * elapsed)
        cfg = self.config
        level = Severity.INFO if pace >= cfg.heavy_turnover else \
            Severity.WARNING if pace <= cfg.thin_turnover else None
        word, word_zh = ("heavy", "放量") if pace >= 1 else ("thin", "缩量")
        return self.latch.alerts(
            NAME, "breadth:turnover", level, event, (TURNOVER,),
            f"A-share turnover {yi(event.value)} CNY: {word}, {pace:.2f}x its usual pace",
            f"A股成交额 {yi(event.value)}:{word_zh},为平常节奏的 {pace:.2f} 倍",
            {"turnover": event.value, "pace": round(pace, 4), "average": round(average, 2),
             "elapsed": round(elapsed, 4)})

    def snapshot(self) -> dict[str, Any]:
        return {"latest": self.latest, "average_turnover": self.average_turnover,
                "active": self.latch.active}

    def restore(self, state: dict[str, Any]) -> None:
        self.latest = {k: list(v) for k, v in state.get("latest", {}).items()}
        self.average_turnover = state.get("average_turnover")
        self.latch.active = dict(state.get("active", {}))
