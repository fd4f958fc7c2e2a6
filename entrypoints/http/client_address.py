"""Who the client is, for rate limiting, when requests may come through proxies."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence

import falcon

from settings import Network

log = logging.getLogger(__name__)


class ClientAddress:
    """The peer address, or, when the peer is a trusted proxy, the rightmost
    X-Forwarded-For hop that is not itself a trusted proxy. Hops left of that
    are the client's own claims and are ignored, so forging them gains nothing.
    A hop that is not an IP address is no client: the peer is used instead
    (else every made-up value would be a fresh rate-limit bucket), and the
    first such header is logged once.
    """

    def __init__(self, trusted_proxies: Sequence[Network]) -> None:
        self._trusted = list(trusted_proxies)
        self._said_malformed = False

    def __call__(self, req: falcon.Request) -> str:
        """The client's rate-limit identity: its address, an IPv6 one as its /64."""
        return bucket(self.exact(req))

    def exact(self, req: falcon.Request) -> str:
        """The client's own address, in its one canonical spelling."""
        peer = canonical(req.remote_addr or "unknown")
        if not self._is_trusted(peer):
            return peer
        forwarded = req.get_header("X-Forwarded-For") or ""
        for hop in reversed([canonical(h) for h in forwarded.split(",")]):
            if hop and not self._is_trusted(hop):
                return hop if _is_address(hop) else self._malformed(peer, hop)
        return peer

    def _malformed(self, peer: str, hop: str) -> str:
        if not self._said_malformed:
            self._said_malformed = True
            log.warning(
                "X-Forwarded-For from the trusted proxy %s holds %r, not an IP "
                "address: such requests count as the proxy's own (said once)",
                peer, hop[:64],
            )  # fmt: skip
        return peer

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._trusted)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def canonical(address: str) -> str:
    """One spelling per client: ports and brackets dropped, IPv4-mapped IPv6
    as IPv4, so '1.2.3.4:5555', '[::ffff:1.2.3.4]' and '1.2.3.4' are one client.
    Anything unparseable is kept as given (trimmed)."""
    text = address.strip()
    if text.startswith("["):  # [v6] or [v6]:port
        text = text[1 : text.find("]")] if "]" in text else text
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return address.strip()
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def bucket(address: str) -> str:
    """The rate-limit identity of an address: an IPv6 client is its /64, which
    a single host usually owns whole and could otherwise rotate through."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return address
