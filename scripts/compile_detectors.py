"""Compile the detectors with mypyc into build/mypyc (see `detectors/compiled.py`), unless
that build is current. Run by `bash scripts/setup` with the `compiled` extra."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ["CROSSCURRENT_COMPILED"] = "0"  # no warning that the build is out of date
from detectors import compiled


def build(out: Path, step: Callable[[str], None] = lambda _: None) -> None:
    """Compile `compiled.MODULES` into `out` (a minute or two: mypy, then the C compiler);
    `step` is told each phase as it starts."""
    from mypyc.build import mypycify  # the `compiled` extra: needed only here
    from setuptools import setup

    sources = compiled.fingerprint()
    temp = out.parent / "mypyc-temp"
    shutil.rmtree(out, ignore_errors=True)
    os.chdir(compiled.ROOT)  # mypyc names the modules by their paths
    said = io.StringIO()  # mypyc's notes on what it compiles less well: shown on failure
    try:
        with contextlib.redirect_stdout(said):
            step(f"mypy: type-checking {len(compiled.MODULES)} modules, writing C")
            modules = mypycify([f"detectors/{m}.py" for m in compiled.MODULES],
                               group_name=compiled.GROUP, target_dir=str(temp))
            step("C compiler: building the extension")
            setup(name=compiled.GROUP,
                  script_args=["--quiet", "build_ext", "--build-lib", str(out),
                               "--build-temp", str(temp), "--parallel", "2"],
                  ext_modules=modules)
    except BaseException:
        print(said.getvalue(), end="", file=sys.stderr)
        raise
    (out / compiled.STAMP).write_text(sources + "\n")


def build_with_progress(out: Path) -> None:
    """`build`, with a bar of its two phases and the time spent, on a terminal."""
    from crosscurrent.screen import Bar

    phases = iter(range(2))
    with Bar("compile", 2) as bar:
        build(out, lambda text: bar(next(phases), text))


def main() -> int:
    if compiled.status() == "compiled":
        return 0
    print("compiling the detectors with mypyc (about a minute, once for these sources)…",
          flush=True)
    started = time.perf_counter()
    try:
        build_with_progress(compiled.BUILD)
    except (Exception, SystemExit) as exc:  # mypyc and setuptools exit on errors
        if isinstance(exc, SystemExit) and isinstance(exc.code, int):  # mypy's, shown above
            why, fix = "mypy's errors above", ""
        else:
            why = str(exc) if len(str(exc)) <= 120 else f"{str(exc)[:120]}…"
            fix = (". With a C compiler and Python's headers (apt-get install gcc python3-dev), "
                   "`.venv/bin/python scripts/compile_detectors.py` compiles them")
        print(f"note: the detectors were not compiled ({why}); they run as Python{fix}",
              file=sys.stderr)
        return 1
    print(f"compiled the detectors with mypyc in {time.perf_counter() - started:.0f} s "
          f"({compiled.BUILD.relative_to(compiled.ROOT)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
