"""Which webhook URLs may be called: no requests into our own network (SSRF).

A clinic admin types the URL, and the worker POSTs to it from inside the deployment, so an
address such as ``http://169.254.169.254/`` (cloud metadata), ``http://10.0.0.5:6379`` or
``http://localhost:5432`` would turn webhooks into a probe of the platform's own network.

- ``check_url()`` (create/update: 422 ``webhook_url_not_allowed``): http or https only, a
  host, no user name or password in the URL, and neither an IP literal nor a resolvable name
  that points at a non-public address.
- ``resolve_target()`` (each delivery): resolve the name once, refuse if *any* address is
  non-public, and return the address to connect to. The request then goes to that address
  (``Host`` and TLS SNI keep the name), so a DNS answer that changes between the check and
  the connect (DNS rebinding) cannot slip a private address in.

Non-public: private, loopback, link-local (169.254.0.0/16 holds the metadata services),
multicast, unspecified, reserved, shared (100.64.0.0/10), and IPv6 forms of those (IPv4-
mapped, NAT64). ``CAREBOOK_WEBHOOK_ALLOW_PRIVATE=1`` (off by default) lifts the address rule
for development and the tests' local receiver; scheme and credential rules always apply.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from carebook.errors import ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
CODE = "webhook_url_not_allowed"
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressNotAllowed(Exception):
    """The URL's host is, or resolves to, an address webhooks may not call."""


def allow_private() -> bool:
    """``CAREBOOK_WEBHOOK_ALLOW_PRIVATE=1``: allow non-public addresses (development, tests)."""
    return os.environ.get("CAREBOOK_WEBHOOK_ALLOW_PRIVATE", "").strip().lower() in {
        "1", "true", "yes", "on",
    }  # fmt: skip


def is_public(ip: IPAddress) -> bool:
    """Whether ``ip`` is a public unicast address (see the module docstring)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return is_public(ip.ipv4_mapped)
        if ip in _NAT64:
            return is_public(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    blocked = (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
        or ip.is_unspecified or ip.is_reserved or not ip.is_global
    )  # fmt: skip
    return not blocked


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _parts(url: str) -> SplitResult:
    """The URL split, or AddressNotAllowed for what is never allowed whatever the address."""
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise AddressNotAllowed("no spaces or control characters in the URL")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise AddressNotAllowed("not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise AddressNotAllowed("only http and https URLs")
    if parts.username is not None or parts.password is not None:
        raise AddressNotAllowed("no user name or password in the URL (sign with the secret)")
    if not parts.hostname:
        raise AddressNotAllowed("the URL has no host")
    return parts


async def _resolve(host: str, port: int) -> list[IPAddress]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


@dataclass(frozen=True)
class Target:
    """Where one delivery connects: ``url`` with the checked address in place of the name,
    plus the ``Host`` header and TLS server name that keep the original host."""

    url: str
    host_header: str
    sni_hostname: str | None
    address: str


def _default_port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def _check_addresses(addresses: list[IPAddress]) -> None:
    if not addresses:
        raise AddressNotAllowed("the host has no address")
    if allow_private():
        return
    for ip in addresses:
        if not is_public(ip):
            raise AddressNotAllowed(f"the host resolves to a non-public address ({ip})")


async def check_url(url: str) -> str:
    """Create/update: the URL to store (scheme in lower case), or ValidationFailed
    (``webhook_url_not_allowed``) for a URL never to call.

    A name that does not resolve (yet) is accepted: each delivery checks again.
    """
    try:
        parts = _parts(url)
        host = parts.hostname or ""
        literal = _literal(host)
        if literal is not None:
            _check_addresses([literal])
            return parts.geturl()
        try:
            addresses = await _resolve(host, _default_port(parts))
        except (OSError, UnicodeError):
            return parts.geturl()
        _check_addresses(addresses)
        return parts.geturl()
    except AddressNotAllowed as exc:
        raise ValidationFailed.field(
            "url", f"This webhook URL is not allowed: {exc}.", code=CODE
        ) from None


async def resolve_target(url: str) -> Target:
    """Delivery: resolve and check the host once; the request must connect to ``address``.

    Raises AddressNotAllowed (give up: the log says why) or OSError (resolution failed:
    retry later).
    """
    parts = _parts(url)
    host = parts.hostname or ""
    port = _default_port(parts)
    literal = _literal(host)
    addresses = [literal] if literal is not None else await _resolve(host, port)
    _check_addresses(addresses)
    chosen = addresses[0]
    netloc_host = f"[{chosen}]" if chosen.version == 6 else str(chosen)
    netloc = f"{netloc_host}:{parts.port}" if parts.port else netloc_host
    host_header = parts.netloc.rpartition("@")[2]
    return Target(
        url=parts._replace(netloc=netloc).geturl(),
        host_header=host_header,
        sni_hostname=host if parts.scheme == "https" and literal is None else None,
        address=str(chosen),
    )
