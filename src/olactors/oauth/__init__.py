"""OAuth2 connections for the app's users: the connect flow, the vault, fresh tokens."""

from ._connections import Connection, Connections
from ._providers import PRESETS, OAuthProvider, providers
from ._refresh import NeedsReauth, NotConnected, Refresher, due
from ._tokens import TokenAnswer, TokenEndpoint, TokenError
from ._tree import OAuth
from ._vault import Keyring, VaultError, keyring

__all__ = [
    "PRESETS",
    "Connection",
    "Connections",
    "Keyring",
    "NeedsReauth",
    "NotConnected",
    "OAuth",
    "OAuthProvider",
    "Refresher",
    "TokenAnswer",
    "TokenEndpoint",
    "TokenError",
    "VaultError",
    "due",
    "keyring",
    "providers",
]
