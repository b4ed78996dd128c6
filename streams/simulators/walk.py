"""Any symbol's day, for simulators that serve symbols no tape names (a user's own): a
deterministic function of the symbol, at a plausible scale (10 to 10,000)."""

from __future__ import annotations

import random
import zlib


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
