"""A Faust worker (`crosscurrent worker --engine faust`, a process, on librdkafka's mock
cluster) killed (-9) after it took the tape and before it committed any of it: the next
worker takes every batch again, from the table state of the changelog, and the alerts come
out as from the embedded engine, none twice."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from crosscurrent.config import load_config
from crosscurrent.events import Alert
from streams.kafka_bus import KafkaWriter, topic_names
from streams.keys import Keys
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
from tests.detectors.test_faust_workers import settled, workers_hash


@pytest.mark.timeout(300)
def test_batches_replayed_after_a_worker_dies_raise_no_alert_twice(
        redis_url: str, keys: Keys, tmp_path: Path) -> None:
    config = load_config(env={})
    tape = read_tape(SEED_TAPE)
    events = events_of(tape)
    reference, ours = Keys("cc", f"{keys.namespace}-e"), Keys("cc", f"{keys.namespace}-f")

    async def main(broker: str) -> tuple[list[Alert], list[Alert], dict[str, str], str]:
        expected = await embedded_alerts(redis_url, reference, tape, config)
        await put_history(redis_url, ours, tape, config)
        settings = tmp_path / "replay.yaml"
        settings.write_text(f"kafka: {{broker: 'kafka://{broker}', partitions: {PARTITIONS}, "
                            "declare: false, session_timeout_s: 6, idle_s: 5, "
                            "commit_interval_s: 3600}\n")  # none before the kill
        logs: list[Path] = []

        async def start_worker() -> asyncio.subprocess.Process:
            log = tmp_path / f"worker-{len(logs)}.log"
            logs.append(log)
            with log.open("wb") as out:
                return await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "crosscurrent", "worker", "--engine", "faust",
                    "--redis", redis_url, "--namespace", ours.namespace, "--config",
                    str(settings), "--instance-id", "replayed", "--verbose",
                    stdout=out, stderr=asyncio.subprocess.STDOUT)

        writer = KafkaWriter(f"kafka://{broker}", topic_names("cc", ours.namespace)[0])
        await writer.start()
        sending = asyncio.create_task(writer.run())
        for event in events:
            await writer.put(event)
        await writer.flush()
        workers = [await start_worker()]
        try:
            async def first_took_all() -> bool:
                said = await workers_hash(redis_url, ours)
                consumed = sum(int(v) for k, v in said.items()
                               if k.endswith("instruments.consumed"))
                taken = sum(int(v) for k, v in said.items() if k.endswith("market.taken"))
                forwarded = sum(int(v) for k, v in said.items()
                                if k.endswith("instruments.forwarded"))
                return consumed >= len(events) and taken >= forwarded > 0

            assert await settled(first_took_all, 120), "\n".join(
                log.read_text(errors="replace")[-3000:] for log in logs)
            first_alerts = await alerts_in(redis_url, ours)
            workers[0].kill()  # -9: nothing committed, the changelog as far as it got
            await workers[0].wait()
            workers.append(await start_worker())
            second = workers[1].pid

            async def second_took_all() -> bool:
                said = await workers_hash(redis_url, ours)
                return any(k.endswith(f":{second}.instruments.consumed")
                           and int(v) >= len(events) for k, v in said.items())

            assert await settled(second_took_all, 120), "\n".join(
                log.read_text(errors="replace")[-3000:] for log in logs)
            await asyncio.sleep(7)  # past idle_s: whatever the market stage held is out
            said = await workers_hash(redis_url, ours)
            assert first_alerts
            return expected, await alerts_in(redis_url, ours), said, "\n".join(
                log.read_text(errors="replace")[-3000:] for log in logs)
        finally:
            sending.cancel()
            await writer.stop()
            for worker in workers:
                if worker.returncode is None:
                    worker.kill()
                    await worker.wait()

    with mock_broker() as broker:
        expected, got, said, logs = asyncio.run(main(broker))
    # the second worker took every event again, and its market stage knew the changes
    assert any(k.endswith("market.repeated") and int(v) > 0 for k, v in said.items()), said
    assert len(expected) > 20
    assert transitions(got) == transitions(expected), logs
    assert len({a.uid for a in got}) == len(got)  # none written twice
