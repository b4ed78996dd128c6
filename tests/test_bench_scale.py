"""`crosscurrent bench --only scale` on a tiny backlog: every run drains it through both
stages, and the summary names each target plainly and ends with its verdict (figures, not
targets, at this size)."""

from __future__ import annotations

import re

import pytest

from tests.test_cli import crosscurrent


@pytest.mark.timeout(600)
def test_the_scale_bench_judges_one_worker_and_two_against_one(redis_url: str) -> None:
    result = crosscurrent("bench", "--only", "scale", "--events", "3000", "--redis", redis_url,
                          timeout=540)
    assert result.returncode == 0, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    for workers in (1, 2, 4):
        assert re.search(rf"faust, {workers} worker\(s\): [\d,]+ events/s through both stages "
                         rf".*CPU s per worker( [\d.]+,?){{{workers}}} for 3,000 events", out), out
    summary = out.split("summary", 1)[1]
    assert re.search(r"Faust, 1 worker: [\d,]+ events/s \(3,000 events through both stages "
                     r"on the mock cluster; [\d,]+ per CPU second; target ≥ 30,000 events/s\): "
                     r"(NOT )?met", summary), summary
    assert re.search(r"Faust, 2 workers vs 1: [\d.]+× \([\d,]+ against [\d,]+ events/s; CPU s "
                     r"per worker [\d.]+, [\d.]+ against [\d.]+ alone; cores busy .* target ≥ "
                     r"1.7×\): (NOT )?met", summary), summary
    assert "faust table state per instrument:" in summary
