"""The detectors calibrated on real history: a back-test of `shared/data/history` (REAL daily
bars, 2011-07..2013-12 and 2016-08..2018-12) against the calibration issue's targets, and how
long the whole window takes, as `crosscurrent backtest` runs it."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console

from bench.targets import BACKTEST_S, Verdict
from crosscurrent.backtest import run_backtest
from crosscurrent.config import Config
from reporters.backtest_summary import summarize
from streams.bar_tape import bar_ticks, read_bar_folder


def run_backtest_bench(config: Config, shared: Path, console: Console) -> list[str | Verdict]:
    folder = read_bar_folder(shared / "data" / "history")
    started = time.perf_counter()
    ticks = bar_ticks(folder.bars)
    alerts, _ = run_backtest(ticks, config)
    summary = summarize(alerts, folder.bars, folder.first_day(), folder.last_day(), len(ticks))
    seconds = time.perf_counter() - started
    console.print(f"backtest: {summary.first} .. {summary.last}, {summary.trading_days} "
                  f"trading days, {len(ticks):,} events, {seconds:.1f} s; noise on calm days "
                  f"{summary.calm_noise:.1%}", highlight=False)
    targets = summary.targets
    caught = sum(1 for d in summary.big_days if d.critical)
    missed = [d.date.isoformat() for d in summary.big_days if not d.critical]
    return [Verdict("backtest, warnings and criticals", summary.loud_per_day,
                    targets.loud_per_day, "per trading day", ceiling=True),
            Verdict("backtest, criticals", summary.critical_per_day, targets.critical_per_day,
                    "per trading day", ceiling=True),
            Verdict("backtest, big-move days with a critical", caught, len(summary.big_days),
                    f"of {len(summary.big_days)}",
                    detail=f"missed {', '.join(missed)}" if missed else ""),
            Verdict("backtest of the whole window", seconds, BACKTEST_S, "s", ceiling=True)]
