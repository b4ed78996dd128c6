"""A back-test: events through the detectors of a config, in-process and at full speed.

The detectors are those `run` builds (`build_detectors`), fed as the agent feeds them: before
the first event of each id's session they are given its baseline, computed from the bars
before that session, the history that the bars of the replayed events join as they close (the
history recorder's work, live). No Redis, no clock: the same events give the same alerts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date

from crosscurrent.app import build_detectors
from crosscurrent.bars import BarBuilder, DailyBar
from crosscurrent.baselines import baseline
from crosscurrent.catalog import Catalog, default_catalog
from crosscurrent.config import Config
from crosscurrent.events import Alert, Metric, Tick
from detectors.agent import DetectorSet
from detectors.base import UsesBaselines


class History:
    """Each id's daily bars in date order: the given ones, then those the events make."""

    def __init__(self, bars: Mapping[str, Sequence[DailyBar]], catalog: Catalog) -> None:
        self.bars = {ident: sorted(series, key=lambda b: b.date)
                     for ident, series in bars.items()}
        self.builder = BarBuilder(catalog)

    def record(self, event: Tick | Metric) -> None:
        updated = self.builder.update(event)
        if updated is None:
            return
        ident, bar = updated
        series = self.bars.setdefault(ident, [])
        if series and series[-1].date == bar.date:
            series[-1] = bar
        elif not series or series[-1].date < bar.date:
            series.append(bar)

    def before(self, ident: str, day: date, most: int) -> list[DailyBar]:
        """The last `most` bars before `day` (all a baseline reads)."""
        series = self.bars.get(ident, [])
        end = len(series)
        while end and series[end - 1].date >= day:
            end -= 1
        return series[max(0, end - most):end]


def run_backtest(
    events: Iterable[Tick | Metric],
    config: Config,
    history: Mapping[str, Sequence[DailyBar]] | None = None,
    catalog: Catalog | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[Alert], DetectorSet]:
    """Every alert transition the events raise, and the detectors as they end.
    `progress` is called with the count of events taken, every 1,000 events."""
    catalog = catalog or default_catalog()
    detectors = build_detectors(config)
    users = [d for d in detectors if isinstance(d, UsesBaselines)]
    pipeline = DetectorSet(detectors)
    store = History(history or {}, catalog)
    window, most = config.history.window, config.history.volatility_window
    given: dict[str, date] = {}
    alerts: list[Alert] = []
    taken = 0
    for event in events:
        session = catalog[event.id].calendar.session_date(event.ts)
        if given.get(event.id) != session:
            given[event.id] = session
            found = baseline(store.before(event.id, session, config.history.needed),
                             session, window, most)
            for user in users:
                user.set_baselines({event.id: found})
        alerts += pipeline.on_event(event)
        store.record(event)
        taken += 1
        if progress is not None and taken % 1000 == 0:
            progress(taken)
    if progress is not None:
        progress(taken)
    return alerts, pipeline
