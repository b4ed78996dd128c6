"""The detectors compiled to C by mypyc, used where a build of these very sources is at hand.

`scripts/compile_detectors.py` (run by `scripts/setup` with the `compiled` extra) compiles
the modules of `MODULES` into `build/mypyc/` of the checkout, and stamps the build with a
fingerprint of the sources of `crosscurrent/`, `streams/` and `detectors/` (the compiled code
and the types it was compiled against). On import, `detectors` puts the build first on its
path if the stamp matches the sources as they are now; after any edit it runs as Python, with
one warning, until the build is made again. `CROSSCURRENT_COMPILED=0` runs it as Python.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)

# Not `base` (runtime-checkable Protocols must stay Python classes), nor the Faust engine and
# its fixes (they replace methods of Python classes): neither is on the per-event path.
MODULES = ("agent", "breadth", "chain", "common", "divergence", "flows", "large_move",
           "level_break", "leverage", "macro", "rule_language", "rules", "stages", "synthesis")
GROUP = "crosscurrent_detectors"  # mypyc's shared library: `crosscurrent_detectors__mypyc`
ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "mypyc"
STAMP = "sources.sha256"
FINGERPRINTED = ("crosscurrent", "streams", "detectors")
OFF = "CROSSCURRENT_COMPILED"


def fingerprint(root: Path = ROOT) -> str:
    """The Python version's tag and every source the compiled code depends on, hashed."""
    digest = hashlib.sha256(sys.implementation.cache_tag.encode())
    for package in FINGERPRINTED:
        for path in sorted((root / package).glob("*.py")):
            digest.update(f"{package}/{path.name}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def status(build: Path = BUILD, root: Path = ROOT) -> str:
    """"compiled" if `build` holds a build of the sources under `root` as they are now, else
    "not built" or "out of date"."""
    try:
        stamp = (build / STAMP).read_text().strip()
    except OSError:
        return "not built"
    return "compiled" if stamp == fingerprint(root) else "out of date"


def described(runs_as: str) -> str:
    """"compiled by mypyc", or "as Python (why)" for what `use` returned."""
    return "compiled by mypyc" if runs_as == "compiled" else f"as Python ({runs_as})"


def use(package_path: list[str], build: Path = BUILD) -> str:
    """Put `build` first on the `detectors` package's path if it is current; returns
    `status`, or "off". The modules import mypyc's shared library by name: loaded here."""
    if os.environ.get(OFF, "1") == "0":
        return "off"
    found = status(build)
    if found == "out of date":
        log.warning("detectors: the compiled build in %s is older than the sources; they run "
                    "as Python (slower) until `.venv/bin/python scripts/compile_detectors.py` "
                    "builds it again (the scripts' setup does)", build)
    if found != "compiled":
        return found
    name = f"{GROUP}__mypyc"
    shared = build / f"{name}{importlib.machinery.EXTENSION_SUFFIXES[0]}"  # as setuptools names it
    if not shared.exists():  # a stamp left without its build
        return "not built"
    spec = importlib.util.spec_from_file_location(name, shared)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module
    package_path.insert(0, str(build / "detectors"))
    return found
