"""`crosscurrent run --bus kafka` (a process, fed by the Binance simulator): every market
event reaches Kafka on its instrument id's partition, several a message, and Redis too; no
detector runs there."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from crosscurrent.events import Tick, decode_entry
from streams.kafka_bus import KafkaWriter, partition_of, topic_names
from streams.keys import Keys
from streams.redis_client import connect
from streams.simulators.binance import BinanceSimulator
from streams.simulators.kafka import PARTITIONS, mock_broker
from streams.tape import TapeEvent
from tests.conftest import stream_events
from tests.test_cli import crosscurrent

START = 1775635200000


def test_run_on_the_kafka_bus_publishes_every_event_on_its_id_s_partition(
        redis_url: str, keys: Keys, tmp_path: Path) -> None:
    ours = Keys("cc", keys.namespace)

    async def main(broker: str) -> tuple[dict[tuple[str, int], int], int, int, str]:
        sim = BinanceSimulator()
        await sim.start()
        config = tmp_path / "live.yaml"
        rest = sim.url.replace("ws", "http")
        config.write_text(f"watchlist: [crypto:BTC, crypto:ETH]\nsources:\n  binance: "
                          f"{{ws_url: '{sim.url}', rest_url: '{rest}'}}\n"
                          f"kafka: {{broker: 'kafka://{broker}', declare: false}}\n"
                          # START's fixed day passes the edge whatever the wall clock says
                          "feeds: {max_past_s: 1.0e+9, max_future_s: 1.0e+9}\n")
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "crosscurrent", "run", "--plain", "--bus", "kafka",
            "--redis", redis_url, "--namespace", ours.namespace, "--config", str(config),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        try:
            await sim.wait_subscribed(["crypto:BTC", "crypto:ETH"], timeout=60)
            for n in range(50):
                for ident in ("crypto:BTC", "crypto:ETH"):
                    await sim.publish(TapeEvent(ts=START + n, id=ident, value=100.0 + n,
                                                prev_close=100.0))
            consumer = AIOKafkaConsumer(
                topic_names("cc", ours.namespace)[0], bootstrap_servers=broker,
                auto_offset_reset="earliest", group_id="test")
            await consumer.start()
            keyed: dict[tuple[str, int], int] = {}  # (id, partition) -> events
            try:
                async with asyncio.timeout(60):
                    while sum(keyed.values()) < sim.frames_sent:
                        for records in (await consumer.getmany(timeout_ms=500)).values():
                            for record in records:
                                for event in decode_entry(record.value)[0]:
                                    assert isinstance(event, Tick)
                                    found = event.id, record.partition
                                    keyed[found] = keyed.get(found, 0) + 1
            finally:
                await consumer.stop()
            process.send_signal(signal.SIGTERM)
            said, _ = await asyncio.wait_for(process.communicate(), 30)
            redis = await connect(redis_url)
            on_redis = len(await stream_events(redis, ours.events("crypto")))
            consumed = int(await redis.hget(ours.stats, "agent.detectors.consumed") or 0)
            await redis.aclose()
            return keyed, on_redis, consumed, said.decode()
        finally:
            if process.returncode is None:
                process.kill()
            await sim.stop()

    with mock_broker() as broker:
        keyed, on_redis, consumed, said = asyncio.run(main(broker))
    ids = ("crypto:BTC", "crypto:ETH")
    assert set(keyed) == {(i, partition_of(i.encode(), PARTITIONS)) for i in ids}, said
    btc, eth = (keyed[i, partition_of(i.encode(), PARTITIONS)] for i in ids)
    assert btc == eth >= 50  # a trade and a ticker each
    assert on_redis == sum(keyed.values())  # Redis serves the same events
    assert consumed == 0  # the detectors run in the Faust workers, not here


def test_an_unreachable_broker_is_one_line_that_says_what_to_do(redis_url: str, keys: Keys,
                                                                tmp_path: Path) -> None:
    config = tmp_path / "live.yaml"
    config.write_text("watchlist: [crypto:BTC]\nkafka: {broker: 'kafka://127.0.0.1:1'}\n")
    done = crosscurrent("run", "--plain", "--bus", "kafka", "--redis", redis_url,
                        "--namespace", keys.namespace, "--config", str(config), timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "cannot reach Kafka at kafka://127.0.0.1:1" in line and "kafka.broker" in line


def test_events_without_a_receive_time_get_the_order_they_were_put_in() -> None:
    received = Tick(id="crypto:BTC", ts=START, price=1.0, recv_ns=5)
    put = [Tick(id=i, ts=START, price=1.0) for i in ("stable:USDT", "stable:USDC", "x:Y")]

    async def main(broker: str) -> list[Tick]:
        writer = KafkaWriter(f"kafka://{broker}", "ordered")
        await writer.start()
        sending = asyncio.create_task(writer.run())
        for event in [received, *put]:
            await writer.put(event)
        await writer.flush()
        sending.cancel()
        await writer.stop()
        consumer = AIOKafkaConsumer("ordered", bootstrap_servers=broker,
                                    auto_offset_reset="earliest", group_id="test")
        await consumer.start()
        found: list[Tick] = []
        try:
            async with asyncio.timeout(60):
                while len(found) < 4:
                    for records in (await consumer.getmany(timeout_ms=500)).values():
                        found += [e for r in records for e in decode_entry(r.value)[0]
                                  if isinstance(e, Tick)]
        finally:
            await consumer.stop()
        return found

    with mock_broker() as broker:
        found = {e.id: e.recv_ns for e in asyncio.run(main(broker))}
    assert found["crypto:BTC"] == 5  # a feed's receive time is kept
    stamped = [found[e.id] for e in put]
    assert stamped == sorted(set(stamped)) and stamped[0] > 0  # put order, none equal
