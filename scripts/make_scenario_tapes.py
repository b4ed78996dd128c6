"""Write the detector scenario tapes of tests/data/: an ordinary quiet day and a crash day.

Each day: 30 sessions of daily bars per price id (ending on its previous close), then the
session's events: US (the previous session's last hour), Hong Kong and A-shares (full
sessions), crypto and on-chain metrics (hourly), moving from the previous close to the day's
target changes along seeded Brownian bridges. Run:
    python scripts/make_scenario_tapes.py
"""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from crosscurrent.catalog import default_catalog

OUT = Path(__file__).resolve().parent.parent / "tests" / "data"
PREV = {"us:DJI": 45980.0, "us:IXIC": 21730.0, "us:SPX": 6590.0, "hk:HSI": 25500.0,
        "hk:HSCEI": 9120.0, "hk:HSTECH": 5610.0, "cn:SSE": 3402.0, "cn:CHINEXT": 2085.0,
        "crypto:BTC": 68900.0, "crypto:ETH": 2110.0}
METRICS = {"stable:USDT": 183.7e9, "stable:USDC": 76.2e9, "tvl:lido": 24.1e9,
           "tvl:rocket-pool": 2.6e9, "tvl:superstate": 640e6, "tvl:openeden": 280e6,
           "tvl:ondo-finance": 1.4e9, "tvl:stargate": 410e6, "tvl:aave": 27e9,
           "tvl:uniswap": 5.1e9, "dexvol:uniswap-v3": 1.1e9, "dexvol:fluid": 210e6,
           "dexvol:curve-dex": 95e6, "crypto:TOTAL_MCAP": 2.43e12}
HSI_VOLUME = 2.2e11  # the average session turnover of the history bars

SCENARIOS: dict[str, dict[str, Any]] = {
    "quiet-day": {
        "day": "2026-03-11", "seed": 311, "hsi_volume": 1.9e11,
        "changes": {"us:DJI": 0.12, "us:IXIC": -0.08, "us:SPX": 0.05, "hk:HSI": 0.2,
                    "hk:HSCEI": 0.1, "hk:HSTECH": -0.15, "cn:SSE": 0.1, "cn:CHINEXT": -0.2,
                    "crypto:BTC": 0.8, "crypto:ETH": 0.6},
        "metrics": {"stable:USDT": 0.02, "stable:USDC": 0.03, "tvl:lido": 0.4,
                    "tvl:rocket-pool": -0.3, "tvl:superstate": 1.0, "tvl:openeden": -0.8,
                    "tvl:ondo-finance": 0.5, "tvl:stargate": -1.2, "tvl:aave": 0.6,
                    "tvl:uniswap": 0.2, "dexvol:uniswap-v3": 12.0, "dexvol:fluid": -9.0,
                    "dexvol:curve-dex": 15.0, "crypto:TOTAL_MCAP": 0.7},
        "funding": (0.0001, 0.0001), "breadth": (2500, 2400), "turnover": 1.0e12,
    },
    "crash-day": {
        "day": "2026-03-18", "seed": 318, "hsi_volume": 4.0e11,
        "changes": {"us:DJI": -3.5, "us:IXIC": -4.8, "us:SPX": -4.2, "hk:HSI": -6.0,
                    "hk:HSCEI": -5.5, "hk:HSTECH": -8.0, "cn:SSE": -4.5, "cn:CHINEXT": -6.5,
                    "crypto:BTC": -14.0, "crypto:ETH": -19.0},
        "metrics": {"stable:USDT": -1.5, "stable:USDC": -0.8, "tvl:lido": -12.0,
                    "tvl:rocket-pool": -14.0, "tvl:superstate": -3.0, "tvl:openeden": -2.0,
                    "tvl:ondo-finance": -4.0, "tvl:stargate": -18.0, "tvl:aave": -15.0,
                    "tvl:uniswap": -11.0, "dexvol:uniswap-v3": 250.0, "dexvol:fluid": 180.0,
                    "dexvol:curve-dex": 300.0, "crypto:TOTAL_MCAP": -15.0},
        "funding": (-0.0006, -0.0009), "breadth": (350, 4800), "turnover": 1.9e12,
    },
}


def minutes(start: datetime, end: datetime, step: int) -> list[datetime]:
    out = []
    while start <= end:
        out.append(start)
        start += timedelta(minutes=step)
    return out


def write(name: str, spec: dict[str, Any]) -> None:
    rng = random.Random(spec["seed"])
    day = date.fromisoformat(spec["day"])
    at = datetime(day.year, day.month, day.day, tzinfo=UTC)

    def bridge(n: int, start: float, end: float, vol: float) -> list[float]:
        walk = [0.0]
        for _ in range(n - 1):
            walk.append(walk[-1] + rng.gauss(0, vol))
        values = [start + (end - start) * i / (n - 1) + (walk[i] - walk[-1] * i / (n - 1)) *
                  start for i in range(n)]
        values[-1] = end
        return values

    lines: list[dict[str, Any]] = []

    def series(ident: str, times: list[datetime], values: list[float], prev: float | None,
               digits: int = 2, volume: float | None = None) -> None:
        for i, (t, v) in enumerate(zip(times, values, strict=True)):
            line: dict[str, Any] = {"ts": t.isoformat().replace("+00:00", "Z"), "id": ident,
                                    "value": round(v, digits)}
            if prev is not None:
                line["prev_close"] = prev
            if volume is not None:
                line["volume"] = round(volume * (i + 1) / len(times))
            lines.append(line)

    hours = {"us": minutes(at - timedelta(hours=5), at - timedelta(hours=4), 5),
             "hk": minutes(at + timedelta(hours=1, minutes=30), at + timedelta(hours=4), 2)
             + minutes(at + timedelta(hours=5), at + timedelta(hours=8), 2),
             "cn": minutes(at + timedelta(hours=1, minutes=30), at + timedelta(hours=3, minutes=30),
                           2) + minutes(at + timedelta(hours=5), at + timedelta(hours=7), 2),
             "crypto": minutes(at - timedelta(hours=5), at + timedelta(hours=8), 2)}
    for ident, change in spec["changes"].items():
        prev = PREV[ident]
        times = hours[ident.partition(":")[0]]
        values = bridge(len(times), prev * (1 + change / 400), prev * (1 + change / 100),
                        0.0003)
        volume = spec["hsi_volume"] if ident == "hk:HSI" else None
        series(ident, times, values, prev, volume=volume)
    hourly = minutes(at - timedelta(hours=4), at + timedelta(hours=8), 60)
    for ident, change in spec["metrics"].items():
        start = METRICS[ident]
        series(ident, hourly, [start * (1 + change / 100 * (i + 1) / len(hourly))
                               for i in range(len(hourly))], None, 0)
    for ident, rate in zip(("funding:BTC", "funding:ETH"), spec["funding"], strict=True):
        series(ident, hourly, [0.0001 + (rate - 0.0001) * (i + 1) / len(hourly)
                               for i in range(len(hourly))], None, 6)
    breadth = hours["cn"][::5]
    up, down = spec["breadth"]
    n = len(breadth)
    series("cn:ADVANCERS", breadth, [up * (0.8 + 0.2 * (i + 1) / n) for i in range(n)], None, 0)
    series("cn:DECLINERS", breadth, [down * (0.8 + 0.2 * (i + 1) / n) for i in range(n)],
           None, 0)
    series("cn:TURNOVER", breadth, [spec["turnover"] * (i + 1) / n for i in range(n)], None, 0)
    lines.sort(key=lambda line: str(line["ts"]))

    catalog = default_catalog()
    bars: list[dict[str, Any]] = []
    for ident, prev in PREV.items():
        calendar = catalog[ident].calendar
        first = datetime.fromisoformat(next(ln["ts"] for ln in lines if ln["id"] == ident)
                                       .replace("Z", "+00:00"))
        session = calendar.session_date(int(first.timestamp() * 1000))
        days: list[date] = []
        cursor = session
        while len(days) < 30:
            cursor -= timedelta(days=1)
            opens, closes_at = calendar.session_bounds(cursor)
            if calendar.is_open(int((opens + (closes_at - opens) / 4).timestamp() * 1000)):
                days.append(cursor)
        closes = bridge(31, prev * 0.98, prev, 0.008)[1:]
        for bar_day, close in zip(sorted(days), closes, strict=True):
            bar = {"kind": "bar", "date": bar_day.isoformat(), "id": ident,
                   "open": round(close * (1 + rng.uniform(-0.004, 0.004)), 2),
                   "high": round(close * 1.006, 2), "low": round(close * 0.994, 2),
                   "close": round(close, 2)}
            if ident == "hk:HSI":
                bar["volume"] = round(HSI_VOLUME * rng.uniform(0.85, 1.15))
            bars.append(bar)

    path = OUT / f"{name}.jsonl"
    with path.open("w") as out:
        out.write(f"# crosscurrent scenario tape: {name} ({spec['day']}), generated by "
                  "scripts/make_scenario_tapes.py\n")
        for line in bars + lines:
            out.write(json.dumps(line, separators=(",", ":")) + "\n")
    print(f"wrote {len(bars)} history lines and {len(lines)} events to {path}")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for scenario_name, scenario in SCENARIOS.items():
        write(scenario_name, scenario)
