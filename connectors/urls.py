"""Canonical URLs and video references shared by the connectors.

* :func:`canonical_url` - one spelling per link: ``https``, host lower-cased without ``www.`` /
  ``m.`` / ``mobile.``, default port, fragment and tracking parameters (``utm_*``, ``fbclid``,
  ``gclid``, ``si``, ``feature``...) dropped, remaining query parameters sorted. YouTube video
  links become ``https://youtube.com/watch?v=<id>``.
* :func:`youtube_id` - the 11-character id of a YouTube video link in any of its forms:
  ``youtube.com/watch?v=``, ``m.``/``music.``/``www.`` hosts, ``youtu.be/<id>``,
  ``/shorts/<id>``, ``/embed/<id>``, ``/live/<id>``, ``/v/<id>``, ``/e/<id>``,
  ``youtube-nocookie.com/embed/<id>``, with or without scheme; ``None`` for anything else
  (channels, playlists, search pages, malformed ids).
* :func:`video_ref` - ``"youtube:<id>"`` for a YouTube video link, else ``None``.
* :func:`web_url` - the URL if it is an absolute ``http``/``https`` URL with a host, else
  ``None``: what a post may store as its ``url``, ``canonical_url``, ``links`` and
  ``media_urls`` (never ``javascript:``, ``data:``, ``file:`` or any other scheme).
* :func:`unsafe_id` - True for an id that is a ``javascript:``, ``data:``, ``file:`` or
  ``vbscript:`` URL (``connectors.schema.make_post`` replaces such ids by a hash).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_YT_HOSTS = {"youtube.com", "youtube-nocookie.com"}
_YT_PATH_PREFIXES = ("shorts", "embed", "live", "v", "e")
_STRIP_HOST_PREFIXES = ("www.", "m.", "mobile.", "music.")
_TRACKING = {
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid", "igsh",
    "mc_cid", "mc_eid", "si", "feature", "ref_src", "ref_url", "_hsenc", "_hsmla", "mkt_tok",
    "spm", "pp", "ab_channel", "s_cid", "cmpid", "ocid", "smid", "share_id",
}


def _split(u: str):
    u = (u or "").strip()
    if not u:
        return None
    if "://" not in u and not u.startswith("//"):
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:(?!\d)", u):
            return None  # mailto:, javascript:, tel: ...
        u = "https://" + u
    try:
        parts = urlsplit(u)
        parts.port  # raises ValueError for a bad port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https", "") or not parts.hostname:
        return None
    return parts


_UNSAFE_SCHEME = re.compile(r"^(?:javascript|data|file|vbscript):", re.I)
_IGNORED_IN_SCHEME = re.compile(r"[\x00-\x20\x7f]+")


def web_url(u: object) -> str | None:
    """``u`` stripped, if it is an absolute http(s) URL with a host; else None."""
    if not isinstance(u, str):
        return None
    u = u.strip()
    if not u or any(c in u for c in "\x00\r\n\t"):
        return None
    try:
        parts = urlsplit(u)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    return u


def unsafe_id(value: object) -> bool:
    """True if ``value`` is (after the whitespace and control characters browsers ignore) a
    ``javascript:``, ``data:``, ``file:`` or ``vbscript:`` URL."""
    return isinstance(value, str) and bool(_UNSAFE_SCHEME.match(_IGNORED_IN_SCHEME.sub("", value)))


def _bare_host(host: str) -> str:
    if ":" in host:  # an IPv6 literal: urlsplit's hostname drops the brackets, a URL needs them
        return f"[{host.lower()}]"
    host = host.lower().rstrip(".")
    for prefix in _STRIP_HOST_PREFIXES:
        rest = host[len(prefix):]
        if host.startswith(prefix) and "." in rest and (prefix != "music." or rest in _YT_HOSTS):
            return rest
    return host


def youtube_id(u: str | None) -> str | None:
    """The YouTube video id in ``u`` (any of the forms in the module docstring), or ``None``."""
    parts = _split(u or "")
    return None if parts is None else _youtube_id(parts, _bare_host(parts.hostname or ""))


def _youtube_id(parts: Any, host: str) -> str | None:
    """:func:`youtube_id` of a URL already split (``host``: its :func:`_bare_host`)."""
    segments = [s for s in parts.path.split("/") if s]
    candidate = None
    if host == "youtu.be":
        candidate = segments[0] if segments else None
    elif host in _YT_HOSTS:
        if segments[:1] == ["watch"] or not segments:
            candidate = dict(parse_qsl(parts.query)).get("v")
        elif len(segments) >= 2 and segments[0] in _YT_PATH_PREFIXES:
            candidate = segments[1]
        elif segments[0] == "attribution_link":
            inner = dict(parse_qsl(parts.query)).get("u", "")
            return youtube_id("https://youtube.com" + unquote(inner)) if inner.startswith("/") else None
    if candidate and _ID.match(candidate):
        return candidate
    return None


def video_ref(u: str | None) -> str | None:
    """``"youtube:<id>"`` for a YouTube video link, else ``None``."""
    vid = youtube_id(u)
    return f"youtube:{vid}" if vid else None


def canonical_url(u: str | None) -> str | None:
    """One spelling per link (see the module docstring); ``None`` for a non-HTTP or broken URL."""
    parts = _split(u or "")  # split once: the video id and the canonical form both read it
    if parts is None:
        return None
    host = _bare_host(parts.hostname or "")
    vid = _youtube_id(parts, host)
    if vid:
        return f"https://youtube.com/watch?v={vid}"
    port = parts.port
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    query = sorted(
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_") and k.lower() not in _TRACKING
    )
    path = parts.path or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    return urlunsplit(("https", netloc, path, urlencode(query), ""))
