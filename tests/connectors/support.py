"""Helpers shared by connector tests (and the parse CLI tests that read the same payloads)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from connectors.errors import FetchError
from connectors.http import HttpClient, HttpSettings
from tests.loopback import LoopbackServer, Reply

ROOT = Path(__file__).resolve().parents[2]


def loopback_client(**settings) -> HttpClient:
    """An HttpClient for :class:`tests.loopback.LoopbackServer`: private addresses allowed (the
    server is on 127.0.0.1), 2 retries with a 10 ms backoff, a 5 s timeout, unless ``settings``
    (HttpSettings fields) say otherwise. Retry pauses are recorded in ``.sleeps``, not slept."""
    sleeps: list[float] = []
    c = HttpClient(HttpSettings(**{"allow_private": True, "retries": 2, "backoff": 0.01, "timeout": 5,
                                   **settings}), sleep=sleeps.append)
    c.sleeps = sleeps
    return c


PAYLOADS = (ROOT / ".." / "shared" / "data" / "payloads").resolve()
NO_PAYLOADS = (f"shared payloads not found at {PAYLOADS}; put the shared data folder beside the "
               "checkout (../shared/data/payloads) to run the tests on real responses")


def payloads_dir() -> Path:
    """The shared real payloads: ``../shared/data/payloads`` beside the checkout (found from this
    file, never from a fixed path). Tests that need them skip with :data:`NO_PAYLOADS` when the
    folder is absent."""
    return PAYLOADS


def assert_slow_and_cut_off_answers_fail(srv: LoopbackServer, path: str, body: bytes, headers: dict[str, str],
                                         truncate_to: int, fetch: Callable[..., object]) -> None:
    """``body`` at ``path`` answered a second late, then cut off after ``truncate_to`` bytes: each
    makes ``fetch(**client_settings)`` (one fetch with a client built from those settings) raise
    FetchError, not a timeout traceback or half a page."""
    srv.route(path, Reply(200, body, headers, delay=1.0))
    with pytest.raises(FetchError):
        fetch(timeout=0.2, retries=0)
    srv.route(path, Reply(200, body, headers, truncate_to=truncate_to))
    with pytest.raises(FetchError):
        fetch(retries=0)


def assert_lang_or_reason(rows: list[dict], where: str) -> None:
    """Every row with text gets a ``lang`` (given by the platform or detected by
    :func:`connectors.lang.fill_lang`), or :func:`connectors.lang.detect` names why not."""
    from connectors import lang
    from connectors.schema import posts_frame

    for row in lang.fill_lang(posts_frame(rows)).iter_rows(named=True):
        if not row["lang"]:
            reason = lang.detect(lang.post_text(row["title"], row["text"], row["transcript"]))[1]
            assert reason, f"{where}: {row['post_id']} has text but no lang"
