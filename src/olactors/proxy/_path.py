"""The path a proxied call asks the provider for, as the app sent it, checked.

It is taken from the raw request path (still percent-encoded), so an
encoded character reaches the provider as the app encoded it, and every
segment must stay under the provider's base URL: no ``.`` or ``..`` (also
encoded, also inside an encoded ``/``), no control characters, only the
characters RFC 3986 allows in a path.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

from ..api import InvalidRequest

#: RFC 3986 pchar, and '%' for the escapes (checked once decoded).
_SEGMENT = re.compile(r"^[A-Za-z0-9\-._~!$&'()*+,;=:@%]*$")


def provider_path(raw_path: bytes | None, provider: str, path: str) -> str:
    """The provider's path, ``/``-led, from the raw request path (or, without one, from
    the decoded ``path`` re-encoded); :class:`InvalidRequest` for one that would leave
    the base URL."""
    if raw_path is None:
        segments = quote(path, safe="/!$&'()*+,;=:@~").split("/")
    else:
        segments = raw_path.decode("latin-1").split("/")
        # Routed on the decoded path: an encoded '/' there (/v1%2Fproxy/...) would
        # make the raw one say something else. Only the plain spelling goes.
        if segments[:4] != ["", "v1", "proxy", provider]:
            raise InvalidRequest("spell /v1/proxy/<provider>/ without escapes")
        segments = segments[4:]
    for segment in segments:
        if not _SEGMENT.match(segment):
            raise InvalidRequest("the proxied path has a character a URL path cannot carry")
        try:
            decoded = unquote(segment, errors="strict")
        except UnicodeDecodeError:
            raise InvalidRequest("the proxied path has an escape that is not UTF-8") from None
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in decoded):
            raise InvalidRequest("the proxied path has a control character")
        if any(part in (".", "..") for part in re.split(r"[/\\]", decoded)):
            raise InvalidRequest("the proxied path may not climb out of the provider's base URL")
    return "/" + "/".join(segments)
