"""Response bodies are read with a bound, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from streams.http_body import BodyTooLarge, read_body

BIG = b"x" * 100_000


async def _serve() -> web.AppRunner:
    async def sized(request: web.Request) -> web.Response:
        return web.Response(body=BIG)

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(BIG), 10_000):
            await response.write(BIG[start:start + 10_000])
        await response.write_eof()
        return response

    app = web.Application()
    app.add_routes([web.get("/sized", sized), web.get("/chunked", chunked)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


@pytest.mark.parametrize("path", ["/sized", "/chunked"])
def test_a_body_over_the_limit_is_refused_naming_the_limit(path: str) -> None:
    async def main() -> tuple[bytes, str]:
        runner = await _serve()
        host, port = runner.addresses[0][:2]
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://{host}:{port}{path}") as response:
                    whole = await read_body(response, limit=len(BIG))
                async with http.get(f"http://{host}:{port}{path}") as response:
                    with pytest.raises(BodyTooLarge) as refused:
                        await read_body(response, limit=10_000)
        finally:
            await runner.cleanup()
        return whole, str(refused.value)

    whole, said = asyncio.run(main())
    assert whole == BIG
    assert "10,000-byte limit" in said and "\n" not in said
