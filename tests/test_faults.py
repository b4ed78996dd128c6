"""Faults under a whole running pipeline (`crosscurrent run`, feeds and agents, as a process),
fed by the Binance simulator: every count must reconcile afterwards (`audit`)."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import sys
from pathlib import Path

import pytest

from crosscurrent.events import Alert
from reporters.audit import audit
from streams.keys import Keys
from streams.redis_client import client
from streams.redis_server import EmbeddedRedis
from streams.simulators.binance import BinanceSimulator
from streams.tape import TapeEvent
from tests.conftest import OUTAGE_S, stream_events

KEYS = Keys("cctest", "faults")
START = 1775635200000


def swing(n: int) -> list[TapeEvent]:
    """BTC flat, ETH swinging around it: the ETH/BTC divergence fires and resolves."""
    return [TapeEvent(ts=START + n * 1000 + i, id="crypto:ETH" if i % 2 else "crypto:BTC",
                      value=101.0 + (4.0 * math.sin((n + i) / 7.0) if i % 2 else 0.0),
                      prev_close=100.0) for i in range(2)]


async def consumed(url: str) -> int:
    redis = client(url)
    try:
        return int(await redis.hget(KEYS.stats, "agent.detectors.consumed") or 0)
    finally:
        await redis.aclose()


@pytest.mark.timeout(OUTAGE_S + 120)
def test_redis_killed_under_a_running_pipeline_loses_and_repeats_nothing(tmp_path: Path
                                                                        ) -> None:
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()

    async def main() -> tuple[int, str, int]:
        sim = BinanceSimulator()
        await sim.start()
        config = tmp_path / "live.yaml"
        config.write_text(f"watchlist: [crypto:BTC, crypto:ETH]\nsources:\n  binance: "
                          f"{{ws_url: '{sim.url}', rest_url: '{sim.url.replace('ws', 'http')}'}}\n"
                          # START's fixed day passes the edge whatever the wall clock says
                          "feeds: {max_past_s: 1.0e+9, max_future_s: 1.0e+9}\n")

        async def start() -> asyncio.subprocess.Process:
            return await asyncio.create_subprocess_exec(
                sys.executable, "-m", "crosscurrent", "run", "--plain", "--redis", server.url,
                "--namespace", KEYS.namespace, "--config", str(config),
                env=dict(os.environ, CROSSCURRENT_REDIS_PREFIX=KEYS.prefix),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)

        async def terminate(process: asyncio.subprocess.Process) -> tuple[int, str]:
            process.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(process.communicate(), 30)
            return process.returncode or 0, out.decode() + err.decode()

        process = await start()
        try:
            await sim.wait_subscribed(["crypto:BTC", "crypto:ETH"], timeout=60)
            n = 0

            async def burst(count: int) -> None:
                nonlocal n
                for _ in range(count):
                    for event in swing(n):
                        await sim.publish(event)
                    n += 1

            async def settled() -> None:
                try:
                    async with asyncio.timeout(60):
                        while await consumed(server.url) < sim.frames_sent:
                            await asyncio.sleep(0.05)
                except TimeoutError:
                    raise AssertionError(f"{await consumed(server.url)} of {sim.frames_sent} "
                                         "consumed") from None

            await burst(200)
            await settled()
            server.kill()  # kill -9, between two bursts
            await burst(100)  # the feed reads on; the writer buffers and retries
            await asyncio.sleep(OUTAGE_S / 2)
            await burst(100)
            await asyncio.sleep(OUTAGE_S / 2)
            await asyncio.to_thread(server.start)
            await burst(200)
            await settled()
            code, said = await terminate(process)
            assert code == 0, said
            assert "retrying" in said and "resuming from the last commit" in said
            process = await start()  # a second run adds to the first one's counts
            await sim.wait_subscribed(["crypto:BTC", "crypto:ETH"], timeout=60)
            await burst(100)
            await settled()
            code, said = await terminate(process)
            return code, said, sim.frames_sent
        finally:
            if process.returncode is None:
                process.kill()
            await sim.stop()

    try:
        code, said, sent = asyncio.run(main())

        async def check() -> None:
            redis = client(server.url)
            counted = await audit(redis, KEYS)
            alerts = [a for a in await stream_events(redis, KEYS.alerts) if isinstance(a, Alert)]
            await redis.aclose()
            assert counted.lost == 0, counted
            bus = {x.name: x.counts for x in counted.lines if x.stage == "bus"}
            assert bus["events:crypto"]["added"] == sent  # every frame once: none lost, none twice
            feed = next(x.counts for x in counted.lines if x.stage == "feed")
            assert feed == {"received": sent, "malformed": 0, "parsed": sent}  # over both runs
            agent = next(x.counts for x in counted.lines if x.name == "detectors")
            assert agent["consumed"] == sent and agent["entries"] == agent["acknowledged"]
            assert alerts and len({a.uid for a in alerts}) == len(alerts)  # no alert twice
            assert agent["alerts"] == len(alerts)

        assert code == 0, said
        asyncio.run(check())
    finally:
        server.stop()
