"""An OKX v5 public server: `/ws/v5/public` (tickers, trades, funding-rate) and the REST
instruments list, in the shapes of the recorded OKX frames (shared/data/cryptofeed-samples)."""

from __future__ import annotations

import itertools
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import orjson

from crosscurrent.catalog import Catalog
from streams.simulators.server import SimulatorServer
from streams.tape import TapeEvent


def instrument(inst_id: str, inst_type: str) -> dict[str, str]:
    """One entry of `GET /api/v5/public/instruments`, with the fields ccxt reads."""
    base, quote = inst_id.split("-")[:2]
    swap = inst_type == "SWAP"
    return {
        "instType": inst_type, "instId": inst_id, "uly": f"{base}-{quote}" if swap else "",
        "instFamily": f"{base}-{quote}" if swap else "", "baseCcy": "" if swap else base,
        "quoteCcy": "" if swap else quote, "settleCcy": quote if swap else "",
        "ctVal": "0.01" if swap else "", "ctMult": "1" if swap else "",
        "ctValCcy": base if swap else "", "optType": "", "stk": "", "listTime": "1606468572000",
        "expTime": "", "lever": "100" if swap else "10", "tickSz": "0.1", "lotSz": "0.00000001",
        "minSz": "0.00001", "ctType": "linear" if swap else "", "alias": "", "state": "live",
        "maxLmtSz": "9999999999", "maxMktSz": "1000000",
    }


class OkxSimulator(SimulatorServer):
    """`symbols` maps canonical ids to OKX instrument ids (`crypto:BTC` -> `BTC-USDT`;
    funding ids to their swap, `funding:BTC` -> `BTC-USDT-SWAP`)."""

    source = "okx"

    def __init__(self, symbols: dict[str, str], catalog: Catalog | None = None) -> None:
        super().__init__(catalog)
        self.symbols = symbols
        self._trade_ids = itertools.count(338_476_307)
        self._open: dict[str, float] = {}

    def ids(self) -> set[str]:
        return set(self.symbols)

    def message_topics(self, message: str | bytes) -> tuple[set[str], set[str], list[str]]:
        if message in ("ping", b"ping"):
            return set(), set(), ["pong"]
        try:
            request = orjson.loads(message)
            op, args = request["op"], request["args"]
            topics = {f"{a['channel']}:{a['instId']}" for a in args}
        except (orjson.JSONDecodeError, KeyError, TypeError):
            error = {"event": "error", "code": "60012", "msg": "Invalid request"}
            return set(), set(), [orjson.dumps(error).decode()]
        replies = [orjson.dumps({"event": op, "arg": a, "connId": "a4d3ae55"}).decode()
                   for a in args]
        if op == "subscribe":
            return topics, set(), replies
        if op == "unsubscribe":
            return set(), topics, replies
        return set(), set(), replies

    def http(self, path: str) -> tuple[HTTPStatus, bytes] | None:
        parts = urlsplit(path)
        if parts.path != "/api/v5/public/instruments":
            return None
        wanted = parse_qs(parts.query).get("instType", ["SPOT"])[0]
        data = [instrument(i, t) for i, t in
                ((i, "SWAP" if i.endswith("-SWAP") else "SPOT") for i in self.symbols.values())
                if t == wanted]
        return HTTPStatus.OK, orjson.dumps({"code": "0", "msg": "", "data": data})

    def topic_of(self, instrument_id: str) -> str:
        channel = "funding-rate" if instrument_id.startswith("funding:") else "trades"
        return f"{channel}:{self.symbols[instrument_id]}"

    def frames(self, event: TapeEvent) -> list[tuple[str, str]]:
        inst_id, ts = self.symbols[event.id], str(event.ts)
        if event.id.startswith("funding:"):
            data = {"instType": "SWAP", "instId": inst_id, "fundingRate": f"{event.value:.8f}",
                    "nextFundingRate": "", "fundingTime": str((event.ts // 28_800_000 + 1)
                                                               * 28_800_000),
                    "method": "current_period", "ts": ts}
            return [self._push("funding-rate", inst_id, data)]
        if event.prev_close is not None:
            self._open[inst_id] = event.prev_close
        price, size = f"{event.value:g}", f"{event.volume or 0.01:g}"
        opened = self._open.get(inst_id, event.value)
        ticker = {"instType": "SPOT", "instId": inst_id, "last": price, "lastSz": size,
                  "askPx": price, "askSz": "1", "bidPx": price, "bidSz": "1",
                  "open24h": f"{opened:g}", "high24h": price, "low24h": price,
                  "sodUtc0": f"{opened:g}", "sodUtc8": f"{opened:g}", "volCcy24h": "0",
                  "vol24h": "0", "ts": ts}
        trade = {"instId": inst_id, "tradeId": str(next(self._trade_ids)), "px": price,
                 "sz": size, "side": "buy", "ts": ts}
        return [self._push("tickers", inst_id, ticker), self._push("trades", inst_id, trade)]

    @staticmethod
    def _push(channel: str, inst_id: str, data: dict[str, str]) -> tuple[str, str]:
        frame = {"arg": {"channel": channel, "instId": inst_id}, "data": [data]}
        return f"{channel}:{inst_id}", orjson.dumps(frame).decode()

    def ccxt_overrides(self) -> dict[str, object]:
        """The ccxt.pro `okx` config that points the unmodified client at this server."""
        return {
            "urls": {"api": {"rest": self.url.replace("ws://", "http://"),
                             "ws": f"{self.url}/ws/v5"}},
            "options": {"fetchMarkets": {"types": sorted({
                "swap" if i.endswith("-SWAP") else "spot" for i in self.symbols.values()})}},
        }
