"""Errors a user can fix, and the checks that raise them before any work starts."""

from __future__ import annotations

import tempfile
from pathlib import Path


class UserError(Exception):
    """An error the user can fix: printed as one line, exit status 2."""


def writable(directory: Path, flag: str, mode: int = 0o777) -> None:
    """Make `directory` (`mode`, before the umask) and write a file in it, or a UserError
    naming it and the OS error (before the work that would write there)."""
    try:
        for missing in reversed([p for p in directory.parents if not p.exists()]):
            missing.mkdir(mode=mode, exist_ok=True)  # its parents private too, where it is
        directory.mkdir(exist_ok=True, mode=mode)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        why = "a file is in the way" if isinstance(exc, FileExistsError) else exc.strerror
        raise UserError(f"{flag} {directory}: cannot write there ({why or exc}); give a "
                        "directory this user can write to") from None
