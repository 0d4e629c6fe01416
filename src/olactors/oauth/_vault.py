"""The vault: connection records encrypted at rest with AES-256-GCM, keys rotated by id.

Keys come as ``<key id>:<base64 of 32 bytes>``, comma-separated, newest
first: the newest encrypts, any decrypts, so a new key is rolled out by
putting it first and running ``olactors connections rekey``, then the old
one is removed. Each record carries its key id and a fresh 96-bit nonce,
and is bound to its own store key (the associated data): a record copied
under another connection's key does not decrypt.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from pathlib import Path

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..config import ConfigError

_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class VaultError(Exception):
    """A record that cannot be opened: its key is gone, or it was tampered with."""


class _Sealed(msgspec.Struct, frozen=True):
    k: str  #: key id
    n: bytes  #: nonce
    c: bytes  #: ciphertext and tag


class Keyring:
    """The vault's keys, newest first. Its repr names key ids only."""

    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        if not keys:
            raise ConfigError("the OAuth vault needs at least one key")
        self._keys = dict(keys)
        self.newest = keys[0][0]
        self.ids = [key_id for key_id, _ in keys]

    def __repr__(self) -> str:
        return f"<Keyring {self.ids}>"

    @classmethod
    def parse(cls, text: str, where: str) -> Keyring:
        keys = []
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            key_id, colon, encoded = part.partition(":")
            if not colon or not _KEY_ID.match(key_id):
                raise ConfigError(f"{where}: each key is <key id>:<base64 of 32 bytes>")
            try:
                key = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise ConfigError(f"{where}: key {key_id} is not base64") from None
            if len(key) != 32:
                raise ConfigError(f"{where}: key {key_id} is not 32 bytes (AES-256)")
            keys.append((key_id, key))
        if len({k for k, _ in keys}) != len(keys):
            raise ConfigError(f"{where}: a key id appears twice")
        return cls(keys)

    def seal(self, plaintext: bytes, bound_to: str) -> bytes:
        nonce = os.urandom(12)
        sealed = AESGCM(self._keys[self.newest]).encrypt(nonce, plaintext, bound_to.encode())
        return msgspec.json.encode(_Sealed(self.newest, nonce, sealed))

    def open(self, record: bytes, bound_to: str) -> bytes:
        try:
            sealed = msgspec.json.decode(record, type=_Sealed)
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise VaultError("not a vault record") from None
        key = self._keys.get(sealed.k)
        if key is None:
            raise VaultError(f"sealed with key {sealed.k}, which is no longer configured")
        try:
            return AESGCM(key).decrypt(sealed.n, sealed.c, bound_to.encode())
        except InvalidTag:
            raise VaultError("the record does not open: tampered, or not this key's") from None

    def key_of(self, record: bytes) -> str | None:
        try:
            return msgspec.json.decode(record, type=_Sealed).k
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None


def keyring(keys_env: str, keys_file: Path | None, env: Mapping[str, str]) -> Keyring:
    """The keys from ``keys_file`` when set, else from the variable ``keys_env``."""
    if keys_file is not None:
        try:
            text = keys_file.read_text()
        except OSError as exc:
            raise ConfigError(f"oauth.keys_file {keys_file}: {exc.strerror}") from None
        return Keyring.parse(text, f"oauth.keys_file {keys_file}")
    text = env.get(keys_env, "")
    if not text:
        raise ConfigError(f"{keys_env} is not set: the OAuth vault needs its keys (oauth.keys_env)")
    return Keyring.parse(text, keys_env)
