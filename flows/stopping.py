"""How a run stops on time: SIGTERM and SIGINT end a run within seconds, the dataset consistent.

While :func:`on_signals` is active (``run_pipeline`` wraps its body in it when it runs in the
main thread), SIGTERM or SIGINT cancels the run's :class:`connectors.deadlines.Budget`: requests
in flight end within half a second, no new request starts, the sources that had finished are
stored with their cursors, matching is left to the next run, and the flow returns a
``Cancelled`` state. A second signal ends the process at once. ``claimwatch run`` also sets
:data:`hard_exit_after`: if the process is still alive that many seconds after the first
signal (a thread stuck in a C call), it exits with ``128 + signal number`` without waiting.
Every write of the dataset is a rename of a finished file and cursors are saved after the posts
they cover, so stopping at any point leaves it consistent.

The handlers are restored when the block ends (Prefect's own SIGTERM handling applies again).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from typing import Iterator

from connectors.deadlines import Budget

progress = logging.getLogger("claimwatch.progress")

hard_exit_after: float | None = None  # seconds after the first signal; set by claimwatch run
received: int | None = None  # the signal that stopped the last run, if any

_lock = threading.Lock()
_budgets: list[Budget] = []
_timer: threading.Timer | None = None


def _exit_now(signum: int) -> None:
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(128 + signum)


def exit_after_stop(code: int) -> None:
    """End the process of a stopped run now: run the exit handlers (Prefect stops its temporary
    server there), flush, and exit without the interpreter's own shutdown, which joins every
    thread and collects the whole heap (seconds on a busy machine). The dataset is already
    consistent; the watchdog of :data:`hard_exit_after` still bounds the exit handlers."""
    import atexit

    # send the run's last logs and events while Prefect's API is still up, then let the exit
    # handlers stop it
    for module, name in (("prefect.logging.handlers", "APILogWorker"), ("prefect.events.worker", "EventsWorker")):
        with contextlib.suppress(Exception):
            getattr(__import__(module, fromlist=[name]), name).drain_all(timeout=2)
    with contextlib.suppress(Exception):
        atexit._run_exitfuncs()
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def stop(signum: int) -> None:
    """What a SIGTERM/SIGINT does (also callable directly): cancel every active run."""
    global received, _timer
    if received is not None:  # the second signal: no more waiting
        _exit_now(signum)
    received = signum
    name = signal.Signals(signum).name
    with _lock:
        budgets = list(_budgets)
    for budget in budgets:
        budget.cancel(f"stopped by {name}")
    progress.warning(f"{name} received: stopping; sources still fetching are cancelled, what was fetched "
                     f"is stored (a second {name} stops at once)")
    if hard_exit_after is not None and _timer is None:
        _timer = threading.Timer(hard_exit_after, _exit_now, args=(signum,))
        _timer.daemon = True
        _timer.start()


def _handler(signum: int, frame: object) -> None:
    stop(signum)


@contextlib.contextmanager
def on_signals(budget: Budget) -> Iterator[None]:
    """Cancel ``budget`` on SIGTERM/SIGINT while the block runs (handlers are installed only
    in the main thread; elsewhere :func:`stop` can still be called)."""
    global received
    received = None
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(ValueError, OSError):
                previous[sig] = signal.signal(sig, _handler)
    with _lock:
        _budgets.append(budget)
    try:
        yield
    finally:
        with _lock:
            _budgets.remove(budget)
        for sig, handler in previous.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
