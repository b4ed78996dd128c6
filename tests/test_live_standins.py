"""The issue's acceptance run: `crosscurrent run --plain` for 40 s against stand-ins that
behave as the live services do today (tests/standins.py), then `report` and `doctor`; with
two of the user's own symbols added by `watchlist add --offline` (Binance spot and Yahoo), a
rule on one of them."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import orjson

from crosscurrent.catalog import default_catalog
from streams.keys import Keys
from streams.simulators.walk import day_of
from tests.standins import METRICS, RENAMED, standins
from tests.test_cli import crosscurrent

RUN_S = 40
NVDA, SOL = day_of("NVDA"), day_of("SOLUSDT")  # (previous close, change) the stand-ins give


def test_a_live_run_on_todays_services_reports_funding_previous_closes_and_the_chain(
        redis_url: str, keys: Keys, tmp_path: Path) -> None:
    async def main() -> tuple[int, str, str]:
        async with standins() as stand:
            config = tmp_path / "live.yaml"
            config.write_text(stand.config())
            added = await asyncio.to_thread(
                crosscurrent, "watchlist", "add", "--offline", "SOL/USDT", "NVDA", "--config",
                str(config))
            assert added.returncode == 0, added.stderr
            with config.open("a") as handle:  # a user rule on NVDA's level
                handle.write(f"detectors:\n  rules:\n    - {{name: nvda-level, when: "
                             f"'price(\"us:NVDA\") > {NVDA[0] / 2}', severity: warning}}\n")
            driving = asyncio.create_task(stand.drive())
            env = dict(os.environ, CROSSCURRENT_REDIS_PREFIX=keys.prefix, COLUMNS="200")
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "crosscurrent", "run", "--plain", "--config", str(config),
                "--redis", redis_url, "--namespace", keys.namespace, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            try:
                await asyncio.sleep(RUN_S)
                process.send_signal(signal.SIGTERM)
                out, err = await asyncio.wait_for(process.communicate(), 60)
                doctor = await asyncio.to_thread(
                    crosscurrent, "doctor", "--config", str(config), "--redis", redis_url,
                    "--listen", "6", env={"CROSSCURRENT_REDIS_PREFIX": keys.prefix})
            finally:
                if process.returncode is None:
                    process.kill()
                driving.cancel()
                await asyncio.gather(driving, return_exceptions=True)
        return process.returncode or 0, out.decode() + err.decode(), doctor.stdout

    code, said, doctor = asyncio.run(main())
    assert code == 0, said
    assert "Traceback" not in said, said
    report = crosscurrent("report", "--out", str(tmp_path / "report"), "--redis", redis_url,
                          "--namespace", keys.namespace,
                          env={"CROSSCURRENT_REDIS_PREFIX": keys.prefix})
    assert report.returncode == 0 and "Traceback" not in report.stderr, report.stderr
    data = orjson.loads((tmp_path / "report" / "report.json").read_bytes())
    markets = data["markets"]
    assert "funding:BTC" in markets and markets["funding:BTC"]["last"] == 0.000322
    assert [r["id"] for r in data["crypto"]["funding"]][:1] == ["funding:BTC"]
    perp = markets["perp:BTC"]
    assert perp["prev_close"] == 69000.0 and 3.8 < perp["change"] < 4.0
    for ident, (close, change) in {"us:SPX": (5600.0, 0.6), "hk:HSI": (25300.0, -0.7),
                                   "cn:SSE": (3300.0, 0.4)}.items():
        row = markets[ident]
        assert row["prev_close"] == close, row  # price - change of the real frames' shape
        assert abs(row["change"] - change) <= 0.06, row  # against it, not the first price
    assert data["chain"]["pattern"] == "broken:HK"
    for ident, (_, change) in {"us:NVDA": NVDA, "crypto:SOL": SOL}.items():
        row = markets[ident]  # the user's own symbols, streamed live
        assert row["last"] and abs(row["change"] - change) <= 0.06, row
    assert abs(markets["us:NVDA"]["prev_close"] - NVDA[0]) < 0.01  # price - change, as live
    assert "NVDA" not in data["us_narrative"]["en"]  # "US equities" are the indices
    alerts = crosscurrent("alerts", "list", "--json", "--redis", redis_url, "--namespace",
                          keys.namespace, env={"CROSSCURRENT_REDIS_PREFIX": keys.prefix})
    fired = [orjson.loads(line) for line in alerts.stdout.splitlines()]
    assert any(a["key"] == "rule:nvda-level" and a["state"] == "firing" for a in fired), fired
    defillama = {i for i in METRICS if default_catalog()[i].source == "defillama"}
    assert defillama - {RENAMED} <= set(markets) and RENAMED not in markets
    refused = [line for line in doctor.splitlines() if line.startswith("FAIL")]
    assert len(refused) == 1 and "defillama" in refused[0], doctor
    assert f"/tvl/{RENAMED.partition(':')[2]} (HTTP 400)" in refused[0]
