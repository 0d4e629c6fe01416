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
#: The segments of /v1/proxy/{provider}/ before the provider's path.
_SKIPPED = 4


def provider_path(raw_path: bytes | None, path: str) -> str:
    """The provider's path, ``/``-led, from the raw request path (or, without one, from
    the decoded ``path`` re-encoded); :class:`InvalidRequest` for one that would leave
    the base URL."""
    if raw_path is not None:
        text = raw_path.decode("latin-1")
    else:
        text = quote(path, safe="/!$&'()*+,;=:@~")
    segments = text.split("/")[_SKIPPED:] if raw_path is not None else text.split("/")
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
