"""Detector logic (sans-I/O) and the agent runtime that runs it over Redis Streams."""

from detectors import compiled

RUNS_AS = compiled.use(__path__)
"""How the detector modules run: "compiled" (by mypyc), else as Python because the build is
"off", "not built" or "out of date" (`detectors/compiled.py`)."""
