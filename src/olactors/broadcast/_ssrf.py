"""The SSRF guard: a customer's webhook endpoint never reaches inside the daemon's network.

An endpoint URL is checked twice: when it is registered (its name must
resolve only to public addresses) and at every connection, where the
address checked is the address connected to. A name that resolved to a
public address at registration and to ``127.0.0.1`` later (DNS rebinding)
is refused at connect time. TLS still verifies the certificate against the
URL's host name: the connection is made to the checked address, the
handshake names the host.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx
import trio

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Carrier-grade NAT space: not "private" to Python, but never a customer's public server.
_SHARED = ipaddress.ip_network("100.64.0.0/10")
#: IPv6 prefixes that carry an IPv4 address in their last 32 bits: NAT64's
#: well-known prefix and IPv4-translated addresses (SIIT).
_EMBEDDING = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("::ffff:0:0:0/96"))
#: Local-use NAT64 (where the IPv4 part may sit anywhere) and the deprecated
#: site-local space: never a public server.
_INSIDE_V6 = (ipaddress.ip_network("64:ff9b:1::/48"), ipaddress.ip_network("fec0::/10"))


class UnsafeEndpoint(ValueError):
    """The endpoint would reach a loopback, private, link-local or metadata address."""


def _inner_v4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to (mapped, 6to4, Teredo, NAT64, SIIT)."""
    inner = [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
    if address.teredo is not None:
        inner += list(address.teredo)
    if any(address in net for net in _EMBEDDING):
        inner.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return inner


def is_public(address: Address) -> bool:
    """False for loopback, private, link-local (cloud metadata's 169.254.169.254 among
    them), multicast, reserved and unspecified addresses, and for IPv6 addresses that
    lead to one of those (IPv4-mapped, 6to4, Teredo, NAT64) or are site-local."""
    if isinstance(address, ipaddress.IPv6Address):
        if any(address in net for net in _INSIDE_V6):
            return False
        inner = _inner_v4(address)
        if inner:
            return all(is_public(a) for a in inner)
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return False
    return address.is_global and not address.is_multicast


async def resolve(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to (an address literal is itself)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = await trio.socket.getaddrinfo(host, port, type=trio.socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:  # UnicodeError: a name IDNA refuses
        raise UnsafeEndpoint(f"{host} does not resolve: {exc}") from None
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


def check_addresses(host: str, addresses: Iterable[Address]) -> None:
    blocked = [str(a) for a in addresses if not is_public(a)]
    if blocked:
        raise UnsafeEndpoint(f"{host} resolves to a non-public address ({', '.join(blocked)})")


async def check_url(url: str, *, allow_private: bool) -> None:
    """:class:`UnsafeEndpoint` unless ``url`` is http(s) and its host is public."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise UnsafeEndpoint(f"not a URL: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UnsafeEndpoint("an endpoint is an absolute http or https URL")
    if parsed.userinfo:
        raise UnsafeEndpoint("an endpoint URL carries no credentials")
    if allow_private:
        return
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    check_addresses(parsed.host, await resolve(parsed.host, port))


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks, and connects to the address it checked."""

    def __init__(self) -> None:
        self._inner = httpcore.TrioBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await resolve(host, port)
        try:
            check_addresses(host, addresses)
        except UnsafeEndpoint as exc:
            raise httpcore.ConnectError(str(exc)) from None
        return await self._inner.connect_tcp(
            str(addresses[0]), port, timeout, local_address, socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("an endpoint is never a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_transport(max_connections: int) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every connection passes :func:`is_public`."""
    limits = httpx.Limits(max_connections=max_connections)
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    # httpx takes no network backend; its pool does. Built as httpx builds it
    # (httpx is pinned below 0.30), with the guard as the backend.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_GuardedBackend(),
    )
    return transport
