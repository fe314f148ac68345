"""The one HTTP client every connector uses.

``HttpClient(settings, transport=None).get(url, params=, headers=)`` returns a :class:`Response`
for 2xx and 304 (``response.not_modified``), and raises a :class:`connectors.errors.FetchError`
subclass otherwise. ``.post(url, json=, data=, auth=, headers=)`` sends a JSON body or a form
(logins, token requests) with the same guarantees, except as noted below. Tests and the demo
inject an ``httpx`` transport instead of patching.

Guarantees (each pinned by tests/connectors/test_http.py):

* **Time**: connect/read timeouts of ``timeout`` seconds per socket call, and a total deadline
  of ``total_timeout`` per attempt over connect, TLS, headers and body, enforced at the socket
  (:mod:`connectors.deadlines`): a server trickling its headers or body one byte at a time is cut
  off at the deadline, and that is final (not retried). A client built with a
  :class:`connectors.deadlines.Budget` (the source's time budget, under the run's) makes no
  request once the budget is used up or cancelled, cuts off the request in flight within half a
  second, and never starts a retry wait longer than the time left (:class:`BudgetExceeded`).
* **Retries**: connection errors, timeouts, 408, 429 and 5xx (except 501) are retried up to
  ``retries`` times with exponential backoff and full jitter; ``Retry-After`` (seconds or an
  HTTP date) is honoured, and a server asking for more than ``retry_after_max`` seconds is not
  retried this run. The decision is the pure function :func:`retry_delay`; the wait goes
  through an injectable ``sleep``. A POST is retried only when the server cannot have acted on
  it: the connection was never made, or 429/503 came with a ``Retry-After``.
* **Politeness**: at most ``per_host_concurrency`` requests at once per host and at least
  ``min_interval`` seconds between two request starts to the same host; a ``User-Agent`` with
  the operator's contact address.
* **Size**: the raw body is streamed and capped at ``max_bytes``; gzip/deflate is inflated by
  :class:`connectors.safe.BoundedDecompressor` and capped at ``max_decompressed_bytes`` without
  holding more than the cap. Only gzip and deflate are offered in ``Accept-Encoding``.
* **Redirects**: followed by hand, at most ``max_redirects``; every hop is checked by the
  address rule below, and credentials (``Authorization``, ``Cookie``) are not sent on to
  another host. A POST is never redirected: a 3xx answer is an :class:`HTTPStatusError` naming
  the target, so a login or token request reaches exactly the configured URL.
* **robots.txt**: :meth:`HttpClient.check_robots` (used before fetching a page found in
  content: an article, a fact-check page) refuses URLs the site's robots.txt disallows for
  claimwatch (:mod:`connectors.robots`; read once per site per run), unless
  ``respect_robots_txt`` is false.
* **Addresses**: only http/https. :meth:`HttpClient.check_url` (used for links found inside
  content, and for every redirect hop) refuses hosts that resolve to private, loopback,
  link-local, multicast or reserved addresses unless ``allow_private`` is set. Host names are
  resolved for the check (a name could still re-resolve differently for the request itself;
  deployments that must rule that out put an egress proxy in front).
* **Secrets**: values in ``settings.secrets`` (and added with :meth:`HttpClient.add_secret`) and
  the values of secret-looking query parameters (``token``, ``key``, ``access_token``...) are
  masked as ``***`` in every exception message and log line. ``post`` adds the Basic-auth
  password and secret-looking body fields (``password``, ``client_secret``...) to them.
* **Errors**: every ``httpx`` exception is translated into ``connectors.errors`` at this boundary.
  A final 4xx/5xx raises :class:`HTTPStatusError` whose ``body`` holds the first
  :data:`ERROR_BODY_BYTES` bytes of the (inflated) error body as text, secrets masked, or None
  (APIs explain the refusal there, e.g. YouTube's ``quotaExceeded``); read it with
  ``exc.body``.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import re
import socket
import threading
import time
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from connectors import deadlines, redact
from connectors.deadlines import Budget, RequestGuard
from connectors.robots import RobotsCache
from connectors.errors import (
    BlockedURLError,
    BudgetExceeded,
    ConfigError,
    ConnectorError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    ParseError,
    RobotsDisallowed,
    TooLargeError,
)
from connectors.safe import BoundedDecompressor, charset_of, decode_text, load_json

log = logging.getLogger("claimwatch.http")
redact.install_log_filters()  # httpx logs every request URL (with its key=) at INFO

RETRY_STATUSES = frozenset({408, 429}) | frozenset(range(500, 600)) - {501, 505}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
ERROR_BODY_BYTES = 500  # kept from the body of a final 4xx/5xx, in HTTPStatusError.body
_ERROR_READ_BYTES = 64 * 1024  # read at most this much of an error body to take the excerpt from
_SECRET_IN_TEXT = re.compile(
    r"(?i)\b((?:access_token|refresh_token|api_key|apikey|client_secret|token|key|password|secret|sig|signature)"
    r"[\"']?\s*[=:]\s*[\"']?)([^&\s\"'<>,}]+)")
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
SECRET_PARAMS = frozenset({
    "token", "access_token", "refresh_token", "key", "api_key", "apikey", "client_secret",
    "password", "secret", "sig", "signature", "auth", "session",
})


@dataclass
class HttpSettings:
    """Settings of the shared client; :meth:`from_mapping` reads the ``[settings]`` table of the
    sources file."""

    user_agent: str = "claimwatch/0.1 (+https://github.com/claimwatch/claimwatch)"
    timeout: float = 20.0
    total_timeout: float = 120.0
    max_bytes: int = 20 * 1024 * 1024
    max_decompressed_bytes: int | None = None  # None: same as max_bytes
    max_redirects: int = 5
    retries: int = 3
    backoff: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 120.0
    per_host_concurrency: int = 2
    min_interval: float = 0.0
    allow_private: bool = False
    respect_robots_txt: bool = True  # check_robots: pages found in content obey their robots.txt
    secrets: list[str] = field(default_factory=list)  # values masked in every message

    _ALIASES = {"allow_private_links": "allow_private"}

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None, secrets: list[str] | None = None,
                     where: str = "[settings]") -> "HttpSettings":
        """Build from the sources file's ``[settings]`` table. Keys: the field names above, and
        ``allow_private_links`` for ``allow_private``. Keys this client does not know are left to
        other parts of the program (matching, storage) and ignored here; a known key with a
        value of the wrong type raises :class:`ConfigError` naming it."""
        kw: dict[str, Any] = {}
        known = {f.name: f for f in fields(cls) if f.name != "secrets"}
        for key, value in (mapping or {}).items():
            name = cls._ALIASES.get(key, key)
            if name not in known:
                continue
            default = getattr(cls(), name)
            try:
                if isinstance(default, bool):
                    if not isinstance(value, bool):
                        raise TypeError
                elif name == "max_decompressed_bytes":
                    value = None if value is None else int(value)
                elif isinstance(default, int):
                    if isinstance(value, bool) or int(value) != value:
                        raise TypeError
                    value = int(value)
                elif isinstance(default, float):
                    if isinstance(value, bool):
                        raise TypeError
                    value = float(value)
                elif isinstance(default, str) and not isinstance(value, str):
                    raise TypeError
            except (TypeError, ValueError):
                raise ConfigError(f"{where}: {key} = {value!r} has the wrong type; "
                                  f"use a {type(default).__name__} like {default!r}") from None
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
                raise ConfigError(f"{where}: {key} must not be negative")
            kw[name] = value
        if kw.get("user_agent") is not None and not kw["user_agent"].strip():
            raise ConfigError(f"{where}: user_agent is empty; give a name and contact address, "
                              "e.g. 'claimwatch/0.1 (+mailto:desk@example.org)'")
        return cls(**kw, secrets=list(secrets or []))


@dataclass
class Response:
    url: str
    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def not_modified(self) -> bool:
        return self.status_code == 304

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    def header(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers.items():
            if k.lower() == name:
                return v
        return None

    @property
    def text(self) -> str:
        """The body as text (declared charset, else detected, else UTF-8 with replacements)."""
        return decode_text(self.content, charset_of(self.header("content-type")))

    def json(self) -> Any:
        """The body as JSON; :class:`ParseError` if invalid or nested too deep."""
        return load_json(self.content, what=f"{mask_url(self.url)}: response")


# ---------------------------------------------------------------------------------------------
# pure parts


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date); None if absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def retry_delay(attempt: int, settings: HttpSettings, *, status: int | None = None,
                error: BaseException | None = None, retry_after: str | None = None,
                now: datetime | None = None, rand: Callable[[], float] = random.random,
                method: str = "GET") -> float | None:
    """How long to wait before retrying, or None to give up.

    ``attempt`` is the number of attempts made so far (1 after the first failure). Retryable:
    connection errors and timeouts (``error``), statuses in :data:`RETRY_STATUSES`. Waits
    ``Retry-After`` when given (None if it asks for more than ``settings.retry_after_max``),
    else ``rand() * min(backoff_max, backoff * 2 ** (attempt - 1))`` (full jitter).

    A ``POST`` (any method not in :data:`SAFE_METHODS`) is retried only when the server cannot
    have acted on it: the connection was never made (:data:`NOT_SENT_ERRORS`), or it answered 429
    or 503 with a readable ``Retry-After``. A read timeout, a cut connection, 408 or another 5xx
    may come after the server acted (a session opened, a token issued), so they are final."""
    if attempt > settings.retries:
        return None
    safe = method.upper() in SAFE_METHODS
    if error is not None:
        if not isinstance(error, (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
                          if safe else NOT_SENT_ERRORS):
            return None
    elif status not in RETRY_STATUSES:
        return None
    elif not safe and (status not in (429, 503) or parse_retry_after(retry_after, now) is None):
        return None
    asked = parse_retry_after(retry_after, now) if status in (429, 503) or retry_after else None
    if asked is not None:
        if asked > settings.retry_after_max:
            return None
        return asked
    return rand() * min(settings.backoff_max, settings.backoff * 2 ** (attempt - 1))


def mask_url(url: str) -> str:
    """The URL with secret-looking query values and any user:password replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in SECRET_PARAMS for k, _ in pairs):
            query = urlencode([(k, "***" if k.lower() in SECRET_PARAMS else v) for k, v in pairs],
                              safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def is_public_address(ip: str) -> bool:
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    return addr.is_global and not addr.is_multicast


def default_resolver(host: str) -> list[str]:
    return sorted({info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)})


# ---------------------------------------------------------------------------------------------


class HttpClient:
    """The shared client. ``sleep``, ``clock`` and ``resolver`` are injectable for tests."""

    def __init__(self, settings: HttpSettings | None = None, transport: httpx.BaseTransport | None = None,
                 *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 resolver: Callable[[str], list[str]] = default_resolver,
                 rand: Callable[[], float] = random.random, budget: Budget | None = None,
                 robots: RobotsCache | None = None):
        self.settings = settings or HttpSettings()
        self.sleep = sleep
        self.clock = clock
        self.resolver = resolver
        self.rand = rand
        self.budget = budget
        self.robots = robots if robots is not None else RobotsCache()
        self._guard = RequestGuard(clock)
        self._secrets = [s for s in self.settings.secrets if s]
        for value in self._secrets:
            redact.register(value)
        self._lock = threading.Lock()
        self._host_slots: dict[str, threading.BoundedSemaphore] = {}
        self._host_next: dict[str, float] = {}
        self.requests = 0
        self._client = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(self.settings.timeout),
            follow_redirects=False,
            headers={"User-Agent": self.settings.user_agent, "Accept-Encoding": "gzip, deflate"},
        )
        # every socket call of the real transports (direct, and proxies from the environment)
        # is bounded by the request's total deadline and the budget; injected test transports
        # have no sockets
        self.socket_deadlines = transport is None and all(
            deadlines.install(t, self._guard)
            for t in [self._client._transport, *self._client._mounts.values()] if t is not None)

    # -- secrets ------------------------------------------------------------------------------
    def add_secret(self, value: str | None) -> None:
        """Mask this value (a token obtained at run time) in every later message."""
        if value and value not in self._secrets:
            self._secrets.append(value)
        redact.register(value)

    def mask(self, text: str) -> str:
        for s in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(s, "***")
        return redact.redact(text)

    def _url_for_message(self, url: str) -> str:
        return self.mask(mask_url(url))

    # -- addresses ----------------------------------------------------------------------------
    def check_url(self, url: str) -> str:
        """Return ``url`` if it may be fetched as a link found in content: http(s), and (unless
        ``allow_private``) a host that resolves only to public addresses. Raises
        :class:`BlockedURLError` otherwise (and :class:`FetchError` if the name does not
        resolve)."""
        shown = self._url_for_message(url)
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:
            raise BlockedURLError(f"{shown}: not a valid URL; skipped") from None
        if parts.scheme.lower() not in ("http", "https") or not host:
            raise BlockedURLError(f"{shown}: only http and https links are followed; skipped")
        if self.settings.allow_private:
            return url
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
            addresses = [host]
        except ValueError:
            if host.lower() == "localhost" or host.lower().endswith((".localhost", ".local", ".internal")):
                raise BlockedURLError(f"{shown}: {host} is a local name; not followed "
                                      "(set allow_private_links = true to allow)") from None
            try:
                addresses = self.resolver(host)
            except (OSError, UnicodeError) as exc:
                raise FetchError(f"{shown}: cannot resolve host {host!r} ({exc}); check the URL") from None
            if not addresses:
                raise FetchError(f"{shown}: host {host!r} has no address; check the URL")
        for a in addresses:
            if not is_public_address(a):
                raise BlockedURLError(
                    f"{shown}: {host} resolves to a private, loopback or link-local address ({a}); "
                    "not followed (set allow_private_links = true to allow)")
        return url

    def check_robots(self, url: str) -> str:
        """Return ``url`` if its site's robots.txt lets claimwatch fetch it (or
        ``respect_robots_txt`` is off); raise :class:`BlockedURLError` with the reason otherwise.
        For pages found in content; the robots.txt of each site is read once per cache."""
        if not self.settings.respect_robots_txt:
            return url
        verdict = self.robots.disallowed(self, url)
        if verdict:
            why, temporary = verdict
            raise RobotsDisallowed(f"{self._url_for_message(url)}: {why}; not fetched "
                                   "(set respect_robots_txt = false in [settings] to ignore robots.txt)", temporary)
        return url

    # -- politeness ---------------------------------------------------------------------------
    def _slot(self, host: str) -> threading.BoundedSemaphore:
        with self._lock:
            slot = self._host_slots.get(host)
            if slot is None:
                slot = self._host_slots[host] = threading.BoundedSemaphore(
                    max(1, self.settings.per_host_concurrency))
            return slot

    def _wait_turn(self, host: str, shown: str) -> None:
        if self.settings.min_interval <= 0:
            return
        with self._lock:
            now = self.clock()
            start = max(now, self._host_next.get(host, now))
            self._host_next[host] = start + self.settings.min_interval
        if start > now:
            self._pause(start - now, shown)

    # -- time budget --------------------------------------------------------------------------
    def _stopped(self, shown: str) -> BudgetExceeded:
        return BudgetExceeded(self.mask(f"{shown}: not fetched: {self.budget.reason if self.budget else 'stopped'}"))

    def _check_budget(self, shown: str) -> None:
        if self.budget is not None and self.budget.reason is not None:
            raise self._stopped(shown)

    def _pause(self, seconds: float, shown: str) -> None:
        """Wait ``seconds`` (a retry's backoff, a host's turn) within the budget: a wait that
        would outlast the budget is not started, and a cancelled budget ends the wait at once."""
        budget = self.budget
        if budget is None:
            self.sleep(seconds)
            return
        left = budget.remaining()
        if seconds >= left:
            raise BudgetExceeded(self.mask(
                f"{shown}: would wait {seconds:.1f} s but the {budget.what} has {max(left, 0):.1f} s left"))
        if self.sleep is time.sleep:
            budget.wait(seconds)
        else:
            self.sleep(seconds)
        self._check_budget(shown)

    # -- requests -----------------------------------------------------------------------------
    def _request_url(self, url: str, params: Mapping[str, Any] | None) -> str:
        try:
            request_url = str(httpx.URL(url).copy_merge_params(params)) if params else url
            if urlsplit(request_url).scheme.lower() not in ("http", "https"):
                raise BlockedURLError(f"{self._url_for_message(url)}: only http and https URLs are fetched")
        except (httpx.InvalidURL, ValueError, TypeError) as exc:
            raise FetchError(self.mask(f"{mask_url(url)}: not a valid URL ({exc}); check the source's URL")) from None
        return request_url

    def _with_retries(self, method: str, send: Callable[[], Response]) -> Response:
        attempt = 0
        while True:
            attempt += 1
            try:
                return send()
            except _Retryable as r:
                delay = retry_delay(attempt, self.settings, status=r.status, error=r.error,
                                    retry_after=r.retry_after, rand=self.rand, method=method)
                if delay is None:
                    raise r.final(self, attempt) from None
                log.info("retrying %s %s in %.1fs (%s)", method, r.shown, delay, self.mask(r.reason))
                self._pause(delay, r.shown)

    def get(self, url: str, *, params: Mapping[str, Any] | None = None,
            headers: Mapping[str, str] | None = None) -> Response:
        """GET with retries, redirects and caps; a :class:`Response` for 2xx and 304."""
        request_url = self._request_url(url, params)
        return self._with_retries("GET", lambda: self._follow(request_url, headers))

    def post(self, url: str, *, json: Any = None, data: Mapping[str, Any] | bytes | str | None = None,
             auth: tuple[str, str] | None = None, headers: Mapping[str, str] | None = None) -> Response:
        """POST ``json`` (a JSON body) or ``data`` (a mapping sent as a form, or raw bytes/text),
        optionally with HTTP Basic ``auth=(user, password)``; a :class:`Response` for 2xx.

        The same caps, timeouts, politeness, secret masking and error translation as :meth:`get`,
        with three differences: it is retried only when the server cannot have acted on it (see
        :func:`retry_delay`); a redirect is not followed (it raises :class:`HTTPStatusError`
        naming where it pointed, so credentials never go to a second address); and the Basic
        password and the values of secret-looking keys of ``json``/``data`` (``password``,
        ``client_secret``...) are masked in every later message."""
        request_url = self._request_url(url, None)
        if json is not None and data is not None:
            raise ValueError("post(): give json or data, not both")
        if auth is not None:
            self.add_secret(auth[1])
        for body in (json, data):
            if isinstance(body, Mapping):
                for k, v in body.items():
                    if isinstance(k, str) and k.lower() in SECRET_PARAMS and isinstance(v, str):
                        self.add_secret(v)
        send: dict[str, Any] = {}
        if json is not None:
            send["json"] = json
        elif isinstance(data, (bytes, str)):
            send["content"] = data
        elif data is not None:
            send["data"] = dict(data)
        if auth is not None:
            send["auth"] = httpx.BasicAuth(*auth)

        def once() -> Response:
            status, rh, content, final_url, excerpt = self._once("POST", request_url, headers, send)
            if status in (301, 302, 303, 307, 308):
                where = rh.get("location") or "nowhere"
                target = str(httpx.URL(final_url).join(where)) if rh.get("location") else where
                err = HTTPStatusError(
                    f"{self._url_for_message(request_url)}: HTTP {status} redirect to "
                    f"{self._url_for_message(target)}; a POST is not followed across a redirect, "
                    "configure the final URL", status, excerpt)
                raise err
            return self._finish(final_url, status, rh, content, excerpt)

        return self._with_retries("POST", once)

    def get_json(self, url: str, **kw: Any) -> Any:
        return self.get(url, **kw).json()

    def _follow(self, url: str, headers: Mapping[str, str] | None) -> Response:
        for hop in range(self.settings.max_redirects + 1):
            if hop:
                self.check_url(url)
            status, resp_headers, content, final_url, excerpt = self._once("GET", url, headers)
            if status in (301, 302, 303, 307, 308):
                location = resp_headers.get("location")
                if not location:
                    raise HTTPStatusError(f"{self._url_for_message(url)}: HTTP {status} without a Location",
                                          status)
                target = str(httpx.URL(final_url).join(location))
                if headers and urlsplit(target).netloc.lower() != urlsplit(final_url).netloc.lower():
                    headers = {k: v for k, v in headers.items() if k.lower() not in _CREDENTIAL_HEADERS}
                url = target
                continue
            return self._finish(final_url, status, resp_headers, content, excerpt)
        raise FetchError(f"{self._url_for_message(url)}: more than {self.settings.max_redirects} "
                         "redirects; check the URL")

    def _finish(self, url: str, status: int, headers: dict[str, str], content: bytes,
                excerpt: str | None = None) -> Response:
        if status == 304 or 200 <= status < 300:
            return Response(url, status, httpx.Headers(headers), content)
        shown = self._url_for_message(url)
        hint = {
            401: "check the credentials (token, app password)",
            403: "access refused; check the credentials or whether the source is public",
            404: "check the URL",
            410: "the resource is gone; remove or fix the source",
        }.get(status, "try again later" if status >= 500 else "check the request")
        raise HTTPStatusError(f"{shown}: HTTP {status}; {hint}", status, excerpt)

    def _excerpt(self, r: httpx.Response, rh: Mapping[str, str], started: float) -> str | None:
        """The start of an error body, decoded and masked; None when there is none or it cannot
        be read. Never raises: the status is what matters."""
        s = self.settings
        limit = min(s.max_bytes, _ERROR_READ_BYTES)
        raw, out = 0, []
        try:
            inflater = BoundedDecompressor(rh.get("content-encoding"), limit, "error body")
            for chunk in (iter(r.stream) if r.is_stream_consumed else r.iter_raw()):
                raw += len(chunk)
                try:
                    out.append(inflater.feed(chunk))
                except TooLargeError:
                    break
                if raw >= limit or sum(map(len, out)) >= limit or self.clock() - started > s.total_timeout:
                    break
        except (httpx.HTTPError, ConnectorError, ValueError, OSError):
            pass
        body = b"".join(out)
        if not body:
            return None
        text = self.mask(decode_text(body[:limit], charset_of(rh.get("content-type"))))
        text = _SECRET_IN_TEXT.sub(lambda m: m.group(1) + "***", text)
        text = text[:ERROR_BODY_BYTES * 2]
        encoded = text.encode("utf-8")
        if len(encoded) > ERROR_BODY_BYTES:
            text = encoded[:ERROR_BODY_BYTES].decode("utf-8", "ignore")
        return text

    def _once(self, method: str, url: str, headers: Mapping[str, str] | None,
              send: Mapping[str, Any] | None = None) -> tuple[int, dict[str, str], bytes, str, str | None]:
        s = self.settings
        shown = self._url_for_message(url)
        host = urlsplit(url).netloc.lower()
        self._check_budget(shown)
        slot = self._slot(host)
        if not slot.acquire(timeout=max(0.0, self.budget.remaining()) if self.budget is not None else None):
            raise self._stopped(shown)
        try:
            self._wait_turn(host, shown)
            self._check_budget(shown)
            self.requests += 1
            started = self.clock()
            # the whole answer (connect, headers, body) must come by this time; the socket
            # layer (connectors.deadlines) enforces it on every read
            self._guard.start(started + s.total_timeout, self.budget)
            try:
                with self._client.stream(method, url, headers=headers, **(send or {})) as r:
                    status = r.status_code
                    rh = {k.lower(): v for k, v in r.headers.items()}
                    if status in RETRY_STATUSES:
                        raise _Retryable(shown, status=status, retry_after=rh.get("retry-after"),
                                         body=self._excerpt(r, rh, started))
                    if status >= 400:
                        return status, rh, b"", str(r.url), self._excerpt(r, rh, started)
                    if status in (301, 302, 303, 307, 308) or status == 304:
                        return status, rh, b"", str(r.url), None
                    declared = rh.get("content-length", "")
                    if declared.isdigit() and int(declared) > s.max_bytes:
                        raise TooLargeError(f"{shown}: response of {declared} bytes is over the cap of "
                                            f"{s.max_bytes}; raise max_bytes if it is expected")
                    inflater = BoundedDecompressor(rh.get("content-encoding"),
                                                   s.max_decompressed_bytes or s.max_bytes, shown)
                    chunks, raw = [], 0
                    # a response built from bytes (MockTransport) is already read; its raw
                    # stream can still be iterated
                    for chunk in (iter(r.stream) if r.is_stream_consumed else r.iter_raw()):
                        raw += len(chunk)
                        if raw > s.max_bytes:
                            raise TooLargeError(f"{shown}: response larger than {s.max_bytes} bytes; "
                                                "raise max_bytes if it is expected")
                        if self.clock() - started > s.total_timeout:
                            raise self._too_slow(shown)
                        self._check_budget(shown)
                        chunks.append(inflater.feed(chunk))
                    chunks.append(inflater.flush())
                    return status, rh, b"".join(chunks), str(r.url), None
            except httpx.TimeoutException as exc:
                why = self._guard.expired
                if why == "total":
                    raise self._too_slow(shown) from None
                if why is not None:
                    raise self._stopped(shown) from None
                raise _Retryable(shown, error=exc) from None
            except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                raise _Retryable(shown, error=exc) from None
            except httpx.HTTPError as exc:
                raise FetchError(self.mask(f"{shown}: {type(exc).__name__}: {exc}")) from None
            except ParseError as exc:  # corrupt or unsupported compressed body
                raise FetchError(self.mask(str(exc))) from None
            except (ValueError, UnicodeError, OSError) as exc:  # e.g. an unencodable host name
                raise FetchError(self.mask(f"{shown}: {type(exc).__name__}: {exc}; check the URL")) from None
        finally:
            self._guard.stop()
            slot.release()

    def _too_slow(self, shown: str) -> FetchTimeout:
        return FetchTimeout(f"{shown}: no complete answer within total_timeout = "
                            f"{self.settings.total_timeout:g} s (connect, headers and body); try again later")

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "HttpClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Retryable(Exception):
    def __init__(self, shown: str, *, status: int | None = None, error: BaseException | None = None,
                 retry_after: str | None = None, body: str | None = None):
        self.shown, self.status, self.error, self.retry_after = shown, status, error, retry_after
        self.body = body

    @property
    def reason(self) -> str:
        if self.status is not None:
            return f"HTTP {self.status}"
        return f"{type(self.error).__name__}: {self.error}"

    def final(self, client: HttpClient, attempts: int) -> FetchError:
        tries = f"after {attempts} attempt{'s' if attempts > 1 else ''}"
        if self.status is not None:
            asked = parse_retry_after(self.retry_after)
            if asked is not None and asked > client.settings.retry_after_max:
                msg = (f"{self.shown}: HTTP {self.status}, server asks to wait {asked:.0f}s "
                       f"(more than retry_after_max); try again later")
            else:
                msg = f"{self.shown}: HTTP {self.status} {tries}; try again later"
            err = HTTPStatusError(client.mask(msg), self.status)
            err.body = self.body
            return err
        if isinstance(self.error, httpx.TimeoutException):
            return FetchTimeout(client.mask(f"{self.shown}: timed out {tries} "
                                            f"(timeout {client.settings.timeout:g}s); try again later"))
        return FetchError(client.mask(f"{self.shown}: {type(self.error).__name__} {tries}: "
                                      f"{self.error}; check the URL or try again later"))
