"""`crosscurrent bench` prints its figures and a summary (tiny runs: figures, not targets)."""

from __future__ import annotations

import asyncio
import io
import os
import re
import time
from pathlib import Path

import pytest
from hdrh.histogram import HdrHistogram
from rich.console import Console

from bench import BenchError
from bench.agents import run_agents
from bench.ingest import load_frames
from bench.latency import Load, run_latency, summary_line
from bench.machine import (
    cpu_ticks,
    process_cpu,
    round_trips,
    steal_text,
    stolen,
    wake_cost,
    wake_text,
)
from bench.memory import flat
from bench.targets import Verdict
from crosscurrent.cli import build_parser
from crosscurrent.config import Config
from tests.conftest import SHARED
from tests.test_cli import crosscurrent


def test_bench_prints_a_summary_line_per_figure(redis_url: str) -> None:
    frames = 8000  # of the USD-M recording; every contender is served the same
    trades = sum(b"@trade" in f[:40] for f in load_frames(SHARED, "usdm")[:frames])
    assert 0 < trades < frames
    result = crosscurrent("bench", "--redis", redis_url, "--events", "400", "--rates", "400",
                          "--seconds", "0.5", "--shared", str(SHARED), "--rounds", "1",
                          "--markets", "usdm", "--frames", str(frames), timeout=300)
    assert result.returncode == 0, result.stderr
    summary = " ".join(result.stdout.split("summary", 1)[1].split())
    for verdict in (r"parser alone, on one core: [\d,]+ frames/s \(target ≥ 100,000 frames/s\): "
                    r"(NOT )?met",
                    r"ingest usdm vs cryptofeed's no-loss backend: [\d.]+× \(crosscurrent fast "
                    r"path: .*cryptofeed \(block\) [\d,]+ frames/s; target ≥ 3×, 0 lost\): "
                    r"(NOT )?met ",
                    r"agent, a backlog: [\d,]+ events per CPU second \(batches of up to 1,000 "
                    r"events: 50 entries of 20; [\d,]+ events/s; target ≥ 100,000 events per "
                    r"CPU second\): (NOT )?met",
                    r"agent, batches of 10 under load: [\d,]+ events per CPU second \(entries "
                    r"of 10 events as written live at 10,000 events/s, read up to 50 a round "
                    r"trip \(adaptive batching: [\d.]+ entries a round trip\); [\d,]+ "
                    r"events/s; target ≥ 100,000 events per CPU second\): (NOT )?met",
                    r"agent, batches of 10 strictly: [\d,]+ events per CPU second \(one entry "
                    r"of 10 events a read and commit; [\d,]+ events/s; target ≥ 100,000 events "
                    r"per CPU second\): (NOT )?met",
                    r"end-of-day report of a full day: [\d.]+ s \([\d,]+ buckets, median of "
                    r"\d; target ≤ 2 s\): (NOT )?met",
                    r"of one core \(target ≤ 10% of one core\): (NOT )?met",
                    r"backtest of the whole window: [\d.]+ s \(target ≤ 60 s\): (NOT )?met",
                    r"backtest, criticals: [\d.]+ per trading day \(target ≤ 0.05 per trading "
                    r"day\): (NOT )?met"):
        assert re.search(verdict, summary), verdict  # each target judged in its line
    for figure in ("parser alone", "(crosscurrent fast path:", f"0 lost of {frames}",
                   "ingest usdm crosscurrent fast path, an entry per frame:",
                   "ingest usdm crosscurrent ccxt.pro (trades):", f"0 lost of {trades}",
                   "detectors in memory:",
                   "tick-to-alert at 400 events/s", "spine events/s end to end:",
                   "end-of-day report", "dashboard", "machine speed: a loop of 10M additions",
                   "machine's Redis round trip (PING), before: back to back p50",
                   "machine's wake-up cost: taking 10,000 messages a second one at a time",
                   "machine's CPU time the host took for others over the run: steal "):
        assert figure in summary, figure
    # the peer, measured in the same run (scripts/test installs it into .bench-venv)
    assert "ingest usdm cryptofeed (overflow='block'):" in summary
    assert f"0 lost of {frames}, 1.00× cryptofeed (block)" in summary
    assert "ingest side by side: Binance usdm" in result.stdout
    # and one table of every target: figure, measured, target, ratio, verdict
    table = result.stdout.split("targets, measured in this run", 1)[1]
    assert re.search(r"figure +measured +target +ratio +verdict", table)
    assert re.search(r"backtest, criticals +[\d.]+ per trading day +≤ 0.05 per trading day +"
                     r"[\d.]+× +(NOT )?met", table)
    assert re.search(r"ingest usdm vs cryptofeed's no-loss backend +[\d.]+× +≥ 3×, 0 lost +"
                     r"[\d.]+× +(NOT )?met", table)
    assert re.search(r"machine: .*, event loop uvloop \d.*, detectors compiled by mypyc",
                     result.stdout)  # the `fast` and `compiled` extras


def test_rounds_show_the_median_agent_and_each_runs_p99(redis_url: str) -> None:
    printed_agents = io.StringIO()
    agents = [line if isinstance(line, str) else line.line() for line in asyncio.run(
        run_agents(Config(), redis_url, 300, Console(file=printed_agents, width=1000),
                   rounds=2))]
    out = io.StringIO()
    latency = [line if isinstance(line, str) else line.line() for line in asyncio.run(
        run_latency(Config(), redis_url, [400], 0.5, Console(file=out, width=1000), rounds=2))]
    for line in agents[:3]:
        assert re.search(r"events/s, 2 runs: [\d,]+–[\d,]+; target ≥ 100,000 events per CPU "
                         r"second\): (NOT )?met$", line)
    assert "(one entry of 10 events a read and commit;" in agents[2]  # the strict one apart
    # the profile of the batches of 10: its 15 functions of most CPU time of their own
    profile = printed_agents.getvalue().split("functions of most CPU time of their own", 1)[1]
    assert len(re.findall(r"^ +\d+(/\d+)? +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ .+$", profile,
                          re.MULTILINE)) == 15
    found = re.search(r"p50 ([\d.]+) ms p99 ([\d.]+) ms p99.9 ([\d.]+) ms; p99 of each run, "
                      r"with the host's steal: ([\d.]+) ms \(steal [\d.]+%\), ([\d.]+) ms "
                      r"\(steal [\d.]+%\)$", latency[0])
    assert found, latency
    p50, p99, p999, *runs = (float(v) for v in found.groups())
    assert p50 <= p99 <= p999 and min(runs) <= p99 <= max(runs) + 0.01  # over both runs
    printed = [float(p) for p in re.findall(r"p99 ([\d.]+) ms p99.9", out.getvalue())]
    assert printed == runs  # each run's own, not the first run's merged with the rest
    # the source's and the test Redis's CPU beside the pipeline's, in each run and the summary
    assert len(re.findall(r"pipeline process \d+% of a core, source \d+%, redis-server \d+%, "
                          r"host steal", out.getvalue())) == 2
    assert re.search(r"pipeline \d+% of a core, source \d+%, redis-server \d+%\): p50",
                     latency[0])


def test_the_latency_summary_keeps_each_runs_p99_apart_from_the_merged_one() -> None:
    def run(micros: list[int], steal: float) -> Load:
        histogram = HdrHistogram(1, 600_000_000, 3)
        for value in micros:
            histogram.record_value(value)
        return Load(histogram, sent=10_000, took=1.0, share=0.5, alerts=len(micros),
                    steal=steal)

    def line(found: str | Verdict) -> str:
        return found if isinstance(found, str) else found.line()

    verdict = summary_line(10_000, [run([1000] * 100, 0.0), run([2000] * 100, 0.02)])
    assert isinstance(verdict, Verdict) and verdict.met and verdict.measured == 2.0
    assert line(verdict).startswith(
        "p99 at 10,000 events/s: 2 ms (tick to alert, 10,000/s sent, pipeline 50% of a core; "
        "p50 1.00 ms p99 2.00 ms p99.9 2.00 ms; p99 of each run, with the host's steal: "
        "1.00 ms (steal 0.0%), 2.00 ms (steal 2.0%); ")
    assert line(verdict).endswith("; target ≤ 5 ms): met")
    assert line(summary_line(10_000, [run([6000] * 100, 0.0)])).endswith(
        "target ≤ 5 ms): NOT met")
    assert line(summary_line(1_000, [run([6000] * 100, 0.0)])).endswith("6.00 ms (steal 0.0%)")
    watched = run([1000] * 100, 0.0)
    watched.others = {"source": 0.2, "redis-server": None}  # Redis on another machine
    assert "(tick to alert, 10,000/s sent, pipeline 50% of a core, source 20%, redis-server " \
        "n/a; p50" in line(summary_line(10_000, [watched]))
    # at 50,000 events/s the backlog must stay flat too: growing by 100 ms of events is not
    steady, behind = run([1000] * 100, 0.0), run([1000] * 100, 0.0)
    steady.backlog = [100, 300, 200, 100, 300, 200]
    behind.backlog = [100, 2000, 4000, 6000, 8000, 10_000]
    assert line(summary_line(50_000, [steady])).endswith(
        "target ≤ 25 ms, backlog flat): met")
    assert line(summary_line(50_000, [steady, behind])).endswith(
        "target ≤ 25 ms, backlog flat): NOT met")
    assert "backlog median 300 frames, max 10,000, grew by 6,000 (not flat)" in line(
        summary_line(50_000, [steady, behind]))


def test_round_trips_are_timed_back_to_back_and_apart(redis_url: str) -> None:
    trips = asyncio.run(round_trips(redis_url, n=50, gap_ms=2))
    assert 0 < trips.back_to_back[0] <= trips.back_to_back[1]
    assert 0 < trips.apart[0] <= trips.apart[1]
    assert trips.line().startswith(f"back to back p50 {trips.back_to_back[0]:.0f} / p99 ")
    assert "2 ms apart" in trips.line()


def test_the_wake_up_cost_is_timed_over_every_message_paced() -> None:
    async def timed() -> tuple[float, float]:
        started = time.perf_counter()
        cost = await wake_cost(rate=2000, n=300)  # 0.15 s at that pace, not at once
        return cost, time.perf_counter() - started

    cost, took = asyncio.run(timed())
    assert cost > 0 and took >= 0.14
    assert "took 13.0 µs of CPU each before and 9.0 after (13% and 9% of a core" in \
        wake_text(13.0, 9.0)


def test_a_wake_up_sender_that_stops_early_is_a_clear_error_at_once() -> None:
    stops = "import os, sys; os.write(int(sys.argv[1]), b'xxxx'); sys.exit(3)"
    started = time.perf_counter()
    # a BenchError: what the CLI prints as one line, as for missing recordings below
    with pytest.raises(BenchError, match="sender process stopped after 4 of 1,000 messages"):
        asyncio.run(wake_cost(rate=1000, n=1000, sender=stops))
    assert time.perf_counter() - started < 30  # not the gauge's 60 s wait


def test_steal_is_the_share_of_ticks_the_host_took_between_two_readings(tmp_path: Path
                                                                        ) -> None:
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 0 50 800 10 0 5 35 0 0\ncpu0 50 0 25 400 5 0 2 18 0 0\n")
    before = cpu_ticks(stat)
    assert before == (35, 1000)
    stat.write_text("cpu  150 0 60 880 10 0 5 95 0 0\n")  # 200 more ticks, 60 of them stolen
    assert stolen(before, cpu_ticks(stat)) == pytest.approx(0.3)
    assert steal_text(0.3) == "steal 30.0%"
    assert stolen(before, before) is None  # no time between them
    assert cpu_ticks(tmp_path / "none") is None and steal_text(None) == "steal n/a"
    assert cpu_ticks() is not None  # this machine's kernel (Linux) gives them


def test_a_process_cpu_is_read_after_its_command_name(tmp_path: Path) -> None:
    (tmp_path / "42").mkdir()
    ticks = os.sysconf("SC_CLK_TCK")
    fields = ["S", *["0"] * 10, str(3 * ticks), str(ticks), *["0"] * 30]  # utime, stime
    (tmp_path / "42" / "stat").write_text(f"42 (a (b) c) {' '.join(fields)}\n")
    assert process_cpu(42, tmp_path) == pytest.approx(4.0)
    assert process_cpu(43, tmp_path) is None  # gone
    assert (process_cpu(os.getpid()) or 0) > 0  # this machine's kernel (Linux) gives it


@pytest.mark.parametrize("flag", ["--frames", "--rounds", "--events"])
def test_a_count_below_one_is_a_one_line_error(flag: str, capsys: pytest.CaptureFixture[str]
                                               ) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["bench", flag, "0"])
    assert exited.value.code == 2
    assert f"argument {flag}: must be at least 1, got 0" in capsys.readouterr().err


def test_a_count_that_is_not_a_whole_number_is_a_one_line_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["bench", "--frames", "1e4"])
    assert exited.value.code == 2
    assert "argument --frames: expected a whole number, got '1e4'" in capsys.readouterr().err


def test_memory_levels_off_under_the_stream_cap(redis_url: str) -> None:
    env = {"CROSSCURRENT_REDIS_STREAM_MAXLEN": "1000"}
    result = crosscurrent("bench", "--redis", redis_url, "--only", "memory", "--minutes",
                          "0.25", "--soak-rate", "2000", env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    summary = " ".join(result.stdout.split("summary", 1)[1].split())
    found = re.search(r"Redis used_memory (\d+) -> (\d+) MB", summary)
    assert found, summary
    half, end = (int(v) for v in found.groups())
    assert end <= half * 1.1 + 2, summary  # 30k events through streams capped at 1,000
    assert "agent 0 behind at the end" in summary
    assert re.search(r"target ≤ 5% more, \+ 1 MB, 0 behind\): (NOT )?met", summary)


def test_the_soak_is_flat_only_within_the_growth_allowed_and_nothing_behind() -> None:
    assert flat((80.0, 377.0), (80.0, 375.0), lag=0)
    assert flat((80.0, 2.0), (80.0, 2.9), lag=0)  # a megabyte of slack on small figures
    assert not flat((80.0, 300.0), (80.0, 330.0), lag=0)  # 10% more
    assert not flat((80.0, 377.0), (80.0, 377.0), lag=5)


def test_missing_recordings_are_a_one_line_error(redis_url: str, tmp_path: Path) -> None:
    result = crosscurrent("bench", "--only", "ingest", "--redis", redis_url,
                          "--shared", str(tmp_path))
    assert result.returncode == 2
    assert f"bench: {tmp_path}" in result.stderr and "is missing: pass --shared DIR" in \
        result.stderr and "Traceback" not in result.stderr


def test_an_unknown_part_is_a_one_line_error() -> None:
    result = crosscurrent("bench", "--only", "spine,warp")
    assert result.returncode == 2 and "choose from agents, latency" in result.stderr
