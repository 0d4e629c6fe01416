"""The receiving app the broadcast tests deliver to."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio

from olactors.testing import Canned, FakeProvider


@pytest.fixture
async def receiver() -> AsyncIterator[FakeProvider]:
    app = FakeProvider(Canned(200, json={"ok": True}))
    async with trio.open_nursery() as nursery:
        await nursery.start(app.serve)
        yield app
        nursery.cancel_scope.cancel()
