"""What a bind address is: its host, and whether it only reaches this machine."""

from __future__ import annotations

import ipaddress
import socket


def bind_host(bind: str) -> str:
    """The host part of ``host:port`` (``[::1]:8081`` is ``::1``)."""
    host = bind.rpartition(":")[0] if ":" in bind else bind
    return host.strip("[]")


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
