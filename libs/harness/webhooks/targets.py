"""Where the server may send a webhook: an outbound request chosen by a caller, so a
guard against server-side request forgery (SSRF).

- Only ``http`` and ``https`` URLs with a host; no user:password part (it would be shown
  with the URL), no fragment (never sent).
- Every address the host resolves to must be public (``ipaddress.is_global``: not
  loopback, private, link-local such as the cloud metadata server 169.254.169.254, CGNAT,
  multicast, reserved or unspecified), unless it lies in a network the server allows
  (``HARNESS_WEBHOOK_ALLOWED_NETWORKS``; the local stack allows loopback by default).
- The host is resolved again at each delivery and the request goes to the address that
  was checked (the TLS name and ``Host`` header stay the URL's), so a DNS answer that
  changes after the check cannot redirect a delivery. Redirects are not followed and no
  proxy from the environment is used.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_CHARS = 2048
LOOPBACK: tuple[IPNetwork, ...] = (ipaddress.ip_network("127.0.0.0/8"),
                                   ipaddress.ip_network("::1/128"))


class UnsafeTarget(ValueError):  # noqa: N818 - reads as the outcome
    """A URL the server will not send to; the message says why."""


def check_url(url: str) -> SplitResult:
    """``url`` split, when its form is acceptable (scheme, host, no credentials)."""
    if len(url) > MAX_URL_CHARS:
        raise UnsafeTarget(f"longer than {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise UnsafeTarget(f"not a URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise UnsafeTarget("only http and https URLs are allowed")
    if not parts.hostname:
        raise UnsafeTarget("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("credentials in the URL are not allowed (they would be shown "
                           "with it); authenticate receivers by the signature")
    if parts.fragment:
        raise UnsafeTarget("a URL fragment is never sent; leave it out")
    return parts


def parse_networks(spec: str) -> tuple[IPNetwork, ...]:
    """``"10.0.0.0/8, 127.0.0.1"`` as networks (a bare address is a /32 or /128)."""
    out = []
    for item in spec.split(","):
        item = item.strip()
        if item:
            out.append(ipaddress.ip_network(item, strict=False))
    return tuple(out)


def _unmapped(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def address_allowed(ip: IPAddress, allowed: tuple[IPNetwork, ...]) -> bool:
    """Whether a delivery may go to ``ip``: a public unicast address, or one in
    ``allowed``."""
    ip = _unmapped(ip)
    if any(ip.version == net.version and ip in net for net in allowed):
        return True
    return ip.is_global and not ip.is_multicast


async def resolve(host: str, port: int, allowed: tuple[IPNetwork, ...],
                  timeout_s: float = 5.0) -> list[str]:
    """The addresses of ``host``, every one of them allowed, else :class:`UnsafeTarget`
    naming the one that is not (a host that also resolves to an internal address is
    refused as a whole)."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout_s)
        except (OSError, TimeoutError) as exc:
            raise UnsafeTarget(f"cannot resolve {host}: {exc or 'timed out'}") from exc
        addresses = list(dict.fromkeys(
            ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos))
    for ip in addresses:
        if not address_allowed(ip, allowed):
            raise UnsafeTarget(f"{host} resolves to {ip}, which is not a public address "
                               "(allow its network with HARNESS_WEBHOOK_ALLOWED_NETWORKS)")
    return [str(_unmapped(ip)) for ip in addresses]


def default_port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)
