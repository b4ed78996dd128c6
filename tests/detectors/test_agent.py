from __future__ import annotations

import asyncio
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from redis.exceptions import OutOfMemoryError

from crosscurrent.app import build_detectors
from crosscurrent.bars import DailyBar
from crosscurrent.baselines import Baseline
from crosscurrent.config import AgentConfig, load_config
from crosscurrent.events import Alert, Metric, Tick, encode, pack
from detectors.agent import Agent, DetectorSet
from detectors.base import UsesQuotes
from detectors.divergence import DivergenceDetector
from reporters.alert_log import read_alerts
from reporters.audit import audit
from streams.bus import FIELD
from streams.history import HistoryStore
from streams.keys import Keys
from streams.redis_client import client, connect
from streams.redis_server import EmbeddedRedis
from tests.conftest import stream_events

DEFAULTS = load_config(env={})  # read once (~40 ms): the restore tests build 480 sets


def every_detector() -> DetectorSet:
    return DetectorSet(build_detectors(DEFAULTS))


def oscillating(n: int) -> list[Tick]:
    """ETH swinging around BTC so the ETH/BTC pair fires and resolves every ~40 events."""
    events = []
    for i in range(n):
        if i % 2:
            events.append(Tick(id="crypto:BTC", ts=i, price=100.0, prev_close=100.0))
        else:
            change = 4.0 * math.sin(i / 13.0)
            events.append(Tick(id="crypto:ETH", ts=i, price=100.0 + change, prev_close=100.0))
    return events


def expected_alerts(events: list[Tick]) -> list[str]:
    detector = DivergenceDetector(DEFAULTS.detectors.divergence.pairs)
    return [a.uid for e in events for a in detector.on_event(e)]


def expected_pipeline_alerts(events: list[Tick]) -> list[str]:
    """What `crosscurrent run --only agents` raises, uninterrupted and in-process."""
    detectors = every_detector()
    return [a.uid for e in events for a in detectors.on_event(e)]


def test_a_set_s_detectors_share_one_quote_view_snapshotted_once() -> None:
    pipeline = every_detector()
    for event in oscillating(4):
        pipeline.on_event(event)
    quoting = [d for d in pipeline.detectors if isinstance(d, UsesQuotes)]
    assert len(quoting) >= 2 and all(d.moves is pipeline.moves for d in quoting)
    saved = pipeline.snapshot()
    assert saved["quotes"].keys() == {"crypto:BTC", "crypto:ETH"}
    assert not any("quotes" in state for state in saved["detectors"].values())


def _resumed(events: list[Tick], cut: int, old_format: bool) -> list[str]:
    """Alerts of `events` through a set snapshotted after `cut` and restored into another;
    with `old_format`, the snapshot as saved before the set shared its detectors' quotes."""
    first = every_detector()
    got = [a.uid for e in events[:cut] for a in first.on_event(e)]
    saved = first.snapshot()
    if old_format:
        shared = saved.pop("quotes")
        for detector in first.detectors:
            if isinstance(detector, UsesQuotes):
                saved["detectors"][detector.name]["quotes"] = {
                    i: q for i, q in shared.items() if i in detector.ids()}
    second = every_detector()
    second.restore(orjson.loads(orjson.dumps(saved)))
    return got + [a.uid for e in events[cut:] for a in second.on_event(e)]


@pytest.mark.parametrize("old_format", [False, True], ids=["shared", "own-quotes"])
def test_a_restored_set_resumes_exactly_wherever_it_was_cut(old_format: bool) -> None:
    events = oscillating(120)
    expected = expected_pipeline_alerts(events)
    assert expected
    for cut in range(len(events)):
        assert _resumed(events, cut, old_format) == expected, f"cut after {cut} events"


async def load_stream(url: str, keys: Keys, events: list[Tick]) -> None:
    redis = await connect(url)
    for start in range(0, len(events), 1000):
        async with redis.pipeline(transaction=False) as pipe:
            for event in events[start:start + 1000]:
                pipe.xadd(keys.events("crypto"), {FIELD: encode(event)})
            await pipe.execute()
    await redis.aclose()


async def drained_agent(url: str, keys: Keys, events: list[Tick]) -> tuple[Agent, Any]:
    """The events loaded on the stream and read to the end by a divergence agent; returns it
    with its (open) client."""
    await load_stream(url, keys, events)
    redis = await connect(url)
    detector = DivergenceDetector(DEFAULTS.detectors.divergence.pairs)
    agent = Agent("divergence", [detector], redis, keys, AgentConfig(batch=100))
    await agent.start()
    while await agent.step():
        pass
    return agent, redis


def test_duplicated_and_late_events_change_no_alert(redis_url: str, keys: Keys) -> None:
    """Every event twice, and every tenth again 50 events late: the same alerts, once."""
    events = oscillating(2000)
    hostile = [e for e in events for _ in range(2)]
    for i in range(0, len(events) - 50, 10):
        hostile.insert(2 * (i + 50) + i // 10, events[i])

    async def main() -> list[str]:
        agent, redis = await drained_agent(redis_url, keys, hostile)
        assert agent.processed == len(hostile)
        alerts = [a.uid for a in await stream_events(redis, keys.alerts) if isinstance(a, Alert)]
        await redis.aclose()
        return alerts

    assert asyncio.run(main()) == expected_alerts(events)


def test_agent_processes_a_stream_and_commits_alerts(redis_url: str, keys: Keys) -> None:
    events = oscillating(2000)

    async def main() -> list[Alert]:
        agent, redis = await drained_agent(redis_url, keys, events)
        assert agent.processed == 2000 and await agent.lag() == 0
        stats = await redis.hgetall(keys.stats)
        assert int(stats[b"agent.divergence.consumed"]) == 2000
        alerts = await read_alerts(redis, keys)
        await redis.aclose()
        return alerts

    alerts = asyncio.run(main())
    assert [a.uid for a in alerts] == expected_alerts(events)
    assert len(alerts) > 50


def test_bad_entries_are_counted_and_skipped(redis_url: str, keys: Keys) -> None:
    async def main() -> None:
        redis = await connect(redis_url)
        stream = keys.events("crypto")
        await redis.xadd(stream, {FIELD: b"{garbage"})
        await redis.xadd(stream, {FIELD: encode(oscillating(1)[0])})
        agent = Agent("divergence", [DivergenceDetector(DEFAULTS.detectors.divergence.pairs)],
                      redis, keys, AgentConfig())
        await agent.start()
        assert await agent.step() == 2
        assert agent.malformed == 1 and agent.processed == 2
        assert await redis.hget(keys.stats, "agent.divergence.malformed") == b"1"
        await redis.aclose()

    asyncio.run(main())


def test_a_bad_event_in_a_packed_entry_is_counted_and_its_neighbours_handled(
        redis_url: str, keys: Keys) -> None:
    async def main() -> None:
        redis = await connect(redis_url)
        stream = keys.events("crypto")
        good = oscillating(4)
        await redis.xadd(stream, {FIELD: pack([encode(good[0]), b'{"kind":"tick"}',
                                               *(encode(e) for e in good[1:])])})
        agent = Agent("divergence", [DivergenceDetector(DEFAULTS.detectors.divergence.pairs)],
                      redis, keys, AgentConfig())
        await agent.start()
        assert await agent.step() == 1  # one entry
        assert agent.malformed == 1 and agent.processed == 5
        stats: dict[bytes, bytes] = await redis.hgetall(keys.stats)  # type: ignore[assignment]
        assert {k: int(v) for k, v in stats.items() if k.startswith(b"agent.")} == {
            b"agent.divergence.malformed": 1, b"agent.divergence.consumed": 5,
            b"agent.divergence.entries": 1}
        assert await agent.lag() == 0
        await redis.aclose()

    asyncio.run(main())


def agent_process(url: str, keys: Keys) -> subprocess.Popen[bytes]:
    """`run --only agents` as a terminal would start it: Ctrl-C delivered (a suite started
    as a background job has SIGINT ignored, and children inherit that)."""
    env = dict(os.environ, CROSSCURRENT_AGENT_BATCH="50", CROSSCURRENT_REDIS_PREFIX=keys.prefix)
    return subprocess.Popen(
        [sys.executable, "-m", "crosscurrent", "run", "--only", "agents", "--redis", url,
         "--namespace", keys.namespace],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def test_agent_killed_mid_stream_skips_nothing_and_duplicates_nothing(
        redis_url: str, keys: Keys) -> None:
    events = oscillating(40_000)
    asyncio.run(load_stream(redis_url, keys, events))

    def wait_for(predicate: Callable[[int], bool], timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            count = asyncio.run(_processed(redis_url, keys))
            if predicate(count):
                return count
            time.sleep(0.02)
        raise AssertionError(f"agent stuck at {count} events")

    first = agent_process(redis_url, keys)
    try:
        at_kill = wait_for(lambda n: n >= 5000)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        first.kill()
    assert at_kill < len(events), "the agent finished before it could be killed"

    second = agent_process(redis_url, keys)
    try:
        assert wait_for(lambda n: n >= len(events)) == len(events)
    finally:
        second.terminate()
        second.wait(10)

    async def alerts() -> list[str]:
        redis = await connect(redis_url)
        found = await stream_events(redis, keys.alerts)
        await redis.aclose()
        return [a.uid for a in found if isinstance(a, Alert)]

    uids = asyncio.run(alerts())
    assert len(uids) == len(set(uids)), "an alert was written twice"
    assert uids == expected_pipeline_alerts(events), "an alert was lost or reordered"
    state = asyncio.run(_state(redis_url, keys))
    assert state["processed"] == len(events)


async def _state(url: str, keys: Keys) -> dict[str, int]:
    redis = await connect(url)
    saved = await redis.hgetall(keys.state("detectors"))
    await redis.aclose()
    orjson.loads(saved[b"detectors"])  # a readable snapshot
    return {"processed": int(saved[b"processed"])}


def test_agent_rides_out_a_redis_restart(tmp_path: Path) -> None:
    events = oscillating(20_000)
    server = EmbeddedRedis(tmp_path)
    server.start()
    keys = Keys("cctest", "agent-restart")

    async def main() -> list[str]:
        await load_stream(server.url, keys, events)
        redis = client(server.url)
        detector = DivergenceDetector(DEFAULTS.detectors.divergence.pairs)
        agent = Agent("divergence", [detector], redis, keys, AgentConfig(batch=50))
        task = asyncio.create_task(agent.run(max_backoff_s=0.2))
        async with asyncio.timeout(60):
            while agent.processed < 3000:
                await asyncio.sleep(0.005)
            await asyncio.to_thread(server.stop)  # SIGTERM: Redis syncs its AOF and exits
            at_stop = agent.processed
            await asyncio.sleep(0.3)
            await asyncio.to_thread(server.start)
            while agent.processed < len(events):
                await asyncio.sleep(0.01)
        task.cancel()
        assert at_stop < len(events) and agent.resumes >= 1
        alerts = [a.uid for a in await stream_events(redis, keys.alerts) if isinstance(a, Alert)]
        counted = await audit(redis, keys)  # the counts reconcile across the restart
        await redis.aclose()
        assert counted.lost == 0, counted
        (line,) = [x for x in counted.lines if x.stage == "agent"]
        assert line.counts["consumed"] == line.counts["acknowledged"] == len(events)
        assert line.counts["alerts"] == len(alerts)
        return alerts

    try:
        uids = asyncio.run(main())
    finally:
        server.stop()
    assert uids == expected_alerts(events)


def test_a_batch_refused_for_memory_stores_and_acknowledges_nothing_then_lands_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Redis over `maxmemory` refuses the commit: no alert, no snapshot, no acknowledgement of
    that batch lands (the agent says why and waits); with memory back, every alert once."""
    events = oscillating(2000)
    server = EmbeddedRedis(tmp_path)
    server.start()
    keys = Keys("cctest", "agent-oom")

    async def main() -> tuple[list[str], int, int]:
        await load_stream(server.url, keys, events)
        redis = client(server.url)
        used = int((await redis.info("memory"))["used_memory"])
        await redis.config_set("maxmemory-policy", "noeviction")
        await redis.config_set("maxmemory", str(used + 256 * 1024))
        with pytest.raises(OutOfMemoryError):  # filled until Redis refuses writes
            for n in range(100):
                await redis.set(f"filler:{n}", b"x" * 64 * 1024)
        detector = DivergenceDetector(DEFAULTS.detectors.divergence.pairs)
        agent = Agent("divergence", [detector], redis, keys, AgentConfig(batch=50))
        task = asyncio.create_task(agent.run(max_backoff_s=0.2))
        try:
            async with asyncio.timeout(60):
                while agent.resumes < 2:
                    await asyncio.sleep(0.01)
                refused_alerts = await redis.xlen(keys.alerts)
                pending = (await redis.xpending(keys.events("crypto"), "divergence"))["pending"]
                stored = await redis.hget(keys.state("divergence"), "processed")
                assert refused_alerts == 0 and stored is None, (refused_alerts, stored)
                await redis.config_set("maxmemory", "0")  # memory back
                while agent.processed < len(events):
                    await asyncio.sleep(0.01)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        alerts = [a.uid for a in await stream_events(redis, keys.alerts) if isinstance(a, Alert)]
        acknowledged = len(events) - (await redis.xpending(keys.events("crypto"),
                                                           "divergence"))["pending"]
        await redis.aclose()
        return alerts, pending, acknowledged

    try:
        uids, pending_while_refused, acknowledged = asyncio.run(main())
    finally:
        server.stop()
    assert pending_while_refused > 0  # read, not acknowledged
    assert acknowledged == len(events)
    assert uids == expected_alerts(events)  # every alert once: none lost, none twice
    assert "used memory > 'maxmemory'" in caplog.text  # the cause, named


def test_ctrl_c_stops_a_running_agent_cleanly(redis_url: str, keys: Keys) -> None:
    asyncio.run(load_stream(redis_url, keys, oscillating(1000)))
    agent = agent_process(redis_url, keys)
    try:
        deadline = time.monotonic() + 30
        while asyncio.run(_processed(redis_url, keys)) < 1000:
            assert time.monotonic() < deadline, "the agent did not start"
            time.sleep(0.05)
        agent.send_signal(signal.SIGINT)
        try:
            code = agent.wait(10)
        except subprocess.TimeoutExpired:
            agent.kill()
            said = agent.stderr.read().decode() if agent.stderr else ""
            raise AssertionError(f"no exit 30 s after SIGINT; it said:\n{said}") from None
        assert code == 130
    finally:
        agent.kill()
    assert b"Traceback" not in (agent.stderr.read() if agent.stderr else b"")


async def _processed(url: str, keys: Keys) -> int:
    redis = await connect(url)
    value = await redis.hget(keys.state("detectors"), "processed")
    await redis.aclose()
    return int(value or 0)


class BaselineProbe:
    """A detector that only records the baselines it is given."""

    name = "probe"

    def __init__(self) -> None:
        self.given: list[tuple[str, Baseline]] = []

    def ids(self) -> frozenset[str]:
        return frozenset({"hk:HSI"})

    def on_event(self, event: Tick | Metric) -> list[Alert]:
        return []

    def snapshot(self) -> dict[str, Any]:
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        pass

    def set_baselines(self, baselines: Mapping[str, Baseline]) -> None:
        self.given += list(baselines.items())


def test_detectors_get_each_session_s_baselines_from_the_history(redis_url: str, keys: Keys
                                                                 ) -> None:
    async def main() -> BaselineProbe:
        redis = await connect(redis_url)
        store = HistoryStore(redis, keys)
        first = date(2026, 3, 1)
        await store.put(("hk:HSI", DailyBar(date=first + timedelta(days=i), open=1, high=1,
                                            low=1, close=25000.0 + i, volume=2e11))
                        for i in range(37))  # up to 2026-04-06
        hk_open = 1775611800000  # 2026-04-08 09:30 Hong Kong
        for ts in (hk_open, hk_open + 60_000, hk_open + 86_400_000):  # two events, next day
            await redis.xadd(keys.events("hk"), {FIELD: encode(Tick(id="hk:HSI", ts=ts,
                                                                    price=25100.0))})
        probe = BaselineProbe()
        agent = Agent("probe", [probe], redis, keys, AgentConfig(), history=store, window=20)
        await agent.start()
        while await agent.step():
            pass
        await redis.aclose()
        return probe

    probe = asyncio.run(main())
    assert [ident for ident, _ in probe.given] == ["hk:HSI", "hk:HSI"]  # once a session
    first, second = (baseline for _, baseline in probe.given)
    assert not first.warming_up and first.previous_close == 25036.0
    assert first.average_volume == 2e11 and second.sessions == first.sessions
