"""A sync's database, sqlite and PostgreSQL alike: each test gets a fresh one."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest

from olactors.sync._sql import Database, open_postgres, open_sqlite

from .support import FakeStripe, customer, fake_stripe

#: The machine's PostgreSQL (trust auth); each test makes and drops its own database.
POSTGRES = "postgresql://postgres@127.0.0.1:5432"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    name = f"olactors_test_{secrets.token_hex(6)}"
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = open_sqlite(tmp_path / "sync.db")
    else:
        database = open_postgres(request.getfixturevalue("postgres_url"), None)
    try:
        yield database
    finally:
        database.close()


@pytest.fixture
async def stripe(request: pytest.FixtureRequest) -> AsyncIterator[FakeStripe]:
    """A fake Stripe with a module's ``STRIPE_CUSTOMERS`` customers (2 if it names none)."""
    count = getattr(request.module, "STRIPE_CUSTOMERS", 2)
    async with fake_stripe() as fake:
        fake.add(*(customer(n) for n in range(1, count + 1)))
        yield fake
