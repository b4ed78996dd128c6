"""Daily bars to ticks for the back-test: the real history folder, and bad files beside it."""

from __future__ import annotations

import itertools
import logging
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from crosscurrent.bars import DailyBar
from crosscurrent.catalog import default_catalog
from streams.bar_tape import (
    BarFolder,
    BarFolderError,
    bar_ticks,
    previous_close,
    read_bar_folder,
)
from tests.conftest import shared

CATALOG = default_catalog()
HEADER = "date,open,high,low,close,volume\n"


@pytest.fixture(scope="module")
def history() -> BarFolder:
    return read_bar_folder(shared("data/history"), CATALOG)


def local(ts_ms: int, zone: str) -> datetime:
    return datetime.fromtimestamp(ts_ms / 1000, tz=ZoneInfo(zone))


def test_every_file_of_the_history_folder_becomes_its_canonical_id(history: BarFolder) -> None:
    assert set(history.bars) == {"us:SPX", "us:IXIC", "hk:HSI", "cn:SSE", "crypto:BTC",
                                 "macro:VIX", "macro:GOLD", "macro:WTI"}
    assert history.skipped == [] and history.bad_rows == 0
    assert history.first_day() == date(2011, 7, 28)
    assert history.last_day() == date(2018, 12, 31)
    spx = history.bars["us:SPX"]
    assert len(spx) == 1220  # every data row of us_SPX.csv
    assert all(a.date < b.date for a, b in itertools.pairwise(spx))
    first = spx[0]
    assert (first.date, first.open, first.close) == (date(2011, 7, 28), 1304.839966, 1300.670044)
    assert first.volume == 4951800000.0
    assert history.bars["hk:HSI"][0].volume is None  # an empty volume column


def test_the_spx_gap_of_years_gives_a_session_without_previous_close(history: BarFolder
                                                                      ) -> None:
    spx = history.bars["us:SPX"]
    after = next(i for i, bar in enumerate(spx) if bar.date == date(2016, 8, 1))
    assert spx[after - 1].date == date(2013, 12, 31)
    assert previous_close(spx, after) is None
    assert previous_close(spx, after + 1) == spx[after].close
    assert previous_close(spx, after - 1) == spx[after - 2].close
    assert previous_close(spx, 0) is None
    ticks = bar_ticks({"us:SPX": spx}, date(2013, 12, 31), date(2016, 8, 2), CATALOG)
    assert len(ticks) == 3 * 4
    by_day: dict[date, set[float | None]] = {}
    for tick in ticks:
        day = local(tick.ts, "America/New_York").date()
        by_day.setdefault(day, set()).add(tick.prev_close)
    assert by_day == {date(2013, 12, 31): {spx[after - 2].close},
                      date(2016, 8, 1): {None},
                      date(2016, 8, 2): {spx[after].close}}


def test_hang_seng_ticks_fall_in_its_own_hours_four_a_session(history: BarFolder) -> None:
    hsi = [b for b in history.bars["hk:HSI"] if date(2013, 1, 1) <= b.date <= date(2013, 12, 31)]
    ticks = bar_ticks(history.bars, date(2013, 1, 1), date(2013, 12, 31), CATALOG)
    mine = [t for t in ticks if t.id == "hk:HSI"]
    assert len(mine) == 4 * len(hsi) and len(hsi) > 200
    assert [t.ts for t in ticks] == sorted(t.ts for t in ticks)
    sessions: dict[date, list[float]] = {}
    for tick in mine:
        moment = local(tick.ts, "Asia/Hong_Kong")
        assert time(9, 30) < moment.time() < time(16, 0), moment
        assert not time(12, 0) <= moment.time() < time(13, 0), moment  # lunch
        assert tick.source == "bars" and tick.day_volume is None  # no volume in the file
        sessions.setdefault(moment.date(), []).append(tick.price)
    bars = {b.date: b for b in hsi}
    assert set(sessions) == set(bars)
    for day, prices in sessions.items():
        bar = bars[day]
        extremes = [bar.low, bar.high] if bar.close >= bar.open else [bar.high, bar.low]
        assert prices == [bar.open, *extremes, bar.close]


def test_us_ticks_follow_new_york_hours_through_daylight_saving(history: BarFolder) -> None:
    for day in (date(2013, 1, 15), date(2013, 7, 15)):  # EST, then EDT
        ticks = bar_ticks({"us:SPX": history.bars["us:SPX"]}, day, day, CATALOG)
        times = [local(t.ts, "America/New_York").time() for t in ticks]
        assert times[0] == time(9, 31) and times[-1] == time(15, 59)
        assert len(times) == 4


def test_bitcoin_trades_round_the_clock_with_a_quarter_of_the_volume_a_tick(history: BarFolder
                                                                            ) -> None:
    bar = next(b for b in history.bars["crypto:BTC"] if b.date == date(2013, 11, 9))
    ticks = bar_ticks({"crypto:BTC": [bar]}, catalog=CATALOG)
    assert [local(t.ts, "UTC").strftime("%H:%M") for t in ticks][::3] == ["00:01", "23:59"]
    assert {t.volume for t in ticks} == {bar.volume / 4 if bar.volume else None}
    assert {t.prev_close for t in ticks} == {None}  # the only bar given


def test_bad_rows_are_counted_and_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture
                                          ) -> None:
    (tmp_path / "us_SPX.csv").write_text(HEADER + "\n".join([
        "2024-01-02,100,101,99,100.5,1000",
        "2024-01-03,100,101,99,abc,1000",      # a close that is no number
        "2024-01-04,100,101,-5,100,1000",      # a negative low
        "not-a-date,100,101,99,100,1000",
        "2024-01-05,100,101,99,,1000",         # no close
        "2024-01-08,100,102,99,101,",          # no volume: fine
        "2024-01-08,100,103,99,102,5",         # the same date again: the later row stands
        "2024-01-09,100,99,98,101,-1",          # high below close is mended; bad volume dropped
    ]) + "\n")
    with caplog.at_level(logging.WARNING, logger="streams.bar_tape"):
        found = read_bar_folder(tmp_path, CATALOG)
    assert found.bad_rows == 4
    assert "us_SPX.csv line 3 skipped: close 'abc' is not a positive number" in caplog.text
    assert "us_SPX.csv line 5 skipped: date 'not-a-date' is not YYYY-MM-DD" in caplog.text
    assert [b.date for b in found.bars["us:SPX"]] == [date(2024, 1, 2), date(2024, 1, 8),
                                                      date(2024, 1, 9)]
    assert found.bars["us:SPX"][1] == DailyBar(date=date(2024, 1, 8), open=100, high=103,
                                               low=99, close=102, volume=5)
    mended = found.bars["us:SPX"][2]
    assert (mended.high, mended.low, mended.volume) == (101, 98, None)


def test_unknown_and_unusable_files_are_skipped_with_a_reason(tmp_path: Path) -> None:
    good = HEADER + "2024-01-02,100,101,99,100.5,1000\n"
    (tmp_path / "us_SPX.csv").write_text(good)
    (tmp_path / "notes.csv").write_text(good)
    (tmp_path / "xx_FOO.csv").write_text(good)
    (tmp_path / "hk_HSI.csv").write_text("date,price\n2024-01-02,1\n")
    (tmp_path / "cn_SSE.csv").write_text(HEADER)
    (tmp_path / "crypto_BTC.csv").write_bytes(HEADER.encode() + b"2024-01-02,\xff\xfe,1,1,1,1\n")
    (tmp_path / "us_IXIC.txt").write_text(good)  # not a .csv: not even looked at
    found = read_bar_folder(tmp_path, CATALOG)
    assert set(found.bars) == {"us:SPX"}
    reasons = dict(why.split(": ", 1) for why in found.skipped)
    assert set(reasons) == {"notes.csv", "xx_FOO.csv", "hk_HSI.csv", "cn_SSE.csv",
                            "crypto_BTC.csv"}
    assert reasons["xx_FOO.csv"].startswith("no catalog id (expected e.g. us_SPX.csv")
    assert reasons["hk_HSI.csv"] == "no column open, high, low, close"
    assert reasons["cn_SSE.csv"] == "no usable row"
    assert reasons["crypto_BTC.csv"].startswith("unreadable (")


def test_a_folder_without_usable_files_is_an_error_saying_why(tmp_path: Path) -> None:
    with pytest.raises(BarFolderError, match="is not a folder of daily bars"):
        read_bar_folder(tmp_path / "missing", CATALOG)
    (tmp_path / "readme.csv").write_text(HEADER)
    with pytest.raises(BarFolderError, match="no usable") as raised:
        read_bar_folder(tmp_path, CATALOG)
    assert "readme.csv: no catalog id" in str(raised.value)
