"""`crosscurrent watchlist add|remove|list` on a config file, offline and asking stand-ins of
Yahoo and Binance that list symbols beyond our catalog, as the real ones do."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.simulators.binance import BinanceSimulator
from streams.simulators.yahoo import YahooSimulator
from tests.test_cli import crosscurrent

COMMENTED = """\
# my config: keep this comment
redis:
  prefix: cc   # and this one
watchlist:
  - crypto:BTC   # bitcoin
"""


def test_offline_add_list_and_remove_keep_the_files_comments(tmp_path: Path) -> None:
    config = tmp_path / "live.yaml"
    config.write_text(COMMENTED)
    added = crosscurrent("watchlist", "add", "--offline", "SOL/USDT", "NVDA", "--config",
                         str(config))
    assert added.returncode == 0, added.stderr
    assert "SOL/USDT added as crypto:SOL without asking binance whether it exists" in \
        " ".join(added.stdout.split())
    text = config.read_text()
    assert "# my config: keep this comment" in text and "# and this one" in text
    assert "# bitcoin" in text and "- SOL/USDT" in text and "- NVDA" in text
    for same in ("nvda", "us:NVDA"):  # one instrument, however named: never twice
        again = crosscurrent("watchlist", "add", "--offline", same, "--config", str(config))
        assert f"{same} is already in the watchlist (as us:NVDA)" in again.stdout
        assert "wrote" not in again.stdout
    catalogs = crosscurrent("watchlist", "add", "--offline", "BTC/USDT", "--config", str(config))
    assert "BTC/USDT is the catalog's crypto:BTC" in catalogs.stdout
    assert "already in the watchlist (as crypto:BTC)" in catalogs.stdout
    listed = crosscurrent("watchlist", "list", "--config", str(config))
    rows = {cells[0]: cells[1:] for cells in (re.split(r"\s{2,}", line.strip())
                                              for line in listed.stdout.splitlines()[1:])}
    assert rows["SOL/USDT"] == ["crypto:SOL", "SOL/USDT", "binance", "crypto", "always"]
    assert rows["NVDA"] == ["us:NVDA", "NVDA", "yahoo", "us", "nyse"]
    assert rows["crypto:BTC"][2:] == ["binance", "crypto", "always"]
    removed = crosscurrent("watchlist", "remove", "us:NVDA", "--config", str(config))
    assert removed.returncode == 0 and "- NVDA" not in config.read_text()  # by its id too
    missing = crosscurrent("watchlist", "remove", "AAPL", "--config", str(config))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "AAPL is not in the watchlist of" in missing.stderr


def test_a_new_file_starts_from_the_default_watchlist(tmp_path: Path) -> None:
    config = tmp_path / "new" / "mine.yaml"
    result = crosscurrent("watchlist", "add", "--offline", "^N225", "--config", str(config))
    assert result.returncode == 0, result.stderr
    text = config.read_text()
    assert "- hk:HSTECH" in text and text.rstrip().endswith("- ^N225")  # nothing dropped


@pytest.mark.parametrize(("symbol", "said"), [
    ("SOL/EUR", "prices are followed in US dollars"),
    ("nosuchvenue:SOL/USDT", "ccxt.pro has no exchange 'nosuchvenue'"),
])
def test_what_cannot_be_followed_is_refused_in_one_line_offline_too(
        tmp_path: Path, symbol: str, said: str) -> None:
    result = crosscurrent("watchlist", "add", "--offline", symbol, "--config",
                          str(tmp_path / "c.yaml"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert said in result.stderr
    assert not (tmp_path / "c.yaml").exists()


@pytest.fixture
def sources(tmp_path: Path, redis_url: str) -> Iterator[Path]:
    """A config pointing at a Yahoo that lists NVDA and a Binance that lists SOLUSDT."""
    yahoo, binance = YahooSimulator(), BinanceSimulator(source="binance")
    yahoo.rate_limit_plain_clients = True  # as Yahoo: a browser's User-Agent or a 429
    yahoo.listed["NVDA"] = "NVIDIA Corporation"
    binance.listed.add("SOLUSDT")
    loop = asyncio.new_event_loop()
    loop.run_until_complete(yahoo.start())
    loop.run_until_complete(binance.start())
    config = tmp_path / "live.yaml"
    http = {name: sim.url.replace("ws://", "http://") for name, sim in
            (("yahoo", yahoo), ("binance", binance))}
    config.write_text(f"redis: {{url: '{redis_url}', prefix: cc-watchlist}}\n"
                      f"sources:\n  yahoo: {{chart_url: '{http['yahoo']}'}}\n"
                      f"  binance: {{rest_url: '{http['binance']}'}}\n")
    stop = asyncio.Event()
    serving = loop.create_task(stop.wait())
    thread = threading.Thread(target=loop.run_until_complete, args=(serving,), daemon=True)
    thread.start()
    try:
        yield config
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(5)
        loop.run_until_complete(yahoo.stop())
        loop.run_until_complete(binance.stop())
        loop.close()


def test_an_added_symbol_is_asked_of_its_source_which_names_it(sources: Path) -> None:
    result = crosscurrent("watchlist", "add", "NVDA", "SOL/USDT", "--config", str(sources))
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stdout
    text = sources.read_text()
    assert "symbol: NVDA" in text and "name: NVIDIA Corporation" in text  # Yahoo's shortName
    assert "- SOL/USDT" in text
    # then their history, into the live pipeline's store
    # (Binance's has klines of any symbol, none; Yahoo's no chart for a symbol it only lists)
    assert "history backfilled: crypto:SOL" in result.stdout, result.stdout
    assert "history not backfilled: us:NVDA (see the log); `run` tries again" in result.stdout
    for unknown, said in (("ZZZZ", "ZZZZ: Yahoo knows no such symbol (HTTP 404)"),
                          ("DOGE/USDT", "DOGE/USDT: Binance lists no market DOGEUSDT (HTTP 400)")):
        refused = crosscurrent("watchlist", "add", unknown, "--config", str(sources))
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
        assert said in refused.stderr
    assert "ZZZZ" not in sources.read_text()
