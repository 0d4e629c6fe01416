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
import hashlib
import re
import secrets
import time
from collections.abc import Callable, Iterable

#: Methods that only read; every other one changes state.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_SITES_ALLOWED = frozenset({"same-origin", "none"})  # "none": typed in the address bar


class Sessions:
    """Dashboard sessions: random ids, kept hashed, each valid for ``ttl_s``.

    Only the SHA-256 of an id is kept, so a lookup's timing says nothing of
    live ids and a memory dump holds none. At most ``max_sessions`` live at
    once; past it the oldest ends.
    """

    def __init__(
        self,
        ttl_s: float,
        *,
        max_sessions: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_sessions = max_sessions
        self._clock = clock
        self._expiry: dict[bytes, float] = {}

    def open(self, replacing: str = "") -> str:
        """A new session id; ``replacing`` (the one presented, if any) ends."""
        self.close(replacing)
        now = self._clock()
        self._expiry = {key: end for key, end in self._expiry.items() if end > now}
        while len(self._expiry) >= self.max_sessions:
            del self._expiry[next(iter(self._expiry))]  # dicts keep insertion order
        session = secrets.token_urlsafe(32)
        self._expiry[_key(session)] = now + self.ttl_s
        return session

    def valid(self, session: str) -> bool:
        if not session:
            return False
        end = self._expiry.get(_key(session))
        return end is not None and end > self._clock()

    def close(self, session: str) -> None:
        if session:
            self._expiry.pop(_key(session), None)


def _key(session: str) -> bytes:
    return hashlib.sha256(session.encode("utf-8", "surrogatepass")).digest()


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
