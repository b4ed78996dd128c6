"""Write crosscurrent/data/seed-2026-04-08.jsonl: the demo session, ending on the seed's figures.

Intraday paths are Brownian bridges (seeded, so the file is reproducible) from the previous
close to the figure of shared/seed/market-report-2026-04-08.txt; the metrics (market cap,
stablecoin supply, funding, TVL, DEX volumes) cover the report's whole day, hourly, their 24 h
changes at 08:00Z being the report's. Run:
    python scripts/make_seed_tape.py
"""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

from crosscurrent.catalog import default_catalog

OUT = Path(__file__).resolve().parent.parent / "crosscurrent" / "data" / "seed-2026-04-08.jsonl"
rng = random.Random(20260408)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def minutes(start: str, end: str, step: int) -> list[datetime]:
    t, stop, out = utc(start), utc(end), []
    while t <= stop:
        out.append(t)
        t += timedelta(minutes=step)
    return out


def bridge(n: int, start: float, end: float, vol: float,
           source: random.Random = rng) -> list[float]:
    """n points from start to end with noise of relative size `vol` that is pinned at both ends."""
    walk = [0.0]
    for _ in range(n - 1):
        walk.append(walk[-1] + source.gauss(0, vol))
    return [start + (end - start) * i / (n - 1) + (walk[i] - walk[-1] * i / (n - 1)) * start
            for i in range(n)]


def shaped(n: int, start: float, end: float, vol: float, knee: float) -> list[float]:
    """Like bridge, but most of the move happens after fraction `knee` of the session."""
    base = bridge(n, 0.0 + 1, 1.0 + 1, vol)
    out = []
    for i, b in enumerate(base):
        x = i / (n - 1)
        weight = 0.25 * x / knee if x < knee else 0.25 + 0.75 * (x - knee) / (1 - knee)
        out.append(start + (end - start) * weight + (b - 1 - x) * start)
    out[-1] = end
    return out


lines: list[dict[str, object]] = []


def series(ident: str, times: list[datetime], values: list[float], prev: float | None,
           digits: int = 2, volume: list[float] | None = None) -> None:
    for i, (t, v) in enumerate(zip(times, values, strict=True)):
        line: dict[str, object] = {"ts": t.isoformat().replace("+00:00", "Z"), "id": ident,
                                   "value": round(v, digits)}
        if prev is not None:
            line["prev_close"] = prev
        if volume is not None:
            line["volume"] = round(volume[i])
        lines.append(line)


def session(ident: str, times: list[datetime], prev: float, change_pct: float, vol: float,
            turnover: float | None = None) -> None:
    end = prev * (1 + change_pct / 100)
    values = bridge(len(times), prev * (1 + change_pct / 400), end, vol)
    values[-1] = end
    volume = None
    if turnover is not None:
        volume = [turnover * (i + 1) / len(times) for i in range(len(times))]
    series(ident, times, values, prev, volume=volume)


# US, 2026-04-07 (EDT): the last hour of the session the HK and A-share open react to.
us = minutes("2026-04-07T19:00", "2026-04-07T20:00", 5)
session("us:DJI", us, 45980.0, 0.65, 0.0004)
session("us:IXIC", us, 21730.0, 0.44, 0.0005)
session("us:SPX", us, 6590.0, 0.59, 0.0004)

# Hong Kong, 2026-04-08: 09:30-12:00 and 13:00-16:00 HKT.
hk = minutes("2026-04-08T01:30", "2026-04-08T04:00", 2) + minutes("2026-04-08T05:00",
                                                                  "2026-04-08T08:00", 2)
for ident, prev, change, turnover in (("hk:HSI", 25357.0, -0.70, 2.41e11),
                                      ("hk:HSCEI", 9120.0, -0.56, None),
                                      ("hk:HSTECH", 5610.0, -1.63, None)):
    end = prev * (1 + change / 100)
    values = shaped(len(hk), prev * 0.999, end, 0.0006, knee=0.3)
    volume = None if turnover is None else [turnover * (i + 1) / len(hk) for i in range(len(hk))]
    series(ident, hk, values, prev, volume=volume)

# A-shares, 2026-04-08: 09:30-11:30 and 13:00-15:00 CST.
cn = minutes("2026-04-08T01:30", "2026-04-08T03:30", 2) + minutes("2026-04-08T05:00",
                                                                  "2026-04-08T07:00", 2)
session("cn:SSE", cn, 3402.0, 0.26, 0.0003, turnover=None)
session("cn:CHINEXT", cn, 2085.0, 0.36, 0.0005)
breadth = cn[::5] if cn[::5][-1] == cn[-1] else [*cn[::5], cn[-1]]
n = len(breadth)
series("cn:ADVANCERS", breadth, [1200 + (1584 - 1200) * (i + 1) / n for i in range(n)], None, 0)
series("cn:DECLINERS", breadth, [1100 - (1100 - 713) * (i + 1) / n for i in range(n)], None, 0)
series("cn:TURNOVER", breadth, [1.32e12 * (i + 1) / n for i in range(n)], None, 0)

# Crypto, 24/7: 24 h changes against 2026-04-07 08:00Z.
crypto = minutes("2026-04-07T19:00", "2026-04-08T08:00", 2)
btc_prev, eth_prev = 68918.06, 2113.15
btc = shaped(len(crypto), btc_prev * 1.008, 71917.0, 0.0004, knee=0.45)
beta = (2241.0 / eth_prev - 1) / (71917.0 / btc_prev - 1)  # ETH moves ~1.39x BTC
own = bridge(len(crypto), 1.0, 1.0, 0.0002)
eth = [eth_prev * (1 + beta * (b / btc_prev - 1) + (o - 1)) for b, o in zip(btc, own, strict=True)]
eth[-1] = 2241.0
series("crypto:BTC", crypto, btc, btc_prev)
series("crypto:ETH", crypto, eth, eth_prev)

# Metrics, 24/7: hourly over the seed's whole day, 2026-04-07T08:00Z to 2026-04-08T08:00Z, so that
# each 24 h change at the end (the last value against the oldest of the trailing day) is the
# seed's: Total MC +4.02% to $2.53T, USDT +0.25%, USDC +0.43%, the TVL moves, Uniswap V3 +132%,
# Fluid +163%, Curve +333%. Their own random source keeps the rest of the tape as it was.
hours = minutes("2026-04-07T08:00", "2026-04-08T08:00", 60)
flow = random.Random(20260410)
m24 = len(hours)


def progress(values: list[float], prev: float, end: float) -> list[float]:
    """A price's share of its day's move at each hour of `hours` (0 at the start, 1 at the end):
    read off its session from 19:00Z, a noisy bridge to there before (the session starts at
    1 + change / 400 of its close, as the crypto ones do here)."""
    at = dict(zip(crypto, values, strict=True))
    share = [(at[t] / prev - 1) / (end / prev - 1) for t in hours if t in at]
    before = bridge(m24 - len(share) + 1, 1.0, 1.0 + share[0], 0.02, flow)
    out = [b - 1 for b in before[:-1]] + share
    out[0], out[-1] = 0.0, 1.0
    return out


btc_share, eth_share = progress(btc, btc_prev, 71917.0), progress(eth, eth_prev, 2241.0)


def lumpy(lumps: float, start: int = 0) -> list[float]:
    """A share of the day's move that comes in lumps (mints, redemptions): 0 to 1 in steps of
    random size, larger and fewer the larger `lumps`, with the odd small step back; none
    before hour `start` of the day."""
    steps = [flow.expovariate(1.0) ** lumps * (-0.15 if flow.random() < 0.15 else 1.0)
             * (i >= start) for i in range(m24 - 1)]
    total, out, run = sum(steps), [0.0], 0.0
    for step in steps:
        run += step / total
        out.append(run)
    out[-1] = 1.0
    return out


def path(start: float, end: float, share: list[float], vol: float) -> list[float]:
    """From `start` to exactly `end` along `share`, with pinned noise of relative size vol."""
    noise = bridge(m24, 0.0, 0.0, vol, flow)
    out = [start + (end - start) * s + e for s, e in zip(share, noise, strict=True)]
    out[0], out[-1] = start, end
    return out


def blend(a: list[float], b: list[float], weight: float) -> list[float]:
    return [weight * x + (1 - weight) * y for x, y in zip(a, b, strict=True)]


mcap_end = 2.53e12
series("crypto:TOTAL_MCAP", hours,
       path(round(mcap_end / 1.0402), mcap_end, blend(btc_share, eth_share, 0.6), 0.0006),
       None, 0)
supply = {ident: path(start, round(start * (1 + change / 100)), lumpy(lumps), 0.00002)
          for ident, start, change, lumps in (("stable:USDT", 183.74e9, 0.25, 2.5),
                                              ("stable:USDC", 76.17e9, 0.43, 1.5))}
for ident in ("stable:USDC", "stable:USDT"):  # in the order DefiLlama's adapter gives them
    series(ident, hours, supply[ident], None, 0)
for ident, start, end, share in (("funding:BTC", 0.00007, 0.00019, btc_share),
                                 ("funding:ETH", 0.00009, 0.00034, eth_share)):
    rates = path(start, end, [max(s, 0.0) ** 0.6 for s in share], 0.0)
    jitter = bridge(m24, 0.0, 0.0, 0.12, flow)  # relative to the start rate
    series(ident, hours, [max(r + j * start, 0.00001) for r, j in zip(rates, jitter, strict=True)],
           None, 6)
# TVL: priced in USD, so it moves with its tokens, and with deposits and withdrawals (lumps).
# Liquid staking is almost all ETH's price; the tokenized treasuries are all flows, a drift
# over the day and a redemption wave from 01:00Z as the crypto rally runs (the report's
# rotation out of RWA into liquid staking and bridges).
tvl: dict[str, list[float]] = {}
for slug, start, change, priced, wave in (
        ("superstate", 640e6, -24, 0.0, 0.6), ("openeden", 280e6, -9, 0.0, 0.6),
        ("ondo-finance", 1.4e9, -2, 0.1, 0.4), ("lido", 24.1e9, 3.1, 0.9, 0.0),
        ("rocket-pool", 2.6e9, 4.2, 0.8, 0.0), ("stargate", 410e6, 6.5, 0.3, 0.0),
        ("aave", 27e9, 1.2, 0.7, 0.0)):
    flows = lumpy(2.0)
    if wave:
        flows = blend(lumpy(1.5, start=17), flows, wave)
    share = blend(eth_share, flows, priced)
    tvl[f"tvl:{slug}"] = path(start, round(start * (1 + change / 100)), share, 0.001)
for ident in sorted(tvl):  # in the order DefiLlama's adapter gives them
    series(ident, hours, tvl[ident], None, 0)


def rolling_volume(volume: float, change: float) -> list[float]:
    """A DEX's rolling 24 h volume at each hour of `hours`: the sum of its last 24 hourly volumes,
    `volume` on the day before and `volume` x (1 + change / 100) at the end. The hours of the
    day before are ordinary (busier in US hours); the day's extra volume comes with the price
    moves, most of it in the rally of the last hours."""
    def ordinary(hour: int) -> float:  # hour of the day, UTC
        return (1.0 + 0.35 * (14 <= hour <= 21)) * flow.uniform(0.75, 1.25)

    before = [ordinary((8 + 1 + i) % 24) for i in range(24)]  # the hours ending 04-07 08:00
    before = [volume * v / sum(before) for v in before]
    usual = [volume / 24 * ordinary((8 + 1 + i) % 24) for i in range(24)]
    moves = [abs(b - a) ** 1.25 + 0.003 for a, b in pairwise(btc_share)]
    surge = [mv * flow.uniform(0.6, 1.4) for mv in moves]
    scale = (volume * (1 + change / 100) - sum(usual)) / sum(surge)
    today = [u + scale * s for u, s in zip(usual, surge, strict=True)]
    out = [sum(before[i:]) + sum(today[:i]) for i in range(m24)]
    out[0], out[-1] = volume, round(volume * (1 + change / 100))
    return out


volumes = {f"dexvol:{slug}": rolling_volume(start, change)
           for slug, start, change in (("uniswap-v3", 1.1e9, 132), ("fluid", 210e6, 163),
                                       ("curve-dex", 95e6, 333))}
for ident in sorted(volumes):
    series(ident, hours, volumes[ident], None, 0)

# The ids the report does not quote, so that the demo runs every id of the spec through its
# adapter: perpetuals near spot, Uniswap's TVL, and illustrative macro figures (the report gives
# none). Their own random source keeps the rest of the tape as it was. cn:NORTHBOUND stays
# absent, as in the report ("no northbound flow data"): its feed says "not available".
extra = random.Random(20260409)
ORIGINAL = {str(line["id"]) for line in lines}
for ident, spot, basis in (("perp:BTC", "crypto:BTC", 1.0004), ("perp:ETH", "crypto:ETH", 1.0006),
                           ("perp:BTCUSD", "crypto:BTC", 1.0002)):
    spots = [line for line in lines if line["id"] == spot]
    series(ident, [utc(str(line["ts"]).removesuffix("Z")) for line in spots],
           [float(str(line["value"])) * basis * (1 + extra.gauss(0, 0.0001)) for line in spots],
           float(str(spots[0]["prev_close"])), 1 if ident == "perp:BTCUSD" else 2)
series("tvl:uniswap", hours,
       path(5.1e9, round(5.1e9 * 1.015), blend(eth_share, lumpy(2.0), 0.7), 0.001), None, 0)
for ident, prev, change, digits in (("macro:VIX", 17.8, -3.0, 2), ("macro:US10Y", 4.31, 0.5, 3),
                                    ("macro:DXY", 103.2, -0.2, 3), ("macro:GOLD", 3040.0, 0.4, 1),
                                    ("macro:WTI", 69.5, -0.8, 2)):
    end = prev * (1 + change / 100)
    values = bridge(len(us), prev * (1 + change / 400), end, 0.0004, extra)
    values[-1] = end
    series(ident, us, values, prev, digits)
# USD/CNH is a price (its change is against its previous close): hourly, from 20:00Z.
hourly = minutes("2026-04-07T20:00", "2026-04-08T08:00", 60)
cnh = bridge(len(hourly), 7.2540, 7.2480, 0.0002, extra)
series("macro:USDCNH", hourly, cnh, 7.2540, 4)

lines.sort(key=lambda line: str(line["ts"]))

# History: 30 trading days of each price id before its first event, ending on its prev_close
# (session days from the exchange's calendar, holidays skipped), so the demo has baselines.
catalog = default_catalog()
first_seen: dict[str, dict[str, object]] = {}
for line in lines:
    first_seen.setdefault(str(line["id"]), line)
bars: list[dict[str, object]] = []
for ident, line in sorted(first_seen.items()):
    if "prev_close" not in line:
        continue
    calendar = catalog[ident].calendar
    day = datetime.fromisoformat(str(line["ts"]).replace("Z", "+00:00")).date()
    days: list[date] = []
    while len(days) < 30:
        day -= timedelta(days=1)
        opens, closes_at = calendar.session_bounds(day)
        if calendar.is_open(int((opens + (closes_at - opens) / 4).timestamp() * 1000)):
            days.append(day)
    prev_close = float(str(line["prev_close"]))
    source = rng if ident in ORIGINAL else extra
    closes = bridge(31, prev_close * 0.97, prev_close, 0.008, source)[1:]
    usual = float(str(line["volume"])) if "volume" in line else None
    for day, close in zip(sorted(days), closes, strict=True):
        spread = close * 0.006
        bar: dict[str, object] = {"kind": "bar", "date": day.isoformat(), "id": ident,
                                  "open": round(close - spread * source.uniform(-1, 1), 2),
                                  "high": round(close + spread, 2),
                                  "low": round(close - spread, 2), "close": round(close, 2)}
        if ident == "hk:HSI":
            bar["volume"] = round(2.2e11 * source.uniform(0.8, 1.2))
        elif usual is not None:
            bar["volume"] = round(usual * source.uniform(0.8, 1.2))
        bars.append(bar)

with OUT.open("w") as out:
    out.write("# crosscurrent demo tape: the 2026-04-08 session of "
              "shared/seed/market-report-2026-04-08.txt\n")
    out.write("# generated by scripts/make_seed_tape.py (seeded Brownian bridges ending on the "
              "report's figures; 30 sessions of history first)\n")
    for line in bars + lines:
        out.write(json.dumps(line, separators=(",", ":")) + "\n")
print(f"wrote {len(bars)} history lines and {len(lines)} events to {OUT}")
