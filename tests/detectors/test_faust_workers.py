"""Two real Faust workers (`crosscurrent worker --engine faust`, as processes) on a
Kafka-protocol broker (librdkafka's mock cluster): one is killed (-9) half-way, the other
takes its partitions over with their table state, and the tape's alerts come out as from
the embedded engine, none lost, none twice."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiokafka.partitioner import DefaultPartitioner

from crosscurrent.config import load_config
from crosscurrent.events import Alert
from detectors.faust_engine import MARKET
from streams.kafka_bus import KafkaWriter, topic_names
from streams.keys import Keys
from streams.redis_client import connect
from streams.simulators.kafka import PARTITIONS, mock_broker
from streams.tape import read_tape
from tests.conftest import SEED_TAPE
from tests.detectors.faust_helpers import (
    alerts_in,
    embedded_alerts,
    events_of,
    put_history,
    transitions,
)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def workers_hash(url: str, keys: Keys) -> dict[str, str]:
    redis = await connect(url)
    try:
        found = await redis.hgetall(keys.workers)
        return {_text(k): _text(v) for k, v in found.items()}
    finally:
        await redis.aclose()


async def settled(check: Callable[[], Awaitable[bool]], timeout: float) -> bool:
    """Whether `check` came true within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


# The mock's group coordinator ends a rebalance on the leader's SyncGroup and answers a
# follower's later one with InvalidRequestError (42); it elects the static member whose
# instance id sorts first. With the worker that joins second as the leader, the idle follower
# syncs first, and the group settles in one rebalance. The other way round, the joining
# worker, still starting up, syncs after the leader when the machine is busy (5 runs of 6
# beside two busy loops, none of 1 on an idle machine): it is refused, takes the error
# (`watch_group_errors`) and rejoins.
ORDERS = {"joiner-leads": ("worker-z", "worker-a"), "joiner-follows": ("worker-0", "worker-z")}


@pytest.mark.timeout(480)
@pytest.mark.parametrize("order", ORDERS)
def test_two_workers_one_killed_give_the_embedded_engines_alerts(
        redis_url: str, keys: Keys, tmp_path: Path, order: str) -> None:
    first, second = ORDERS[order]
    config = load_config(env={})
    tape = read_tape(SEED_TAPE)
    events = events_of(tape)
    reference, ours = Keys("cc", f"{keys.namespace}-e"), Keys("cc", f"{keys.namespace}-f")

    async def main(broker: str) -> tuple[list[Alert], list[Alert], str]:
        expected = await embedded_alerts(redis_url, reference, tape, config)
        await put_history(redis_url, ours, tape, config)
        settings = tmp_path / "scale.yaml"
        settings.write_text(f"kafka: {{broker: 'kafka://{broker}', partitions: {PARTITIONS}, "
                            "declare: false, session_timeout_s: 6, idle_s: 60}\n")
        logs: dict[int, Path] = {}

        async def start_worker(instance: str) -> asyncio.subprocess.Process:
            log = tmp_path / f"{instance}.log"
            with log.open("wb") as out:
                worker = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "crosscurrent", "worker", "--engine", "faust",
                    "--redis", redis_url, "--namespace", ours.namespace, "--config",
                    str(settings), "--instance-id", instance, "--verbose",
                    stdout=out, stderr=asyncio.subprocess.STDOUT)
            logs[worker.pid] = log
            return worker

        async def what_they_said() -> str:
            """The workers' hash in Redis and the tail of each worker's log."""
            said = [f"{await workers_hash(redis_url, ours)}"]
            said += [f"--- {log.name} (pid {pid}):\n{log.read_text(errors='replace')[-4000:]}"
                     for pid, log in logs.items()]
            return "\n".join(said)

        def holding(n: int) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                held = await workers_hash(redis_url, ours)
                return sum(bool(v) for k, v in held.items() if k.endswith(".partitions")) == n
            return check

        writer = KafkaWriter(f"kafka://{broker}", topic_names("cc", ours.namespace)[0])
        await writer.start()
        await writer.producer.partitions_for(writer.topic)  # the mock makes the topic now
        sending = asyncio.create_task(writer.run())
        workers = [await start_worker(first)]
        try:
            assert await settled(holding(1), 120), \
                f"the first worker got no partitions: {await what_they_said()}"
            workers.append(await start_worker(second))
            assert await settled(holding(2), 120), \
                f"the two workers did not share: {await what_they_said()}"
            half = len(events) // 2
            for event in events[:half]:
                await writer.put(event)
            await writer.flush()

            async def half_done() -> bool:  # and one of them runs the cross-market stage
                counts = await workers_hash(redis_url, ours)
                done = sum(int(v) for k, v in counts.items()
                           if k.endswith("instruments.consumed"))
                return done >= half and any(k.endswith("market.consumed") for k in counts)

            assert await settled(half_done, 90), \
                f"the workers did not take half the tape: {await what_they_said()}"
            held = await workers_hash(redis_url, ours)
            market = str(DefaultPartitioner()(MARKET, list(range(PARTITIONS)), []))
            holder = next(k.split(".")[0] for k, v in held.items()
                          if k.endswith(".partitions") and market in v.split(","))
            victim = next(w for w in workers if holder.endswith(f":{w.pid}"))
            victim.kill()  # -9, the one running the cross-market stage, mid-tape
            await victim.wait()
            for event in events[half:]:
                await writer.put(event)
            await writer.flush()

            async def all_alerts() -> bool:
                return transitions(await alerts_in(redis_url, ours)) == transitions(expected)

            await settled(all_alerts, 150)  # compared below, with the difference shown
            await asyncio.sleep(3)  # anything late or doubled would come now
            (survivor,) = [w for w in workers if w is not victim]
            survivor.send_signal(signal.SIGTERM)
            await asyncio.wait_for(survivor.wait(), 60)
            said = await what_they_said()
            assert survivor.returncode == 0, said
            return expected, await alerts_in(redis_url, ours), said
        finally:
            sending.cancel()
            await writer.stop()
            for worker in workers:
                if worker.returncode is None:
                    worker.kill()
                    await worker.wait()

    with mock_broker() as broker:
        expected, got, said = asyncio.run(main(broker))
    assert len(expected) > 20
    assert transitions(got) == transitions(expected), said
    assert len({a.uid for a in got}) == len(got)  # none written twice
