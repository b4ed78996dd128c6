"""The peer in the ingest bench: cryptofeed's Binance feed with its own Redis Streams backend,
pointed at the bench's frame server. It runs in the bench's own environment
(`.bench-venv`, made by `scripts/bench`: cryptofeed 3.x needs Python >= 3.13 and is not a
project dependency), so it imports nothing of crosscurrent. Prints `ready <CPU seconds>`
before the feed handler starts.

    .bench-venv/bin/python bench/cryptofeed_client.py --market usdm|spot --ws wss://...
        --rest https://... --redis unix://:password@/path/redis.sock --key PREFIX
        [--overflow block|drop_oldest]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
from pathlib import Path

from cryptofeed import FeedHandler
from cryptofeed.backends.redis import TickerStream, TradeStream
from cryptofeed.connection import RestEndpoint, Routes, WebsocketEndpoint
from cryptofeed.defines import TICKER, TRADES
from cryptofeed.exchanges import Binance, BinanceFutures

MARKETS = {"usdm": (BinanceFutures, "BTC-USDT-PERP", "/fapi/v1/exchangeInfo"),
           "spot": (Binance, "BTC-USDT", "/api/v3/exchangeInfo")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--market", choices=sorted(MARKETS), default="usdm")
    parser.add_argument("--ws", required=True)
    parser.add_argument("--rest", required=True)
    parser.add_argument("--redis", required=True, help="a redis:// or unix:// URL")
    parser.add_argument("--key", required=True, help="prefix of the stream keys")
    parser.add_argument("--overflow", choices=["block", "drop_oldest"], default=None,
                        help="the backend queue's policy (default: cryptofeed's own)")
    args = parser.parse_args()
    feed, symbol, info = MARKETS[args.market]
    feed.websocket_endpoints = [WebsocketEndpoint(args.ws, options={"compression": None})]
    feed.rest_endpoints = [RestEndpoint(args.rest, routes=Routes(info))]
    scheme, _, rest = args.redis.partition("://")
    # the backend builds `redis://host:port` or `unix://host`: hand it the URL's remainder
    where = {"host": rest, "socket": True} if scheme == "unix" else {
        "host": rest.rsplit(":", 1)[0], "port": int(rest.rsplit(":", 1)[1])}
    queue = {"overflow": args.overflow} if args.overflow else {}
    log = str(Path(tempfile.gettempdir()) / "crosscurrent-bench-cryptofeed.log")
    handler = FeedHandler(config={"log": {"filename": log, "level": "WARNING"}})  # its default
    handler.add_feed(feed(symbols=[symbol], channels=[TRADES, TICKER], callbacks={
        TRADES: TradeStream(key=f"{args.key}-trades", **where, **queue),
        TICKER: TickerStream(key=f"{args.key}-ticker", **where, **queue)}))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"ready {usage.ru_utime + usage.ru_stime:.4f}", flush=True)
    handler.run()


if __name__ == "__main__":
    main()
