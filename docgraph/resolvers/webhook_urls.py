"""Webhook URLs, and where docgraph may send requests (server-side request forgery).

An endpoint's URL is checked twice: when it is registered (or changed), and
before every attempt, after resolving its host, so that a name that resolved
to a public address at registration and to an internal one later (DNS
rebinding) is refused then. The attempt connects to the very address that was
checked (``Destination``), never resolving again.

Refused unless ``DOCGRAPH_WEBHOOK_ALLOW_PRIVATE_ADDRESSES``: loopback,
private, link-local, shared (CGNAT), multicast, reserved, unspecified and
every other non-global address, IPv4 and IPv6 alike, with the IPv4 address
inside an IPv4-mapped, 6to4 or NAT64 IPv6 address checked as IPv4. Always
refused: schemes other than http and https, credentials in the URL, a
fragment, a URL without a host.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import socket
from typing import Any
from urllib.parse import SplitResult, urlsplit

from docgraph.errors import Unavailable
from docgraph.resolvers import validation as v

URL_MAX = 2048
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """docgraph will not send a request there; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def address_problem(address: IPAddress) -> str | None:
    """Why ``address`` is no place for a webhook (None: a public address)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            problem = address_problem(embedded)
            return f"{problem} (inside {address})" if problem else None
    for test, name in ((address.is_unspecified, "an unspecified address"),
                       (address.is_loopback, "a loopback address"),
                       (address.is_link_local, "a link-local address"),
                       (address.is_multicast, "a multicast address"),
                       (address.is_private, "a private address"),
                       (address.is_reserved, "a reserved address")):
        if test:
            return name
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return "a shared (carrier-grade NAT) address"
    if not address.is_global:
        return "an address that is not public"
    return None


def parse_url(value: Any) -> str:
    """A webhook URL's syntax (a validator): http or https, a host, no credentials, no
    fragment, at most 2,048 characters."""
    if not isinstance(value, str):
        raise v.Invalid("must be a string")
    if not value or len(value) > URL_MAX:
        raise v.Invalid(f"must be 1-{URL_MAX} characters long")
    if not value.isascii() or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise v.Invalid("must be an absolute http or https URL (ASCII, without spaces)")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise v.Invalid("must be an absolute http or https URL") from None
    if parts.scheme not in ("http", "https"):
        raise v.Invalid("must be an http or https URL")
    if not parts.hostname:
        raise v.Invalid("must name a host")
    if parts.username is not None or parts.password is not None:
        raise v.Invalid("must not carry credentials (user:password@)")
    if parts.fragment or value.endswith("#"):
        raise v.Invalid("must not have a fragment (#...)")
    if port == 0:
        raise v.Invalid("must not name port 0")
    return value


@dataclasses.dataclass(frozen=True, slots=True)
class Destination:
    """Where an attempt goes: the URL, and the address (checked) to connect to."""

    url: str
    host: str
    address: IPAddress
    port: int
    scheme: str

    @property
    def connect_url(self) -> str:
        """The URL with the checked address in place of the host name."""
        parts = urlsplit(self.url)
        host = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return SplitResult(parts.scheme, f"{host}:{self.port}", parts.path or "/",
                           parts.query, "").geturl()

    @property
    def host_header(self) -> str:
        """The Host header of the URL as written (``host[:port]``)."""
        return urlsplit(self.url).netloc


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def resolve(host: str, port: int, within: float) -> list[IPAddress]:
    """The addresses ``host`` resolves to (``Refused`` if it does not; ``Unavailable``
    if the resolver failed for now)."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(within):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except TimeoutError:
        raise Unavailable(f"resolving {host} took longer than {within:g} s") from None
    except socket.gaierror as exc:
        if exc.errno == socket.EAI_AGAIN:
            raise Unavailable(f"resolving {host} failed for now: {exc.strerror}") from None
        raise Refused(f"its host {host} does not resolve ({exc.strerror})") from None
    except (UnicodeError, OSError) as exc:
        raise Refused(f"its host {host} cannot be resolved ({exc})") from None
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise Refused(f"its host {host} has no address")
    return found


async def destination(url: str, *, allow_private: bool, within: float) -> Destination:
    """Resolve ``url``'s host and check every address it has: the first one, to connect
    to. ``Refused`` if any is no place for a webhook."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = await resolve(host, port, within)
    if not allow_private:
        for address in addresses:
            problem = address_problem(address)
            if problem is not None:
                shown = host if str(address) == host.strip("[]") else f"{host} ({address})"
                raise Refused(f"it points at {problem}: {shown}")
    return Destination(url=url, host=host, address=addresses[0], port=port,
                       scheme=parts.scheme)


async def check_url(url: str, *, allow_private: bool, within: float) -> None:
    """A URL being registered: its addresses checked (a ``ValidationError`` naming
    ``url`` when refused). Allowing private addresses, nothing is resolved."""
    if allow_private:
        return
    try:
        await destination(url, allow_private=False, within=within)
    except Refused as exc:
        raise v.fail({"url": f"is refused: {exc.message}"}) from None
