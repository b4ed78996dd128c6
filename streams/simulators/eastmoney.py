"""The A-share market pages akshare reads, over HTTPS through a TLS-ending proxy.

    push2.eastmoney.com    /api/qt/clist/get?fs=b:MK0010   index quotes (turnover f6, in CNY)
    datacenter-web.eastmoney.com /api/data/v1/get?reportName=RPT_MUTUAL_QUOTA
                                                           Stock Connect (northbound net buy)
    legulegu.com           /stockdata/market-activity      advancers / decliners (HTML)

The shapes are those akshare parses (`stock_zh_index_spot_em("沪深重要指数")`,
`stock_hsgt_fund_flow_summary_em`, `stock_market_activity_legu`). `url` is the proxy's
address and `ca_file` the CA its clients must trust. Without a northbound value on the tape
the net-buy fields are "-", as on the real site since August 2024.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from aiohttp import web

from crosscurrent.catalog import Catalog
from streams.simulators.http import HttpSimulator, Reply
from streams.simulators.tls_proxy import TlsProxy

HOSTS = ["*.push2.eastmoney.com", "push2.eastmoney.com", "datacenter-web.eastmoney.com",
         "legulegu.com", "www.legulegu.com"]
CHINA = timedelta(hours=8)
#: Index rows of the "沪深重要指数" board: code, name, market, share of the A-share turnover.
INDEX_ROWS = (("000001", "上证指数", 1, 0.42), ("399001", "深证成指", 0, 0.58),
              ("399006", "创业板指", 0, 0.0))
#: Stock Connect boards: type, link, name, direction, share of the northbound net buy.
BOARDS = (("001", "沪港通", "沪股通", "北向", 0.5), ("002", "沪港通", "港股通(沪)", "南向", 0.0),
          ("003", "深港通", "深股通", "北向", 0.5), ("004", "深港通", "港股通(深)", "南向", 0.0))
CLIST_FIELDS = [f"f{n}" for n in (*range(1, 19), 20, 21, 22, 23, 24, 25, 26, 62, 115, 128,
                                   136, 152)]


class EastmoneySimulator(HttpSimulator):
    source = "eastmoney"

    def __init__(self, catalog: Catalog | None = None) -> None:
        super().__init__(catalog)
        self.proxy: TlsProxy | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="crosscurrent-ca-")
        self.ca_file: str | None = None

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/qt/clist/get", self._indices),
            web.get("/api/data/v1/get", self._stock_connect),
            web.get("/stockdata/market-activity", self._activity),
        ]

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        await super().start(host, port)
        assert self._runner is not None
        upstream = self._runner.addresses[0][:2]
        self.proxy = TlsProxy((upstream[0], upstream[1]), HOSTS)
        await self.proxy.start(host)
        self.ca_file = str(self.proxy.write_ca(Path(self._dir.name) / "ca.pem"))

    async def stop(self) -> None:
        if self.proxy is not None:
            await self.proxy.stop()
        await super().stop()
        self._dir.cleanup()

    @property
    def url(self) -> str:
        """The HTTPS proxy to give clients (`HTTPS_PROXY`)."""
        assert self.proxy is not None, "start() the simulator first"
        return self.proxy.url

    def ids_of_path(self, request: web.Request) -> set[str]:
        return {
            "/api/qt/clist/get": {"cn:TURNOVER"},
            "/api/data/v1/get": {"cn:NORTHBOUND"},
            "/stockdata/market-activity": {"cn:ADVANCERS", "cn:DECLINERS"},
        }.get(request.path, set())

    def _latest(self, *ids: str) -> tuple[int, set[str]]:
        """The tape time of the newest of `ids` and those that have a value."""
        present = {i for i in ids if i in self.values}
        return max((self.values[i][1] for i in present), default=0), present

    def _value(self, ident: str) -> float | str:
        """The id's value, or "-" as the real pages show a figure not published yet."""
        return self.values[ident][0] if ident in self.values else "-"

    async def _indices(self, request: web.Request) -> web.Response:
        if request.query.get("fs") != "b:MK0010":
            return await self.respond(request, None)
        total = self._value("cn:TURNOVER")
        diff = []
        for code, name, market, share in INDEX_ROWS:
            row: dict[str, object] = dict.fromkeys(CLIST_FIELDS, "-")
            if isinstance(total, float):  # SSE + SZSE Component add up to the total exactly
                sh = float(round(total * INDEX_ROWS[0][3]))
                row["f6"] = sh if code == "000001" else total - sh if share else round(total / 5)
            row.update({"f1": 2, "f12": code, "f13": market, "f14": name})
            diff.append(row)
        body = {"rc": 0, "rt": 6, "svr": 181669436, "lt": 1, "full": 1, "dlmkts": "",
                "data": {"total": len(diff), "diff": diff}}
        return await self.respond(request, (orjson.dumps(body), *self._latest("cn:TURNOVER")))

    async def _stock_connect(self, request: web.Request) -> web.Response:
        if request.query.get("reportName") != "RPT_MUTUAL_QUOTA":
            return await self.respond(request, None)
        latest = self._latest("cn:NORTHBOUND")
        net = self._value("cn:NORTHBOUND")
        day = _china(latest[0]).strftime("%Y-%m-%d")
        rows = []
        for mutual, board, name, direction, share in BOARDS:
            amount = round(net * share / 10_000, 2) if isinstance(net, float) and share else "-"
            rows.append({
                "TRADE_DATE": f"{day} 00:00:00", "MUTUAL_TYPE": mutual, "BOARD_TYPE": board,
                "MUTUAL_TYPE_NAME": name, "FUNDS_DIRECTION": direction, "INDEX_CODE": "000001",
                "INDEX_NAME": "上证指数", "BOARD_CODE": "BK0707", "status": 1,
                "dayNetAmtIn": amount, "dayAmtRemain": 5_200_000.0, "dayAmtThreshold": 5_200_000.0,
                "f104": 800, "f105": 700, "f106": 50, "INDEX_f3": 0.26, "netBuyAmt": amount,
            })
        body = {"version": "1", "result": {"pages": 1, "data": rows, "count": len(rows)},
                "success": True, "message": "ok", "code": 0}
        return await self.respond(request, (orjson.dumps(body), *latest))

    async def _activity(self, request: web.Request) -> web.Response:
        latest = self._latest("cn:ADVANCERS", "cn:DECLINERS")
        up, down = (self._value(i) for i in ("cn:ADVANCERS", "cn:DECLINERS"))
        stamp = _china(latest[0]).strftime("%Y-%m-%d %H:%M:%S")
        columns = (
            (("上涨", _count(up)), ("涨停", 40), ("真实涨停", 31), ("st st*涨停", 3)),
            (("下跌", _count(down)), ("跌停", 12), ("真实跌停", 9), ("st st*跌停", 2)),
            (("平盘", 120), ("停牌", 8), ("", ""), ("", "")),
        )
        rows = "".join("<tr>" + "".join(f"<td>{column[r][0]}</td><td>{column[r][1]}</td>"
                                        for column in columns) + "</tr>" for r in range(4))
        html = (
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>赚钱效应分析</title></head>"
            f"<body><div class='market-activity-meta'>{stamp}</div>"
            f"<table class='market-activity'>{rows}</table>"
            "<div class='metric-activity'>活跃度\n55.00%</div>"
            "</body></html>")
        reply: Reply = (html.encode(), *latest)
        return await self.respond(request, reply, "text/html; charset=utf-8")


def _china(ts: int) -> datetime:
    """Tape time (epoch ms) on the wall clock of Beijing, naive."""
    return datetime.fromtimestamp(ts / 1000, UTC).replace(tzinfo=None) + CHINA


def _count(value: float | str) -> int | str:
    return int(value) if isinstance(value, float) else value
