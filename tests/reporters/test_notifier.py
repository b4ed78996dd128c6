"""Notifications end to end: the notifier and deliverers on a real Redis, apprise's json://
client, and a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from crosscurrent.config import AgentConfig
from crosscurrent.events import Alert, AlertState, Severity, encode
from crosscurrent.notify_config import Lang, NotifyConfig
from reporters.notifier import Deliverer, Notifier, ReceiverError, resolve_url, with_cli_receivers
from reporters.silences import new_silence, save_silence
from streams.bus import FIELD
from streams.keys import Keys
from streams.redis_client import connect
from tests.conftest import OUTAGE_S, free_port
from tests.detectors.scenario import DATA
from tests.reporters.receiver import Receiver, receiver, reference

FAST = NotifyConfig(group_wait_s=0, group_interval_s=0, keep_firing_for_s=0)


def alerts(n: int) -> list[Alert]:
    return [Alert(ts=1_000 * i, detector="divergence", key=f"k{i}", state=AlertState.FIRING,
                  severity=Severity.WARNING, ids=("crypto:BTC",), title=f"alert {i}",
                  title_zh=f"告警 {i}") for i in range(n)]


async def pipeline(url: str, keys: Keys, hook: str, until: int, sink: Receiver,
                   timeout: float = 30, summary_after: int | None = None,
                   lang: Lang | None = None) -> tuple[Notifier, Deliverer]:
    """Run a notifier and its deliverer until the receiver has `until` messages."""
    redis = await connect(url)
    config = with_cli_receivers(FAST, [hook])
    config = config.model_copy(update={"receivers": tuple(
        r.model_copy(update={"retry_initial_s": 0.05, "retry_max_s": 0.2, "per_minute": 6000,
                             "summary_after": summary_after})
        for r in config.receivers)})
    notifier = Notifier(config, redis, keys, AgentConfig(batch=5), clock=lambda: 0)
    deliverer = Deliverer(config.receivers[0], redis, keys, lang=lang)
    await notifier.start()
    tasks = [asyncio.create_task(notifier.run()), asyncio.create_task(deliverer.run())]
    try:
        deadline = time.monotonic() + timeout
        while len(sink.received) < until and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    finally:  # as the app stops them: asked first, so no Redis call is cut in the middle
        notifier.stop()
        deliverer.stop()
        _, pending = await asyncio.wait(tasks, timeout=15)
        for task in pending:
            task.print_stack()
        assert not pending, f"{pending} did not stop when asked"
        await redis.aclose()
    return notifier, deliverer


async def publish(url: str, keys: Keys, items: list[Alert]) -> None:
    redis = await connect(url)
    for item in items:
        await redis.xadd(keys.alerts, {FIELD: encode(item)})
    await redis.aclose()


def test_a_receiver_down_gets_everything_once_in_order_when_back(redis_url: str) -> None:
    keys = Keys("cc", "notify-down")
    with receiver() as sink:
        sink.refuse = 4  # down for the first four attempts
        asyncio.run(publish(redis_url, keys, alerts(6)))
        _, deliverer = asyncio.run(pipeline(redis_url, keys, sink.url, 6, sink))
        assert sink.silenced() == [f"k{i}" for i in range(6)]  # all, once, in order
        assert deliverer.failures == 4 and len(set(sink.refs())) == 6


@pytest.mark.timeout(OUTAGE_S + 90)
def test_a_receiver_down_for_a_while_gets_every_alert_of_the_outage(redis_url: str) -> None:
    """Nothing listens on the receiver's port for OUTAGE_S (minutes in the long variant)
    while alerts keep coming; once it is back, each one arrives once, in order."""
    keys = Keys("cc", "notify-outage")
    port, sink = free_port(), Receiver()
    url = f"json://127.0.0.1:{port}/hook"

    async def outage() -> None:
        await publish(redis_url, keys, alerts(3))
        await asyncio.sleep(OUTAGE_S / 2)
        await publish(redis_url, keys, alerts(6)[3:])
        await asyncio.sleep(OUTAGE_S / 2)
        back.enter_context(receiver(port, sink))

    async def main() -> Deliverer:
        task = asyncio.create_task(outage())
        _, deliverer = await pipeline(redis_url, keys, url, 6, sink, timeout=OUTAGE_S + 60)
        await task
        return deliverer

    with contextlib.ExitStack() as back:
        deliverer = asyncio.run(main())
    assert sink.silenced() == [f"k{i}" for i in range(6)]
    assert deliverer.failures >= 2 and deliverer.delivered == 6


def test_a_long_outage_can_end_in_one_summary(redis_url: str) -> None:
    keys = Keys("cc", "notify-summary")
    with receiver() as sink:
        sink.refuse = 3
        asyncio.run(publish(redis_url, keys, alerts(8)))
        _, deliverer = asyncio.run(pipeline(redis_url, keys, sink.url, 1, sink,
                                            summary_after=3))
        (message,) = sink.received
        assert "8 alerts while this channel was unreachable" in message["title"]
        lines = message["message"].splitlines()
        assert [line.rsplit(" ", 2)[1:] for line in lines[:8]] == \
            [["alert", str(i)] for i in range(8)]  # every one, in order
        silence, notices = reference(message)
        assert silence == [f"k{i}" for i in range(8)] and len(set(notices)) == 8
        assert deliverer.delivered == 8


def test_a_silence_in_redis_mutes_the_notifier(redis_url: str) -> None:
    keys = Keys("cc", "notify-silence")

    async def silence() -> None:
        redis = await connect(redis_url)
        await save_silence(redis, keys, new_silence("key=k1,k2", 0, 10**9, "test"))
        await redis.aclose()

    with receiver() as sink:
        asyncio.run(silence())
        asyncio.run(publish(redis_url, keys, alerts(4)))
        asyncio.run(pipeline(redis_url, keys, sink.url, 2, sink))
        time.sleep(0.3)
        assert sorted(sink.silenced()) == ["k0", "k3"]


def test_a_restart_mid_stream_sends_nothing_twice_and_loses_nothing(redis_url: str) -> None:
    keys = Keys("cc", "notify-restart")
    with receiver() as sink:
        asyncio.run(publish(redis_url, keys, alerts(30)))
        asyncio.run(pipeline(redis_url, keys, sink.url, 7, sink))  # stopped part-way
        assert 7 <= len(sink.refs()) < 30
        asyncio.run(publish(redis_url, keys, alerts(40)[30:]))
        asyncio.run(pipeline(redis_url, keys, sink.url, 40, sink))
        counts = Counter(sink.silenced())
        assert set(counts) == {f"k{i}" for i in range(40)} and set(counts.values()) == {1}


def test_replay_notifies_each_firing_alert_once(redis_url: str, tmp_path: Path) -> None:
    with receiver() as sink:
        result = subprocess.run(
            [sys.executable, "-m", "crosscurrent", "replay", str(DATA / "crash-day.jsonl"),
             "--out", str(tmp_path), "--redis", redis_url, "--notify", sink.url],
            capture_output=True, text=True, timeout=180,
            env=dict(os.environ, COLUMNS="200"))  # the default lifecycle
        assert result.returncode == 0, result.stderr
        raised = [orjson.loads(line) for line in (tmp_path / "alerts.jsonl").read_text()
                  .splitlines()]
        firing = Counter(a["key"] for a in raised if a["state"] == "firing")
        assert sum(firing.values()) > 20
        # each firing alert, exactly once (no key of this tape fires twice in one notice:
        # a notice's silence command names a key once)
        assert Counter(sink.silenced()) == firing
        assert len(sink.refs()) < sum(firing.values())  # grouped into fewer messages
        assert len(sink.refs()) == len(set(sink.refs()))
        assert "receiver cli:" in result.stdout and "delivered" in result.stdout


def test_secrets_in_receiver_urls_are_never_printed(tmp_path: Path) -> None:
    secret = "json://user:S3CRET-TOKEN@127.0.0.1:9/hook"
    result = subprocess.run(
        [sys.executable, "-m", "crosscurrent", "notify", "test", "--notify", "env:HOOK_URL"],
        capture_output=True, text=True, timeout=60, env=dict(os.environ, HOOK_URL=secret))
    assert result.returncode == 1
    assert "S3CRET" not in result.stdout + result.stderr
    assert "receiver cli: delivery failed" in result.stdout
    with pytest.raises(ReceiverError, match="environment variable NOPE is not set"):
        resolve_url("r", "env:NOPE", env={})
    secret_file = tmp_path / "url"
    secret_file.write_text(secret + "\n")
    assert resolve_url("r", f"file:{secret_file}") == secret
