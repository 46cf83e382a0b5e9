"""The client's address: the one place that decides whether X-Forwarded-For is believed.

Rate limits and the audit log key on this address, so a header a client can write must not
choose it. The header is read only when the TCP peer is a configured proxy
(`FORWARDED_ALLOW_IPS`); then the hops are walked from the right (the end each proxy
appends to) and the first address that is not a trusted proxy is the client.
"""

from __future__ import annotations

import ipaddress

from starlette.requests import Request

from certplatform.kernel.settings import IPNetwork, Settings

UNKNOWN = "unknown"


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, proxies: tuple[IPNetwork, ...]
) -> bool:
    return any(address in network for network in proxies)


def resolve_client_ip(
    peer: str | None, forwarded_for: list[str], proxies: tuple[IPNetwork, ...]
) -> str:
    """The client address given the TCP peer, the X-Forwarded-For header lines and proxies."""
    if peer is None:
        return UNKNOWN
    current = _parse(peer)
    if current is None:
        return peer  # a test client or a Unix socket: no address to trust or refuse
    if not proxies:
        return str(current)
    hops = [hop for line in forwarded_for for hop in line.split(",")]
    while _trusted(current, proxies) and hops:
        previous = _parse(hops.pop())
        if previous is None:
            # Garbage to the left of a trusted hop: stop at the last address a proxy vouched for.
            break
        current = previous
    return str(current)


def client_ip(request: Request) -> str:
    """The address of the client that sent `request`, for rate limits and the audit log."""
    settings: Settings = request.app.state.settings
    return resolve_client_ip(
        request.client.host if request.client else None,
        request.headers.getlist("x-forwarded-for"),
        settings.trusted_proxies,
    )
