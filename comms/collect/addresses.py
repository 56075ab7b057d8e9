"""Which addresses a source may be fetched from: public ones, unless the source allows more.

A feed server (or whoever controls its DNS) must not make comms fetch from the machine
itself, the internal network or the cloud's metadata service. The check sits where the
connection is made: the host name is resolved here, every address it resolves to is
checked, and the connection goes to a checked address. So a redirect cannot slip past it,
nor can a name that resolves to something else the second time (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpcore

from comms.config import SourceConfig
from comms.errors import CommsError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

_METADATA = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)  # AWS, Azure, GCP, OpenStack; AWS's IPv6 one
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # an IPv4 address behind a NAT64 gateway
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_EVERYTHING = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))


class ForbiddenAddress(CommsError):
    """A connection the source is not allowed to make; the reason names the address."""


def kind_of(address: IPAddress) -> str | None:
    """What makes an address off limits ('a private address'), or None for a public one."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        found = kind_of(embedded)
        return f"{found} (as IPv6)" if found else None
    if address in _METADATA:
        return "a cloud metadata address"
    checks: list[tuple[bool, str]] = [
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.version == 4 and address in _SHARED, "a shared (carrier-grade NAT) address"),
        (address.version == 6 and address in _UNIQUE_LOCAL, "a private (unique-local) address"),
        (address.is_private, "a private address"),
        (not address.is_global, "not a public address"),
    ]
    return next((reason for matches, reason in checks if matches), None)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Public addresses, plus the non-public networks a source is allowed to reach."""

    allowed: tuple[IPNetwork, ...] = ()

    @classmethod
    def of(cls, source: SourceConfig) -> AddressPolicy:
        setting = source.allow_private_addresses
        if setting is True:
            return cls(_EVERYTHING)
        if not setting:
            return cls()
        return cls(tuple(ipaddress.ip_network(net, strict=False) for net in setting))

    def refusal(self, host: str, address: IPAddress) -> str | None:
        """Why connecting to `address` (for `host`) is refused, or None when it is allowed."""
        kind = kind_of(address)
        if kind is None or any(address.version == n.version and address in n for n in self.allowed):
            return None
        named = str(address) if host.strip("[]") == str(address) else f"{host} resolves to {address}"
        return f"{named}, {kind}; not fetched (allow_private_addresses on the source allows it)"


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to, in the resolver's order, without repeats."""
    try:
        infos = await _getaddrinfo(host, port)
    except (OSError, UnicodeError) as exc:
        raise httpcore.ConnectError(f"could not resolve {host}: {exc}") from exc
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


async def _getaddrinfo(host: str, port: int) -> list[Any]:
    """socket.getaddrinfo in a daemon thread of its own. In the event loop's executor a resolver
    that hangs would keep asyncio.run (which waits for that executor) from returning, and the
    source's deadline would not hold; a daemon thread is simply left behind."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[list[Any]] = loop.create_future()

    def lookup() -> None:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except BaseException as exc:  # handed to the waiting coroutine
            _settle(loop, answer, exc)
        else:
            _settle(loop, answer, found)

    threading.Thread(target=lookup, name=f"resolve {host}", daemon=True).start()
    return await answer


def _settle(loop: asyncio.AbstractEventLoop, answer: asyncio.Future[list[Any]], outcome: object) -> None:
    def settle() -> None:
        if answer.done():  # the deadline came first
            return
        if isinstance(outcome, BaseException):
            answer.set_exception(outcome)
        else:
            answer.set_result(outcome)  # type: ignore[arg-type]

    with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
        loop.call_soon_threadsafe(settle)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses the policy allows."""

    def __init__(
        self,
        policy: AddressPolicy,
        resolver: Resolver = resolve,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ):
        self.policy = policy
        self.resolver = resolver
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.resolver(host, port)
        for address in addresses:  # every one: the next resolution may pick another
            refusal = self.policy.refusal(host, address)
            if refusal is not None:
                raise ForbiddenAddress(refusal)
        last: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in addresses:  # TLS still checks the certificate against `host`
            try:
                return await self.inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise ForbiddenAddress("a Unix socket; not fetched")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)
