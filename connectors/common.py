"""Helpers the connectors share: the per-item parse loop, API-response checks, secrets from the
environment and conditional GETs. Pure except :func:`keep_secret` (tells the client to mask)."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any, Callable, Iterable

from connectors.errors import ParseError


def parse_items(items: Iterable[Any], row: Callable[[Any], dict | None],
                bad: tuple[type[BaseException], ...], *, dedupe: bool = False) -> tuple[list[dict], int]:
    """``(rows, skipped)``: ``row(item)`` for each item of a good response. An item whose ``row``
    raises one of ``bad`` or returns None is skipped and counted, never fatal. With ``dedupe``
    only the first row of each ``post_id`` is kept."""
    rows, skipped, seen = [], 0, set()
    for item in items:
        try:
            out = row(item)
        except bad:
            skipped += 1
            continue
        if out is None:
            skipped += 1
            continue
        if dedupe:
            if out["post_id"] in seen:
                continue
            seen.add(out["post_id"])
        rows.append(out)
    return rows, skipped


def unique(values: Iterable[Any]) -> list:
    """The truthy values in first-seen order, each once."""
    seen, out = set(), []
    for v in values:
        if v and v not in seen:
            seen.add(v)
            out.append(v)
    return out


def iso_time(value: Any) -> datetime | None:
    """An ISO 8601 time (``Z`` allowed) or None for an empty value; ValueError if unreadable."""
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def refuse_html(resp: Any, expected: str = "JSON") -> None:
    """Raise ParseError when a server answers an API call with an HTML page."""
    ctype = getattr(resp, "content_type", "") or ""
    if ctype in ("text/html", "application/xhtml+xml"):
        raise ParseError(f"{resp.url}: expected {expected} but the server sent {ctype} "
                         "(an error, login or consent page?); check the source's URL")


def keep_secret(client: Any, value: str | None) -> None:
    """Have the client mask ``value`` (a key, password or token) in every later message."""
    add_secret = getattr(client, "add_secret", None)
    if add_secret and value:
        add_secret(value)


def env_values(*names: str | None) -> list[str | None]:
    """The values of the environment variables named by a source's ``*_env`` options (None for an
    option not given or a variable not set)."""
    return [os.environ.get(name) if name else None for name in names]


def login_from_env(source: Any, id_option: str, secret_option: str, warnings: list[str],
                   without: str) -> tuple[str, str] | None:
    """``(identifier, secret)`` from the env vars a source's two options name, the secret masked
    from then on; None when either option is not given, or (with a warning ending in
    ``without``) when either variable is not set."""
    id_env, secret_env = source.options.get(id_option), source.options.get(secret_option)
    if not (id_env and secret_env):
        return None
    ident, secret = env_values(id_env, secret_env)
    if not (ident and secret):
        warnings.append(f"{source.name}: {id_env} or {secret_env} is not set; {without}")
        return None
    keep_secret(source.client, secret)
    return ident, secret


def conditional_headers(cursor: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, str]:
    """``headers`` plus ``If-None-Match``/``If-Modified-Since`` from a cursor's ``etag`` and
    ``last_modified``, so an unchanged document costs one ``304``."""
    out = dict(headers or {})
    if cursor.get("etag"):
        out["If-None-Match"] = cursor["etag"]
    if cursor.get("last_modified"):
        out["If-Modified-Since"] = cursor["last_modified"]
    return out
