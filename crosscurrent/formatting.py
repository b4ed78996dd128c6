"""Numbers as people read them in tables and messages."""

from __future__ import annotations


def compact(value: float) -> str:
    """2.53T, 184.20B, 640.00M, 71,917, 4.33."""
    size = abs(value)
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6)):
        if size >= scale:
            return f"{value / scale:,.2f}{unit}"
    return f"{value:,.2f}" if size < 1000 else f"{value:,.0f}"


def money(value: float) -> str:
    """$640.00M, -$2.02B."""
    return ("-" if value < 0 else "") + "$" + compact(abs(value))


def signed(value: float, digits: int = 2) -> str:
    """+4.35%, -1.63%."""
    return f"{value:+.{digits}f}%"


#: What a price shows instead of a change when no previous close is known.
NO_PREVIOUS_CLOSE = "no previous close"


def pct(value: float | None) -> str:
    """A signed percentage, or n/a."""
    return "n/a" if value is None else signed(value)
