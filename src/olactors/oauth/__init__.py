"""OAuth2 connections for the app's users: the connect flow, the vault, fresh tokens."""

from ._api import USER_PATTERN, ReauthNeeded, fresh_or_refused
from ._connections import Connection
from ._providers import OAuthProvider, providers
from ._refresh import Refresher, due
from ._tree import OAuth
from ._vault import Keyring, VaultError

__all__ = [
    "USER_PATTERN",
    "Connection",
    "Keyring",
    "OAuth",
    "OAuthProvider",
    "ReauthNeeded",
    "Refresher",
    "VaultError",
    "due",
    "fresh_or_refused",
    "providers",
]
