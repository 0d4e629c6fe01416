"""SendGrid: v3 mail send (202 Accepted, message id in X-Message-Id)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._client import ProviderClient


class SendGridClient:
    """Sends mail. SendGrid has no idempotency key, so a send is never retried:
    a retry after an unknown outcome could mail someone twice."""

    def __init__(self, client: ProviderClient) -> None:
        self.http = client

    async def send_mail(self, message: Mapping[str, Any]) -> str | None:
        """Send a v3 ``/mail/send`` body; return SendGrid's message id when it gives one."""
        response = await self.http.request(
            "POST", "/v3/mail/send", endpoint="mail.send", json=dict(message)
        )
        return response.headers.get("x-message-id")
