"""Tapes through the detectors in-process, the way the agent feeds them (sans-I/O)."""

from __future__ import annotations

from pathlib import Path

from crosscurrent.app import build_detectors
from crosscurrent.bars import DailyBar
from crosscurrent.baselines import baseline
from crosscurrent.catalog import default_catalog
from crosscurrent.config import Config, load_config
from crosscurrent.events import Alert
from detectors.agent import DetectorSet
from detectors.base import UsesBaselines
from streams.replay import direct_event
from streams.tape import read_tape

DATA = Path(__file__).resolve().parent.parent / "data"


def run_tape(path: Path, config: Config | None = None) -> tuple[list[Alert], DetectorSet]:
    config = config or load_config(env={})
    catalog, tape = default_catalog(), read_tape(path)
    detectors = build_detectors(config)
    users = [d for d in detectors if isinstance(d, UsesBaselines)]
    bars: dict[str, list[DailyBar]] = {}
    for bar in tape.bars:
        bars.setdefault(bar.id, []).append(DailyBar(date=bar.date, open=bar.open, high=bar.high,
                                                    low=bar.low, close=bar.close,
                                                    volume=bar.volume))
    given: dict[str, object] = {}
    pipeline = DetectorSet(detectors)
    alerts: list[Alert] = []
    for event in tape.events:
        session = catalog[event.id].calendar.session_date(event.ts)
        if given.get(event.id) != session:
            given[event.id] = session
            found = baseline(bars.get(event.id, []), session, config.history.window)
            for user in users:
                user.set_baselines({event.id: found})
        alerts.extend(pipeline.on_event(direct_event(event, catalog)))
    return alerts, pipeline
