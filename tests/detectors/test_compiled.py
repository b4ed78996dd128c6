"""The detectors compiled by mypyc: used only for the sources they were built from, and
raising what the same detectors raise as Python."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from detectors import compiled
from tests.conftest import SEED_TAPE
from tests.detectors.scenario import DATA

ROOT = Path(__file__).resolve().parents[2]


def test_a_build_counts_only_for_the_sources_it_was_made_of(tmp_path: Path) -> None:
    root, build = tmp_path / "src", tmp_path / "build"
    for package in compiled.FINGERPRINTED:
        (root / package).mkdir(parents=True)
        (root / package / "a.py").write_text("x = 1\n")
    assert compiled.status(build, root) == "not built"
    build.mkdir()
    (build / compiled.STAMP).write_text(compiled.fingerprint(root) + "\n")
    assert compiled.status(build, root) == "compiled"
    (root / "streams" / "a.py").write_text("x = 2\n")  # a type the detectors were built on
    assert compiled.status(build, root) == "out of date"


def test_an_out_of_date_build_is_left_aside_with_a_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / compiled.STAMP).write_text("0" * 64 + "\n")
    path = ["detectors"]
    assert compiled.use(path, tmp_path) == "out of date"
    assert path == ["detectors"]
    assert "older than the sources" in caplog.text and "compile_detectors.py" in caplog.text


def test_compiled_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(compiled.OFF, "0")
    path = ["detectors"]
    assert compiled.use(path) == "off"
    assert path == ["detectors"]
    assert compiled.described("off") == "as Python (off)"


def test_a_stamp_without_its_library_is_not_a_build(tmp_path: Path) -> None:
    (tmp_path / compiled.STAMP).write_text(compiled.fingerprint() + "\n")
    path = ["detectors"]
    assert compiled.use(path, tmp_path) == "not built"
    assert path == ["detectors"]


def checkout_copy(root: Path) -> Path:
    """The packages and scripts of this checkout copied to `root`: a build/ of its own."""
    for part in (*compiled.FINGERPRINTED, "scripts"):
        shutil.copytree(ROOT / part, root / part,
                        ignore=shutil.ignore_patterns("__pycache__", "data"))
    return root


def build(root: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """`scripts/compile_detectors.py` run in the copy at `root`: what it did, and how that
    copy's detectors then run."""
    env = {**os.environ, **env, "PYTHONPATH": str(root)}
    built = subprocess.run([sys.executable, "scripts/compile_detectors.py"], cwd=root,
                           env=env, capture_output=True, text=True, timeout=300)
    ran = subprocess.run([sys.executable, "-c", "import detectors; print(detectors.RUNS_AS)"],
                         cwd=root, env=env, capture_output=True, text=True, check=True)
    return built, ran.stdout.strip()


def test_without_a_c_compiler_the_build_says_so_and_they_run_as_python(tmp_path: Path) -> None:
    built, runs_as = build(checkout_copy(tmp_path), CC="false")
    assert built.returncode == 1
    said = built.stderr.strip().splitlines()[-1]
    assert said.startswith("note: the detectors were not compiled (error: ") and \
        "); they run as Python. With a C compiler" in said, built.stderr
    assert runs_as == "not built"


def test_a_type_error_stops_the_build_with_mypys_message(tmp_path: Path) -> None:
    rules = checkout_copy(tmp_path) / "detectors" / "rules.py"
    rules.write_text(rules.read_text() + 'WRONG: int = "a"\n')
    built, runs_as = build(tmp_path)
    assert built.returncode == 1
    assert "detectors/rules.py" in built.stderr and "Incompatible types" in built.stderr
    assert built.stderr.strip().splitlines()[-1] == (
        "note: the detectors were not compiled (mypy's errors above); they run as Python")
    assert runs_as == "not built"


RUN = """
import sys
import orjson
import detectors
from pathlib import Path
from tests.detectors.scenario import run_tape
alerts, detected = run_tape(Path(sys.argv[1]))
print(detectors.RUNS_AS)
sys.stdout.buffer.write(orjson.dumps([  # all but when the process took each tick
    [a.model_dump(mode="json", exclude={"trigger_recv_ns"}) for a in alerts],
    detected.snapshot()]))
"""


def run_as(tape: Path, flag: str) -> tuple[str, object]:
    """How the detectors ran in a process of their own, and what they raised and kept."""
    done = subprocess.run([sys.executable, "-c", RUN, str(tape)],
                          env={**os.environ, compiled.OFF: flag}, cwd=ROOT,
                          capture_output=True, check=True, timeout=120)
    runs_as, found = done.stdout.split(b"\n", 1)
    return runs_as.decode(), orjson.loads(found)


@pytest.mark.skipif(compiled.status() != "compiled",
                    reason="the detectors are not compiled (bash scripts/setup dev,compiled)")
@pytest.mark.parametrize("tape", [SEED_TAPE, DATA / "crash-day.jsonl"], ids=["seed", "crash"])
def test_compiled_detectors_raise_and_keep_what_python_does(tape: Path) -> None:
    runs_as, found = run_as(tape, "1")
    assert runs_as == "compiled"
    as_python, expected = run_as(tape, "0")
    assert as_python == "off"
    assert found == expected
    assert isinstance(expected, list) and len(expected[0]) > 10  # alerts to compare
