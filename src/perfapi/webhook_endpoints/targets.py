"""Which URLs perfapi may send events to: protection of the sender (DESIGN 9).

A webhook endpoint's URL is given by a user of the org, and perfapi's server
makes the request: without a check, a URL could reach what only the server can
reach (its loopback, the private network, a cloud's metadata service at
169.254.169.254). So a target must be http(s), carry no credentials, and every
address its host resolves to must be public, unless
``PERFAPI_WEBHOOK_ALLOW_PRIVATE_TARGETS`` allows private ones (a receiver on
the same machine or network, as in tests and on-premises installs).

The check returns the addresses it approved: a delivery connects to one of those,
not to what the name resolves to a moment later, so a name that resolves to a
public address when checked and a private one when used (DNS rebinding) is
refused too.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Cloud metadata services outside the private and link-local ranges checked anyway:
# AWS's over IPv6 (a unique local address, private already, listed for clarity).
_METADATA = frozenset({ipaddress.ip_address("fd00:ec2::254")})
# Shared address space (carrier-grade NAT, RFC 6598): not "private" to Python, but no
# more public than 10.0.0.0/8 to a server inside such a network.
_SHARED = ipaddress.ip_network("100.64.0.0/10")


class TargetRefusedError(ValueError):
    """A URL perfapi will not send to; the message says why, for the API's 422."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    addresses: tuple[IpAddress, ...]  # approved, in the resolver's order


async def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses, by the system's resolver (without blocking the loop)."""
    found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(sockaddr[0]) for _, _, _, _, sockaddr in found]


def refusal(address: IpAddress) -> str | None:
    """Why an address is not a public one (None when it is)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return refusal(address.ipv4_mapped)
    for reason, hit in (
        ("a loopback address", address.is_loopback),
        ("a link-local address (where cloud metadata services answer)", address.is_link_local),
        ("a cloud metadata address", address in _METADATA),
        ("a private address", address.is_private),
        ("a shared (carrier-grade NAT) address", address in _SHARED),
        ("an unspecified address", address.is_unspecified),
        ("a multicast address", address.is_multicast),
        ("a reserved address", address.is_reserved),
    ):
        if hit:
            return reason
    return None


async def check_target(
    url: str, *, allow_private: bool, resolve: Resolver = system_resolver
) -> Target:
    """The URL's target with the addresses a delivery may connect to; raises
    TargetRefusedError with the reason otherwise."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise TargetRefusedError("The URL must be http or https.")
    if parts.username is not None or parts.password is not None:
        raise TargetRefusedError(
            "The URL must not carry credentials; the signature proves who sends."
        )
    host = parts.hostname
    if not host:
        raise TargetRefusedError("The URL has no host.")
    try:
        given = parts.port
    except ValueError:
        given = 0
    if given == 0:
        raise TargetRefusedError("The URL's port is not a number from 1 to 65535.")
    port = given or _DEFAULT_PORTS[scheme]
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            resolved = await resolve(host, port)
        except OSError:
            raise TargetRefusedError(f"The host {host!r} does not resolve.") from None
        addresses = [ipaddress.ip_address(address.split("%", 1)[0]) for address in resolved]
    if not addresses:
        raise TargetRefusedError(f"The host {host!r} does not resolve.")
    if not allow_private:
        for address in addresses:
            reason = refusal(address)
            if reason is not None:
                raise TargetRefusedError(
                    f"The host {host!r} resolves to {address}, {reason}; perfapi sends only to "
                    "public addresses (PERFAPI_WEBHOOK_ALLOW_PRIVATE_TARGETS allows others)."
                )
    return Target(scheme, host, port, tuple(dict.fromkeys(addresses)))
