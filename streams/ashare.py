"""A-share breadth, turnover and northbound flow through akshare (the optional `cn` extra).

akshare is synchronous and reads its addresses from its own code, so each round runs in a
worker thread, and a proxy (with the CA to trust) is given to it the standard way, through
`HTTPS_PROXY` and `REQUESTS_CA_BUNDLE`, set while the feed runs. The parsing of akshare's
frames into events is plain code (`breadth`, `turnover`, `northbound`).

Northbound net flow has not been published in real time since August 2024: the feed then says
"not available" in its status instead of inventing a number.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from crosscurrent.config import FeedsConfig
from crosscurrent.events import FeedState, FeedStatus, Metric
from streams.feed import FrameError, Sink
from streams.rounds import Rounds

log = logging.getLogger(__name__)

SOURCE = "eastmoney"
_YI = 100_000_000  # akshare gives Stock Connect amounts in 亿元


def _number(value: object, what: str) -> float | None:
    """A published figure; None for one not published yet ("-", empty, NaN)."""
    text = str(value).replace(",", "").replace("家", "").strip()
    if text in ("-", "", "nan", "None"):
        return None
    try:
        number = float(text)
    except ValueError:
        raise FrameError(f"{what} is not a number: {value!r}") from None
    if not math.isfinite(number):
        raise FrameError(f"{what} is not a number: {value!r}")
    return number


def _published(values: dict[str, float | None]) -> dict[str, float]:
    return {ident: value for ident, value in values.items() if value is not None}


def breadth(frame: Any) -> dict[str, float]:
    """`stock_market_activity_legu()` (item/value rows) -> advancers and decliners."""
    try:
        items = dict(zip(frame["item"].astype(str).str.strip(), frame["value"], strict=True))
    except (KeyError, AttributeError) as exc:
        raise FrameError(f"market activity has no item/value columns ({exc})") from None
    for item in ("上涨", "下跌"):
        if item not in items:
            raise FrameError(f"market activity has no {item!r} row")
    return _published({"cn:ADVANCERS": _number(items["上涨"], "上涨"),
                       "cn:DECLINERS": _number(items["下跌"], "下跌")})


def turnover(frame: Any) -> dict[str, float]:
    """`stock_zh_index_spot_em("沪深重要指数")` -> SSE Composite + SZSE Component turnover."""
    try:
        rows = dict(zip(frame["代码"].astype(str), frame["成交额"], strict=True))
    except (KeyError, AttributeError) as exc:
        raise FrameError(f"index quotes have no 代码/成交额 columns ({exc})") from None
    missing = {"000001", "399001"} - rows.keys()
    if missing:
        raise FrameError(f"index quotes lack {', '.join(sorted(missing))}")
    sh, sz = _number(rows["000001"], "成交额"), _number(rows["399001"], "成交额")
    return {} if sh is None or sz is None else {"cn:TURNOVER": sh + sz}


def northbound(frame: Any) -> dict[str, float]:
    """`stock_hsgt_fund_flow_summary_em()` -> northbound net buy in CNY; {} when unpublished."""
    try:
        north = frame[frame["资金方向"] == "北向"]["成交净买额"]
    except (KeyError, TypeError) as exc:
        raise FrameError(f"Stock Connect summary has no 资金方向/成交净买额 ({exc})") from None
    values = [v for v in (_number(v, "成交净买额") for v in north) if v is not None]
    return {"cn:NORTHBOUND": sum(values) * _YI} if values else {}


@dataclass(frozen=True)
class Part:
    """One akshare call, the ids it gives and how to read them."""

    name: str
    ids: frozenset[str]
    call: Callable[[], Any]
    parse: Callable[[Any], dict[str, float]]


def akshare_parts() -> list[Part]:
    """The akshare calls, imported lazily: one line of advice when akshare is missing."""
    try:
        import akshare as ak
    except ImportError:
        raise RuntimeError(
            "the A-share feed needs akshare: pip install 'crosscurrent[cn]'") from None
    return [
        Part("breadth", frozenset({"cn:ADVANCERS", "cn:DECLINERS"}),
             ak.stock_market_activity_legu, breadth),
        Part("turnover", frozenset({"cn:TURNOVER"}),
             lambda: ak.stock_zh_index_spot_em(symbol="沪深重要指数"), turnover),
        Part("northbound", frozenset({"cn:NORTHBOUND"}),
             ak.stock_hsgt_fund_flow_summary_em, northbound),
    ]


@contextlib.contextmanager
def proxy_env(proxy: str | None, ca_bundle: str | None) -> Iterator[None]:
    """Route this process's `requests` through `proxy`, trusting `ca_bundle`, meanwhile."""
    wanted = {"HTTPS_PROXY": proxy, "REQUESTS_CA_BUNDLE": ca_bundle}
    if proxy:  # local services (simulators, Redis over TCP) never go through it
        wanted["NO_PROXY"] = ",".join(filter(None, ["127.0.0.1,localhost",
                                                    os.environ.get("NO_PROXY")]))
    saved = {key: os.environ.get(key) for key, value in wanted.items() if value}
    os.environ.update({key: value for key, value in wanted.items() if value})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class AshareFeed:
    """Polls the akshare parts of `ids` every `poll_s` during the session (10× less outside)."""

    def __init__(
        self,
        ids: list[str],
        sink: Sink,
        config: FeedsConfig,
        poll_s: float,
        market_open: Callable[[], bool],
        clock: Callable[[], int],
        proxy: str | None = None,
        ca_bundle: str | None = None,
        parts: list[Part] | None = None,
    ) -> None:
        self.ids = set(ids)
        self.sink = sink
        self.config = config
        self.poll_s = poll_s
        self.market_open = market_open
        self.clock = clock
        self.proxy = proxy
        self.ca_bundle = ca_bundle
        self._parts = parts
        self.frames = 0
        self.malformed = 0
        self.errors = 0
        self.reconnects = 0
        self.unavailable = 0
        self.state = FeedState.CONNECTING
        self.detail = ""
        self._last: dict[str, float] = {}
        self.rounds = Rounds()  # a replay asks for each round

    source = SOURCE

    async def _status(self, state: FeedState, detail: str = "") -> None:
        if (state, detail) == (self.state, self.detail) and state != FeedState.DISCONNECTED:
            return
        self.state, self.detail = state, detail
        await self.sink(FeedStatus(
            source=SOURCE, ts=time.time_ns() // 1_000_000, state=state, detail=detail,
            reconnects=self.reconnects, messages=self.frames, malformed=self.malformed))

    async def run(self) -> None:
        executor = ThreadPoolExecutor(1, thread_name_prefix="akshare")
        await self.sink(FeedStatus(source=SOURCE, ts=time.time_ns() // 1_000_000,
                                   state=FeedState.CONNECTING))
        try:
            parts = [p for p in (self._parts or akshare_parts()) if p.ids & self.ids]
        except RuntimeError as exc:
            log.error("%s", exc)
            self.rounds.close()
            await self._status(FeedState.DISCONNECTED, str(exc))
            return
        backoff = self.config.backoff_initial_s
        loop = asyncio.get_running_loop()
        try:
            with proxy_env(self.proxy, self.ca_bundle):
                while True:
                    self.rounds.begin()
                    is_open = self.market_open()
                    notes = [await self._round(loop, executor, part) for part in parts]
                    failed = None in notes
                    if not failed:
                        await self._status(FeedState.CONNECTED if is_open else FeedState.CLOSED,
                                           "; ".join(filter(None, notes)))
                    if failed:
                        wait, backoff = backoff, min(backoff * 2, self.config.backoff_max_s)
                    else:
                        wait, backoff = self.poll_s * (1 if is_open else 10), \
                            self.config.backoff_initial_s
                    self.rounds.end()
                    await self.rounds.pause(wait * random.uniform(0.9, 1.1))
        finally:
            self.rounds.close()
            executor.shutdown(wait=False, cancel_futures=True)

    async def _round(self, loop: asyncio.AbstractEventLoop, executor: ThreadPoolExecutor,
                     part: Part) -> str | None:
        """One akshare call and its events: a note for the status, None when it failed."""
        try:
            frame = await loop.run_in_executor(executor, part.call)
        except Exception as exc:  # akshare raises whatever requests/pandas raise
            self.errors += 1
            self.reconnects += 1
            detail = f"{part.name}: {type(exc).__name__}: {exc}"[:200]
            log.warning("%s: %s", SOURCE, detail)
            await self._status(FeedState.DISCONNECTED, detail)
            return None
        self.frames += 1
        ts, recv_ns = self.clock(), time.time_ns()
        try:
            values = part.parse(frame)
        except FrameError as exc:
            self.malformed += 1
            log.warning("%s: malformed %s data skipped: %s", SOURCE, part.name, exc)
            return f"{part.name}: malformed"
        note = ""
        if not values:
            self.unavailable += 1
            note = f"{part.name} not available (not published)"
        for ident, value in sorted(values.items()):
            if ident in self.ids and self._last.get(ident) != value:
                self._last[ident] = value
                await self.sink(Metric(id=ident, ts=ts, value=value, source=SOURCE,
                                       recv_ns=recv_ns))
        return note
