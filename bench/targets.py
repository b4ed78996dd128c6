"""The benchmarks' targets, and `Verdict`: a measured figure against its target, which ends
a summary line ("…: met" / "NOT met") and makes a row of the bench's closing table."""

from __future__ import annotations

import math
from dataclasses import dataclass

PARSER_FRAMES_S = 100_000  # frames parsed a second on one core
VS_PEER = 3.0  # ingest frames/s against cryptofeed (block), same frames, same run; 0 lost
AGENT_PER_CPU_S = 100_000  # events through the agent per CPU second (a backlog)
P99_MS, P99_RATE = 5.0, 10_000  # tick-to-alert p99 at that offered load (events/s)
# offered events/s: tick-to-alert p99 (ms), and whether the backlog must stay flat too
P99_TARGETS: dict[float, tuple[float, bool]] = {P99_RATE: (P99_MS, False), 50_000: (25.0, True)}
REPORT_S = 2.0
DASHBOARD_SHARE = 10.0  # % of one core at 10,000 events/s
BACKTEST_S = 60.0  # the back-test of shared/data/history, whole
SOAK_GROWTH = 0.05  # how much more memory from the soak's half-time to its end is still flat


def judged(target: str, met: bool) -> str:
    """`target <target>: met`, or `NOT met`."""
    return f"target {target}: {'met' if met else 'NOT met'}"


def number(value: float) -> str:
    """A figure as the summary shows it: 104,000; 3.9; 0.0499."""
    if math.isinf(value) or math.isnan(value):
        return str(value)
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


@dataclass(frozen=True)
class Verdict:
    """What was measured, plainly named, against its target."""

    name: str  # "agent, batches of 10"
    measured: float
    target: float
    unit: str  # "events per CPU second", "ms", "×"
    ceiling: bool = False  # the target is an upper bound (a latency, a share of a core)
    condition: str = ""  # a further condition, in words ("0 lost"), which `also` says
    also: bool = True
    detail: str = ""  # more of the measure, in the summary line's brackets

    @property
    def met(self) -> bool:
        within = self.measured <= self.target if self.ceiling else self.measured >= self.target
        return within and self.also

    @property
    def ratio(self) -> float:
        """Measured over target (target over measured for a ceiling): 1 or more is within."""
        low, high = (self.measured, self.target) if self.ceiling else (self.target,
                                                                       self.measured)
        return high / low if low else math.inf

    def _with_unit(self, value: float) -> str:
        joined = self.unit.startswith(("×", "%")) or not self.unit
        return f"{number(value)}{'' if joined else ' '}{self.unit}"

    def target_text(self) -> str:
        also = f", {self.condition}" if self.condition else ""
        return f"{'≤' if self.ceiling else '≥'} {self._with_unit(self.target)}{also}"

    def line(self) -> str:
        """`name: measured unit (detail; target …): met`."""
        said = f"{self.detail}; " if self.detail else ""
        return (f"{self.name}: {self._with_unit(self.measured)} ({said}target "
                f"{self.target_text()}): {'met' if self.met else 'NOT met'}")

    def row(self) -> tuple[str, str, str, str, str]:
        return (self.name, self._with_unit(self.measured), self.target_text(),
                f"{self.ratio:.2f}×", "met" if self.met else "NOT met")


ROW_COLUMNS = ("figure", "measured", "target", "ratio", "verdict")
