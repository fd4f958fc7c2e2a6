"""Checked parsing of configuration values; settings/config.py names the variables."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar
from urllib.parse import urlsplit

from domain.api_keys import Quota

T = TypeVar("T")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MEMORY_URL = "memory://"


class SettingsError(ValueError):
    """A variable has a value the service cannot run with."""


LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_FLAGS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


class Environment:
    """Typed, checked reads that remember which names were asked for."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.names: list[str] = []

    def text(self, name: str, default: str) -> str:
        self.names.append(name)
        return self._env.get(name, default)

    def parsed(
        self, name: str, default: T, parse: Callable[[str], T], *, secret: bool = False
    ) -> T:
        """parse's ValueError says what is allowed; an empty value is unset.
        A secret's value, and the password in a URL, never reach the message."""
        value = self.text(name, "").strip()
        if not value:
            return default
        try:
            return parse(value)
        except ValueError as exc:
            shown = "<hidden>" if secret else repr(redacted(value))
            raise SettingsError(f"{name}={shown}: {exc}") from None

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        def parse(text: str) -> int:
            if not re.fullmatch(r"[0-9]{1,12}", text) or not low <= int(text) <= high:
                raise ValueError(f"must be an integer from {low} to {high}")
            return int(text)

        return self.parsed(name, default, parse)

    def number(self, name: str, default: float, low: float, high: float) -> float:
        def parse(text: str) -> float:
            if not re.fullmatch(r"[0-9]{1,9}(\.[0-9]{1,6})?", text) or not (
                low <= float(text) <= high
            ):
                raise ValueError(f"must be a number from {low} to {high}")
            return float(text)

        return self.parsed(name, default, parse)

    def flag(self, name: str, default: bool) -> bool:
        def parse(text: str) -> bool:
            if text.lower() not in _FLAGS:
                raise ValueError("must be 1 or 0 (or true/false, yes/no)")
            return _FLAGS[text.lower()]

        return self.parsed(name, default, parse)

    def choice(self, name: str, default: str, choices: Sequence[str]) -> str:
        def parse(text: str) -> str:
            if text.lower() not in choices:
                raise ValueError(f"must be one of {', '.join(choices)}")
            return text.lower()

        return self.parsed(name, default, parse)


def redacted(text: str) -> str:
    """The text with any URL password replaced by ***."""
    return re.sub(r"(://[^/:@]*:)[^/@]*@", r"\1***@", text)


SECRET_KEY_MIN = 32
MAKE_A_SECRET = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


def secret_key(text: str) -> str:
    if len(text) < SECRET_KEY_MIN:
        raise ValueError(
            f"must be at least {SECRET_KEY_MIN} characters; make one with: "
            + MAKE_A_SECRET
        )
    return text


def secret_keys(text: str) -> tuple[str, ...]:
    """Comma-separated secrets, each as SECRET_KEY must be."""
    keys = tuple(part.strip() for part in text.split(",") if part.strip())
    for key in keys:
        if len(key) < SECRET_KEY_MIN:
            raise ValueError(
                f"must be comma-separated secrets of at least {SECRET_KEY_MIN} "
                "characters each (the SECRET_KEY values used before)"
            )
    return keys


def key_prefix(text: str) -> str:
    if not re.fullmatch(r"[\x21-\x7e]{1,64}", text):
        raise ValueError("must be 1-64 visible ASCII characters, e.g. 'ema:prod:'")
    return text


def default_key_prefix(database: str) -> str:
    """One per database: its host, port and name (or SQLite path), hashed, so
    every spelling of one database's URL (user, options, postgres://) agrees;
    an in-memory store is its process's own, so it gets a prefix of its own."""
    if database == MEMORY_URL:
        return f"ema:{secrets.token_hex(6)}:"
    parts = urlsplit(database)
    port = parts.port or (5432 if parts.scheme.startswith("postgres") else "")
    where = f"{parts.hostname or ''}:{port}/{parts.path.lstrip('/')}"
    return f"ema:{hashlib.sha256(where.encode()).hexdigest()[:12]}:"


def database_url(text: str) -> str:
    if text != MEMORY_URL and urlsplit(text).scheme not in _DATABASE_SCHEMES:
        raise ValueError(
            "must be postgresql://user:pass@host:port/db, sqlite:///path or memory://"
        )
    return text


_DATABASE_SCHEMES = ("postgres", "postgresql", "sqlite")


def redis_url(text: str) -> str:
    if urlsplit(text).scheme not in ("redis", "rediss", "unix"):
        raise ValueError(
            "must be redis://[:password@]host:port/db, rediss:// or unix://"
        )
    return text


def bind_address(text: str) -> str:
    if text.startswith(("unix:", "fd://")):
        return text
    host, _, port = text.rpartition(":")
    valid_port = re.fullmatch("[0-9]{1,5}", port) and 1 <= int(port) <= 65_535
    if not (host and valid_port):
        raise ValueError("must be HOST:PORT (e.g. 0.0.0.0:8000) or unix:PATH")
    return text


_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_MAX_QUOTA_NUMBER = 999_999_999  # nine digits: the pattern below
_QUOTA = re.compile(r"\s*(\d{1,9})\s*/\s*(?:(\d{1,9})\s*s|(second|minute|hour|day))\s*")


def parse_quota(text: str) -> Quota:
    """'10/minute', '100/hour' or '5/30s'; ValueError says what is allowed."""
    match = _QUOTA.fullmatch(text)
    window = (int(match[2]) if match[2] else _UNITS[match[3]]) if match else 0
    if not match or int(match[1]) < 1 or window < 1:
        raise ValueError(
            "must be N/second, N/minute, N/hour, N/day or N/Ms (e.g. 10/minute), "
            f"N and M from 1 to {_MAX_QUOTA_NUMBER:,}"
        )
    return Quota(int(match[1]), window)


_DURATION = re.compile(r"\s*(\d{1,9})\s*(s|m|h|d)?\s*")
_DURATION_UNITS = {None: 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """'7d', '12h', '30m', '90s' or seconds ('3600'), in seconds, one minute
    to a year; ValueError says what is allowed."""
    match = _DURATION.fullmatch(text)
    seconds = int(match[1]) * _DURATION_UNITS[match[2]] if match else 0
    if not 60 <= seconds <= 366 * 86400:
        raise ValueError(
            "must be a duration from one minute to a year: Nd, Nh, Nm, Ns or "
            "seconds (e.g. 7d)"
        )
    return seconds


def parse_networks(text: str) -> list[Network]:
    """Comma-separated CIDRs or addresses, e.g. "10.0.0.0/8, 127.0.0.1".
    IPv4-mapped IPv6 networks (::ffff:10.0.0.0/104) become IPv4 networks,
    since addresses are compared in their IPv4 form."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        return [_unmapped(ipaddress.ip_network(p, strict=False)) for p in parts]
    except ValueError:
        raise ValueError("must be comma-separated IP addresses or CIDRs") from None


def _unmapped(network: Network) -> Network:
    mapped = getattr(network.network_address, "ipv4_mapped", None)
    if mapped is None or network.prefixlen < 96:
        return network
    return ipaddress.IPv4Network(f"{mapped}/{network.prefixlen - 96}")
