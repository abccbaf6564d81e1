"""ccxt clients made from a session's ``[exchange]`` configuration: the ccxt.pro (async) one a live session
streams and trades with, and the synchronous one DataGen downloads history with, set up alike.

``[exchange.options]`` become the client's options; ``[exchange.urls]`` are merged key by key into
``urls["api"]`` (a table such as ``ws = { spot = "..." }`` into the existing table), so a testnet or a local
server is a config change. Keys are passed only when given (a paper session needs none) and both clients' loggers
are fitted with ``engine.redact``'s filter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ccxt
import ccxt.pro

from engine.errors import ConfigError
from engine.live_config import ExchangeConfig
from engine.redact import guard_logger

__all__ = ["pro_client", "rest_client"]


def _settings(config: ExchangeConfig, credentials: tuple[str, str] | None) -> dict[str, Any]:
    settings: dict[str, Any] = {"enableRateLimit": True, "options": dict(config.options)}
    if credentials is not None:
        settings["apiKey"], settings["secret"] = credentials
    return settings


def _point(client: Any, urls: Mapping[str, Any]) -> Any:
    api = client.urls.setdefault("api", {})
    for key, value in urls.items():
        if isinstance(value, Mapping):
            current = api.get(key)
            api[key] = {**current, **value} if isinstance(current, dict) else dict(value)
        else:
            api[key] = value
    guard_logger(client)
    return client


def pro_client(config: ExchangeConfig, credentials: tuple[str, str] | None = None) -> Any:
    """Return the ccxt.pro client of ``config.id`` (markets not loaded yet)."""
    if config.id not in ccxt.pro.exchanges:
        raise ConfigError(f"exchange.id must be a ccxt.pro exchange id, got {config.id!r}")
    return _point(getattr(ccxt.pro, config.id)(_settings(config, credentials)), config.urls)


def rest_client(config: ExchangeConfig, credentials: tuple[str, str] | None = None) -> ccxt.Exchange:
    """Return the synchronous ccxt client of ``config.id``, for downloads (a live session's warm-up)."""
    if config.id not in ccxt.exchanges:
        raise ConfigError(f"exchange.id must be a ccxt exchange id, got {config.id!r}")
    client: ccxt.Exchange = _point(getattr(ccxt, config.id)(_settings(config, credentials)), config.urls)
    return client
