"""`crosscurrent audit`: every stage's counts from Redis, and loss when they disagree."""

from __future__ import annotations

import asyncio
import math
import time

from crosscurrent.app import replay
from crosscurrent.config import load_config
from reporters.audit import audit, audit_window
from streams.keys import Keys
from streams.redis_client import connect
from streams.tape import read_tape
from tests.conftest import SEED_TAPE, QuietView
from tests.test_cli import crosscurrent


def test_a_replay_accounts_for_every_entry_and_alert(redis_url: str, keys: Keys) -> None:
    async def main() -> None:
        result = await replay(read_tape(SEED_TAPE), load_config(env={}), redis_url,
                              speed=math.inf, out=None, view=QuietView(),
                              namespace=keys.namespace)
        redis = await connect(redis_url)
        counted = await audit(redis, Keys("cc", keys.namespace))
        added = {x.name: x.counts["added"] for x in counted.lines if x.stage == "bus"}
        entries = {x.name: x.counts["entries"] for x in counted.lines if x.stage == "bus"}
        consumers = [x for x in counted.lines if x.stage == "consumer"]
        agents = {x.name: x.counts for x in counted.lines if x.stage == "agent"}
        (alerts,) = [x for x in counted.lines if x.stage == "alerts"]
        assert counted.lost == 0 and counted.stuck == 0 and not counted.unfinished
        assert all(x.counts["lag"] == 0 and x.counts["pending"] == 0 for x in consumers)
        feeds = {x.name: x.counts for x in counted.lines if x.stage == "feed"}
        assert feeds.keys() == set(result.frames)  # the replay's feed stage, every source
        for source, (sent, received, malformed) in result.frames.items():
            assert feeds[source]["sent"] == sent == feeds[source]["received"] == received > 0
            assert feeds[source]["malformed"] == malformed == 0
        assert all(x.counts["delivered"] == entries[x.name.split(" → ")[0]] for x in consumers)
        detectors = agents["detectors"]
        assert detectors["entries"] == detectors["acknowledged"] < detectors["consumed"]
        read = {x.name.split(" → ")[0] for x in consumers if x.name.endswith("→ detectors")}
        assert detectors["consumed"] == sum(added[name] for name in read) > 2000
        raised = len(result.alerts)
        assert raised > 20 and alerts.counts == {"raised": raised, "on the bus": raised}

        # the same counts in a window around the replay, none in one before it
        now = time.time_ns() // 1_000_000
        window = await audit_window(redis, Keys("cc", keys.namespace), now - 3_600_000, now)
        assert {x.name: x.counts["added"] for x in window.lines if x.stage == "bus"} == added
        assert {x.name: x.counts for x in window.lines if x.stage == "agent"} == {
            name: {k: v for k, v in counts.items() if k != "acknowledged"}
            for name, counts in agents.items()}
        assert window.lost == 0 and window.lines[-1].counts == alerts.counts
        before = await audit_window(redis, Keys("cc", keys.namespace), now - 7_200_000,
                                    now - 3_660_000)
        assert [x.stage for x in before.lines] == ["alerts"] and before.lines[0].counts == {
            "raised": 0, "on the bus": 0}

        # an entry acknowledged behind the agent's back: processed by nobody, and it shows
        stream = Keys("cc", keys.namespace).events("crypto")
        entry_id = await redis.xadd(stream, {"e": b"{}"})
        await redis.xreadgroup("detectors", "intruder", {stream: ">"}, count=1)
        await redis.xack(stream, "detectors", entry_id)
        assert (await audit(redis, Keys("cc", keys.namespace))).lost == 1
        await redis.aclose()

    asyncio.run(main())
    result = crosscurrent("audit", "--redis", redis_url, "--namespace", keys.namespace)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 entries unaccounted for" in result.stdout
    assert "committed and acknowledged counts differ" in " ".join(result.stdout.split())
    result = crosscurrent("audit", "--redis", redis_url, "--namespace", keys.namespace,
                          "--since", "1h")
    assert result.returncode == 0 and "(whole minutes, UTC)" in result.stdout, result.stderr
    result = crosscurrent("audit", "--redis", redis_url, "--since", "yesterday")
    assert result.returncode != 0 and "neither a duration" in result.stderr


def test_counts_kept_before_entries_held_several_events_still_reconcile(redis_url: str,
                                                                        keys: Keys) -> None:
    async def main() -> list[dict[str, int]]:
        redis = await connect(redis_url)
        stream = keys.events("crypto")
        ids = [await redis.xadd(stream, {"e": b"{}"}) for _ in range(5)]
        await redis.xgroup_create(stream, "old", id="0")
        await redis.xreadgroup("old", "c", {stream: ">"})
        await redis.xack(stream, "old", *ids)
        await redis.hset(keys.stats, "agent.old.consumed", 5)  # an entry each, no "entries"
        counted = await audit(redis, keys)
        await redis.aclose()
        assert counted.lost == 0
        return [x.counts for x in counted.lines if x.stage == "agent"]

    assert asyncio.run(main()) == [{"consumed": 5, "malformed": 0, "alerts": 0, "entries": 5,
                                    "acknowledged": 5}]


def test_pending_entries_idle_past_the_threshold_are_stuck(redis_url: str, keys: Keys
                                                           ) -> None:
    """A consumer that read entries and died: they sit pending, and audit says so."""

    async def main() -> tuple[int, int]:
        redis = await connect(redis_url)
        stream = keys.events("crypto")
        for _ in range(3):
            await redis.xadd(stream, {"e": b"{}"})
        await redis.xgroup_create(stream, "detectors", id="0")
        await redis.xreadgroup("detectors", "died", {stream: ">"}, count=2)
        await asyncio.sleep(0.2)
        fresh = (await audit(redis, keys)).stuck  # the default threshold: a minute
        stuck = (await audit(redis, keys, stuck_ms=100)).stuck
        await redis.aclose()
        return fresh, stuck

    fresh, stuck = asyncio.run(main())
    assert (fresh, stuck) == (0, 2)
    result = crosscurrent("audit", "--redis", redis_url, "--namespace", keys.namespace,
                          "--stuck-after", "0.1", env={"CROSSCURRENT_REDIS_PREFIX": keys.prefix})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 pending entries stuck (idle over 0.1s)" in " ".join(result.stdout.split())


def test_a_replay_that_stopped_before_its_end_is_never_called_complete(
        redis_url: str, keys: Keys) -> None:
    """Redis refused writes mid-replay (say): its feeds were never counted, so the stages
    that were cannot be reconciled, and audit must not say nothing was lost."""

    async def main() -> tuple[bool, bool]:
        redis = await connect(redis_url)
        await redis.set(keys.replayed, "running")
        await redis.xadd(keys.events("crypto"), {"e": b"{}"})
        unfinished = (await audit(redis, keys)).unfinished
        await redis.set(keys.owner, "{}")  # a replay under way holds its namespace
        under_way = (await audit(redis, keys)).unfinished
        await redis.delete(keys.owner)
        await redis.aclose()
        return unfinished, under_way

    assert asyncio.run(main()) == (True, False)
    result = crosscurrent("audit", "--redis", redis_url, "--namespace", keys.namespace,
                          env={"CROSSCURRENT_REDIS_PREFIX": keys.prefix})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "stopped before its end" in " ".join(result.stdout.split())
    assert "nothing lost" not in result.stdout
