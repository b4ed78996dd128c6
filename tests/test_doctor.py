"""`crosscurrent doctor` follows a config's feeds for a few seconds: against stand-ins that
behave as the real services do today, it names each silent or refused source in one line."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from crosscurrent.config import load_config
from crosscurrent.doctor import check_receivers_of, diagnose
from tests.conftest import free_port
from tests.standins import DEMO_KEY, RENAMED, standins
from tests.test_cli import crosscurrent


def doctor_lines(tmp_path: Path, redis_url: str, edit: Callable[[str], str] = str,
                 blocked: bool = False, listen_s: float = 3.0) -> dict[str, str]:
    """The doctor's lines by name, against driven stand-ins, their config changed by `edit`
    (USD-M refusing this region with `blocked`)."""

    async def main() -> dict[str, str]:
        async with standins() as stand:
            stand.usdm.geo_blocked = blocked
            config_file = tmp_path / "c.yaml"
            config_file.write_text(edit(stand.config()))
            driving = asyncio.create_task(stand.drive())
            try:
                verdicts = await diagnose(load_config(config_file, env={}), redis_url,
                                          "c.yaml ok", listen_s)
            finally:
                driving.cancel()
                await asyncio.gather(driving, return_exceptions=True)
        return {v.what: v.line() for v in verdicts}

    lines = asyncio.run(main())
    assert all("\n" not in line for line in lines.values())
    return lines


def test_every_source_is_followed_and_the_renamed_slug_named(redis_url: str, tmp_path: Path
                                                             ) -> None:
    by_name = doctor_lines(tmp_path, redis_url)
    assert by_name["config"].startswith("ok")
    assert by_name["detectors"].startswith("ok")
    assert by_name["redis"].startswith("ok") and "AOF on" in by_name["redis"]
    for name in ("binance", "binance-usdm /public", "binance-usdm /market", "binance-coinm",
                 "yahoo", "coingecko", "eastmoney"):  # eastmoney: HTTPS through its proxy
        assert by_name[name].startswith("ok"), by_name[name]
    assert "btcusdt@markPrice@1s" in by_name["binance-usdm /market"]
    assert "/market/stream" in by_name["binance-usdm /market"]
    slug = RENAMED.partition(":")[2]
    assert by_name["defillama"].startswith("FAIL")
    assert f"refused: /tvl/{slug} (HTTP 400)" in by_name["defillama"]
    assert "12 of 13 ids flowing" in by_name["defillama"]


def test_the_legacy_root_is_named_with_what_to_set(redis_url: str, tmp_path: Path) -> None:
    line = doctor_lines(tmp_path, redis_url, lambda text: text.replace(
        "binance_usdm: {", "binance_usdm: {layout: legacy, "))["binance-usdm"]
    assert line.startswith("FAIL") and "btcusdt@trade" in line
    assert "silent: btcusdt@ticker" in line and "btcusdt@markPrice@1s" in line
    assert "set sources.binance_usdm.layout: category" in line


def test_a_refused_key_and_a_path_the_host_lacks_say_what_to_set(redis_url: str,
                                                                 tmp_path: Path) -> None:
    by_name = doctor_lines(tmp_path, redis_url, lambda text: text.replace(
        f", api_key: '{DEMO_KEY}'", "").replace(
        "binance_coinm: {", "binance_coinm: {layout: category, "))
    gecko = by_name["coingecko"]
    assert gecko.startswith("FAIL") and "HTTP 401" in gecko and "unreachable" not in gecko
    assert "no API key is configured: set sources.coingecko.api_key" in gecko
    coinm = by_name["binance-coinm /public"]
    assert coinm.startswith("FAIL") and "HTTP 404" in coinm
    assert "set sources.binance_coinm.layout: legacy" in coinm


def test_a_region_refused_with_http_451_is_one_line_with_what_to_configure(
        redis_url: str, tmp_path: Path) -> None:
    by_name = doctor_lines(tmp_path, redis_url, blocked=True)
    for name in ("binance-usdm /public", "binance-usdm /market"):
        line = by_name[name]
        assert line.startswith("FAIL") and "HTTP 451" in line, line
        assert "`ccxt:` entry" in line and "okx" in line
    assert by_name["binance"].startswith("ok")


def test_doctor_exits_1_when_a_check_fails(redis_url: str, tmp_path: Path) -> None:
    config_file = tmp_path / "c.yaml"
    config_file.write_text(f"sources:\n  binance: {{ws_url: 'ws://127.0.0.1:{free_port()}'}}\n"
                           "watchlist: [crypto:BTC]\n")
    result = crosscurrent("doctor", "--config", str(config_file), "--redis", redis_url,
                          "--listen", "2")
    assert result.returncode == 1
    assert "ok    redis" in result.stdout and "FAIL  binance" in result.stdout
    assert "unreachable" in result.stdout


def test_receivers_are_checked_as_the_pipeline_would_read_them(tmp_path: Path) -> None:
    """A receiver whose secret is not there is a FAIL line naming it (the demo would refuse
    to start on it); none is fine."""
    assert check_receivers_of(load_config()).ok
    path = tmp_path / "c.yaml"
    path.write_text("notify:\n  receivers:\n    - {name: phone, urls: ['env:CC_NOT_SET_X']}\n")
    verdict = check_receivers_of(load_config(path, env={}))
    assert not verdict.ok and "phone" in verdict.detail and "CC_NOT_SET_X" in verdict.detail
