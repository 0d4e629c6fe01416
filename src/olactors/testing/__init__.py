"""Helpers for tests, benchmarks and chaos scripts: real services on loopback, no fakes of ours.

``FakeProvider`` stands in for the outside world only: a third-party API,
with its failures.
"""

from ._fake_provider import Canned, FakeProvider, Seen
from ._moto_server import MotoServer
from ._redis_server import RedisServer, free_port

__all__ = ["Canned", "FakeProvider", "MotoServer", "RedisServer", "Seen", "free_port"]
