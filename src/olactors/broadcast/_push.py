"""The two push services: FCM HTTP v1 and Expo, one call each, their answers classified.

FCM authenticates with a service account: a JWT signed with its RSA key
(RS256, the cryptography package) is exchanged at its ``token_uri`` for an
OAuth2 access token, which is cached until a minute before it expires. FCM
takes one device per request. Expo takes up to 100 messages per request and
answers with a ticket for each; whether a message reached the device is in
its receipt, fetched later (:meth:`ExpoSender.receipts`).

Each device's outcome is one of :class:`Sent`, :class:`Gone` (the token is
dead: remove it), :class:`Refused` (this message will never go to this
device) or :class:`Later` (try again).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import trio
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ..clients import AuthFailure, ProviderClient, ProviderError
from ..config import ConfigError
from ..resilience import ResilienceError
from ..runtime import Clock

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
#: Expo's limit per request.
EXPO_BATCH = 100


@dataclass(frozen=True)
class Sent:
    ticket: str | None = None  #: Expo's ticket id, for the receipt


@dataclass(frozen=True)
class Gone:
    reason: str


@dataclass(frozen=True)
class Refused:
    reason: str


@dataclass(frozen=True)
class Later:
    reason: str
    retry_after_s: float | None = None


Outcome = Sent | Gone | Refused | Later


class _AccountFile(msgspec.Struct, frozen=True):
    project_id: str
    client_email: str
    private_key: str
    token_uri: str = "https://oauth2.googleapis.com/token"  # noqa: S105 -- a URL
    private_key_id: str = ""


@dataclass(frozen=True, repr=False)
class ServiceAccount:
    """What minting a token takes; the key parsed once. Its repr names no secret."""

    project_id: str
    client_email: str
    key: rsa.RSAPrivateKey
    token_uri: str
    key_id: str = ""

    def __repr__(self) -> str:
        return f"<ServiceAccount {self.client_email}>"


def load_service_account(path: Path) -> ServiceAccount:
    """The service account in ``path``; a :class:`ConfigError` naming the file (never
    its content) if it cannot be used."""
    try:
        found = msgspec.json.decode(path.read_bytes(), type=_AccountFile)
        key = serialization.load_pem_private_key(found.private_key.encode(), password=None)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
        reason = type(exc).__name__ if isinstance(exc, ValueError) else str(exc)
        raise ConfigError(f"FCM service account {path}: not usable ({reason})") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"FCM service account {path}: its private_key is not an RSA key")
    return ServiceAccount(
        found.project_id, found.client_email, key, found.token_uri, found.private_key_id
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed_jwt(account: ServiceAccount, now: float) -> str:
    """The assertion Google's token endpoint takes (RFC 7523), valid for an hour."""
    header = {"alg": "RS256", "typ": "JWT"}
    if account.key_id:
        header["kid"] = account.key_id
    issued = int(now)
    claims = {
        "iss": account.client_email,
        "scope": FCM_SCOPE,
        "aud": account.token_uri,
        "iat": issued,
        "exp": issued + 3600,
    }
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = account.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


class TokenUnavailable(Exception):
    """Google's token endpoint gave no access token: nothing is wrong with any device."""


class FcmAuth:
    """The service account's access token, minted when missing or within a minute of
    expiry (or after FCM refused it); one mint at a time, the others wait for it."""

    def __init__(self, account: ServiceAccount, http: httpx.AsyncClient, clock: Clock) -> None:
        self.account = account
        self._http = http
        self._clock = clock
        self._token: str | None = None
        self._until = 0.0
        self._minting = trio.Lock()
        self.minted = 0

    async def token(self) -> str:
        async with self._minting:
            now = self._clock()
            if self._token is None or now >= self._until - 60:
                self._token, self._until = await self._mint(now)
                self.minted += 1
            return self._token

    async def _mint(self, now: float) -> tuple[str, float]:
        form = {
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": signed_jwt(self.account, now),
        }
        try:
            answer = await self._http.post(self.account.token_uri, data=form)
        except httpx.HTTPError as exc:
            raise TokenUnavailable(f"fcm token endpoint: {type(exc).__name__}") from None
        if answer.status_code != 200:
            raise TokenUnavailable(f"fcm token endpoint answered {answer.status_code}")
        try:
            body = answer.json()
            return str(body["access_token"]), now + float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise TokenUnavailable("fcm token endpoint answered without a token") from None

    def forget(self) -> None:
        self._token = None

    async def aclose(self) -> None:
        await self._http.aclose()


def _later(exc: ProviderError | ResilienceError) -> Later:
    return Later(str(exc), exc.retry_after_s)


class FcmSender:
    def __init__(self, client: ProviderClient, auth: FcmAuth) -> None:
        self._client = client
        self._auth = auth

    async def aclose(self) -> None:
        await self._client.aclose()
        await self._auth.aclose()

    async def send(self, token: str, note: dict[str, Any]) -> Outcome:
        # FCM's data values are strings: anything else travels as its JSON.
        data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in note["data"].items()}
        message = {
            "message": {
                "token": token,
                "notification": {"title": note["title"], "body": note["body"]},
                "data": data,
            }
        }
        path = f"/v1/projects/{self._auth.account.project_id}/messages:send"
        try:
            bearer = await self._auth.token()
            await self._client.request(
                "POST",
                path,
                endpoint="messages.send",
                json=message,
                headers={"Authorization": f"Bearer {bearer}"},
            )
        except TokenUnavailable as exc:
            return Later(str(exc))
        except AuthFailure as exc:
            self._auth.forget()  # a token revoked early: the next try mints one
            return _later(exc)
        except ProviderError as exc:
            return self._classify(exc)
        except ResilienceError as exc:
            return _later(exc)
        return Sent()

    @staticmethod
    def _classify(exc: ProviderError) -> Outcome:
        body = exc.json()
        error = body.get("error") if isinstance(body, dict) else None
        details = error.get("details") if isinstance(error, dict) else None
        codes = {
            str(d.get("errorCode"))
            for d in (details if isinstance(details, list) else [])
            if isinstance(d, dict) and d.get("errorCode")
        }
        # Only FCM's own word removes a token: a 404 without it is a wrong
        # project or URL, which no device is to blame for.
        if "UNREGISTERED" in codes:
            return Gone("fcm: UNREGISTERED")
        if exc.status == 404:
            return Later("fcm answered 404 without UNREGISTERED (a wrong project id or URL?)")
        if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
            return Refused(f"fcm refused it: {', '.join(sorted(codes)) or exc.status}")
        return _later(exc)


class ExpoSender:
    def __init__(self, client: ProviderClient, access_token: str | None = None) -> None:
        self._client = client
        self._headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, tokens: Sequence[str], note: dict[str, Any]) -> list[Outcome]:
        """One request for up to :data:`EXPO_BATCH` tokens; an outcome per token."""
        assert len(tokens) <= EXPO_BATCH
        messages = [
            {"to": t, "title": note["title"], "body": note["body"], "data": note["data"]}
            for t in tokens
        ]
        try:
            answer = await self._client.request(
                "POST",
                "/--/api/v2/push/send",
                endpoint="push.send",
                json=messages,
                headers=self._headers,
            )
        except (ProviderError, ResilienceError) as exc:
            status = getattr(exc, "status", None)
            if status is not None and 400 <= status < 500 and status != 429:
                return [Refused(f"expo answered {status}")] * len(tokens)
            return [_later(exc)] * len(tokens)
        try:
            tickets = answer.json().get("data", [])
        except (ValueError, AttributeError):
            tickets = None
        if not isinstance(tickets, list) or len(tickets) != len(tokens):
            return [Later("expo answered without a ticket per message")] * len(tokens)
        return [self._ticket(ticket) for ticket in tickets]

    @staticmethod
    def _ticket(ticket: Any) -> Outcome:
        if not isinstance(ticket, dict):
            return Later("expo: a ticket that is not an object")
        if ticket.get("status") == "ok":
            return Sent(str(ticket.get("id")) if ticket.get("id") else None)
        # Expo's message names the token: only its error code is kept.
        details = ticket.get("details")
        error = str(details.get("error", "")) if isinstance(details, dict) else ""
        if error == "DeviceNotRegistered":
            return Gone("expo: DeviceNotRegistered")
        if error == "MessageRateExceeded":
            return Later("expo: MessageRateExceeded")
        return Refused(f"expo: {error or 'error'}")

    async def receipts(self, ids: Sequence[str]) -> dict[str, Any]:
        """Receipts by ticket id; those Expo does not have yet are missing from the answer."""
        answer = await self._client.request(
            "POST",
            "/--/api/v2/push/getReceipts",
            endpoint="push.receipts",
            json={"ids": list(ids)},
            headers=self._headers,
        )
        try:
            receipts = answer.json().get("data", {})
        except (ValueError, AttributeError):
            return {}
        return receipts if isinstance(receipts, dict) else {}
