"""One of crosscurrent's ingest paths as a process of its own, for the ingest bench: the fast
Binance adapter or ccxt.pro, from the bench's frame server into Redis Streams, until
terminated. Prints `ready <CPU seconds so far>` once set up, before it connects.

    python -m bench.ingest_client fast|ccxt --market usdm|spot --url wss://... --redis URL
        --namespace NS --cafile CA.pem [--expected N]
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass

from bench.spine import cpu_seconds
from crosscurrent.app import stream_writer
from crosscurrent.config import load_config
from crosscurrent.loop import use_loop
from streams.binance import BinanceProtocol
from streams.ccxt_feed import CcxtFeed
from streams.feed import WebsocketFeed
from streams.keys import Keys
from streams.redis_client import connect
from streams.simulators.binance import ccxt_overrides


@dataclass(frozen=True)
class Market:
    source: str  # our source name
    ident: str  # the canonical id of BTC there
    family: str
    ccxt_id: str
    ccxt_symbol: str


MARKETS = {
    "usdm": Market("binance-usdm", "perp:BTC", "perp", "binanceusdm", "BTC/USDT:USDT"),
    "spot": Market("binance", "crypto:BTC", "crypto", "binance", "BTC/USDT"),
}



async def run(path: str, market: Market, url: str, redis_url: str, namespace: str,
              cafile: str, expected: int, pack: int | None) -> None:
    config = load_config(env={} if pack is None else {"CROSSCURRENT_REDIS_PACK": str(pack)})
    redis = await connect(redis_url)
    writer = stream_writer(config, redis, Keys(config.redis.prefix, namespace))
    feed: CcxtFeed | WebsocketFeed
    if path == "ccxt":
        feed = CcxtFeed(market.ccxt_id, {market.ident: market.ccxt_symbol}, writer.put,
                        config.feeds, trades_limit=expected, tickers=False,
                        overrides={**ccxt_overrides(url, market.source), "cafile": cafile})
    else:
        feed = WebsocketFeed(BinanceProtocol(url, [market.ident], source=market.source),
                             writer.put, config.feeds)
    print(f"ready {cpu_seconds():.4f}", flush=True)
    await asyncio.gather(writer.run(), feed.run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", choices=["fast", "ccxt"])
    parser.add_argument("--market", choices=sorted(MARKETS), default="usdm")
    parser.add_argument("--url", required=True)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--cafile", required=True)
    parser.add_argument("--expected", type=int, default=100_000)
    parser.add_argument("--pack", type=int, help="events an entry (default: the config's)")
    args = parser.parse_args()
    use_loop(load_config().loop)  # as the crosscurrent command does
    asyncio.run(run(args.path, MARKETS[args.market], args.url, args.redis, args.namespace,
                    args.cafile, args.expected, args.pack))


if __name__ == "__main__":
    main()
