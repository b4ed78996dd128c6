"""Write crosscurrent/data/seed-2026-04-08.jsonl: the demo session, ending on the seed's figures.

Intraday paths are Brownian bridges (seeded, so the file is reproducible) from the previous
close to the figure of shared/seed/market-report-2026-04-08.txt. Run:
    python scripts/make_seed_tape.py
"""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
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

hourly = minutes("2026-04-07T20:00", "2026-04-08T08:00", 60)
m = len(hourly)


def ramp(start: float, end: float) -> list[float]:
    return [start + (end - start) * (i + 1) / m for i in range(m)]


series("crypto:TOTAL_MCAP", hourly, ramp(2.4322e12 * 1.01, 2.53e12), None, 0)
series("stable:USDT", hourly, ramp(183.74e9, 183.74e9 * 1.0025), None, 0)
series("stable:USDC", hourly, ramp(76.17e9, 76.17e9 * 1.0043), None, 0)
series("funding:BTC", hourly, ramp(0.00008, 0.00019), None, 6)
series("funding:ETH", hourly, ramp(0.00010, 0.00034), None, 6)
for slug, start, change in (("superstate", 640e6, -24), ("openeden", 280e6, -9),
                            ("ondo-finance", 1.4e9, -2), ("lido", 24.1e9, 3.1),
                            ("rocket-pool", 2.6e9, 4.2), ("stargate", 410e6, 6.5),
                            ("aave", 27e9, 1.2)):
    series(f"tvl:{slug}", hourly, ramp(start, start * (1 + change / 100)), None, 0)
for slug, start, change in (("uniswap-v3", 1.1e9, 132), ("fluid", 210e6, 163),
                            ("curve-dex", 95e6, 333)):
    series(f"dexvol:{slug}", hourly, ramp(start, start * (1 + change / 100)), None, 0)

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
series("tvl:uniswap", hourly, ramp(5.1e9, 5.1e9 * 1.015), None, 0)
for ident, prev, change, digits in (("macro:VIX", 17.8, -3.0, 2), ("macro:US10Y", 4.31, 0.5, 3),
                                    ("macro:DXY", 103.2, -0.2, 3), ("macro:GOLD", 3040.0, 0.4, 1),
                                    ("macro:WTI", 69.5, -0.8, 2)):
    end = prev * (1 + change / 100)
    values = bridge(len(us), prev * (1 + change / 400), end, 0.0004, extra)
    values[-1] = end
    series(ident, us, values, prev, digits)
cnh = bridge(m, 7.2540, 7.2480, 0.0002, extra)
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
