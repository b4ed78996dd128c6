"""Benchmarks: documented commands that print figures (see README, "Benchmarks")."""
