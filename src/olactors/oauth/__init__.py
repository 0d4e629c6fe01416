"""OAuth2 connections for the app's users: the connect flow, the vault, fresh tokens."""

from ._connections import Connection
from ._providers import OAuthProvider, providers
from ._refresh import due
from ._tree import OAuth
from ._vault import Keyring, VaultError

__all__ = [
    "Connection",
    "Keyring",
    "OAuth",
    "OAuthProvider",
    "VaultError",
    "due",
    "providers",
]
