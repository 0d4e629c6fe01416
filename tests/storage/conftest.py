"""The outside world of the storage tests: moto's S3 server and a Supabase look-alike."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import trio

from olactors.testing import MotoServer

from .fake_supabase import FakeSupabase
from .support import make_bucket


@pytest.fixture
def moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        make_bucket(server.url, "uploads")
        yield server


@pytest.fixture
async def supabase() -> AsyncIterator[FakeSupabase]:
    fake = FakeSupabase()
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.server.serve)
        yield fake
        nursery.cancel_scope.cancel()
