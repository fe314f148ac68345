"""Time limits that hold at the socket: a request's total deadline and a source's or run's budget.

:class:`Budget` is a wall-clock limit shared by every request one source (or one run) makes, and
a cancel switch (:meth:`Budget.cancel`) that a signal handler or a supervising flow can pull.
A source's budget has the run's budget as ``parent``: whichever ends first stops it.

:class:`DeadlineBackend` wraps httpcore's network backend. Every socket call it makes (connect,
TLS handshake, each read and write) waits at most ``min(its own timeout, time left before the
request's total deadline, time left in the budget, SLICE)`` seconds, and a read that times out
on a slice is tried again until its own timeout is reached. So a server that trickles its
headers one byte every 2 s is cut off at the request's total deadline (httpx's own timeouts
apply to each socket call, and each byte resets them), and a cancelled budget stops a blocked
read within :data:`SLICE` seconds. The client (:mod:`connectors.http`) owns one
:class:`RequestGuard`, sets the deadline before each attempt and reads :attr:`RequestGuard.expired`
to tell a total-deadline or budget stop (final, never retried) from an ordinary timeout.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Callable

import httpcore

SLICE = 0.5  # seconds: the longest a socket call blocks before deadlines and cancellation are checked


class Budget:
    """A wall-clock budget of ``seconds`` (None: unlimited) from now, named by ``what`` (e.g.
    ``"source budget of 120 s"``). :meth:`remaining` counts down; :attr:`reason` says why the
    budget has stopped (used up, or cancelled with a reason), or is None while it runs."""

    def __init__(self, seconds: float | None, what: str = "budget", *, parent: "Budget | None" = None,
                 clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self.what = what
        self.parent = parent
        self.clock = clock
        self.started = clock()
        self.at = math.inf if seconds is None else self.started + seconds
        self._event = threading.Event()
        self._children: list[Budget] = []
        self._cancelled: str | None = None
        self._cancelled_at = math.inf
        if parent is not None:
            parent._children.append(self)

    def restart(self) -> None:
        """Count the budget from now (a source's budget starts when it starts fetching, not
        when it was queued); the parent's time is unchanged."""
        self.started = self.clock()
        self.at = math.inf if self.seconds is None else self.started + self.seconds

    def elapsed(self) -> float:
        return self.clock() - self.started

    def remaining(self) -> float:
        left = self.at - self.clock()
        if self.parent is not None:
            left = min(left, self.parent.remaining())
        return left

    def cancel(self, reason: str) -> None:
        """Stop everything under this budget: no new request starts, blocked reads end within
        :data:`SLICE` seconds, waits end at once."""
        if self._cancelled is None:
            self._cancelled = reason
            self._cancelled_at = self.clock()
        self._wake()

    def _wake(self) -> None:
        self._event.set()
        for child in list(self._children):  # the waits below end too (their reason names ours)
            child._wake()

    @property
    def reason(self) -> str | None:
        if self._cancelled is not None:
            return self._cancelled
        if self.parent is not None and self.parent.reason is not None:
            return self.parent.reason
        if self.clock() >= self.at:
            return f"{self.what} used up"
        return None

    @property
    def cancelled(self) -> bool:
        """Stopped by :meth:`cancel` (here or above), not by running out of time."""
        return self._cancelled is not None or (self.parent is not None and self.parent.cancelled)

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds`` (less if the budget ends first); True if the budget stopped."""
        left = min(seconds, max(0.0, self.remaining()))
        if left > 0 and self.reason is None:
            self._event.wait(left)
        return self.reason is not None

    def stopped_at(self) -> float | None:
        """When this budget stopped (clock time), or None while it runs."""
        if self._cancelled is not None:
            return self._cancelled_at
        if self.parent is not None:
            above = self.parent.stopped_at()
            if above is not None:
                return min(above, self.at)
        return self.at if self.clock() >= self.at else None


class RequestGuard(threading.local):
    """Per-thread state of the request in flight: its absolute deadline (``at``, monotonic
    seconds), the budget it runs under, and why it was stopped (``expired``: ``"total"`` for the
    request's own deadline, else the budget's reason)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.at: float | None = None
        self.budget: Budget | None = None
        self.expired: str | None = None

    def start(self, at: float | None, budget: Budget | None) -> None:
        self.at, self.budget, self.expired = at, budget, None

    def stop(self) -> None:
        self.at = self.budget = None

    def limit(self, timeout: float | None, error: type[Exception]) -> float:
        """Seconds one socket call may block; raises ``error`` (an httpcore timeout) when the
        request's deadline or the budget has passed, after recording why in :attr:`expired`."""
        now = self.clock()
        budget = self.budget
        if budget is not None:
            why = budget.reason
            if why is not None:
                self.expired = why
                raise error(why)
        if self.at is not None and now >= self.at:
            self.expired = "total"
            raise error("total deadline passed")
        left = SLICE if timeout is None else min(SLICE, timeout)
        if self.at is not None:
            left = min(left, self.at - now)
        if budget is not None:
            left = min(left, budget.remaining())
        return max(left, 0.001)


class DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, guard: RequestGuard):
        self._inner = inner
        self._guard = guard

    def _sliced(self, call: Callable[[float], Any], timeout: float | None, error: type[Exception]) -> Any:
        clock = self._guard.clock
        end = None if timeout is None else clock() + timeout
        while True:
            left = None if end is None else end - clock()
            if left is not None and left <= 0:
                raise error("timed out")
            step = self._guard.limit(left, error)
            try:
                return call(step)
            except error:
                if end is not None and clock() >= end:
                    raise
                # a slice ended: check the deadlines and the budget again, then go on waiting

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._sliced(lambda t: self._inner.read(max_bytes, t), timeout, httpcore.ReadTimeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # a send that blocks past a slice may have sent part of the buffer: never repeat it,
        # give it the whole allowed time at once (writes of requests are small)
        step = self._guard.limit(None, httpcore.WriteTimeout)
        allowed = timeout if timeout is not None else step
        at, budget = self._guard.at, self._guard.budget
        now = self._guard.clock()
        if at is not None:
            allowed = min(allowed, at - now)
        if budget is not None:
            allowed = min(allowed, budget.remaining())
        self._inner.write(buffer, max(allowed, 0.001))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> "DeadlineStream":
        allowed = _whole(self._guard, timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, allowed), self._guard)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


def _whole(guard: RequestGuard, timeout: float | None, error: type[Exception]) -> float | None:
    """The timeout for a socket call that cannot be sliced (connect, TLS handshake)."""
    guard.limit(None, error)  # raises if already over
    now = guard.clock()
    allowed = timeout
    for end in (guard.at, None if guard.budget is None else now + guard.budget.remaining()):
        if end is not None:
            allowed = end - now if allowed is None else min(allowed, end - now)
    return None if allowed is None else max(allowed, 0.001)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's network backend with every socket call bounded by the :class:`RequestGuard`."""

    def __init__(self, inner: httpcore.NetworkBackend, guard: RequestGuard):
        self._inner = inner
        self._guard = guard

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None) -> DeadlineStream:
        allowed = _whole(self._guard, timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(host, port, allowed, local_address, socket_options)
        return DeadlineStream(stream, self._guard)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> DeadlineStream:  # pragma: no cover
        allowed = _whole(self._guard, timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._inner.connect_unix_socket(path, allowed, socket_options), self._guard)

    def sleep(self, seconds: float) -> None:  # pragma: no cover - used by httpcore's own retries (off)
        self._inner.sleep(seconds)


def install(transport: Any, guard: RequestGuard) -> bool:
    """Put :class:`DeadlineBackend` under an ``httpx.HTTPTransport`` (direct or through an HTTP
    proxy); False for any other transport (tests inject their own)."""
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if backend is None:
        return False
    if not isinstance(backend, DeadlineBackend):
        pool._network_backend = DeadlineBackend(backend, guard)
    return True
