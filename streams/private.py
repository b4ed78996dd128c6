"""Private files and tied children: 0700 directories, 0600 files, children that die with us."""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def private_dir(path: Path) -> None:
    """Make `path` a 0700 directory: created so, or narrowed (with its files) and said so."""
    for missing in reversed([p for p in (path, *path.parents) if not p.exists()]):
        missing.mkdir(mode=0o700, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        _narrow(path)
        log.warning("%s was open to other users (mode %o): now 0700, its files too", path, mode)


def _narrow(top: Path) -> None:
    """Take the group's and others' permissions off `top` and everything under it."""
    for root, dirs, files in os.walk(top):
        for name in [*dirs, *files]:
            _take_others_off(Path(root) / name)
    _take_others_off(top)


def _take_others_off(path: Path) -> None:
    try:
        info = path.lstat()
        if not stat.S_ISLNK(info.st_mode) and stat.S_IMODE(info.st_mode) & 0o077:
            path.chmod(stat.S_IMODE(info.st_mode) & 0o700)
    except OSError as exc:  # not ours, or gone meanwhile
        log.debug("could not narrow %s: %s", path, exc)


def write_private(path: Path, text: str) -> None:
    """Write `path` whole, mode 0600 from its first byte (through a file renamed over it)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.chmod(temporary, 0o600)  # in case an earlier run left it wider
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@functools.cache
def _libc_prctl() -> Callable[..., int] | None:
    """libc's prctl on Linux, resolved in the parent (loading a library after fork is unsafe)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Any = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                      ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl  # type: ignore[no-any-return]


def _die_with(parent: int, prctl: Callable[..., int]) -> Callable[[], None]:
    """A preexec_fn: SIGTERM to the child when its parent dies."""

    def preexec() -> None:
        # This runs in the child, between fork and exec: nothing here may take a lock.
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl: no signal will come
            os._exit(1)

    return preexec


# PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not the process: tied
# children are forked by one thread of the process, which lives until the interpreter exits
# (a forked copy of this process makes its own).
_spawners: dict[int, ThreadPoolExecutor] = {}


def spawn_tied(args: Sequence[str], **popen: Any) -> subprocess.Popen[bytes]:
    """`subprocess.Popen` whose child gets SIGTERM when this process dies, even by kill -9."""
    # PR_SET_PDEATHSIG on Linux; elsewhere a plain child (a leftover is found at next start)
    prctl = _libc_prctl()
    if prctl is None:
        return subprocess.Popen(args, **popen)
    me = os.getpid()
    spawner = _spawners.get(me)
    if spawner is None:
        spawner = _spawners[me] = ThreadPoolExecutor(1, thread_name_prefix="tied-spawner")
    preexec = _die_with(me, prctl)
    return spawner.submit(lambda: subprocess.Popen(args, preexec_fn=preexec, **popen)).result()


def alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie (which has exited, unreaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return True  # no /proc: take kill's word
    return fields[0] != "Z"
