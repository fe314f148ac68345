"""robots.txt for the pages claimwatch follows from content (article pages, fact-check pages).

:class:`RobotsCache` reads each origin's ``/robots.txt`` once (per run: the flow shares one cache
between the clients of a run) with :mod:`protego` and answers whether a URL may be fetched by
claimwatch's user agent. Following RFC 9309:

* a ``robots.txt`` that is missing or refused (any 4xx) allows everything;
* one that cannot be read (5xx, a timeout, a connection error) disallows the whole origin for
  this run (the reason says so; the next run asks again);
* only the first 512 KiB are read; rules for ``claimwatch`` win over ``*``.

Feeds and APIs the operator configured are not checked: robots.txt is about crawling pages.
``[settings] respect_robots_txt = false`` turns the check off.
"""

from __future__ import annotations

import re
import threading
from typing import Any
from urllib.parse import urlsplit

from connectors.errors import BudgetExceeded, FetchError, HTTPStatusError

MAX_ROBOTS_BYTES = 512 * 1024


def agent_token(user_agent: str) -> str:
    """The product token of a User-Agent (``"claimwatch/0.1 (+mailto:...)"`` -> ``"claimwatch"``)."""
    m = re.match(r"\s*([A-Za-z0-9_.-]+)", user_agent or "")
    return m.group(1) if m else "claimwatch"


class RobotsCache:
    """robots.txt rules per origin, read at most once (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._origin_locks: dict[str, threading.Lock] = {}
        self._rules: dict[str, Any] = {}  # origin -> Protego, or a reason string (all disallowed)
        self.fetched: list[str] = []  # origins whose robots.txt was requested (for tests and logs)

    def disallowed(self, client: Any, url: str) -> tuple[str, bool] | None:
        """``(why, temporary)`` if ``url`` may not be fetched (temporary: robots.txt could not be
        read this run), or None if it may."""
        parts = urlsplit(url)
        origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        with self._lock:
            lock = self._origin_locks.setdefault(origin, threading.Lock())
        with lock:
            if origin not in self._rules:
                self._rules[origin] = self._load(client, origin)
        rules = self._rules[origin]
        robots_url = f"{origin}/robots.txt"
        if isinstance(rules, str):
            return f"{robots_url} could not be read ({rules}), so the site is not crawled this run", True
        token = agent_token(client.settings.user_agent)
        if rules is None or rules.can_fetch(url, token):
            return None
        return f"disallowed for {token!r} by {robots_url}", False

    def _load(self, client: Any, origin: str) -> Any:
        from protego import Protego

        from connectors.safe import charset_of, decode_text

        self.fetched.append(origin)
        try:
            resp = client.get(f"{origin}/robots.txt", headers={"Accept": "text/plain"})
        except BudgetExceeded:
            raise
        except HTTPStatusError as exc:
            if 400 <= exc.status_code < 500:
                return None  # no robots.txt (or refused): everything is allowed
            return f"HTTP {exc.status_code}"
        except FetchError as exc:
            return type(exc).__name__
        text = decode_text(resp.content[:MAX_ROBOTS_BYTES], charset_of(resp.header("content-type")))
        return Protego.parse(text)
