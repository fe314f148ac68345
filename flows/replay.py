"""Recorded responses replayed through an ``httpx`` transport (the demo and the tests).

The manifest (``flows/demo/responses/manifest.toml``) lists ``[[response]]`` entries::

    [[response]]
    url = "https://mastodon.social/api/v1/timelines/tag/ImranKhan"   # scheme + host + path
    query = { max_id = "1133" }   # optional: these parameters must be present with these values
    file = "mastodon/tag_page1.json"   # relative to the manifest's folder
    status = 200                  # default 200
    content_type = "application/json; charset=utf-8"
    headers = { ETag = '"abc"' }  # optional

The most specific matching entry (most ``query`` parameters) wins. A request no entry matches
is answered ``404`` so a misconfigured demo fails loudly; so is an entry whose file has gone.
"""

from __future__ import annotations

import contextlib
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
import httpx

ENTRY_KEYS = {"url", "query", "file", "status", "content_type", "headers", "body"}


class ReplayError(ValueError):
    """Raised by :meth:`ReplayTransport.from_manifest` for a manifest it cannot use."""


@dataclass
class RecordedResponse:
    scheme: str
    host: str
    port: int | None
    path: str
    query: dict[str, str]
    file: Path | None
    body: bytes | None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)

    def matches(self, url: httpx.URL) -> bool:
        if (url.scheme, url.host, url.port, url.path) != (self.scheme, self.host, self.port, self.path):
            return False
        params = url.params
        return all(params.get(k) == v for k, v in self.query.items())


def _key(url: httpx.URL) -> tuple[str, str, int | None, str]:
    return url.scheme, url.host, url.port, url.path or "/"


class ReplayTransport(httpx.BaseTransport):
    """An ``httpx`` transport answering from recorded files; pass it to ``HttpClient``."""

    def __init__(self, responses: list[RecordedResponse]):
        self.responses = responses
        self.requests: list[str] = []
        self.unmatched: list[str] = []
        self.served: list[tuple[str, Path | None]] = []  # (url, file) in the order answered

    @classmethod
    def from_manifest(cls, path: str | Path) -> "ReplayTransport":
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ReplayError(f"{path}: replay manifest not found") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ReplayError(f"{path}: not a valid TOML manifest ({exc})") from None
        entries = data.get("response", [])
        if not isinstance(entries, list) or not entries:
            raise ReplayError(f"{path}: no [[response]] entries")
        base = path.parent
        out = []
        for i, e in enumerate(entries, 1):
            where = f"{path}: [[response]] #{i}"
            if not isinstance(e, dict):
                raise ReplayError(f"{where}: must be a table")
            extra = set(e) - ENTRY_KEYS
            if extra:
                raise ReplayError(f"{where}: unknown key {sorted(extra)[0]!r}; use {', '.join(sorted(ENTRY_KEYS))}")
            if not isinstance(e.get("url"), str):
                raise ReplayError(f"{where}: 'url' is missing")
            try:
                url = httpx.URL(e["url"])
            except Exception as exc:  # httpx.InvalidURL and friends
                raise ReplayError(f"{where}: bad url {e['url']!r} ({exc})") from None
            if url.scheme not in ("http", "https") or not url.host:
                raise ReplayError(f"{where}: url {e['url']!r} needs http(s)://host/path")
            query = {str(k): str(v) for k, v in url.params.multi_items()}
            q = e.get("query", {})
            if not isinstance(q, dict):
                raise ReplayError(f"{where}: 'query' must be a table")
            query.update({str(k): str(v) for k, v in q.items()})
            file = body = None
            if "file" in e:
                file = (base / str(e["file"])).resolve()
                if not file.is_relative_to(base.resolve()):
                    raise ReplayError(f"{where}: file {e['file']!r} is outside {base}")
                if not file.is_file():
                    raise ReplayError(f"{where}: file {e['file']!r} not found under {base}")
            elif "body" in e:
                body = str(e["body"]).encode("utf-8")
            status = e.get("status", 200)
            if not isinstance(status, int) or not 100 <= status <= 599:
                raise ReplayError(f"{where}: 'status' must be an HTTP status code, got {status!r}")
            headers = {str(k): str(v) for k, v in (e.get("headers") or {}).items()}
            if "content_type" in e:
                headers["Content-Type"] = str(e["content_type"])
            h = _key(url)
            out.append(RecordedResponse(h[0], h[1], h[2], h[3], query, file, body, status, headers))
        return cls(out)

    def lookup(self, url: httpx.URL) -> RecordedResponse | None:
        hits = [r for r in self.responses if r.matches(url)]
        if not hits:
            return None
        return max(hits, key=lambda r: len(r.query))  # first listed wins a tie

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(str(request.url))
        rec = self.lookup(request.url)
        if rec is None:
            self.unmatched.append(str(request.url))
            return httpx.Response(404, content=f"no recorded response for {request.url}".encode(),
                                  headers={"Content-Type": "text/plain"}, request=request)
        self.served.append((str(request.url), rec.file))
        try:
            content = rec.file.read_bytes() if rec.file is not None else (rec.body or b"")
        except OSError:
            return httpx.Response(404, content=b"recorded file missing", request=request)
        return httpx.Response(rec.status, content=content, headers=rec.headers, request=request)



@contextlib.contextmanager
def placeholder_credentials(sources: list[Any], value: str = "replay-placeholder-credential") -> Iterator[list[str]]:
    """While replaying, give every unset credential variable a source names (``*_env`` options)
    a placeholder: no request leaves the machine, and the recorded answers do not check it."""
    names = sorted({str(v) for s in sources for k, v in s.options.items()
                    if k.endswith("_env") and isinstance(v, str) and v and v not in os.environ})
    for n in names:
        os.environ[n] = value
    try:
        yield names
    finally:
        for n in names:
            os.environ.pop(n, None)
