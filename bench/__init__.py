"""Benchmarks: documented commands that print figures (see README, "Benchmarks")."""

from __future__ import annotations


class BenchError(Exception):
    """The bench cannot go on; the message says what to do next (the CLI prints it as one
    line)."""
