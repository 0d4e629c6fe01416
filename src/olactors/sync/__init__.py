"""Data sync: external records kept in step with a local database, one actor per sync."""

from ._actor import Refresh, SyncFailed
from ._service import SYNC_PATH
from ._tree import Sync

__all__ = ["SYNC_PATH", "Refresh", "Sync", "SyncFailed"]
