"""Helpers shared by connector tests (and the parse CLI tests that read the same payloads)."""

from __future__ import annotations

from pathlib import Path

from connectors.http import HttpClient, HttpSettings

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


def payloads_dir() -> Path:
    """The shared real payloads: ``../shared/data/payloads`` beside the checkout (as CI lays it
    out), else the workplace copy."""
    for p in (ROOT.parent / "shared" / "data" / "payloads", Path("/work/shared/data/payloads")):
        if p.is_dir():
            return p
    return ROOT.parent / "shared" / "data" / "payloads"
