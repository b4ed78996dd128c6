"""Detector logic (sans-I/O) and the agent runtime that runs it over Redis Streams."""
