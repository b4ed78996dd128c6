"""`crosscurrent doctor`: is everything this config needs reachable? One verdict a line."""

from __future__ import annotations

import asyncio
import importlib.util
import ssl
from dataclasses import dataclass

import aiohttp
import websockets
from redis.exceptions import RedisError

from crosscurrent.catalog import default_catalog
from crosscurrent.config import Config
from crosscurrent.sources import ADAPTED_SOURCES
from detectors import RUNS_AS, compiled
from streams.redis_client import BusUnavailableError, connect, redact


@dataclass(frozen=True)
class Verdict:
    ok: bool
    what: str
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.what:<14} {self.detail}"


def source_addresses(config: Config) -> dict[str, str]:
    """Every source the watchlist and the ccxt entries use, with the address to probe."""
    catalog, sources = default_catalog(), config.sources
    used = {catalog[i].source for i in config.watchlist}
    out: dict[str, str] = {}
    for source in sorted(used):
        if source == "defillama":
            out["defillama"] = f"{sources.defillama.api_url}/tvl/lido"
        elif source == "coingecko":
            out["coingecko"] = f"{sources.coingecko.api_url}/api/v3/ping"
        elif source == "eastmoney":  # what akshare reads; through the configured proxy
            out["eastmoney"] = EASTMONEY_PROBE
        elif source in ADAPTED_SOURCES:
            out[source] = sources.ws_url(source)
        else:
            out[source] = ""  # no adapter yet
    return out


EASTMONEY_PROBE = "https://push2.eastmoney.com/api/qt/clist/get"


async def _probe(address: str, timeout: float, proxy: str | None = None,
                 cafile: str | None = None) -> str:
    if address.startswith(("ws://", "wss://")):
        async with websockets.connect(address, open_timeout=timeout, compression=None):
            return "websocket opens"
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    tls = ssl.create_default_context(cafile=cafile) if cafile else True
    async with aiohttp.ClientSession(timeout=client_timeout) as session, \
            session.get(address, proxy=proxy, ssl=tls) as response:
        if response.status >= 500:
            raise ConnectionError(f"HTTP {response.status}")
        return f"HTTP {response.status}"


async def check_source(name: str, address: str, timeout: float = 5.0,
                       proxy: str | None = None, cafile: str | None = None) -> Verdict:
    if not address:
        return Verdict(False, name, "no live adapter yet: its ids are not followed")
    if name == "eastmoney" and importlib.util.find_spec("akshare") is None:
        return Verdict(False, name, "akshare is not installed: pip install 'crosscurrent[cn]'")
    try:
        return Verdict(True, name, f"{address}: {await _probe(address, timeout, proxy, cafile)}")
    except (OSError, TimeoutError, websockets.WebSocketException, aiohttp.ClientError) as exc:
        reason = str(exc) or type(exc).__name__
        return Verdict(False, name, f"{address}: unreachable ({reason[:120]}); check the "
                       "network or the address in the config")


async def check_redis(url: str) -> Verdict:
    try:
        redis = await connect(url)
    except BusUnavailableError as exc:
        return Verdict(False, "redis", str(exc))
    try:
        info = await redis.info("server")
        persistence = await redis.config_get("appendonly")
        aof = "AOF on" if persistence.get("appendonly") == "yes" else "AOF off: a restart loses "
        if aof.startswith("AOF off"):
            aof += "the streams (set appendonly yes)"
        return Verdict(True, "redis", f"{redact(url)}: Redis {info['redis_version']}, {aof}")
    except RedisError as exc:
        return Verdict(False, "redis", f"{redact(url)}: {exc}")
    finally:
        await redis.aclose()


async def diagnose(config: Config, url: str, config_label: str) -> list[Verdict]:
    verdicts = [Verdict(True, "config", config_label),
                Verdict(True, "detectors", compiled.described(RUNS_AS)), await check_redis(url)]
    addresses = source_addresses(config)
    east = config.sources.eastmoney
    verdicts += await asyncio.gather(*(
        check_source(n, a, proxy=east.proxy, cafile=east.ca_bundle) if n == "eastmoney"
        else check_source(n, a) for n, a in addresses.items()))
    return verdicts
