"""Whether this server may send a request to a URL, and an HTTP client that connects only where it may.

Outbound URLs come from users (webhook endpoints, and in time provider accounts and agent URLs), so without
a check they could make the server reach its own loopback services, the cloud metadata address or the
private network behind it, and read the answers. A URL may be http or https, and its host must resolve to
public unicast addresses only, unless the caller allows private targets (a receiver on loopback in tests,
or a private network on purpose). The check runs when a URL is registered and again on every connection,
against the very addresses that connection then uses, so a name that resolves elsewhere later (DNS
rebinding) gains nothing.
"""

import socket
from collections.abc import Callable, Iterable
from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address

import httpcore
import httpx

from batchcall.kit.errors import Invalid

ALLOW_SETTING = "BATCHCALL_ALLOW_PRIVATE_TARGETS"
SCHEMES = frozenset({"http", "https"})
WEBSOCKET_SCHEMES = frozenset({"ws", "wss"})
# The well-known NAT64 prefix: a gateway turns these into the IPv4 address in their last 32 bits.
NAT64 = IPv6Network("64:ff9b::/96")
EXCERPT_CHARS = 200

IPAddress = IPv4Address | IPv6Address


class TargetRefused(Invalid):
    """This server may not send requests to the URL."""


class TargetUnresolved(Invalid):
    """The URL's host name does not resolve, so there is nowhere to connect."""


def _reached_address(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one stands for (IPv4-mapped, 6to4, NAT64), which is the one it reaches."""
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in NAT64:
            return IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def is_public(address: IPAddress) -> bool:
    """Whether the address is public unicast: not loopback, private, link-local, shared, multicast, reserved
    or unspecified."""
    reached = _reached_address(address)
    return reached.is_global and not (reached.is_multicast or reached.is_reserved or reached.is_unspecified)


def check_url(url: str, *, allow_private: bool, schemes: frozenset[str] = SCHEMES) -> None:
    """Refuse a URL not of ``schemes`` (http and https unless told), or whose host is or resolves to an
    address that is not public. A name that does not resolve passes: DNS may be down or not set up yet,
    and every connection checks the name again before it is made."""
    host = _host(url, schemes)
    if allow_private:
        return
    try:
        addresses = _resolve(host)
    except TargetUnresolved:
        return
    _refuse_private(host, addresses)


def allowed_addresses(host: str, *, allow_private: bool) -> list[str]:
    """The addresses ``host`` resolves to, to connect to in order; refused if any of them is not public
    (unless allowed), since the next lookup might answer with that one."""
    addresses = _resolve(host)
    if not allow_private:
        _refuse_private(host, addresses)
    return addresses


def client(*, allow_private: Callable[[], bool], timeout: float) -> httpx.Client:
    """An HTTP client whose every new connection resolves its host once, checks each address and connects
    to those; ``allow_private`` is asked on each connection. It never follows redirects, and ignores the
    environment's proxy settings, since a proxy would resolve the name itself, unchecked."""
    transport = httpx.HTTPTransport(trust_env=False)
    # Checking inside the connection pool keeps TLS verifying the URL's own name and pooled connections
    # keyed by it. httpx 0.28 has no argument for the pool's backend; the pool reads this attribute each
    # time it opens a connection.
    transport._pool._network_backend = _CheckingBackend(allow_private)
    return httpx.Client(transport=transport, timeout=timeout, follow_redirects=False, trust_env=False)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """At most ``limit`` characters of ``text`` on one line, without control or other non-printable
    characters: safe to store, log and show whatever a remote server answered."""
    printable = "".join(" " if ch.isspace() else ch for ch in text if ch.isspace() or ch.isprintable())
    return " ".join(printable.split())[:limit]


def _host(url: str, schemes: frozenset[str]) -> str:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as fault:
        raise TargetRefused(f"{excerpt(url)} is not a valid URL: {fault}") from None
    if parsed.scheme not in schemes:
        raise TargetRefused(f"{excerpt(url)} is not a URL of {' or '.join(sorted(schemes))}")
    if not parsed.raw_host:
        raise TargetRefused(f"{excerpt(url)} has no host")
    return parsed.raw_host.decode("ascii")


def _resolve(host: str) -> list[str]:
    """Every address ``host`` stands for, in the resolver's order: an IP literal in any spelling the C
    library reads (``2130706433``, ``0x7f000001``, ``127.1``, ``::ffff:127.0.0.1``), or a name."""
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as fault:
        raise TargetUnresolved(f"{excerpt(host)} does not resolve: {excerpt(str(fault))}") from None
    return list(dict.fromkeys(str(sockaddr[0]) for *_, sockaddr in found))


def _refuse_private(host: str, addresses: Iterable[str]) -> None:
    for text in addresses:
        address = ip_address(text)
        if not is_public(address):
            named = host if host == text else f"{host} resolves to {text}, which"
            raise TargetRefused(
                f"{named} is {_kind(_reached_address(address))} address; outbound requests go only to "
                f"public addresses unless {ALLOW_SETTING} is set"
            )


def _kind(address: IPAddress) -> str:
    kinds = [
        (address.is_unspecified, "an unspecified"),
        (address.is_loopback, "a loopback"),
        (address.is_link_local, "a link-local"),
        (address.is_multicast, "a multicast"),
        (address.is_private, "a private"),
        (address.is_reserved, "a reserved"),
    ]
    return next((kind for flagged, kind in kinds if flagged), "a non-public")


class _CheckingBackend(httpcore.NetworkBackend):
    """Opens TCP connections only to checked addresses, trying each in turn as ``create_connection`` does."""

    def __init__(self, allow_private: Callable[[], bool]) -> None:
        self._allow_private = allow_private
        self._tcp = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        *others, last = allowed_addresses(host, allow_private=self._allow_private())
        for address in others:
            try:
                return self._tcp.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                continue
        return self._tcp.connect_tcp(last, port, timeout, local_address, socket_options)
