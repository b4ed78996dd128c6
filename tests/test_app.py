"""`crosscurrent run` as a process: stopping it drains instead of dropping."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
import sys
from pathlib import Path

import redis

from crosscurrent.app import compact, run_live
from crosscurrent.config import load_config
from streams.keys import Keys
from streams.redis_client import connect
from streams.redis_server import EmbeddedRedis
from streams.simulators.binance import BinanceSimulator
from streams.tape import TapeEvent
from tests.conftest import QuietView, stream_events


def test_sigterm_writes_what_the_bus_writer_holds_and_exits_cleanly(
        redis_url: str, keys: Keys, tmp_path: Path) -> None:
    """Redis stalls writes (CLIENT PAUSE) while frames keep coming, so the writer holds
    them when SIGTERM arrives: they must still land, and the exit code is 0."""

    async def main() -> tuple[int, str, int, int]:
        sim = BinanceSimulator()
        await sim.start()
        config = tmp_path / "live.yaml"
        config.write_text(  # the events' fixed day passes the edge whatever the wall clock
            f"watchlist: [crypto:BTC]\nsources:\n  binance: {{ws_url: '{sim.url}'}}\n"
            "feeds: {max_past_s: 1.0e+9, max_future_s: 1.0e+9}\n")
        env = dict(os.environ, CROSSCURRENT_REDIS_PREFIX=keys.prefix)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "crosscurrent", "run", "--only", "feeds", "--plain",
            "--redis", redis_url, "--namespace", keys.namespace, "--config", str(config),
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        redis = await connect(redis_url)
        try:
            await sim.wait_subscribed(["crypto:BTC"], timeout=60)
            for n in range(20):
                await sim.publish(TapeEvent(ts=1775635200000 + n, id="crypto:BTC",
                                            value=70000.0 + n, prev_close=68000.0))
            async with asyncio.timeout(30):
                while len(await stream_events(redis, keys.events("crypto"))) < sim.frames_sent:
                    await asyncio.sleep(0.05)
            await redis.client_pause(3000, all=False)  # writes stall, reads go on
            for n in range(20, 220):
                await sim.publish(TapeEvent(ts=1775635200000 + n, id="crypto:BTC",
                                            value=70000.0 + n))
            await asyncio.sleep(0.5)  # read by the feed, held by the writer
            process.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(process.communicate(), 30)
            landed = len(await stream_events(redis, keys.events("crypto")))
            return process.returncode or 0, out.decode() + err.decode(), landed, sim.frames_sent
        finally:
            if process.returncode is None:
                process.kill()
            await redis.aclose()
            await sim.stop()

    code, said, landed, sent = asyncio.run(main())
    assert code == 0, said
    assert "stopped: the bus writer drained" in said
    assert landed == sent == 440, said  # a ticker and a trade frame per event, none dropped


def test_sigterm_on_an_idle_pipeline_is_quick(redis_url: str, keys: Keys) -> None:
    env = dict(os.environ, CROSSCURRENT_REDIS_PREFIX=keys.prefix)
    process = subprocess.Popen(
        [sys.executable, "-m", "crosscurrent", "run", "--only", "agents", "--plain",
         "--redis", redis_url, "--namespace", keys.namespace],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        assert "following" in process.stdout.readline()
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    finally:
        process.kill()


def test_compact_rewrites_the_aof_down_to_the_data_left(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path) as server:
        client = redis.Redis.from_url(server.url, socket_timeout=60)
        client.eval("for i = 1, 200000 do redis.call('SET', 'k' .. i, i) end", 0)
        client.set("kept", "yes")
        client.delete(*[f"k{i}" for i in range(1, 200_001)])
        before = int(client.info("persistence")["aof_current_size"])
        asyncio.run(compact(server.url))
        after = int(client.info("persistence")["aof_current_size"])
        assert after < before / 100, (before, after)
        assert client.get("kept") == b"yes"
        client.close()


def test_run_freezes_its_startup_heap_once_built(redis_url: str, keys: Keys,
                                                 tmp_path: Path) -> None:
    """Full collections walk only what the running pipeline makes (`crosscurrent/heap.py`)."""

    async def main() -> tuple[int, int]:
        sim = BinanceSimulator()
        await sim.start()
        config_file = tmp_path / "live.yaml"
        config_file.write_text(
            f"watchlist: [crypto:BTC]\nsources:\n  binance: {{ws_url: '{sim.url}'}}\n")
        config = load_config(config_file, env={"CROSSCURRENT_REDIS_PREFIX": keys.prefix})
        gc.unfreeze()  # an earlier test of this process may have frozen it
        before = gc.get_freeze_count()
        task = asyncio.create_task(run_live(config, redis_url, only="feeds", view=QuietView(),
                                            namespace=keys.namespace))
        try:
            await sim.wait_subscribed(["crypto:BTC"])
            for _ in range(100):
                if gc.get_freeze_count() > before:
                    break
                await asyncio.sleep(0.05)
            return before, gc.get_freeze_count()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await sim.stop()
            gc.unfreeze()

    before, after = asyncio.run(main())
    assert before == 0 and after > 0

