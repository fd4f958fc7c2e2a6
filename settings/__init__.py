"""Configuration: the one reader of the environment (settings.config), and the
settings it yields. Re-exports only."""

from settings.config import (
    DEFAULT_DATABASE_URL,
    DEFAULT_QUOTAS,
    AuthSettings,
    HttpSettings,
    PoolSettings,
    RateLimitSettings,
    Settings,
    client_token,
    variable_names,
)
from settings.redis import RedisSettings
from settings.server import ServerSettings
from settings.values import (
    MEMORY_URL,
    Network,
    SettingsError,
    parse_networks,
    parse_quota,
)

__all__ = [
    "DEFAULT_DATABASE_URL",
    "DEFAULT_QUOTAS",
    "MEMORY_URL",
    "AuthSettings",
    "HttpSettings",
    "Network",
    "PoolSettings",
    "RateLimitSettings",
    "RedisSettings",
    "ServerSettings",
    "Settings",
    "SettingsError",
    "client_token",
    "parse_networks",
    "parse_quota",
    "variable_names",
]
