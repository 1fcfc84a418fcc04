"""Small typed readers for settings that come from the environment.

Each one fails loudly with ImproperlyConfigured on a value it cannot read,
so a typo in a deployment is found at start-up, not at the first request.
A secret may also come from a file named by ``<NAME>_FILE`` (systemd
credentials, Docker secrets).
"""

import datetime as dt
import ipaddress
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_name!r}: {exc}") from exc
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false)")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from exc
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum {minimum}")
    return value


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number") from exc


def parse_fixed_now(raw: str) -> dt.datetime | None:
    """FIXED_NOW: an ISO 8601 instant (UTC when it names no offset), or empty for none."""
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"FIXED_NOW={raw!r} is not an ISO 8601 date and time") from exc
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def env_networks(name: str, default: list[str]) -> list[IPNetwork]:
    """Comma-separated networks (``10.0.0.0/8,::1/128``; a bare address is a /32 or /128)."""
    networks = []
    for item in env_list(name, default):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(f"{name}: {item!r} is not a network") from exc
    return networks


def parse_database_url(url: str) -> dict[str, Any]:
    """Read ``postgresql://user:pass@host:port/name?host=/socket/dir``.

    dj-database-url reads the URL. What it does not do is done here: refuse
    every scheme but PostgreSQL's (the app needs LISTEN/NOTIFY and full-text
    search, so another database is a configuration error, not a fallback),
    and take libpq's ``?host=`` (a socket directory) as the host, where it
    would leave it among the options. Other query parameters (``sslmode``…)
    are libpq's connection options.
    """
    scheme = urlsplit(url).scheme
    if scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured(f"DATABASE_URL must be postgresql://…, not {scheme!r}")
    config = dj_database_url.parse(url)
    if not config.get("NAME"):
        raise ImproperlyConfigured("DATABASE_URL names no database")
    options = dict(config.get("OPTIONS", {}))
    host = options.pop("host", None) or config.get("HOST") or ""
    return {
        "NAME": str(config["NAME"]),
        "USER": str(config.get("USER") or ""),
        "PASSWORD": str(config.get("PASSWORD") or ""),
        "HOST": str(host),
        "PORT": str(config.get("PORT") or ""),
        "OPTIONS": options,
    }
