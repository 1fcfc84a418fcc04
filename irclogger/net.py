"""Who is asking: the client address behind nginx, and network membership."""

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

from irclogger.env import IPNetwork

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Addresses parsed and kept: every request is logged with its client's
# address, and parsing one cost a stream reconnect about 1 % of its CPU.
PARSED_ADDRESSES = 65_536


def client_ip(request: HttpRequest) -> IPAddress | None:
    """REMOTE_ADDR, or the address nginx put in X-Forwarded-For when nginx is the peer.

    Only a peer in TRUSTED_PROXY_NETWORKS may name the client, and only the last
    entry counts (the one the proxy wrote): anything before it came from the client
    and proves nothing.
    """
    peer = _parse(request.META.get("REMOTE_ADDR", ""))
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if peer is None or not forwarded or not in_networks(peer, settings.TRUSTED_PROXY_NETWORKS):
        return peer
    return _parse(forwarded.split(",")[-1])


def client_address(request: HttpRequest) -> str:
    """client_ip as text, for what wants a string (django-axes); "" when unknown."""
    address = client_ip(request)
    return str(address) if address is not None else ""


def in_networks(address: IPAddress, networks: list[IPNetwork]) -> bool:
    return any(address in network for network in networks)


@lru_cache(maxsize=PARSED_ADDRESSES)
def _parse(raw: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(raw.strip())
    except ValueError:
        return None
