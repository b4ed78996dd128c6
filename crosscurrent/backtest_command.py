"""`crosscurrent backtest`: daily bars (a folder of CSVs) or a tape, replayed at full speed
through the detectors of the config; alerts per trading day by detector and severity, the
noise on calm days, the big-move days and what fired on them, written as CSV and JSON.

Only argparse and rich are imported here at start; the detectors load when the command runs.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from crosscurrent.screen import Bar, Screen
from crosscurrent.user_errors import UserError, writable

if TYPE_CHECKING:
    from crosscurrent.bars import DailyBar
    from crosscurrent.catalog import Catalog
    from crosscurrent.config import Config
    from crosscurrent.events import Alert, Metric, Tick
    from reporters.backtest_summary import BigDay, Summary

DEFAULT_OUT = Path("backtest")
EXAMPLE = "crosscurrent backtest ../shared/data/history --from 2013-01-01 --to 2013-12-31"
BIG_DAYS_SHOWN = 40  # rows of the big-move table on screen (all of them in backtest.json)
KEYS_SHOWN = 3  # critical keys named per big-move day on screen
GAPS_SHOWN = 5
DESCRIPTION = """\
Turn daily bars into ticks in each market's own hours (four a session: the open, the two
extremes, the close) and replay them at full speed, in this process, through the detectors and
config that `run` uses; or replay a tape the same way. The bars before --from are history
(baselines), not replayed; a change is never taken across a gap of over two weeks in the data.

Prints the alerts per trading day by detector and severity (an alert is its key, counted once
a day at the highest severity it reached), the share of calm days with a warning or critical,
the big-move days with what fired on them, and a verdict per target; writes OUT/backtest.csv
(the table) and OUT/backtest.json (all of it, with each day's warnings and criticals). Exits
0 whatever the verdicts, 2 on bad input.

A trading day is a date on which a market with sessions (not a 24/7 one) has a bar; calm: every
index within 1% of its previous close and crypto within 3%; big move: an index beyond 4% or
crypto beyond 15%."""


def add_backtest_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `backtest` subcommand and its arguments."""
    parser = sub.add_parser(
        "backtest", help="replay daily bars or a tape through the detectors, count alerts",
        description=DESCRIPTION,
        epilog=f"example:\n  {EXAMPLE}\n",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, metavar="SOURCE",
                        help="a folder of daily bars, <family>_<symbol>.csv with columns "
                        "date,open,high,low,close,volume (like shared/data/history), or a "
                        "tape (.jsonl or .jsonl.gz; its bar lines are history)")
    parser.add_argument("--from", dest="start", metavar="YYYY-MM-DD",
                        help="first day replayed (default: the first of the data); the bars "
                        "before it are history only: baselines, not replayed")
    parser.add_argument("--to", dest="end", metavar="YYYY-MM-DD",
                        help="last day replayed, inclusive (default: the last of the data)")
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="YAML config overlaid on the defaults (see `crosscurrent config`)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                        help="where backtest.csv and backtest.json go (default: ./backtest)")
    parser.add_argument("--plain", action="store_true",
                        help="plain text: no colours, tables as aligned lines never wrapped "
                        "(the default when stdout is not a terminal)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")


@dataclass
class Replay:
    """What a back-test replays, and the bars around it."""

    events: list[Tick | Metric]
    history: dict[str, list[DailyBar]]  # each id's bars before the first day replayed
    bars: dict[str, list[DailyBar]]  # every bar known, for the day definitions
    first: date
    last: date
    notes: list[str] = field(default_factory=list)  # what was skipped, on stderr


def parse_day(text: str | None, flag: str) -> date | None:
    """A YYYY-MM-DD argument, or a UserError saying what to give."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UserError(f"{flag} {text!r} is not a date: give YYYY-MM-DD, e.g. {flag} "
                        "2013-01-02") from None


def load_folder(folder: Path, start: date | None, end: date | None,
                catalog: Catalog) -> Replay:
    """The sessions of a folder of daily bars in [start, end] as ticks; the bars before as
    history."""
    from streams.bar_tape import BarFolderError, bar_ticks, read_bar_folder

    try:
        found = read_bar_folder(folder, catalog)
    except BarFolderError as exc:
        head, *why = str(exc).splitlines()
        seen = f" ({why[0].strip()}{f'; +{len(why) - 1} more' if len(why) > 1 else ''})" \
            if why else ""
        raise UserError(f"{head}{seen}; give a folder of <family>_<symbol>.csv files "
                        "(like shared/data/history)") from None
    notes = [f"skipped {why}" for why in found.skipped]
    if found.bad_rows:
        notes.append(f"{found.bad_rows} bad row(s) skipped (see the log above)")
    days = [bar.date for series in found.bars.values() for bar in series
            if _within(bar.date, start, end)]
    if not days:
        raise _empty(folder, start, end, found.first_day(), found.last_day())
    first, last = min(days), max(days)
    events: list[Tick | Metric] = list(bar_ticks(found.bars, first, last, catalog))
    return Replay(events, _before(found.bars, first), found.bars, first, last, notes)


def load_tape(path: Path, start: date | None, end: date | None, catalog: Catalog) -> Replay:
    """A tape's events of the sessions in [start, end]; its bar lines, and the bars of its
    events before `start`, as history."""
    from crosscurrent.bars import BarBuilder, DailyBar
    from streams.replay import direct_event
    from streams.tape import read_tape

    tape = read_tape(path, catalog, gaps=True)
    notes = [f"{tape.bad_lines} bad tape line(s) skipped (see the log above)"] \
        if tape.bad_lines else []
    bars: dict[str, dict[date, DailyBar]] = {}
    for line in tape.bars:
        bars.setdefault(line.id, {})[line.date] = DailyBar(
            date=line.date, open=line.open, high=max(line.open, line.high, line.low, line.close),
            low=min(line.open, line.high, line.low, line.close), close=line.close,
            volume=line.volume)
    builder = BarBuilder(catalog)
    events: list[Tick | Metric] = []
    days: list[date] = []
    for item in tape.events:
        event = direct_event(item, catalog)
        day = catalog[item.id].calendar.session_date(item.ts)
        if _within(day, start, end):
            events.append(event)
            days.append(day)
        updated = builder.update(event)
        if updated is not None:
            ident, bar = updated
            bars.setdefault(ident, {})[bar.date] = bar  # the builder's own, kept up to date
    series = {ident: [by_day[d] for d in sorted(by_day)] for ident, by_day in bars.items()}
    if not events:
        every = [catalog[e.id].calendar.session_date(e.ts) for e in tape.events]
        raise _empty(path, start, end, min(every), max(every))
    first, last = min(days), max(days)
    return Replay(events, _before(series, first), series, first, last, notes)


def _within(day: date, start: date | None, end: date | None) -> bool:
    return (start is None or day >= start) and (end is None or day <= end)


def _before(bars: Mapping[str, Sequence[DailyBar]], first: date) -> dict[str, list[DailyBar]]:
    return {ident: [b for b in series if b.date < first] for ident, series in bars.items()}


def _empty(source: Path, start: date | None, end: date | None, low: date, high: date
           ) -> UserError:
    asked = f"{start or 'the start'} .. {end or 'the end'}"
    return UserError(f"{source}: no session in {asked}; its data runs from {low} to "
                     f"{high} (with gaps, listed by a run over it all): choose --from/--to "
                     "where it has sessions")


def gaps(bars: Mapping[str, Sequence[DailyBar]], first: date, last: date
         ) -> list[tuple[str, date, date]]:
    """(id, last day before, first day after) of each gap in the data that ends in
    [first, last]: the sessions replayed without a previous close."""
    from crosscurrent.baselines import GAP_DAYS

    found = []
    for ident, series in sorted(bars.items()):
        for before, after in itertools.pairwise(series):
            if (after.date - before.date).days > GAP_DAYS and first <= after.date <= last:
                found.append((ident, before.date, after.date))
    return found


def run_backtest_command(args: argparse.Namespace, config: Config, console: Console) -> int:
    """The `backtest` command: replay, print the summary, write the files."""
    from crosscurrent.catalog import default_catalog
    from reporters.backtest_summary import summarize

    began = time.perf_counter()
    start, end = parse_day(args.start, "--from"), parse_day(args.end, "--to")
    if start is not None and end is not None and start > end:
        raise UserError(f"--from {start} is after --to {end}: give --from on or before --to")
    source: Path = args.source
    if not source.exists():
        raise UserError(f"{source}: no such file or folder; give a folder of daily bars "
                        "(<family>_<symbol>.csv, like shared/data/history) or a tape "
                        "(.jsonl, .jsonl.gz)")
    if source.suffix.lower() == ".csv":
        raise UserError(f"{source} is one CSV file: give the folder that holds it "
                        f"({source.parent}); every <family>_<symbol>.csv there is read")
    if not source.is_dir() and not source.name.lower().endswith((".jsonl", ".jsonl.gz")):
        raise UserError(f"{source} is neither a folder of daily bars nor a tape (.jsonl, "
                        ".jsonl.gz)")
    writable(args.out, "--out")
    catalog = default_catalog()
    replay = (load_folder if source.is_dir() else load_tape)(source, start, end, catalog)
    alerts = _replay(replay, config, catalog)
    summary = summarize(alerts, replay.bars, replay.first, replay.last, len(replay.events),
                        catalog=catalog)
    written = write_outputs(args.out, summary, alerts, source)
    seconds = time.perf_counter() - began
    out = Screen(console, bool(args.plain) or not console.is_terminal)
    try:
        show(out, replay, summary, alerts, seconds)
        for path in written:
            out.line(f"wrote {path}")
        sys.stdout.flush()
    except BrokenPipeError:  # `| head`: the reader left; the files are written
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def show(out: Screen, replay: Replay, summary: Summary, alerts: Sequence[Alert],
         seconds: float) -> None:
    """The header, the tables, the calm-day line and the verdicts."""
    for note in replay.notes:  # what was skipped: on stderr, beside the log lines
        print(note, file=sys.stderr)
    ids = len({e.id for e in replay.events})
    days = summary.trading_days
    out.line(f"backtest {summary.first} .. {summary.last}: {days} trading "
             f"day{'s' if days != 1 else ''}, {summary.events} events of {ids} ids, "
             f"{_count(alerts)} alert firings, in {seconds:.1f}s", "bold")
    found = gaps(replay.bars, replay.first, replay.last)
    if found:
        shown = ", ".join(f"{i} {a} -> {b}" for i, a, b in found[:GAPS_SHOWN])
        more = f" (+{len(found) - GAPS_SHOWN} more)" if len(found) > GAPS_SHOWN else ""
        out.line(f"gaps in the data, no change taken across: {shown}{more}", "dim")
    out.table("alerts by detector (each key once a day, at its highest severity)",
              SEVERITY_COLUMNS, detector_rows(summary), total=True)
    out.line(calm_line(summary))
    if summary.big_days:
        shown_days = summary.big_days[:BIG_DAYS_SHOWN]
        out.table(big_title(summary), BIG_COLUMNS, [big_row(d) for d in shown_days])
        if len(summary.big_days) > len(shown_days):
            out.line(f"... and {len(summary.big_days) - len(shown_days)} more big-move days "
                     "in backtest.json", "dim")
    else:
        out.line(f"big-move days: none (no index beyond ±{summary.targets.big_index_pct:g}%, "
                 f"no crypto beyond ±{summary.targets.big_crypto_pct:g}%)")
    for text, met in verdict_lines(summary):
        out.line(text, "green" if met else "bold red")


def _replay(replay: Replay, config: Config, catalog: Catalog) -> list[Alert]:
    """Every alert transition, with a progress bar on stderr when it is a terminal."""
    from crosscurrent.backtest import run_backtest

    with Bar("backtest", len(replay.events)) as bar:
        alerts, _ = run_backtest(replay.events, config, history=replay.history,
                                 catalog=catalog, progress=bar)
    return alerts


def _count(alerts: Iterable[Alert]) -> int:
    return sum(1 for a in alerts if a.state == "firing")


SEVERITY_COLUMNS = ("detector", "info", "warning", "critical", "loud/day")
BIG_COLUMNS = ("date", "moves", "worst", "critical keys")


def detector_rows(summary: Summary) -> list[list[str]]:
    """A row per detector, then the total: alerts by severity, loud ones per trading day."""
    rows = []
    for row in [*summary.rows, summary.total_row()]:
        rows.append([row.detector, str(row.info), str(row.warning), str(row.critical),
                     f"{row.per_day(summary.trading_days):.3f}"])
    return rows


def calm_line(summary: Summary) -> str:
    """The noise rate on calm days, with what a calm day is."""
    t = summary.targets
    return (f"calm days: {summary.calm_days} of {summary.trading_days} trading days (every "
            f"index within ±{t.calm_index_pct:g}%, crypto within ±{t.calm_crypto_pct:g}%); "
            f"{summary.calm_days_loud} with a warning or critical: noise rate "
            f"{summary.calm_noise:.1%}")


def big_title(summary: Summary) -> str:
    t = summary.targets
    return (f"big-move days ({len(summary.big_days)}: an index beyond ±{t.big_index_pct:g}% "
            f"or crypto beyond ±{t.big_crypto_pct:g}%)")


def big_row(day: BigDay) -> list[str]:
    """date, the moves, the worst severity that fired, the critical keys (the first few)."""
    moves = ", ".join(f"{ident} {pct:+.2f}%" for ident, pct in sorted(day.moves.items()))
    counted = Counter(day.critical)
    keys = [f"{key} x{n}" if n > 1 else key for key, n in counted.items()]
    named = ", ".join(keys[:KEYS_SHOWN])
    if len(keys) > KEYS_SHOWN:
        named += f" (+{len(keys) - KEYS_SHOWN} more)"
    return [day.date.isoformat(), moves, day.worst or "none", named or "-"]


def verdict_lines(summary: Summary) -> list[tuple[str, bool]]:
    """`target <target>: <measured>, met` (or `NOT met`), as the bench ends its lines."""
    return [(f"target {target}: {measured}, {'met' if met else 'NOT met'}", met)
            for target, measured, met in summary.verdicts()]


def loud_alerts(alerts: Iterable[Alert]) -> dict[str, list[dict[str, str]]]:
    """Each UTC day's warnings and criticals as counted (a key once, at its highest)."""
    from reporters.backtest_summary import daily_alerts

    days: dict[str, list[dict[str, str]]] = {}
    for day, found in daily_alerts(alerts).items():
        for alert in found:
            if alert.severity == "info":
                continue
            moment = datetime.fromtimestamp(alert.ts / 1000, tz=UTC)
            days.setdefault(day.isoformat(), []).append({
                "time": moment.strftime("%H:%M:%SZ"), "detector": alert.detector,
                "severity": str(alert.severity), "key": alert.key, "title": alert.title})
    return days


def summary_json(summary: Summary, alerts: Sequence[Alert], source: Path) -> dict[str, Any]:
    """backtest.json: the summary, its rates and verdicts, and each day's loud alerts."""
    return {
        "source": str(source),
        "summary": summary.model_dump(mode="json"),
        "total": summary.total_row().model_dump(mode="json"),
        "rates": {"loud_per_trading_day": round(summary.loud_per_day, 6),
                  "critical_per_trading_day": round(summary.critical_per_day, 6),
                  "calm_noise": round(summary.calm_noise, 6)},
        "verdicts": [{"target": target, "measured": measured, "met": met}
                     for target, measured, met in summary.verdicts()],
        "loud_alerts": loud_alerts(alerts),
    }


def write_outputs(out: Path, summary: Summary, alerts: Sequence[Alert], source: Path
                  ) -> list[Path]:
    """OUT/backtest.csv and OUT/backtest.json."""
    import orjson

    table, full = out / "backtest.csv", out / "backtest.json"
    try:
        table.write_text(summary.csv_text(), encoding="utf-8")
        full.write_bytes(orjson.dumps(summary_json(summary, alerts, source),
                                      option=orjson.OPT_INDENT_2) + b"\n")
    except OSError as exc:
        raise UserError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None
    return [table, full]
