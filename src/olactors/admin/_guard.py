"""What keeps other sites and other hosts out of the admin: sessions, origins, headers.

OWASP's advice for an admin console, applied to a loopback listener that a
browser on the same machine can reach:

* sessions are random server-side ids (not a function of the token), expire,
  end at logout and are replaced at every login;
* every state-changing request must come from the admin's own origin
  (``Origin`` / ``Sec-Fetch-Site``): SameSite does not separate two ports of
  127.0.0.1, so a page elsewhere on the machine could otherwise POST with the
  operator's cookie;
* the ``Host`` header must name the admin (a DNS-rebinding page sends its own
  name);
* every answer forbids framing, sniffing and anything the page does not load
  from itself.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import secrets
from collections.abc import Iterable

from ..store import Store, StoreError

#: Methods that only read; every other one changes state.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_SITES_ALLOWED = frozenset({"same-origin", "none"})  # "none": typed in the address bar


class Sessions:
    """Dashboard sessions: random ids kept in the store, hashed, each for ``ttl_s``.

    In the store, so that every process behind one admin address (a parent's
    shared socket, replicas behind a balancer) knows a session another one
    opened. Only the SHA-256 of an id is kept: the store holds no live id,
    and a lookup is by hash. A store that cannot answer makes a session
    invalid for that request (the bearer token still works): never a 500.
    """

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s

    async def open(self, store: Store, replacing: str = "") -> str:
        """A new session id; ``replacing`` (the one presented, if any) ends.
        :class:`StoreError` if it cannot be kept."""
        await self.close(store, replacing)
        session = secrets.token_urlsafe(32)
        await store.put(_key(session), b"1", ttl_s=self.ttl_s)
        return session

    async def valid(self, store: Store, session: str) -> bool:
        if not session:
            return False
        try:
            return await store.get(_key(session)) is not None
        except StoreError:
            return False

    async def close(self, store: Store, session: str) -> None:
        if session:
            with contextlib.suppress(StoreError):  # it lapses at its TTL
                await store.delete(_key(session))


#: Where a session's hash is kept in the store.
SESSION_PREFIX = "olactors:admin-session:"


def _key(session: str) -> str:
    return SESSION_PREFIX + hashlib.sha256(session.encode("utf-8", "surrogatepass")).hexdigest()


def from_own_origin(method: str, headers: dict[str, str], host: str) -> bool:
    """False for a state-changing request that another site's page sent.

    Browsers send ``Sec-Fetch-Site`` (modern ones) and ``Origin`` (on every
    POST); a client that sends neither (the CLI, curl) is not a browser and
    is judged by its token alone. The origin's host and port must be the
    ``Host`` the request names; its scheme is not compared, because behind a
    TLS-terminating proxy the page is https and the request reaches us as http.
    """
    if method in SAFE_METHODS:
        return True
    site = headers.get("sec-fetch-site")
    if site is not None and site not in _SITES_ALLOWED:
        return False
    origin = headers.get("origin")
    if origin is None:
        return True
    scheme, _, authority = origin.lower().partition("://")
    return scheme in ("http", "https") and authority == host.lower()


def host_name(host: str) -> str:
    """The name in a ``Host`` header, without its port (``[::1]:80`` is ``::1``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    name, _, port = host.rpartition(":")
    return name if name and port.isdigit() else host


def security_headers(page: str) -> dict[str, str]:
    """The headers of every admin answer; the page's inline script and style by hash."""
    scripts = _inline_hashes(page, "script")
    styles = _inline_hashes(page, "style")
    policy = "; ".join(
        [
            "default-src 'none'",
            f"script-src {scripts}" if scripts else "script-src 'none'",
            f"style-src {styles}" if styles else "style-src 'none'",
            "connect-src 'self'",
            "img-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ]
    )
    return {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
    }


def _inline_hashes(page: str, tag: str) -> str:
    bodies: Iterable[str] = re.findall(rf"<{tag}>(.*?)</{tag}>", page, flags=re.DOTALL)
    return " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
        for body in bodies
    )
