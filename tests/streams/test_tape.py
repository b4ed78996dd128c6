from __future__ import annotations

import gzip
import logging
from pathlib import Path

import pytest

from crosscurrent.catalog import default_catalog
from streams.tape import Bar, LineError, TapeError, TapeEvent, parse_line, read_tape
from tests.conftest import SEED_TAPE

CATALOG = default_catalog()


def test_event_line_with_iso_time_and_optional_fields() -> None:
    event = parse_line('{"ts":"2026-04-08T09:30:00+08:00","id":"hk:HSI","value":25180.5,'
                       '"volume":1e9,"prev_close":25357}', CATALOG, 3)
    assert event == TapeEvent(ts=1775611800000, id="hk:HSI", value=25180.5, volume=1e9,
                              prev_close=25357.0, line=3)


def test_epoch_milliseconds_and_comments() -> None:
    assert parse_line('{"ts":1775611800000,"id":"crypto:BTC","value":1}', CATALOG) is not None
    assert parse_line("# a comment", CATALOG) is None
    assert parse_line("   ", CATALOG) is None


def test_bar_line() -> None:
    bar = parse_line('{"kind":"bar","date":"2026-04-07","id":"hk:HSI","open":1,"high":2,'
                     '"low":0.5,"close":1.5}', CATALOG)
    assert isinstance(bar, Bar) and bar.close == 1.5 and bar.volume is None


@pytest.mark.parametrize(("line", "message"), [
    ("{nope", "not JSON"),
    ("[1,2]", "not a JSON object"),
    ('{"ts":1,"id":"xx:YY","value":1}', "unknown or missing id"),
    ('{"ts":"2026-04-08T09:30:00","id":"hk:HSI","value":1}', "has no UTC offset"),
    ('{"ts":"yesterday","id":"hk:HSI","value":1}', "is not ISO-8601"),
    ('{"ts":1,"id":"hk:HSI","value":"1"}', "'value' must be a finite number"),
    ('{"ts":1,"id":"hk:HSI"}', "'value' is missing"),
    ('{"ts":1,"id":"hk:HSI","value":1,"kind":"candle"}', "unknown kind"),
    ('{"kind":"bar","date":"2026-13-01","id":"hk:HSI","open":1,"high":1,"low":1,"close":1}',
     "is not YYYY-MM-DD"),
])
def test_bad_lines_say_why(line: str, message: str) -> None:
    with pytest.raises(LineError, match=message):
        parse_line(line, CATALOG)


def test_bad_lines_are_counted_logged_with_number_and_skipped(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "t.jsonl.gz"
    with gzip.open(path, "wt") as out:
        out.write('{"kind":"bar","date":"2026-04-07","id":"hk:HSI","open":1,"high":2,"low":1,"close":2}\n')
        out.write('{"ts":2,"id":"hk:HSI","value":1}\n')
        out.write("garbage\n")
        out.write('{"kind":"bar","date":"2026-04-07","id":"hk:HSI","open":1,"high":2,"low":1,"close":2}\n')
        out.write('{"ts":1,"id":"crypto:BTC","value":2}\n')
    with caplog.at_level(logging.WARNING):
        tape = read_tape(path)
    assert [e.ts for e in tape.events] == [1, 2]  # sorted; the late line is kept
    assert tape.bad_lines == 2 and tape.out_of_order == 1 and len(tape.bars) == 1
    assert "line 3 skipped: not JSON" in caplog.text
    assert "line 4 skipped: a bar after the first event" in caplog.text


def test_a_tape_without_events_or_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TapeError, match="cannot open"):
        read_tape(tmp_path / "missing.jsonl")
    (tmp_path / "empty.jsonl").write_text("# nothing\n")
    with pytest.raises(TapeError, match="no valid event lines"):
        read_tape(tmp_path / "empty.jsonl")


def test_the_shipped_seed_tape_ends_on_the_report_figures() -> None:
    tape = read_tape(SEED_TAPE)
    assert tape.bad_lines == 0
    last = {e.id: e for e in tape.events}
    for ident, change in (("crypto:BTC", 4.35), ("crypto:ETH", 6.05), ("hk:HSTECH", -1.63),
                          ("hk:HSI", -0.70), ("us:IXIC", 0.44), ("cn:SSE", 0.26)):
        event = last[ident]
        assert event.prev_close is not None
        assert (event.value / event.prev_close - 1) * 100 == pytest.approx(change, abs=0.006)
    assert last["crypto:BTC"].value == 71917.0
    assert last["cn:ADVANCERS"].value == 1584 and last["cn:DECLINERS"].value == 713
    hsi = [bar for bar in tape.bars if bar.id == "hk:HSI"]  # history for the baselines
    assert len(hsi) == 30 and hsi[-1].close == last["hk:HSI"].prev_close
    assert all(bar.date.isoformat() not in ("2026-04-03", "2026-04-06") for bar in hsi)


def test_a_flood_of_bad_lines_is_counted_whole_and_logged_sparingly(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    tape = tmp_path / "t.jsonl"
    tape.write_text('{"ts":1775635200000,"id":"crypto:BTC","value":70000}\n'
                    + "".join(f"garbage {n}\n" for n in range(3000)))
    with caplog.at_level(logging.WARNING):
        read = read_tape(tape)
    assert read.bad_lines == 3000 and len(read.events) == 1
    assert len(caplog.records) == 10 + 1 + 3  # the first ten, a note, every thousandth
