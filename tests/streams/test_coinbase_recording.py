"""The recorded Coinbase Pro feed (cryptofeed sample), parsed by the real ccxt.pro client.

Coinbase Pro became Coinbase Exchange with the same websocket protocol; ccxt.pro's
`coinbaseexchange` speaks it. A websocket server on 127.0.0.1 plays the recorded frames
verbatim after each subscription.
"""

from __future__ import annotations

import asyncio
from typing import Any

import ccxt.pro as ccxtpro
import orjson
import websockets
from websockets.asyncio.server import ServerConnection

from tests.conftest import shared


def recorded() -> list[dict[str, Any]]:
    lines = shared("data/cryptofeed-samples/COINBASE.ws.28.0").read_text().splitlines()
    return [orjson.loads(line.partition(": ")[2]) for line in lines[1:]
            if line.strip() and not line.startswith("wss://")]


def market(product: str) -> dict[str, Any]:
    base, quote = product.split("-")
    return {"id": product, "symbol": f"{base}/{quote}", "base": base, "quote": quote,
            "baseId": base, "quoteId": quote, "type": "spot", "spot": True, "active": True,
            "precision": {}, "limits": {}}


async def play(frames: list[dict[str, Any]], check: Any) -> None:
    async def handler(ws: ServerConnection) -> None:
        async for _ in ws:  # every subscription: the whole recording again
            for frame in frames:
                await ws.send(orjson.dumps(frame).decode())

    async with websockets.serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        exchange = ccxtpro.coinbaseexchange({"urls": {"api": {"ws": f"ws://127.0.0.1:{port}"}}})
        exchange.set_markets([market(p) for p in
                              sorted({f["product_id"] for f in frames if "product_id" in f})])
        try:
            await check(exchange)
        finally:
            await exchange.close()


def test_recorded_matches_become_ccxt_trades_field_for_field() -> None:
    frames = recorded()
    matches = {f["trade_id"]: f for f in frames
               if f["type"] == "match" and f["product_id"] == "SKL-USD"}  # not last_match:
    # that one is the trade before the subscription, which ccxt does not hand out as new
    assert len(matches) >= 50

    async def check(exchange: Any) -> None:
        await asyncio.wait_for(exchange.watch_trades("SKL/USD"), 10)
        await asyncio.sleep(0.5)  # the rest of the recording arrives meanwhile
        seen = {int(trade["id"]): trade for trade in exchange.trades["SKL/USD"]}
        assert set(seen) == set(matches)
        for trade_id, frame in matches.items():
            trade = seen[trade_id]
            taker = {"buy": "sell", "sell": "buy"}[frame["side"]]  # the feed gives the maker's
            assert trade["symbol"] == "SKL/USD" and trade["side"] == taker
            assert trade["price"] == float(frame["price"])
            assert trade["amount"] == float(frame["size"])
            assert trade["datetime"] == frame["time"][:23] + "Z"

    asyncio.run(play(frames, check))


def test_recorded_tickers_become_ccxt_tickers() -> None:
    frames = recorded()
    tickers = {(float(f["price"]), float(f["open_24h"]), float(f["best_bid"]),
                float(f["best_ask"])) for f in frames
               if f["type"] == "ticker" and f["product_id"] == "BAND-GBP"}
    assert tickers

    async def check(exchange: Any) -> None:
        ticker = await asyncio.wait_for(exchange.watch_ticker("BAND/GBP"), 10)
        assert (ticker["last"], ticker["open"], ticker["bid"], ticker["ask"]) in tickers

    asyncio.run(play(frames, check))
