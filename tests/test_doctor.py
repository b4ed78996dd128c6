from __future__ import annotations

import asyncio
from pathlib import Path

from crosscurrent.config import load_config
from crosscurrent.doctor import diagnose
from streams.simulators.binance import BinanceSimulator
from streams.simulators.defillama import DefiLlamaSimulator
from streams.simulators.eastmoney import EastmoneySimulator
from streams.simulators.yahoo import YahooSimulator
from tests.conftest import free_port
from tests.test_cli import crosscurrent


def test_every_source_of_the_watchlist_is_probed(redis_url: str, tmp_path: Path) -> None:
    async def main() -> list[str]:
        binance, yahoo, llama = BinanceSimulator(), YahooSimulator(), DefiLlamaSimulator()
        east = EastmoneySimulator()
        for sim in (binance, yahoo, llama, east):
            await sim.start()
        config_file = tmp_path / "c.yaml"
        config_file.write_text(
            f"sources:\n  binance: {{ws_url: '{binance.url}'}}\n"
            f"  yahoo: {{ws_url: '{yahoo.url}/?version=2'}}\n"
            f"  defillama: {{api_url: '{llama.url}'}}\n"
            f"  coingecko: {{api_url: 'http://127.0.0.1:{free_port()}'}}\n"
            f"  eastmoney: {{proxy: '{east.url}', ca_bundle: '{east.ca_file}'}}\n"
            "watchlist: [crypto:BTC, hk:HSI, tvl:lido, crypto:TOTAL_MCAP, cn:ADVANCERS]\n")
        try:
            verdicts = await diagnose(load_config(config_file, env={}), redis_url, "c.yaml ok")
        finally:
            for sim in (binance, yahoo, llama, east):
                await sim.stop()
        return [v.line() for v in verdicts]

    lines = asyncio.run(main())
    by_name = {line.split()[1]: line for line in lines}
    assert by_name["config"].startswith("ok")
    assert by_name["detectors"].startswith("ok") and "compiled by mypyc" in by_name["detectors"]
    assert by_name["redis"].startswith("ok") and "AOF on" in by_name["redis"]
    for name in ("binance", "yahoo", "defillama", "eastmoney"):  # eastmoney: HTTPS via proxy
        assert by_name[name].startswith("ok"), by_name[name]
    assert by_name["coingecko"].startswith("FAIL") and "unreachable" in by_name["coingecko"]


def test_doctor_exits_1_when_a_check_fails(redis_url: str, tmp_path: Path) -> None:
    config_file = tmp_path / "c.yaml"
    config_file.write_text(f"sources:\n  binance: {{ws_url: 'ws://127.0.0.1:{free_port()}'}}\n"
                           "watchlist: [crypto:BTC]\n")
    result = crosscurrent("doctor", "--config", str(config_file), "--redis", redis_url)
    assert result.returncode == 1
    assert "ok    redis" in result.stdout and "FAIL  binance" in result.stdout
