"""Recording: live events written as a tape (shared/spec/tape.md) to replay a real day later."""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

import orjson

from crosscurrent.bars import DailyBar
from crosscurrent.catalog import Catalog, default_catalog
from crosscurrent.events import FeedStatus, MarketEvent, Metric, Tick


def tape_line(event: Tick | Metric, catalog: Catalog) -> dict[str, Any]:
    """A tick or metric as a tape line; the source is kept only when it is not the id's own."""
    instrument = catalog[event.id]
    line: dict[str, Any] = {
        "ts": datetime.fromtimestamp(event.ts / 1000, tz=UTC).isoformat(timespec="milliseconds"),
        "id": event.id,
    }
    if isinstance(event, Metric):
        line["value"] = event.value
    else:
        line["value"] = event.price
        # tape volume: since the previous event, except for indices (session turnover)
        volume = event.day_volume if instrument.asset == "index" else event.volume
        if volume is not None:
            line["volume"] = volume
        if event.prev_close is not None:
            line["prev_close"] = event.prev_close
    if event.source and event.source != instrument.source:
        line["source"] = event.source
    return line


def _open_for_writing(path: Path) -> IO[bytes]:
    """`.gz` compresses."""
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "wb"))
    return path.open("wb")


class TapeRecorder:
    """A sink for feeds that appends ticks and metrics to a tape (`.gz` compresses)."""

    def __init__(self, path: Path, catalog: Catalog | None = None) -> None:
        self.path = path
        self.catalog = catalog or default_catalog()
        self.lines = 0
        self.bar_lines = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._out = _open_for_writing(path)  # held open while recording; close() closes it
        self._out.write(b"# recorded by crosscurrent record\n")

    def bars(self, ident: str, bars: Iterable[DailyBar]) -> None:
        """History lines: they must come before the first event."""
        if self.lines:
            raise RuntimeError("history lines go before the first event of a tape")
        for bar in bars:
            line = {"kind": "bar", "id": ident,
                    **bar.model_dump(mode="json", exclude_none=True)}
            self._out.write(orjson.dumps(line) + b"\n")
            self.bar_lines += 1

    async def __call__(self, event: MarketEvent | FeedStatus) -> None:
        if isinstance(event, Tick | Metric):  # quotes and feed status are not tape events
            self._out.write(orjson.dumps(tape_line(event, self.catalog)) + b"\n")
            self.lines += 1

    def close(self) -> None:
        self._out.close()
