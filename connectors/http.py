"""The one HTTP client every connector uses.

``HttpClient.get`` returns a :class:`Response` for 2xx and 304, and raises
:class:`connectors.errors.FetchError` subclasses otherwise (after retries). Tests and the demo
inject an ``httpx`` transport instead of patching.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

import httpx

from connectors.errors import FetchError, HTTPStatusError, ParseError, TooLargeError


@dataclass
class HttpSettings:
    user_agent: str = "claimwatch/0.1 (+https://github.com/claimwatch/claimwatch)"
    timeout: float = 20.0
    max_bytes: int = 20 * 1024 * 1024
    max_redirects: int = 5
    retries: int = 3
    backoff: float = 0.5
    allow_private: bool = False
    secrets: list[str] = field(default_factory=list)  # values masked in every message


@dataclass
class Response:
    url: str
    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def not_modified(self) -> bool:
        return self.status_code == 304

    def json(self) -> Any:
        try:
            return json.loads(self.content)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"{self.url}: not valid JSON ({exc})") from None


class HttpClient:
    def __init__(self, settings: HttpSettings | None = None, transport: httpx.BaseTransport | None = None):
        self.settings = settings or HttpSettings()
        self._client = httpx.Client(
            transport=transport,
            timeout=self.settings.timeout,
            follow_redirects=True,
            max_redirects=self.settings.max_redirects,
            headers={"User-Agent": self.settings.user_agent},
        )

    def get(self, url: str, *, params: Mapping[str, Any] | None = None,
            headers: Mapping[str, str] | None = None) -> Response:
        try:
            with self._client.stream("GET", url, params=params, headers=headers) as r:
                chunks, size = [], 0
                for chunk in r.iter_bytes():
                    size += len(chunk)
                    if size > self.settings.max_bytes:
                        raise TooLargeError(f"{url}: response larger than {self.settings.max_bytes} bytes")
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from None
        if r.status_code >= 400:
            raise HTTPStatusError(f"{url}: HTTP {r.status_code}", r.status_code)
        return Response(str(r.url), r.status_code, dict(r.headers), b"".join(chunks))

    def get_json(self, url: str, **kw: Any) -> Any:
        return self.get(url, **kw).json()

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "HttpClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
