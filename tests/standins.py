"""Stand-ins for every live source, behaving as shared/spec/live-sources.md says the real ones
do today, driven on the wall clock: what `crosscurrent run` meets on the internet, offline.

Binance spot on its root; USD-M market data under /public and /market only (its old root:
trades only); COIN-M on its root; Yahoo frames without previous_close, open, high or low (the
chart API refuses plain clients with 429); DefiLlama answering 400 to one renamed slug;
CoinGecko asking for a demo key; the A-share pages behind their TLS proxy. Each price moves
a little around a fixed day's change every half second, so a run sees a known picture: US up,
Hong Kong down, A-shares up (the chain breaks at HK), crypto up with funding. Any other
symbol a client subscribes to on Binance spot or Yahoo (a user's own, in the catalog once its
config is loaded) gets a day of its own (`streams/simulators/walk.py`).

    python -m tests.standins --config standins.yaml   # then: crosscurrent run --config ...
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

from crosscurrent.bars import DailyBar
from crosscurrent.catalog import default_catalog
from crosscurrent.symbols import SymbolError
from crosscurrent.watchlist import WatchEntry, instruments
from streams.simulators import Simulator
from streams.simulators.binance import BinanceSimulator
from streams.simulators.coingecko import CoinGeckoSimulator
from streams.simulators.defillama import DefiLlamaSimulator
from streams.simulators.eastmoney import EastmoneySimulator
from streams.simulators.http import HttpSimulator
from streams.simulators.walk import day_of, price_at
from streams.simulators.yahoo import YahooSimulator
from streams.tape import TapeEvent

#: id -> (previous close or 24 h open, the day's change in percent)
PRICES = {
    "us:DJI": (42_000.0, 0.5), "us:IXIC": (17_800.0, 0.9), "us:SPX": (5_600.0, 0.6),
    "hk:HSI": (25_300.0, -0.7), "hk:HSTECH": (5_500.0, -1.2),
    "cn:SSE": (3_300.0, 0.4), "cn:CHINEXT": (2_100.0, 0.6),
    "macro:VIX": (16.0, -3.0), "macro:US10Y": (4.30, 0.5), "macro:DXY": (103.0, -0.2),
    "macro:USDCNH": (7.25, 0.1), "macro:GOLD": (2_350.0, 0.8), "macro:WTI": (78.0, -1.0),
    "crypto:BTC": (69_000.0, 3.8), "crypto:ETH": (2_100.0, 5.1),
    "perp:BTC": (69_000.0, 3.9), "perp:ETH": (2_100.0, 5.2), "perp:BTCUSD": (69_000.0, 3.8),
}
FUNDING = {"funding:BTC": 0.000322, "funding:ETH": 0.000298}
#: id -> (value, growth per step in percent): TVL, DEX volume, stablecoin supply, market cap
METRICS = {
    "tvl:lido": (22e9, 0.01), "tvl:rocket-pool": (2.4e9, 0.01), "tvl:superstate": (640e6, -0.02),
    "tvl:openeden": (180e6, -0.01), "tvl:ondo-finance": (1.1e9, 0.0),
    "tvl:stargate": (330e6, 0.01), "tvl:aave": (24e9, 0.02), "tvl:uniswap": (5e9, 0.01),
    "dexvol:uniswap-v3": (1.5e9, 0.5), "dexvol:fluid": (400e6, 0.5),
    "dexvol:curve-dex": (380e6, 0.5), "stable:USDT": (184e9, 0.001),
    "stable:USDC": (61e9, 0.002), "crypto:TOTAL_MCAP": (2.5e12, 0.02),
    "cn:ADVANCERS": (3_200.0, 0.0), "cn:DECLINERS": (1_900.0, 0.0),
    "cn:TURNOVER": (1.2e12, 0.05),
}
RENAMED = "tvl:stargate"  # the slug DefiLlama answers 400 to (renamed upstream)
DEMO_KEY = "CG-standin-demo-key"
STEP_S = 0.5
GROWTH_STEPS = 80  # metrics grow for the first 40 s, then hold: a long run stays plausible


def watchlist() -> list[str]:
    return sorted([*PRICES, *FUNDING, *METRICS])


def _sessions(close: float, days: int = 30) -> list[DailyBar]:
    """`days` daily bars ending yesterday, the last one closing at `close`."""
    out, level = [], close
    today = date.today()
    for back in range(1, days + 1):
        day = today - timedelta(days=back)
        out.append(DailyBar(date=day, open=level, high=level * 1.01, low=level * 0.99,
                            close=level, volume=1e6))
        level *= 1 - 0.002 * ((back % 5) - 2)
    return sorted(out, key=lambda bar: bar.date)


class StandIns:
    """The started stand-ins; `config()` points a crosscurrent config at them."""

    def __init__(self) -> None:
        self.binance = BinanceSimulator(source="binance", book_tickers=True)
        self.usdm = BinanceSimulator(source="binance-usdm")
        self.coinm = BinanceSimulator(source="binance-coinm")
        self.yahoo = YahooSimulator()
        self.llama = DefiLlamaSimulator()
        self.gecko = CoinGeckoSimulator(demo_key=DEMO_KEY)
        self.east = EastmoneySimulator()
        catalog = default_catalog()
        self.llama.unknown_slugs.add(catalog[RENAMED].symbol)
        for ident, (close, _) in PRICES.items():
            instrument = catalog[ident]
            if instrument.source == "yahoo":
                self.yahoo.history[instrument.symbol] = _sessions(close)
            elif instrument.source == "binance":
                self.binance.history[instrument.symbol] = _sessions(close)
        today = date.today()
        for ident, (value, _) in METRICS.items():
            if catalog[ident].source == "defillama":
                self.llama.history[ident] = [(today - timedelta(days=back), value)
                                             for back in range(30, 0, -1)]
        self.binance.list_any = self.yahoo.list_any = True  # look-ups of any symbol succeed
        self.websockets: dict[str, BinanceSimulator | YahooSimulator] = {
            "binance": self.binance, "binance-usdm": self.usdm,
            "binance-coinm": self.coinm, "yahoo": self.yahoo}
        self.polled: dict[str, HttpSimulator] = {"defillama": self.llama,
                                                 "coingecko": self.gecko,
                                                 "eastmoney": self.east}

    def simulators(self) -> list[Simulator]:
        return [*self.websockets.values(), *self.polled.values()]

    async def start(self) -> None:
        for sim in self.simulators():
            await sim.start()

    async def stop(self) -> None:
        for sim in self.simulators():
            await sim.stop()

    def config(self, poll_s: float = 1.0) -> str:
        """A config whose every source is a stand-in, with the stand-ins' watchlist."""
        def http(url: str) -> str:
            return url.replace("ws://", "http://", 1)

        lines = ["sources:"]
        for name, sim in (("binance", self.binance), ("binance_usdm", self.usdm),
                          ("binance_coinm", self.coinm)):
            lines.append(f"  {name}: {{ws_url: '{sim.url}', rest_url: '{http(sim.url)}'}}")
        lines += [
            f"  yahoo: {{ws_url: '{self.yahoo.url}/?version=2', chart_url: "
            f"'{http(self.yahoo.url)}'}}",
            f"  defillama: {{api_url: '{self.llama.url}', stablecoins_url: "
            f"'{self.llama.url}', poll_s: {poll_s}}}",
            f"  coingecko: {{api_url: '{self.gecko.url}', api_key: '{DEMO_KEY}', "
            f"poll_s: {poll_s}}}",
            f"  eastmoney: {{proxy: '{self.east.url}', ca_bundle: '{self.east.ca_file}', "
            f"poll_s: {poll_s}}}",
            "watchlist:", *(f"  - {ident}" for ident in watchlist()),
        ]
        return "\n".join(lines) + "\n"

    def adopt(self) -> None:
        """Make each symbol a client subscribed to on Binance spot or Yahoo that the catalog
        does not know (a user's own, from a config this process never loaded) an
        instrument, so that it is served."""
        catalog = default_catalog()
        known = {(i.source, i.symbol) for i in catalog}
        symbols = {f"{t.partition('@')[0].upper().removesuffix('USDT')}/USDT"
                   for t in self.binance.held_topics() if t.partition("@")[0].endswith("usdt")}
        for symbol in symbols | self.yahoo.held_topics():
            with contextlib.suppress(SymbolError, ValueError):
                found, made = instruments(WatchEntry(symbol=symbol), catalog)
                if (found.source, found.market) not in known and found.id not in catalog:
                    for instrument in made:
                        catalog.add(instrument)

    async def drive(self, seconds: float | None = None) -> None:
        """Send fresh values on the wall clock every STEP_S (for `seconds`, or until
        cancelled): prices wobble around their day's change; metrics grow."""
        catalog, rng = default_catalog(), random.Random(8)
        step, deadline = 0, None if seconds is None else time.monotonic() + seconds
        polled: dict[str, asyncio.Task[int]] = {}
        try:
            while deadline is None or time.monotonic() < deadline:
                now = time.time_ns() // 1_000_000
                for ident, (base, change) in PRICES.items():
                    price = base * (1 + (change + rng.uniform(-0.05, 0.05)) / 100)
                    sim = self.websockets[catalog[ident].source]
                    await sim.publish(TapeEvent(ts=now, id=ident, value=round(price, 2),
                                                prev_close=base, volume=0.5))
                self.adopt()
                for sim in (self.binance, self.yahoo):  # the user's own symbols: any symbol
                    for ident in sim.subscribed():
                        if ident not in PRICES:
                            symbol = catalog[ident].symbol
                            await sim.publish(TapeEvent(
                                ts=now, id=ident, value=price_at(symbol, step),
                                prev_close=day_of(symbol)[0], volume=0.5))
                for ident, rate in FUNDING.items():
                    await self.usdm.publish(TapeEvent(ts=now, id=ident, value=rate))
                for ident, (value, growth) in METRICS.items():
                    source = catalog[ident].source
                    if ident == RENAMED or (ident in polled and not polled[ident].done()):
                        continue  # a poller has not taken the last value yet
                    grown = (1 + growth / 100) ** min(step, GROWTH_STEPS)
                    event = TapeEvent(ts=now, id=ident, value=value * grown)
                    polled[ident] = asyncio.create_task(self.polled[source].publish(event))
                step += 1
                await asyncio.sleep(STEP_S)
        finally:
            for task in polled.values():
                task.cancel()
            await asyncio.gather(*polled.values(), return_exceptions=True)


@contextlib.asynccontextmanager
async def standins() -> AsyncIterator[StandIns]:
    stand = StandIns()
    await stand.start()
    try:
        yield stand
    finally:
        await stand.stop()


async def _serve(config: Path, seconds: float | None) -> None:
    async with standins() as stand:
        config.write_text(stand.config())
        print(f"stand-ins up; config written to {config}", flush=True)
        await stand.drive(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=Path("standins.yaml"),
                        help="where to write the config that points at the stand-ins")
    parser.add_argument("--seconds", type=float, default=None, help="stop after (default: ^C)")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.config, args.seconds))


if __name__ == "__main__":
    main()
