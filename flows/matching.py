"""The run's matcher: built (or loaded from the index cache) once per process and catalogue
version, and handed to the match tasks as a small :class:`MatcherSpec`.

Why a spec and not the catalogue: a task parameter that is a dataclass is walked field by field
by Prefect, twice per task run (to resolve futures in it and to record the task's inputs); for a
14k-claim catalogue that was about 2.7 s of CPU per batch, more than matching the batch. A spec
is opaque to that walk (a plain object, not a dataclass or collection), pickles small enough for
Dask (the catalogue travels with it, so a worker that cannot read the cache folder still builds),
and every task of the process gets the same :class:`rules.match.Matcher` from it.

The claim index is cached on disk (:mod:`rules.index_cache`) in, in this order, the folder given
by ``[runner] index_cache`` in the sources file (``""`` turns caching off),
``$CLAIMWATCH_CACHE_DIR/index``, ``$XDG_CACHE_HOME/claimwatch/index`` or
``~/.cache/claimwatch/index``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Mapping

log = logging.getLogger("claimwatch.progress")

KEEP_MATCHERS = 2  # matchers kept per process (a long-lived serve process sees catalogue versions change)


def index_cache_dir(runner: Mapping[str, Any] | None = None) -> Path | None:
    """The index cache folder for a ``[runner]`` table (None: caching off)."""
    runner = runner or {}
    if "index_cache" in runner:
        value = str(runner["index_cache"]).strip()
        return Path(value).expanduser() if value else None
    if os.environ.get("CLAIMWATCH_CACHE_DIR", "").strip():
        return Path(os.environ["CLAIMWATCH_CACHE_DIR"].strip()).expanduser() / "index"
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base).expanduser() / "claimwatch" / "index"


class MatcherSpec:
    """What a match task needs to get the run's matcher: the catalogue, the ``[matching]``
    table, the index cache folder and the reviewers' feedback (a frame of
    :func:`flows.reviews.feedback`, or None). :meth:`matcher` returns the process's matcher for
    them, made once (see the module docstring)."""

    __slots__ = ("catalogue", "matching", "cache_dir", "feedback", "key")

    def __init__(self, catalogue: Any, matching: Mapping[str, Any] | None, cache_dir: str | Path | None,
                 feedback: Any = None) -> None:
        from flows.reviews import feedback_key

        self.catalogue = catalogue
        self.matching = dict(matching or {})
        self.cache_dir = str(cache_dir) if cache_dir is not None else None
        self.feedback = feedback if feedback is not None and not feedback.is_empty() else None
        self.key = (f"{catalogue.version}\0{json.dumps(self.matching, sort_keys=True, default=str)}"
                    f"\0{feedback_key(self.feedback)}")

    def __getstate__(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k in self.__slots__:
            setattr(self, k, state[k])

    def __repr__(self) -> str:  # what Prefect shows for the parameter
        examples = f", {self.feedback.height} reviewed examples" if self.feedback is not None else ""
        return f"MatcherSpec(catalogue {self.catalogue.version}, {len(self.catalogue)} claims{examples})"

    def matcher(self, say: Callable[..., None] | None = None) -> Any:
        return matcher_for(self, say)


_matchers: "OrderedDict[str, Any]" = OrderedDict()
_lock = threading.Lock()


def _log(msg: str, level: int = logging.INFO) -> None:
    log.log(level, msg)


def matcher_for(spec: MatcherSpec, say: Callable[..., None] | None = None) -> Any:
    """The matcher of ``spec`` in this process: from memory, else with the index loaded from the
    cache folder, else built (and cached). Concurrent callers wait for one build. ``say(msg,
    level)`` reports how the index was had and any cache problem (default: the
    ``claimwatch.progress`` logger)."""
    say = say or _log
    with _lock:
        m = _matchers.get(spec.key)
        if m is not None:
            _matchers.move_to_end(spec.key)
            return m
        from rules.config import MatchConfig
        from rules.feedback import Feedback
        from rules.index_cache import IndexCache
        from rules.match import Matcher

        cache = IndexCache(spec.cache_dir, warn=lambda msg: say(msg, logging.WARNING)) if spec.cache_dir else None
        t0 = time.perf_counter()
        feedback = Feedback.from_frame(spec.feedback) if spec.feedback is not None else None
        m = Matcher(spec.catalogue, MatchConfig.from_mapping(spec.matching), feedback=feedback, index_cache=cache)
        how = cache.last if cache is not None else "built (index cache off)"
        where = f" ({cache.folder})" if cache is not None and how != "built (not cached)" else ""
        msg = (f"claim index {how}{where} in {time.perf_counter() - t0:.1f} s: "
               f"{len(m.claim_ids)} claims, catalogue {m.catalogue_version}")
        say(msg)
        _matchers[spec.key] = m
        while len(_matchers) > KEEP_MATCHERS:
            _matchers.popitem(last=False)
        return m


def release(spec: MatcherSpec) -> None:
    """Between two rounds of a big run: drop the per-word results matching kept and hand the
    memory freed back to the system. Over 100,000 new posts those results (stems, 4-grams,
    entity and stance n-grams of every word seen, :mod:`rules.caches`) and the heap around them
    grow by hundreds of MB. The process's matcher of ``spec`` is forgotten when its index is
    cached on disk (the next round loads it again in a fraction of a second), else kept with its
    caches emptied."""
    from rules import clear_caches

    with _lock:
        if spec.cache_dir is None:  # building the index again would cost more than its caches
            clear_caches(_matchers.get(spec.key))
        else:
            _matchers.pop(spec.key, None)
            clear_caches()
    trim_memory()


MALLOC_ARENAS = 2  # glibc malloc arenas of a claimwatch process (M_ARENA_MAX), unless MALLOC_ARENA_MAX is set
_M_ARENA_MAX = -8  # mallopt's parameter number (malloc.h)


def limit_malloc_arenas(n: int = MALLOC_ARENAS) -> bool:
    """Let glibc's ``malloc`` use at most ``n`` arenas in this process (``mallopt(M_ARENA_MAX)``),
    unless the environment sets ``MALLOC_ARENA_MAX``; True when the limit was set. By default a
    thread that allocates may get an arena of its own, up to 8 per core; the match tasks' threads
    then leave each round's freed memory scattered over many arenas, where ``malloc_trim`` does
    not give it back: a run of 100,000 new posts grew by about 20 MB per round of 10,000. Called
    when a command starts, before other threads have allocated (glibc fixes the limit once it
    has made 8 arenas). Nothing happens elsewhere (macOS, musl)."""
    import ctypes

    if os.environ.get("MALLOC_ARENA_MAX", "").strip():
        return False
    try:  # the process's own symbols, libc's among them (no ldconfig subprocess as find_library runs)
        return bool(ctypes.CDLL(None).mallopt(_M_ARENA_MAX, int(n)))
    except (OSError, AttributeError):  # not glibc
        return False


def trim_memory() -> None:
    """Collect garbage and give free heap memory back to the system (glibc ``malloc_trim``;
    nothing more elsewhere)."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim
        pass


def match_batch(posts: Any, spec: MatcherSpec) -> Any:
    """Match one batch of posts (rows of ``rules.schema.MATCHES_SCHEMA``)."""
    return spec.matcher().match(posts)
