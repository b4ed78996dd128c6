"""Choose the detectors' "how unusual" thresholds from real daily bars, reproducibly.

    .venv/bin/python scripts/calibrate.py ../shared/data/history [--config my.yaml] > cal.yaml

For every session it takes each id's close-to-close change and divides it by the id's usual
daily move as the detectors see it that morning (the standard deviation of its changes over
the `history.volatility_window` sessions before, at least `history.window` of them; never
across a gap in the data), and likewise each configured divergence pair's gap by the usual
gap. The thresholds are quantiles of those ratios, pooled over the ids and pairs that have
data: a warning is what one session in a hundred reaches (`WARN_Q`), a critical one in a
thousand (`CRITICAL_Q`), and a strong lead of the transmission chain one in twenty
(`STRONG_Q`). It prints the figures on stderr and, on stdout, a config with the config's
large-move rules and divergence pairs carrying them (`> calibrated.yaml`, then `crosscurrent
backtest FOLDER --config calibrated.yaml` shows what they give). The defaults shipped in
`crosscurrent/data/default-config.yaml` are this script's output on `shared/data/history`
(rounded to a half).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from crosscurrent.baselines import daily_changes
from crosscurrent.config import ConfigError, load_config
from streams.bar_tape import BarFolderError, read_bar_folder

WARN_Q, CRITICAL_Q, STRONG_Q = 0.99, 0.999, 0.95


def ratios(series: Sequence[tuple[object, float]], least: int, most: int) -> list[float]:
    """|value| / the standard deviation of the `most` values before it (at least `least`)."""
    out = []
    for index in range(least, len(series)):
        before = [v for _, v in series[max(0, index - most):index]]
        usual = statistics.stdev(before)
        if usual > 0:
            out.append(abs(series[index][1]) / usual)
    return out


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def half(value: float) -> float:
    return round(value * 2) / 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="daily bars: <family>_<symbol>.csv files")
    parser.add_argument("--config", type=Path, help="the config whose pairs and nodes to use")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        bars = read_bar_folder(args.folder).bars
    except (ConfigError, BarFolderError) as exc:
        print(f"calibrate: {exc}", file=sys.stderr)
        return 2
    least, most = config.history.window, config.history.volatility_window
    changes = {ident: daily_changes(series) for ident, series in bars.items()}

    moves: list[float] = []
    for rule in config.detectors.large_move.rules:
        for ident in rule.ids:
            if ident in changes:
                moves += ratios(changes[ident], least, most)
    gaps: list[float] = []
    for pair in config.detectors.divergence.pairs:
        sides = [[dict(changes.get(i, [])) for i in side] for side in (pair.a, pair.b)]
        days = sorted(set.intersection(*(set(c) for side in sides for c in side)))
        series = [(day, statistics.fmean(c[day] for c in sides[0])
                   - statistics.fmean(c[day] for c in sides[1])) for day in days]
        gaps += ratios(series, least, most) if len(series) > least else []
    leads: list[float] = []
    if config.detectors.chain.nodes:
        for ident in config.detectors.chain.nodes[0].ids:
            if ident in changes:
                leads += ratios(changes[ident], least, most)
    if not moves or not gaps:
        print("too little data: need the ids of the large-move rules and of at least one "
              "divergence pair", file=sys.stderr)
        return 2
    found = {
        "large_move.sigma_warn": quantile(moves, WARN_Q),
        "large_move.sigma_critical": quantile(moves, CRITICAL_Q),
        "divergence.z_warn": quantile(gaps, WARN_Q),
        "divergence.z_critical": quantile(gaps, CRITICAL_Q),
    }
    strong = quantile(leads, STRONG_Q) if leads else None
    print(f"sessions: {len(moves)} id-days, {len(gaps)} pair-days, {len(leads)} lead-days "
          f"(usual move over {least}..{most} sessions)", file=sys.stderr)
    for name, value in [*found.items(), ("chain.z_strong", strong)]:
        print(f"  {name:28} {'-' if value is None else f'{value:.2f}'}", file=sys.stderr)
    detectors = config.detectors
    section: dict[str, Any] = {
        "large_move": {"rules": [
            rule.model_copy(update={
                "sigma_warn": half(found["large_move.sigma_warn"]),
                "sigma_critical": half(found["large_move.sigma_critical"])}
            ).model_dump(mode="json", exclude_none=True)
            for rule in detectors.large_move.rules]},
        "divergence": {"pairs": [
            pair.model_copy(update={"z_warn": half(found["divergence.z_warn"]),
                                    "z_critical": half(found["divergence.z_critical"])}
                            ).model_dump(mode="json", exclude_none=True)
            for pair in detectors.divergence.pairs]},
    }
    if strong is not None:
        section["chain"] = {"z_strong": half(strong)}
    print("# the calibrated thresholds (rounded to a half): a config for --config\n"
          + yaml.safe_dump({"detectors": section}, allow_unicode=True, sort_keys=False,
                           width=100), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
