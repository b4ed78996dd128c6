"""What a back-test found: alerts per trading day by detector and severity, the noise on calm
days, and what fired on the days of big moves. Plain data from the alerts and the bars.

Counted are alerts as a user meets them: an alert is its key (the dedup key), once a day at the
highest severity it fired at that day (an alert that fires, resolves and fires again, or
escalates, is one alert of the day), on the UTC date of its time. A trading day is a date on
which a market with sessions (not a 24/7 one) has a bar. A calm day: every index within
`calm_index_pct` and crypto within `calm_crypto_pct` of its previous close; a big-move day:
an index beyond `big_index_pct` or crypto beyond `big_crypto_pct`.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime

from pydantic import BaseModel

from crosscurrent.bars import DailyBar
from crosscurrent.catalog import Catalog, default_catalog
from crosscurrent.events import Alert, AlertState, Severity
from streams.bar_tape import previous_close

SEVERITIES = ("info", "warning", "critical")
RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class Targets(BaseModel):
    """The rates a back-test is judged against (per trading day) and the day definitions."""

    loud_per_day: float = 0.3  # warning + critical
    critical_per_day: float = 0.05
    calm_index_pct: float = 1.0
    calm_crypto_pct: float = 3.0
    big_index_pct: float = 4.0
    big_crypto_pct: float = 15.0


class DetectorRow(BaseModel):
    detector: str
    info: int = 0
    warning: int = 0
    critical: int = 0

    def per_day(self, days: int) -> float:
        return (self.warning + self.critical) / days if days else 0.0


class BigDay(BaseModel):
    date: date
    moves: dict[str, float]  # id -> change, percent (the ids beyond the bound)
    worst: str | None  # the highest severity that fired that day
    critical: list[str]  # the keys of the critical firings


class Summary(BaseModel):
    first: date
    last: date
    trading_days: int
    events: int
    rows: list[DetectorRow]
    calm_days: int
    calm_days_loud: int  # calm days on which a warning or critical fired
    big_days: list[BigDay]
    targets: Targets

    def total(self, severity: str) -> int:
        return sum(getattr(row, severity) for row in self.rows)

    @property
    def loud_per_day(self) -> float:
        return (self.total("warning") + self.total("critical")) / max(self.trading_days, 1)

    @property
    def critical_per_day(self) -> float:
        return self.total("critical") / max(self.trading_days, 1)

    @property
    def calm_noise(self) -> float:
        return self.calm_days_loud / self.calm_days if self.calm_days else 0.0

    def verdicts(self) -> list[tuple[str, str, bool]]:
        """(target, measured, met) for each target."""
        missed = [d.date.isoformat() for d in self.big_days if not d.critical]
        return [
            (f"warning+critical <= {self.targets.loud_per_day:g} per trading day",
             f"{self.loud_per_day:.4f}", self.loud_per_day <= self.targets.loud_per_day),
            (f"critical <= {self.targets.critical_per_day:g} per trading day",
             f"{self.critical_per_day:.4f}",
             self.critical_per_day <= self.targets.critical_per_day),
            ("a critical on every big-move day",
             f"{len(self.big_days) - len(missed)} of {len(self.big_days)}"
             + (f" (missed {', '.join(missed)})" if missed else ""), not missed),
        ]

    def csv_text(self) -> str:
        """The table, a row per detector and a total: firings and loud ones per day."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["detector", *SEVERITIES, "loud_per_trading_day"])
        for row in [*self.rows, self.total_row()]:
            writer.writerow([row.detector, row.info, row.warning, row.critical,
                             f"{row.per_day(self.trading_days):.4f}"])
        return out.getvalue()

    def total_row(self) -> DetectorRow:
        return DetectorRow(detector="total", **{s: self.total(s) for s in SEVERITIES})


def session_changes(bars: Mapping[str, Sequence[DailyBar]], first: date, last: date
                    ) -> dict[date, dict[str, float]]:
    """Each date's close-to-close changes (percent), by id, in [first, last]."""
    changes: dict[date, dict[str, float]] = {}
    for ident, series in bars.items():
        for index, bar in enumerate(series):
            prev = previous_close(series, index)
            if prev and first <= bar.date <= last:
                changes.setdefault(bar.date, {})[ident] = (bar.close / prev - 1) * 100
    return changes


def daily_alerts(alerts: Iterable[Alert]) -> dict[date, list[Alert]]:
    """Each UTC day's alerts, each key once at the most severe firing of that day (the first
    of them), in time order."""
    worst: dict[tuple[date, str], Alert] = {}
    for alert in alerts:
        if alert.state != AlertState.FIRING:
            continue
        day = datetime.fromtimestamp(alert.ts / 1000, tz=UTC).date()
        held = worst.get((day, alert.key))
        if held is None or RANK[alert.severity] > RANK[held.severity]:
            worst[day, alert.key] = alert
    by_day: dict[date, list[Alert]] = {}
    for (day, _), alert in sorted(worst.items(), key=lambda item: item[1].ts):
        by_day.setdefault(day, []).append(alert)
    return by_day


def summarize(alerts: Sequence[Alert], bars: Mapping[str, Sequence[DailyBar]], first: date,
              last: date, events: int, targets: Targets | None = None,
              catalog: Catalog | None = None) -> Summary:
    targets = targets or Targets()
    catalog = catalog or default_catalog()
    always = {i for i in bars if catalog[i].calendar.sessions == (("00:00", "24:00"),)}
    trading = {bar.date for ident, series in bars.items() if ident not in always
               for bar in series if first <= bar.date <= last}
    by_day = daily_alerts(alerts)
    counts = Counter((a.detector, str(a.severity)) for day in by_day.values() for a in day)
    rows = [DetectorRow(detector=name, **{s: counts[name, s] for s in SEVERITIES})
            for name in sorted({name for name, _ in counts})]
    changes = session_changes(bars, first, last)
    crypto = {i for i in bars if catalog[i].asset == "crypto"}  # spot: not funding, perps
    index = {i for i in bars if catalog[i].asset == "index"}
    calm = loud_calm = 0
    big: list[BigDay] = []
    for day in sorted(trading | set(changes)):
        moves = changes.get(day, {})
        loud = [a for a in by_day.get(day, []) if a.severity != Severity.INFO]
        judged = [i for i in moves if i in index | crypto]
        bound = {i: targets.calm_crypto_pct if i in crypto else targets.calm_index_pct
                 for i in judged}
        if day in trading and judged and all(abs(moves[i]) < bound[i] for i in judged):
            calm += 1
            loud_calm += bool(loud)
        beyond = {i: round(m, 2) for i, m in moves.items()
                  if (i in index and abs(m) >= targets.big_index_pct)
                  or (i in crypto and abs(m) >= targets.big_crypto_pct)}
        if beyond:
            fired = by_day.get(day, [])
            worst = max((SEVERITIES.index(str(a.severity)) for a in fired), default=None)
            big.append(BigDay(date=day, moves=beyond,
                              worst=None if worst is None else SEVERITIES[worst],
                              critical=[a.key for a in fired
                                        if a.severity == Severity.CRITICAL]))
    return Summary(first=first, last=last, trading_days=len(trading), events=events,
                   rows=rows, calm_days=calm, calm_days_loud=loud_calm, big_days=big,
                   targets=targets)
