"""Helpers for tests, benchmarks and chaos scripts: real services on loopback, no fakes."""

from ._redis_server import RedisServer, free_port

__all__ = ["RedisServer", "free_port"]
