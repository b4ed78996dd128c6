"""Feeds, normalisation, the Redis Streams bus, replay and the local exchange simulators."""
