"""What a bind address is: its host, and whether it only reaches this machine."""

from __future__ import annotations

import ipaddress
import socket


def split_bind(bind: str) -> tuple[str, int]:
    """``host:port`` as its host and port (``[::1]:8081`` is ``("::1", 8081)``).

    The port is required: hypercorn reads a bare host as port 8000, which
    nobody who wrote ``localhost`` meant. ValueError says what is wrong.
    """
    host, colon, port = bind.rpartition(":")
    if not colon or not host:
        raise ValueError(f"{bind!r} is not host:port (127.0.0.1:8080, or 0.0.0.0:8080 for all)")
    if ":" in host and not (host.startswith("[") and host.endswith("]")):
        raise ValueError(f"{bind!r}: an IPv6 host goes in brackets, as in [::1]:8081")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{bind!r}: the port must be a number from 0 to 65535")
    return host.strip("[]"), int(port)


def bind_host(bind: str) -> str:
    """The host part of ``host:port`` (``[::1]:8081`` is ``::1``)."""
    return split_bind(bind)[0]


def reach(bind: str) -> str:
    """The base URL a client on this machine reaches a listener bound at ``bind`` by."""
    host, port = split_bind(bind)
    if host == "0.0.0.0":  # noqa: S104 -- recognised, never bound
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def is_loopback(host: str) -> bool:
    """True only if every address ``host`` resolves to is a loopback address.

    Decided on addresses, never on spelling: ``127.attacker.example`` is a
    name like any other, and a name that does not resolve is not loopback.
    """
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass  # a name: resolve it
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    addresses = {info[4][0] for info in found}
    return bool(addresses) and all(
        ipaddress.ip_address(str(address).partition("%")[0]).is_loopback for address in addresses
    )
