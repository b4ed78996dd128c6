"""`crosscurrent bench` prints its figures and a summary (a tiny run: figures, not targets)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SHARED
from tests.test_cli import crosscurrent


def test_bench_prints_a_summary_line_per_figure(redis_url: str) -> None:
    result = crosscurrent("bench", "--redis", redis_url, "--events", "400", "--rate", "400",
                          "--seconds", "0.5", "--shared", str(SHARED), "--rounds", "1",
                          "--markets", "usdm", timeout=300)
    assert result.returncode == 0, result.stderr
    summary = result.stdout.split("summary", 1)[1]
    for figure in ("spine events/s end to end:", "tick-to-alert at 400 events/s: p50",
                   "parser alone:", "ingest usdm crosscurrent fast path:", "0 lost of 87402",
                   "ingest usdm crosscurrent ccxt.pro:", "0 lost of 21313"):
        assert figure in summary, figure
    table = result.stdout.split("ingest side by side", 1)[1].split("summary", 1)[0]
    assert "cryptofeed (overflow='block')" in " ".join(summary.split())
    assert "× cryptofeed (block)" in summary and "ccxt.pro" in table


def test_missing_recordings_are_a_one_line_error(redis_url: str, tmp_path: Path) -> None:
    result = crosscurrent("bench", "--only", "ingest", "--redis", redis_url,
                          "--shared", str(tmp_path))
    assert result.returncode == 2
    assert "is missing: pass --shared DIR" in result.stderr and "Traceback" not in result.stderr
