"""Which headers cross the proxy, each way.

Out to the provider: the few that describe the body and what the app
accepts, and any the app names ``Olactors-Proxy-<Name>`` (sent as
``<Name>``: Stripe-Account, Stripe-Version, Notion-Version...), the
convention Nango's proxy uses. Never the app's own credentials, cookies or
hop-by-hop headers: the daemon sends the provider's credentials itself.

Back to the app: what describes the body and what the app needs to go on
(paging links, a created resource's location, a retry time, the provider's
request and message ids, its rate-limit counters). Nothing that would set
state in the app's client (cookies) or describe a transfer that was already
undone (httpx decodes the body, so no Content-Encoding or length).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..api import InvalidRequest

PASSED_OUT = frozenset({"accept", "accept-language", "content-type", "if-match", "if-none-match"})
PREFIX = "olactors-proxy-"
#: Not even under the prefix: the daemon's credentials and the transfer are its own
#: (httpx undoes the encodings it asked for; another would reach the app unnamed).
REFUSED_OUT = frozenset(
    {
        "accept-encoding",
        "authorization",
        "proxy-authorization",
        "cookie",
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "upgrade",
        "te",
        "trailer",
        "keep-alive",
    }
)

PASSED_BACK = frozenset(
    {
        "content-type",
        "content-language",
        "etag",
        "last-modified",
        "link",
        "location",
        "retry-after",
        "request-id",  # Stripe's
        "x-message-id",  # SendGrid's
        "x-fb-trace-id",
    }
)
PASSED_BACK_PREFIXES = ("x-ratelimit-", "x-business-use-case-usage", "x-app-usage")


def outgoing(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The headers to send the provider; :class:`InvalidRequest` for one that may not go."""
    chosen: dict[str, str] = {}
    for name, value in headers:
        lowered = name.lower()
        if (lowered in PASSED_OUT or lowered.startswith(PREFIX)) and not value.isascii():
            # Header bytes arrive read as latin-1; they would leave as UTF-8,
            # changed. HTTP wants ASCII there anyway.
            raise InvalidRequest(f"{name}'s value is not ASCII: it cannot be passed on as sent")
        if lowered in PASSED_OUT:
            chosen[lowered] = value
        elif lowered.startswith(PREFIX):
            target = lowered.removeprefix(PREFIX)
            if not target or target in REFUSED_OUT:
                raise InvalidRequest(
                    f"{name} cannot be sent: the daemon sends the provider's credentials "
                    "and frames the request itself"
                )
            chosen[target] = value
    return chosen


def returned(headers: Mapping[str, str]) -> dict[str, str]:
    """The provider's headers the app gets back."""
    return {
        name: value
        for name, value in headers.items()
        if name.lower() in PASSED_BACK or name.lower().startswith(PASSED_BACK_PREFIXES)
    }
