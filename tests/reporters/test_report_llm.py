"""The optional key-insight rewrite, against a real OpenAI-compatible HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web

from crosscurrent.config import LlmConfig
from reporters.report_llm import numbers, rewrite_insight
from reporters.report_model import Chain, Insight, Report, Row

REPORT = Report(
    date="2026-04-08",
    key_insight=Insight(en="BTC +4.35% while HSTECH -1.63%.", zh="BTC +4.35%,恒生科技 -1.63%。"),
    chain=Chain(broken_at="HK"),
    markets={"crypto:BTC": Row(id="crypto:BTC", name="Bitcoin", name_zh="比特币", last=71917.0,
                               change=4.35, high=71917.0, low=71917.0, open=71917.0,
                               window="24 h to 08:00Z (16:00 HKT)")},
)


async def ask(answer: dict[str, str] | None, status: int = 200) -> Report:
    seen: list[dict[str, Any]] = []

    async def completions(request: web.Request) -> web.Response:
        seen.append(await request.json())
        if answer is None:
            return web.json_response({"error": "down"}, status=status)
        return web.json_response({"choices": [{"message": {
            "role": "assistant", "content": orjson.dumps(answer).decode()}}]})

    app = web.Application()
    app.add_routes([web.post("/v1/chat/completions", completions)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        config = LlmConfig(url=f"http://127.0.0.1:{port}/v1", api_key="sk-test")
        result = await rewrite_insight(REPORT, config)
    finally:
        await runner.cleanup()
    assert "71917" not in orjson.dumps(seen[0]).decode()  # findings only, not the raw series
    return result


def test_a_faithful_rewrite_replaces_the_template_text() -> None:
    good = {"en": "Bitcoin gained 4.35% as Hang Seng Tech lost 1.63%: the chain broke at HK.",
            "zh": "比特币上涨4.35%,恒生科技下跌1.63%。"}
    result = asyncio.run(ask(good))
    assert result.key_insight == Insight(**good, source="llm")


def test_a_rewrite_that_changes_a_number_is_refused() -> None:
    bad = {"en": "Bitcoin gained 5.1% as Hang Seng Tech lost 1.63%.", "zh": "比特币上涨5.1%。"}
    assert asyncio.run(ask(bad)).key_insight == REPORT.key_insight


def test_an_unreachable_model_keeps_the_template_text() -> None:
    assert asyncio.run(ask(None, 503)).key_insight == REPORT.key_insight
    assert asyncio.run(rewrite_insight(REPORT, LlmConfig())) is REPORT  # off by default


def test_numbers_are_normalised() -> None:
    assert numbers("1,320 and 4.350 and 80 and 2026-04-08") == {"1320", "4.35", "80", "2026",
                                                                 "04", "08"}
