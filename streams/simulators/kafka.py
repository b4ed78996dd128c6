"""A Kafka-protocol broker on 127.0.0.1 for tests and benchmarks: librdkafka's mock cluster,
kept alive by a confluent_kafka producer (a dev dependency) in a subprocess. It creates a
topic on first use, with 4 partitions, and cannot create topics on request (so Faust runs
with `declare: false`)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

PARTITIONS = 4  # what the mock gives a topic it creates

BROKER = """
import sys, confluent_kafka
keeper = confluent_kafka.Producer({"test.mock.num.brokers": 1, "log_level": 3})
broker = next(iter(keeper.list_topics(timeout=10).brokers.values()))
print(f"{broker.host}:{broker.port}", flush=True)
sys.stdin.read()  # alive until the test closes our stdin
"""


@contextmanager
def mock_broker() -> Iterator[str]:
    """The broker's host:port while the block runs."""
    process = subprocess.Popen([sys.executable, "-c", BROKER], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        address = process.stdout.readline().strip()
        if not address:
            raise RuntimeError(f"the mock broker did not start (exit {process.wait(10)})")
        yield address
    finally:
        if process.stdin:
            process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
