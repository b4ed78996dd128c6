"""Any symbol's day, for simulators that serve symbols no tape names (a user's own): a
deterministic function of the symbol, at a plausible scale (10 to 10,000). The stand-ins of
`run` serve it live; `demo` and `replay` add it to their tape (`own_events`)."""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterable

from crosscurrent.catalog import Catalog, default_catalog
from streams.tape import Tape, TapeEvent

SIMULATED = ("binance", "yahoo")  # the sources whose simulators serve any symbol


def day_of(symbol: str) -> tuple[float, float]:
    """(previous close, the day's change in percent, within +-3%) of `symbol`."""
    seed = zlib.crc32(symbol.encode())
    close = round(10 ** (1 + (seed % 3000) / 1000), 2)
    return close, ((seed >> 12) % 601 - 300) / 100


def price_at(symbol: str, step: int) -> float:
    """The price at `step`: the day's change, give or take 0.05 points, the same for a step."""
    close, change = day_of(symbol)
    wobble = random.Random(zlib.crc32(symbol.encode()) + step).uniform(-0.05, 0.05)
    return round(close * (1 + (change + wobble) / 100), 4)


def own_events(tape: Tape, watchlist: Iterable[str], catalog: Catalog | None = None,
               every_ms: int = 600_000) -> int:
    """Add to `tape` a day for each of the user's own instruments of `watchlist` (Binance spot
    or Yahoo) that it has no event of: a tick every `every_ms` while its market is open, over
    the tape's span. Returns the events added."""
    catalog = catalog or default_catalog()
    have = tape.ids()
    added: list[TapeEvent] = []
    for ident in watchlist:
        instrument = catalog.added.get(ident)
        if instrument is None or ident in have or instrument.source not in SIMULATED:
            continue
        close = day_of(instrument.symbol)[0]
        for step, ts in enumerate(range(tape.start_ms, tape.end_ms + 1, every_ms)):
            if instrument.calendar.is_open(ts):
                added.append(TapeEvent(ts=ts, id=ident, value=price_at(instrument.symbol, step),
                                       prev_close=close, volume=0.5))
    if added:
        tape.events = sorted([*tape.events, *added], key=lambda e: e.ts)
    return len(added)
