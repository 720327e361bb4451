"""Which outgoing URLs a config sent over the API may name (issue 9: a write-scoped key
must not make the service call internal addresses).

A receiver URL is refused when its host resolves to any address that is not public:
loopback, private (RFC 1918, unique-local), link-local (including cloud metadata at
169.254.169.254), shared (100.64/10), multicast, reserved or unspecified, and the IPv6
forms that embed such an IPv4 address. Every address the name resolves to is checked,
not only the first, so a name with one public and one internal address is refused. The
operator lets some through with ``DRIFTWARDEN_OUTBOUND_ALLOWED_HOSTS``: host names
(exact, case-insensitive) or addresses and CIDR networks.

The check is the API's (monitor/api/routers/rules.py): the CLI is the operator on the
box and is not restricted. It resolves names (``socket.getaddrinfo``, replaceable) and
never opens a connection. A name that does not resolve passes (there is nothing to call;
the API's ``check_urls`` refuses it unless told not to). A name that resolves differently
later (DNS rebinding) is not caught here: this guards against naming internal hosts, not
against a hostile DNS, which needs the check again at delivery.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str], list[str]]  # host -> its addresses as text


def resolve_host(host: str) -> list[str]:
    """Every address ``host`` resolves to (an address resolves to itself); [] when the
    name does not resolve."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return []
    return sorted({str(info[4][0]).split("%", 1)[0] for info in infos})


@dataclass(frozen=True)
class AllowList:
    """Hosts and networks the API may send to although they are not public."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        """From setting entries: ``hooks.internal``, ``10.0.0.5``, ``10.1.0.0/16``,
        ``fd00::/8``. ValueError naming an entry that is none of these."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            if "/" in entry or not _is_host_name(entry):
                raise ValueError(f"{entry!r} is not a host name, an IP address or a CIDR network")
            hosts.add(entry.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def allows_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def allows_address(self, address: IPAddress) -> bool:
        return any(address in net for net in self.networks if net.version == address.version)


def _is_host_name(text: str) -> bool:
    labels = text.rstrip(".").split(".")
    return len(text) <= 253 and all(
        0 < len(label) <= 63
        and label[0] != "-"
        and label[-1] != "-"
        and all(c.isascii() and (c.isalnum() or c in "-_") for c in label)
        for label in labels
    )


def non_public_kind(address: IPAddress) -> str | None:
    """Why ``address`` is not a public one ("loopback", "private"...), or None if it is."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return non_public_kind(embedded)
        if address.teredo is not None:
            return non_public_kind(address.teredo[1])
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    )
    for kind, hit in checks:
        if hit:
            return kind
    return None if address.is_global else "non-public"


def shown_url(url: str) -> str:
    """``scheme://host:port`` of a URL: what messages show of it (a Slack webhook's path is
    its secret, and any URL's user info or query may hold one)."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = None
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def url_problem(url: str, allow: AllowList, resolve: Resolver = resolve_host) -> str | None:
    """Why the service must not send to ``url`` on an API caller's word, or None."""
    host = urlsplit(url).hostname
    if not host:
        return "the URL has no host"
    if allow.allows_host(host):
        return None
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        resolved = resolve(host)
        if not resolved:
            # Nothing to call now; ``check_urls`` refuses it if it must answer. (A name
            # that later resolves inside is DNS rebinding: see the module's docstring.)
            return None
        addresses = [ipaddress.ip_address(a) for a in resolved]
    for address in addresses:
        kind = non_public_kind(address)
        if kind is not None and not allow.allows_address(address):
            via = "" if str(address) == host else f"{host!r} resolves to "
            return (
                f"{via}{address}, a {kind} address: not allowed from the API "
                "(add the host or its network to DRIFTWARDEN_OUTBOUND_ALLOWED_HOSTS)"
            )
    return None


def outbound_problems(
    targets: Sequence[tuple[str, str, str]],
    allow: AllowList,
    resolve: Resolver = resolve_host,
) -> list[str]:
    """``(path, receiver name, url)`` of each outgoing URL -> one line per refused URL,
    naming the receiver and the URL (as :func:`shown_url`)."""
    problems = []
    for path, name, url in targets:
        problem = url_problem(url, allow, resolve)
        if problem is not None:
            problems.append(f"{path}={shown_url(url)} (receiver {name!r}): {problem}")
    return problems
