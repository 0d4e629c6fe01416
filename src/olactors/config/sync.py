"""``[sync]``: external records kept in step with a local database, one sync per table."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from ._base import Section

#: A sync's name: it becomes part of its tables' names, so plain.
SYNC_NAME = r"[a-z][a-z0-9_]{0,39}"
RESERVED = frozenset({"state", "runs", "conflicts", "runs_by_sync"})
RESERVED_ENDINGS = ("_staging", "_staging_page", "_seq", "_by_sync")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
#: A dotted path into a JSON document: ``data``, ``meta.next``, ``attributes.updated_at``.
_PATH = r"^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$"


def seconds(text: str) -> float:
    """``"15m"`` → 900.0 (ms, s, m, h, d); ValueError for anything else."""
    found = _DURATION.match(text.strip())
    if found is None:
        raise ValueError(f"{text!r} is not a duration such as 30s, 15m, 6h or 1d")
    value = float(found.group(1)) * _UNITS[found.group(2)]
    if value <= 0:
        raise ValueError(f"{text!r} is not a positive duration")
    return value


class SyncEntry(Section):
    """One sync: where its records come from, how often, and who wins a conflict."""

    source: Literal["stripe", "instagram", "http"]
    #: Stripe: which list is kept in step.
    object: Literal["customers", "payment_intents", "subscriptions"] | None = None
    #: Instagram: the app's id of the user whose connected account's media is kept.
    user: str | None = None
    #: How often it runs on its own (it also runs on demand, and on webhooks).
    every: str = "15m"
    #: Both sides changed a record since the last sync: the newer wins
    #: ("last-write-wins"), fields are merged against the last synced version
    #: ("merge", a field changed on both sides going to ``winner``), or the
    #: local record is kept and a person decides ("manual").
    conflict: Literal["last-write-wins", "merge", "manual"] = "last-write-wins"
    winner: Literal["external", "local"] = "external"
    #: Records the source no longer has are marked deleted, only after a full
    #: fetch that completed (never after a failed or partial one).
    allow_deletions: bool = False
    page_size: int = Field(default=100, ge=1, le=1000)
    #: http: the [providers.<name>] it is called through (budget, breaker,
    #: retries), the URL under that provider's base_url, and how its pages read.
    provider: str | None = None
    url: str | None = None
    #: The variable holding a token sent as ``Authorization: Bearer`` (else the
    #: provider's own secret_env, if it has one).
    auth_env: str | None = None
    items_path: str = Field(default="data", pattern=_PATH)
    next_cursor_path: str | None = Field(default=None, pattern=_PATH)
    cursor_param: str = "cursor"
    id_path: str = Field(default="id", pattern=_PATH)
    updated_at_path: str | None = Field(default=None, pattern=_PATH)
    #: Sent with the last run's high-water updated-at, the source returns only
    #: what changed since: runs are incremental (unset: every run is full).
    since_param: str | None = None
    limit_param: str | None = None

    @field_validator("every")
    @classmethod
    def _a_duration(cls, every: str) -> str:
        seconds(every)
        return every

    @property
    def every_s(self) -> float:
        return seconds(self.every)

    @model_validator(mode="after")
    def _has_what_its_source_needs(self) -> SyncEntry:
        needs = {
            "stripe": ("object",),
            "instagram": ("user",),
            "http": ("provider", "url"),
        }[self.source]
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.source} sync needs {', '.join(missing)}")
        if self.url is not None and urlsplit(self.url).scheme:
            raise ValueError("url is a path under the provider's base_url, not a full URL")
        return self


class SyncConfig(Section):
    """Where synced records live: PostgreSQL when ``database_url`` is set, else sqlite."""

    #: postgresql://user@host:port/dbname; the password, if any, from
    #: ``password_env`` (or libpq's own PGPASSWORD / ~/.pgpass), never here.
    database_url: str | None = None
    password_env: str | None = None
    sqlite_path: Path = Path("var/sync.db")
    syncs: dict[str, SyncEntry] = Field(default_factory=dict)

    @field_validator("database_url")
    @classmethod
    def _postgres_without_password(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError("must be a postgresql:// URL")
        if parts.password is not None or "password=" in parts.query:
            raise ValueError("must not hold a password: name its variable in password_env")
        return url

    @field_validator("syncs")
    @classmethod
    def _plain_names(cls, syncs: dict[str, SyncEntry]) -> dict[str, SyncEntry]:
        for name in syncs:
            if not re.fullmatch(SYNC_NAME, name):
                raise ValueError(f"sync name {name!r}: lower case letters, digits and _")
            # Its tables are sync_<name>, sync_<name>_staging and the index
            # sync_<name>_seq, beside the shared sync_state, sync_runs and
            # sync_conflicts: no name may make one of another's.
            if name in RESERVED or name.endswith(RESERVED_ENDINGS):
                raise ValueError(
                    f"sync name {name!r} would share a table with another sync or the "
                    "syncs' own tables: pick another"
                )
        return syncs
