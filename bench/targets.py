"""The benchmarks' targets, and the words that end a summary line with a verdict."""

from __future__ import annotations

PARSER_FRAMES_S = 100_000  # frames parsed a second on one core
VS_PEER = 2.0  # ingest frames/s against cryptofeed (block), same frames, same run; 0 lost
AGENT_PER_CPU_S = 100_000  # events through the agent per CPU second (a backlog)
P99_MS, P99_RATE = 5.0, 10_000  # tick-to-alert p99 at that offered load (events/s)
REPORT_S = 2.0
DASHBOARD_SHARE = 10.0  # % of one core at 10,000 events/s
BACKTEST_S = 60.0  # the back-test of shared/data/history, whole
SOAK_GROWTH = 0.05  # how much more memory from the soak's half-time to its end is still flat


def judged(target: str, met: bool) -> str:
    """`target <target>: met`, or `NOT met`."""
    return f"target {target}: {'met' if met else 'NOT met'}"
