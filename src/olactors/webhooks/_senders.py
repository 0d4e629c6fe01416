"""Who sent a request, behind a load balancer, and whether a source accepts it from there.

The peer of a connection is the load balancer when there is one; the sender
is then the rightmost ``X-Forwarded-For`` address not of a trusted proxy
(each proxy appends the address it saw, so the entries to its left could be
anything the client wrote). A peer that is not a trusted proxy is the
sender, whatever it claims in the header.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def networks(cidrs: Sequence[str]) -> tuple[Network, ...]:
    """Parsed CIDRs (``203.0.113.0/24``, ``2001:db8::/32``, or a single address)."""
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def sender(
    peer: str | None, forwarded_for: str | None, proxies: tuple[Network, ...]
) -> Address | None:
    """The address that sent the request, or None if it cannot be told."""
    address = _address(peer)
    if address is None or not _within(address, proxies) or not forwarded_for:
        return address
    for entry in reversed(forwarded_for.split(",")):
        hop = _address(entry.strip())
        if hop is None:
            return None  # a mangled chain: trust none of it
        if not _within(hop, proxies):
            return hop
    return address


def allowed(address: Address | None, allow_from: tuple[Network, ...]) -> bool:
    """True if ``allow_from`` is empty (anyone) or holds ``address``."""
    return not allow_from or (address is not None and _within(address, allow_from))


def _address(text: str | None) -> Address | None:
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    # A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d: judge the IPv4 address.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _within(address: Address, nets: tuple[Network, ...]) -> bool:
    return any(address in net for net in nets)
