"""`crosscurrent watchlist add|remove|list`: the user's own symbols, in their config file.

The file is edited in place with its comments kept (ruamel.yaml's round trip); without
`--config`, the user's default config file, made on first use. An added symbol is resolved
(`crosscurrent.symbols`) and, unless `--offline`, asked of its source (does it exist, what is
it called); a file without a watchlist starts from the default one, so adding a symbol never
drops the others.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import platformdirs
from rich.console import Console
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from crosscurrent.catalog import default_catalog
from crosscurrent.config import Config, ConfigError, load_config
from crosscurrent.screen import Screen
from crosscurrent.symbols import Resolved, SymbolError, resolve
from crosscurrent.user_errors import UserError
from crosscurrent.watchlist import WatchEntry, instruments
from streams.backfill import BROWSER_HEADERS

EXAMPLES = """\
examples:
  crosscurrent watchlist add SOL/USDT NVDA 0700.HK      Binance spot; Yahoo: US, Hong Kong
  crosscurrent watchlist add okx:SOL/USDT SOL/USDT:USDT  another venue; a perpetual + funding
  crosscurrent watchlist add ^N225 defillama:aave --config live.yaml
  crosscurrent watchlist remove NVDA
  crosscurrent watchlist list
"""
LOOKUP_TIMEOUT_S = 10.0


def default_config_path() -> Path:
    """The user's own config file (`watchlist` writes there without --config)."""
    return Path(platformdirs.user_config_dir("crosscurrent")) / "config.yaml"


def add_watchlist_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "watchlist", help="add, remove or list your own symbols",
        description="Your symbols, followed by `run` and shown everywhere (dashboard, "
        "detectors, report): SOL/USDT (Binance spot), okx:SOL/USDT (any ccxt.pro venue), "
        "SOL/USDT:USDT (a perpetual and its funding), NVDA / 0700.HK / 600519.SS / ^N225 "
        "(Yahoo; the suffix decides the market, currency and trading calendar), "
        "defillama:aave (a protocol's TVL). Written to --config, else to "
        f"{default_config_path()} (made on first use), comments kept.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, help_text, description, example in (
            ("add", "add symbols (asking their sources first)",
             "Add symbols to the watchlist of the config file; without --offline, each is "
             "asked of its source, and its daily history fetched.", EXAMPLES),
            ("remove", "remove symbols (or ids)",
             "Remove symbols from the watchlist of the config file: every entry that stands "
             "for the same instrument (NVDA, us:NVDA, {symbol: NVDA, ...}).",
             "example:\n  crosscurrent watchlist remove NVDA --config live.yaml\n"),
            ("list", "the watchlist: symbol, id, source, market, calendar",
             "Every id the config follows: as written (symbol or id), its id, name, source, "
             "market and trading calendar.",
             "example:\n  crosscurrent watchlist list --config live.yaml\n")):
        action = actions.add_parser(name, help=help_text, description=description,
                                    epilog=example,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        if name != "list":
            action.add_argument("symbols", nargs="+", metavar="SYMBOL")
        if name == "add":
            action.add_argument("--offline", action="store_true",
                                help="add without asking the sources whether the symbol "
                                "exists (a warning says it was not checked)")
        action.add_argument("--config", type=Path, metavar="FILE",
                            help=f"the config file (default: {default_config_path()})")


def run_watchlist_command(args: argparse.Namespace, console: Console) -> int:
    """Edit or list the watchlist; `args.backfill` gets the ids added after asking their
    sources, whose history the caller then fetches."""
    path: Path = args.config or default_config_path()
    args.backfill = []
    if args.action == "list":
        return _list(path, console)
    yaml = _yaml()
    document = _read(path, yaml)
    entries = _watchlist(document, path)
    changed = False
    if args.action == "add":
        config = _load(path)
        for symbol in args.symbols:
            entry = _added(symbol, config, args.offline, console)
            ident = _id_of(entry["symbol"])
            if any(_id_of(item) == ident for item in entries):
                console.print(f"{symbol} is already in the watchlist (as {ident})",
                              highlight=False)
                continue
            entries.append(entry if len(entry) > 1 else entry["symbol"])
            changed = True
            if not args.offline and ident is not None:
                args.backfill.append(ident)
            console.print(f"added {entry['symbol']} ({ident})", highlight=False)
    else:
        for symbol in args.symbols:
            ident = _id_of(symbol) or symbol  # an id of a symbol not in the catalog here
            found = [i for i, item in enumerate(entries)
                     if _id_of(item) == ident or _given(item).upper() == symbol.upper()]
            if not found:
                raise UserError(f"{symbol} is not in the watchlist of {path} "
                                "(`crosscurrent watchlist list` shows it)")
            for index in reversed(found):
                del entries[index]
            changed = True
            console.print(f"removed {symbol}", highlight=False)
    if not changed:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.new")
    with draft.open("w", encoding="utf-8") as handle:
        yaml.dump(document, handle)
    try:
        _load(draft)  # it loads, or the file stays as it was
    except UserError:
        draft.unlink()
        raise
    draft.replace(path)
    console.print(f"wrote {path}", highlight=False)
    return 0


def _given(item: object) -> str:
    """A file's watchlist item as written: its id or symbol."""
    given = item.get("symbol") if isinstance(item, dict) else item
    return given if isinstance(given, str) else ""


def _id_of(item: object) -> str | None:
    """The id a watchlist item stands for (None if it stands for none)."""
    catalog = default_catalog()
    if isinstance(item, str) and item in catalog:
        return item
    try:
        entry = WatchEntry(symbol=item) if isinstance(item, str) else \
            WatchEntry.model_validate(item)
        return entry.id or resolve(entry.symbol).id
    except (SymbolError, ValueError):
        return None


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _read(path: Path, yaml: YAML) -> CommentedMap:
    if not path.exists():
        return CommentedMap()
    try:
        document = yaml.load(path.read_text(encoding="utf-8"))
    except Exception as exc:  # ruamel's errors have no common public base
        raise UserError(f"config {path}: not YAML ({type(exc).__name__}); fix it or give "
                        "another --config") from None
    if document is None:
        return CommentedMap()
    if not isinstance(document, CommentedMap):
        raise UserError(f"config {path}: not a mapping of sections")
    return document


def _watchlist(document: CommentedMap, path: Path) -> CommentedSeq:
    """The file's watchlist, started from the default one if it has none."""
    if "watchlist" not in document:
        document["watchlist"] = CommentedSeq(load_config(env={}).watchlist)
    entries = document["watchlist"]
    if not isinstance(entries, CommentedSeq):
        raise UserError(f"config {path}: `watchlist` is not a list")
    return entries


def _load(path: Path) -> Config:
    if not path.exists():
        return load_config(env={})
    try:
        return load_config(path, env={})
    except ConfigError as exc:
        raise UserError(str(exc)) from None


def _added(symbol: str, config: Config, offline: bool, console: Console) -> dict[str, str]:
    """The entry to write for `symbol`: the symbol, and the name its source gives."""
    if symbol in default_catalog():
        return {"symbol": symbol}  # a catalog id
    try:
        found = resolve(symbol)
    except SymbolError as exc:
        raise UserError(str(exc)) from None
    catalog = default_catalog()
    if found.id in catalog and found.id not in catalog.added:  # ETH/USDT: the catalog's
        console.print(f"{symbol} is the catalog's {found.id}", highlight=False)
        return {"symbol": found.id}
    if found.venue is not None:
        import ccxt.pro

        if found.venue not in ccxt.pro.exchanges:
            raise UserError(f"{symbol}: ccxt.pro has no exchange {found.venue!r} (it has "
                            f"{', '.join(ccxt.pro.exchanges[:8])}, ...)")
    if offline:
        console.print(f"warning: {found.symbol} added as {found.id} without asking "
                      f"{found.venue or found.source} whether it exists (--offline)",
                      style="yellow", highlight=False)
        return {"symbol": found.symbol}
    name = asyncio.run(lookup(found, config))
    entry = {"symbol": found.symbol}
    if name and name != found.symbol:
        entry["name"] = name
    return entry


async def lookup(found: Resolved, config: Config) -> str:
    """Ask the symbol's source whether it exists: its name there; UserError if it does not
    (or cannot be asked: then --offline is the way)."""
    sources = config.sources
    try:
        async with aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=LOOKUP_TIMEOUT_S)) as session:
            if found.source == "yahoo":
                url = f"{sources.yahoo.chart_url.rstrip('/')}/v8/finance/chart/{found.market}"
                async with session.get(url, params={"range": "5d", "interval": "1d"},
                                       headers=BROWSER_HEADERS) as reply:
                    if reply.status == 429:
                        raise UserError(f"{found.symbol}: Yahoo refused the look-up for now "
                                        "(HTTP 429, rate limited): try again in a minute, "
                                        "or add it with --offline")
                    body: Any = await reply.json(content_type=None)
                    meta = ((body.get("chart") or {}).get("result") or [{}])[0].get("meta")
                    if reply.status != 200 or not meta:
                        raise UserError(f"{found.symbol}: Yahoo knows no such symbol "
                                        f"(HTTP {reply.status})")
                    return str(meta.get("shortName") or meta.get("longName") or found.symbol)
            if found.source in ("binance", "binance-usdm"):
                base = (sources.binance.rest_url if found.source == "binance"
                        else sources.binance_usdm.rest_url) or ""
                path = "/api/v3/exchangeInfo" if found.source == "binance" else \
                    "/fapi/v1/exchangeInfo"
                async with session.get(f"{base.rstrip('/')}{path}",
                                       params={"symbol": found.market}
                                       ) as reply:
                    body = await reply.json(content_type=None)
                    symbols = [s.get("symbol") for s in body.get("symbols", [])] \
                        if isinstance(body, dict) else []
                    if reply.status != 200 or found.market not in symbols:
                        raise UserError(f"{found.symbol}: Binance lists no market "
                                        f"{found.market} (HTTP {reply.status})")
                    return found.symbol
            if found.source == "defillama":
                url = f"{sources.defillama.api_url.rstrip('/')}/protocol/{found.market}"
                async with session.get(url) as reply:
                    if reply.status in (400, 404):  # its answer to an unknown slug
                        raise UserError(f"{found.symbol}: DefiLlama knows no protocol "
                                        f"{found.market!r} (HTTP {reply.status})")
                    body = await reply.json(content_type=None)
                    if not isinstance(body, dict):
                        raise ValueError(f"HTTP {reply.status}, not a protocol")
                    return f"{body.get('name') or found.market} TVL"
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise UserError(f"{found.symbol}: could not ask {found.venue or found.source} "
                        f"({type(exc).__name__}: {exc}); add it with --offline to skip "
                        "the check") from None
    return await _ccxt_name(found)


async def _ccxt_name(found: Resolved) -> str:
    """A ccxt.pro venue's market: its name there (the unified symbol)."""
    import ccxt.async_support as ccxt_async

    venue = getattr(ccxt_async, found.venue or "", None)
    if venue is None:
        raise UserError(f"{found.symbol}: ccxt has no exchange {found.venue!r}")
    exchange = venue({"timeout": int(LOOKUP_TIMEOUT_S * 1000)})
    try:
        markets = await exchange.load_markets()
    except Exception as exc:  # ccxt's network errors
        raise UserError(f"{found.symbol}: could not ask {found.venue} ({type(exc).__name__});"
                        " add it with --offline to skip the check") from None
    finally:
        await exchange.close()
    if found.market not in markets:
        raise UserError(f"{found.symbol}: {found.venue} lists no market {found.market}")
    return found.symbol


def _list(path: Path, console: Console) -> int:
    config = _load(path)
    catalog = default_catalog()
    document = _read(path, _yaml()) if path.exists() else CommentedMap()
    given = {}
    for item in document.get("watchlist") or ():
        entry = WatchEntry(symbol=item) if isinstance(item, str) else WatchEntry(**item)
        if entry.symbol not in catalog or entry.id:
            given[instruments(entry, catalog)[0].id] = entry.symbol
    rows = []
    for ident in config.watchlist:
        item = catalog[ident]
        calendar = next((name for name, cal in catalog.calendars.items()
                         if cal == item.calendar), item.calendar.tz)
        rows.append((given.get(ident, ident), ident, item.en, item.source, item.region,
                     calendar))
    Screen(console, not console.is_terminal).table(  # piped: whole lines
        f"watchlist of {path if path.exists() else 'the default config'}",
        ("symbol / id", "id", "name", "source", "market", "calendar"), rows)
    return 0
