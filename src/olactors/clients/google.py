"""Google: the OpenID Connect userinfo of a signed-in user (on www.googleapis.com)."""

from __future__ import annotations

import msgspec

from ._client import ProviderClient


class UserInfo(msgspec.Struct, frozen=True):
    sub: str
    email: str | None = None
    email_verified: bool | None = None
    name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    picture: str | None = None
    locale: str | None = None
    hd: str | None = None


class GoogleClient:
    """Reads userinfo with a user's access token (not the app's: passed per call)."""

    def __init__(self, client: ProviderClient) -> None:
        self.http = client

    async def userinfo(self, access_token: str) -> UserInfo:
        response = await self.http.request(
            "GET",
            "/oauth2/v3/userinfo",
            endpoint="userinfo",
            headers={"Authorization": f"Bearer {access_token}"},
        )
        return msgspec.json.decode(response.body, type=UserInfo)
