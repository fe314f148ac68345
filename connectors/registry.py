"""Where connector kinds are registered. Adding a connector = one module + one line here.

Modules are imported only when their kind is used, so ``claimwatch parse`` starts fast.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from connectors.errors import ConfigError

# source kind -> module (each has ``Source`` and ``parse``)
KINDS: dict[str, str] = {
    "rss": "connectors.rss",
    "mastodon": "connectors.mastodon",
    "bluesky": "connectors.bluesky",
    "reddit": "connectors.reddit",
    "youtube": "connectors.youtube",
    "telegram": "connectors.telegram",
    "factchecks": "connectors.claimreview",
}

# `claimwatch parse KIND` -> (module, parse function name)
PARSERS: dict[str, tuple[str, str]] = {
    "rss": ("connectors.rss", "parse"),
    "article": ("connectors.article", "parse"),
    "mastodon": ("connectors.mastodon", "parse"),
    "bluesky": ("connectors.bluesky", "parse"),
    "reddit": ("connectors.reddit", "parse"),
    "youtube-feed": ("connectors.youtube", "parse_feed"),
    "youtube-api": ("connectors.youtube", "parse_api"),
    "telegram": ("connectors.telegram", "parse"),
    "captions": ("connectors.captions", "parse"),
    "claimreview": ("connectors.claimreview", "parse"),
}


def module_for(kind: str) -> ModuleType:
    try:
        return importlib.import_module(KINDS[kind])
    except KeyError:
        raise ConfigError(
            f"unknown source kind {kind!r}; use one of: {', '.join(sorted(KINDS))}"
        ) from None


def parser_for(kind: str):
    try:
        mod, fn = PARSERS[kind]
    except KeyError:
        raise ConfigError(f"unknown parse kind {kind!r}; use one of: {', '.join(PARSERS)}") from None
    return getattr(importlib.import_module(mod), fn)
