"""API keys: who a client is, what it may do, and how much of it."""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from domain.errors import FieldError
from domain.model import has_control_characters

TOKEN_PREFIX = "ema_"
_TOKEN = re.compile(r"ema_([0-9a-f]{8})_[A-Za-z0-9_-]{43}")
NAME_MAX = 100
_PREFIX = re.compile(r"[0-9a-f]{8}")
# A token anywhere in a text, whole or cut short: its secret part goes.
_IN_TEXT = re.compile(r"ema_([0-9a-f]{8})_[A-Za-z0-9_-]+")


class Scope(enum.StrEnum):
    READ = "read"  # GET and HEAD
    WRITE = "write"  # every other method


@dataclass(frozen=True, slots=True)
class Quota:
    limit: int
    window_seconds: int


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    name: str
    prefix: str  # public: shown by `keys list`, used to find the key
    digest: str  # HMAC-SHA-256 of the whole token; the token itself is never kept
    scopes: frozenset[Scope]
    created_at: datetime
    quotas: Mapping[str, Quota] = field(default_factory=dict)  # by group
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    def allows(self, scope: Scope) -> bool:
        return self.revoked_at is None and scope in self.scopes


def mint_token() -> tuple[str, str]:
    """A new token and its public prefix: 32 random bits to find the key by,
    256 random bits of secret."""
    prefix = secrets.token_hex(4)
    return prefix, f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"


def prefix_of(token: str) -> str | None:
    """The public prefix of a well-formed token, or None."""
    match = _TOKEN.fullmatch(token)
    return match[1] if match else None


def token_digest(secret_key: str, token: str) -> str:
    """HMAC-SHA-256 of the token, keyed with SECRET_KEY.

    A fast keyed hash fits random tokens: with 256 bits of entropy nothing can
    be guessed, however fast each guess, so a deliberately slow password hash
    (bcrypt, argon2) would only add its ~100 ms to every request. The key makes
    a stolen table useless on its own: without SECRET_KEY no guess can even be
    checked against it."""
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


def name_errors(name: str) -> list[FieldError]:
    if not 1 <= len(name) <= NAME_MAX or has_control_characters(name):
        return [FieldError("name", f"1-{NAME_MAX} characters, no control characters")]
    if _PREFIX.fullmatch(name):  # `keys revoke` takes a name or a prefix
        return [FieldError("name", "must not look like a key prefix (8 hex digits)")]
    return []


def mask_tokens(text: str) -> str:
    """text with the secret part of every API token in it hidden; the public
    prefix stays, so a log line still says which key it was."""
    if TOKEN_PREFIX not in text:
        return text
    return _IN_TEXT.sub(r"ema_\1_…", text)
