"""The config's `watchlist`: canonical ids of the catalog, or the user's own symbols.

An entry is an id (`hk:HSI`), a symbol (`SOL/USDT`, `NVDA`, `0700.HK`, `defillama:aave`: see
`crosscurrent.symbols`), or a mapping `{symbol, id, name, calendar}` for what the symbol alone
does not say. A symbol's instrument joins the catalog when the config loads, so every part of
the pipeline (feeds, detectors, dashboard, report) knows it as it knows the catalog's; one of
a ccxt.pro venue (`okx:SOL/USDT`) is followed through the config's `ccxt` entries.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError

from crosscurrent.catalog import Catalog, Instrument, default_catalog
from crosscurrent.sections import Section
from crosscurrent.symbols import Resolved, SymbolError, resolve


class WatchEntry(Section):
    """A symbol of the user's, with what to call it where the symbol does not say."""

    symbol: str = Field(min_length=1)
    id: str | None = Field(None, pattern=r"^[a-z]+:[A-Za-z0-9._&^-]+$")
    name: str | None = None
    calendar: str | None = None


def entry_of(raw: object) -> WatchEntry | str:
    """A watchlist item as given: a catalog id stays an id, anything else is a symbol."""
    if isinstance(raw, str):
        return raw if raw in default_catalog() else WatchEntry(symbol=raw)
    if isinstance(raw, dict):
        return WatchEntry.model_validate(raw)
    raise ValueError("give an id, a symbol or {symbol: ..., id: ..., name: ...}")


def instruments(entry: WatchEntry, catalog: Catalog) -> tuple[Resolved, list[Instrument]]:
    """The entry's source and the instruments it makes (a perpetual's funding rate too)."""
    found = resolve(entry.symbol)
    if entry.id is not None:
        family = found.id.partition(":")[0]
        if entry.id.partition(":")[0] != family:
            raise SymbolError(f"id {entry.id!r}: {entry.symbol}'s ids are {family}:..., "
                              "the family of its market")
        found = found.model_copy(update={"id": entry.id})
    calendar_name = entry.calendar or found.calendar
    if calendar_name not in catalog.calendars:
        raise SymbolError(f"unknown calendar {calendar_name!r} (known: "
                          f"{', '.join(sorted(catalog.calendars))})")
    calendar = catalog.calendars[calendar_name]
    name = entry.name or entry.symbol
    made = [Instrument(
        id=found.id, en=name, zh=name, region=found.region,
        asset=found.asset, kind="metric" if found.asset == "tvl" else "tick",
        currency=found.currency, source=found.source, symbol=found.market, calendar=calendar,
        category="other" if found.asset == "tvl" else None)]
    if found.funding is not None:
        made.append(Instrument(
            id=found.funding, en=f"{name} funding rate (8 h)", zh=f"{name} 资金费率",
            region="crypto", asset="funding", kind="metric", currency="",
            source=found.source, symbol=found.market, calendar=calendar))
    return found, made


def watch_id(raw: object) -> str:
    """A watchlist item's id, its instruments made known (a config item's validator)."""
    catalog = default_catalog()
    if isinstance(raw, str) and raw in catalog:
        return raw
    if isinstance(raw, str) and _looks_like_id(raw, catalog):
        raise ValueError(f"unknown instrument id {raw!r} (see `crosscurrent catalog`; a "
                         "symbol of your own looks like SOL/USDT or NVDA)")
    try:
        entry = entry_of(raw)
        assert isinstance(entry, WatchEntry)
        found, made = instruments(entry, catalog)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise ValueError(f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}") from None
    shipped = found.id in catalog and found.id not in catalog.added
    if shipped:
        raise ValueError(f"{entry.symbol} is {found.id}, which the catalog has already: list "
                         f"{found.id} itself, or give this entry an id of its own")
    for instrument in made:
        catalog.add(instrument)
    return found.id


def with_funding(ids: tuple[str, ...]) -> tuple[str, ...]:
    """The ids, each perpetual of the user's followed by its funding rate; an id twice is an
    error (two symbols of one id: one would silently win)."""
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise ValueError(f"{', '.join(twice)} twice in the watchlist: keep one, or give one "
                         "an id of its own ({symbol: ..., id: ...})")
    catalog = default_catalog()
    out: list[str] = []
    for ident in ids:
        out.append(ident)
        funding = f"funding:{ident.partition(':')[2]}"
        if ident in catalog.added and catalog[ident].asset == "perpetual" \
                and funding in catalog.added:
            out.append(funding)
    return tuple(dict.fromkeys(out))


def venue_entries(data: dict[str, Any]) -> None:
    """Add a `ccxt` entry for each watchlist symbol of a ccxt.pro venue (`okx:SOL/USDT`), to
    raw config `data`; the watchlist's own validation reports what does not resolve."""
    items = data.get("watchlist")
    if not isinstance(items, list):
        return  # not a list: the field's validation says so
    venues: dict[str, dict[str, str]] = {}
    for item in items:
        try:
            entry = entry_of(item)
            if isinstance(entry, WatchEntry):
                found = resolve(entry.symbol)
                if found.venue is not None:
                    venues.setdefault(found.venue, {})[entry.id or found.id] = found.market
        except (SymbolError, ValidationError, ValueError):
            continue
    if venues:
        data["ccxt"] = [*(data.get("ccxt") or []),
                        *({"exchange": v, "ids": ids} for v, ids in venues.items())]


def _looks_like_id(text: str, catalog: Catalog) -> bool:
    family, colon, rest = text.partition(":")
    return bool(colon) and "/" not in rest and family != "defillama" and \
        any(i.id.startswith(f"{family}:") for i in catalog)
