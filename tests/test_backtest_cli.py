"""`crosscurrent backtest` end to end, as a user runs it: the real history folder, a tape, and
the input it refuses (real processes, no mocks)."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import orjson
import pytest

from streams.bar_tape import bar_ticks, read_bar_folder
from tests.conftest import shared

NOVEMBER_BTC_BIG_DAYS = ["2013-11-09", "2013-11-10", "2013-11-11", "2013-11-18", "2013-11-19",
                         "2013-11-20", "2013-11-21", "2013-11-28"]


def crosscurrent(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crosscurrent", *args], capture_output=True, text=True,
        timeout=60, cwd=cwd, env=dict(os.environ, COLUMNS="200"),
    )


def test_a_month_of_history_prints_the_table_and_verdicts_and_writes_csv_and_json(
        tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = crosscurrent("backtest", str(shared("data/history")), "--from", "2013-11-01",
                          "--to", "2013-11-30", "--out", str(out))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "\x1b[" not in result.stdout  # piped: no colour codes
    # the header: the range, its trading days (weekdays with an index bar) and 4 ticks a bar
    assert lines[0].startswith("backtest 2013-11-01 .. 2013-11-30: 21 trading days, 612 events "
                               "of 7 ids, ")
    assert "calm days: 3 of 21 trading days (every index within ±1%, crypto within ±3%); " \
        in result.stdout
    saved = orjson.loads((out / "backtest.json").read_bytes())
    summary = saved["summary"]
    assert (summary["first"], summary["last"]) == ("2013-11-01", "2013-11-30")
    assert (summary["trading_days"], summary["events"], summary["calm_days"]) == (21, 612, 3)
    assert [d["date"] for d in summary["big_days"]] == NOVEMBER_BTC_BIG_DAYS
    assert all(set(d["moves"]) == {"crypto:BTC"} for d in summary["big_days"])
    # the CSV is the printed table: a row per detector, then the total of them
    rows = list(csv.DictReader(io.StringIO((out / "backtest.csv").read_text())))
    assert rows[-1]["detector"] == "total"
    assert [r["detector"] for r in rows[:-1]] == [r["detector"] for r in summary["rows"]]
    for severity in ("info", "warning", "critical"):
        assert int(rows[-1][severity]) == sum(int(r[severity]) for r in rows[:-1])
    loud = int(rows[-1]["warning"]) + int(rows[-1]["critical"])
    assert float(rows[-1]["loud_per_trading_day"]) == pytest.approx(loud / 21, abs=1e-4)
    assert saved["rates"]["loud_per_trading_day"] == pytest.approx(loud / 21)
    assert sum(len(day) for day in saved["loud_alerts"].values()) == loud
    table = lines.index("alerts by detector (each key once a day, at its highest severity)")
    assert lines[table + 1].split() == ["detector", "info", "warning", "critical", "loud/day"]
    assert lines[table + 2 + len(rows) - 1].split()[:4] == [
        "total", rows[-1]["info"], rows[-1]["warning"], rows[-1]["critical"]]
    # the big-move days, one line each
    big = lines.index("big-move days (8: an index beyond ±4% or crypto beyond ±15%)")
    assert [line.split()[0] for line in lines[big + 2:big + 10]] == NOVEMBER_BTC_BIG_DAYS
    # a verdict a target, as the bench ends its lines, the same as in the JSON
    verdicts = [line for line in lines if line.startswith("target ")]
    assert len(verdicts) == 3
    assert verdicts[0].startswith("target warning+critical <= 0.3 per trading day: ")
    assert verdicts[1].startswith("target critical <= 0.05 per trading day: ")
    assert verdicts[2].startswith("target a critical on every big-move day: ")
    assert [v.endswith(", NOT met") for v in verdicts] == [not v["met"]
                                                           for v in saved["verdicts"]]
    assert all(v.endswith((", met", ", NOT met")) for v in verdicts)
    assert lines[-2:] == [f"wrote {out / 'backtest.csv'}", f"wrote {out / 'backtest.json'}"]


def test_no_change_is_taken_across_the_gap_of_years(tmp_path: Path) -> None:
    """us_SPX.csv jumps from 2013-12-31 to 2016-08-01 (+17%): nothing fires on it."""
    result = crosscurrent("backtest", str(shared("data/history")), "--from", "2016-08-01",
                          "--to", "2016-08-05", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "gaps in the data, no change taken across: macro:WTI 2013-12-31 -> 2016-08-01, " \
        "us:SPX 2013-12-31 -> 2016-08-01" in result.stdout
    saved = orjson.loads((tmp_path / "backtest.json").read_bytes())
    assert saved["summary"]["big_days"] == []
    assert saved["summary"]["trading_days"] == 5
    assert not [a for day in saved["loud_alerts"].values() for a in day
                if "us:SPX" in a["key"] or "macro:WTI" in a["key"]]


def test_a_tape_is_replayed_with_its_bars_and_the_days_before_from_as_history(
        tmp_path: Path) -> None:
    folder = read_bar_folder(shared("data/history"))
    bars = {i: folder.bars[i] for i in ("us:SPX", "crypto:BTC")}
    tape = tmp_path / "tape.jsonl"
    with tape.open("w") as handle:
        for ident, series in bars.items():
            for b in series:
                if date(2013, 10, 1) <= b.date < date(2013, 11, 1):
                    handle.write(orjson.dumps({"kind": "bar", "id": ident, **b.model_dump(
                        mode="json")}).decode() + "\n")
        for tick in bar_ticks(bars, date(2013, 11, 1), date(2013, 11, 5)):
            handle.write(orjson.dumps({"ts": tick.ts, "id": tick.id, "value": tick.price,
                                       "prev_close": tick.prev_close}).decode() + "\n")
    result = crosscurrent("backtest", str(tape), "--from", "2013-11-04", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # 11-04 and 11-05: two SPX sessions and two BTC days, four ticks each
    assert result.stdout.startswith("backtest 2013-11-04 .. 2013-11-05: 2 trading days, 16 "
                                    "events of 2 ids, ")
    saved = orjson.loads((tmp_path / "backtest" / "backtest.json").read_bytes())  # the default
    assert saved["source"] == str(tape) and saved["summary"]["events"] == 16


@pytest.mark.parametrize(("args", "message"), [
    (["missing-folder"], "missing-folder: no such file or folder; give a folder of daily bars"),
    (["HISTORY", "--from", "2013-13-01"],
     "--from '2013-13-01' is not a date: give YYYY-MM-DD, e.g. --from 2013-01-02"),
    (["HISTORY", "--from", "2014-06-01", "--to", "2016-06-01"],
     "no session in 2014-06-01 .. 2016-06-01; its data runs from 2011-07-28 to 2018-12-31 "
     "(with gaps, listed by a run over it all): choose --from/--to where it has sessions"),
    (["HISTORY", "--from", "2019-01-01"], "no session in 2019-01-01 .. the end"),
    (["HISTORY", "--from", "2014-01-01", "--to", "2013-01-01"],
     "--from 2014-01-01 is after --to 2013-01-01"),
    (["HISTORY/us_SPX.csv"], "us_SPX.csv is one CSV file: give the folder that holds it"),
    (["EMPTY"], "no usable <family>_<symbol>.csv file"),
    (["HISTORY/../README.md"], "is neither a folder of daily bars nor a tape (.jsonl, "),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str, tmp_path: Path
                                          ) -> None:
    history = str(shared("data/history"))
    (tmp_path / "empty").mkdir()
    args = [a.replace("HISTORY", history).replace("EMPTY", str(tmp_path / "empty"))
            for a in args]
    result = crosscurrent("backtest", *args, "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "out" / "backtest.csv").exists()


def test_an_out_that_is_a_file_is_refused_before_the_work(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("")
    result = crosscurrent("backtest", str(shared("data/history")), "--out",
                          str(tmp_path / "taken"))
    assert result.returncode == 2
    assert f"--out {tmp_path / 'taken'}: cannot write there (a file is in the way)" \
        in result.stderr


def test_help_gives_an_example() -> None:
    result = crosscurrent("backtest", "--help")
    assert result.returncode == 0
    assert "crosscurrent backtest ../shared/data/history --from 2013-01-01 --to 2013-12-31" \
        in result.stdout
    assert "default: ./backtest" in result.stdout
    assert "crosscurrent backtest" in crosscurrent("--help").stdout
