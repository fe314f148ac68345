"""The matcher's per-word caches, and emptying them.

Matching keeps what it worked out for each word it meets, so that the next post with the same
word costs nothing: module-wide ``lru_cache`` functions (transliteration skeletons and spelling
matches of :mod:`rules.entities`, canonical media keys of :mod:`rules.normalise`, character
n-grams of :mod:`rules.stance_model`, a claim's terms in :mod:`rules.counter`) and per-object
dicts (a claim index's stems and 4-grams, the entity guards' per-word answers, the stance
model's n-gram ids per word). Each cache is bounded, but over a long stream of posts that keep
bringing new words (a 100,000-item feed) they grow to hundreds of MB together, and the
``rules.counter`` caches, keyed by the index, keep a dropped matcher's whole index alive.

:func:`clear_caches` empties them all; it changes no answer (every cache is recomputed on
demand). A long run calls it between rounds of posts; within a round the caches are what keeps
matching fast. Emptying a cache while another thread matches is safe (``lru_cache`` and dict
``clear`` are atomic) but costs that thread its warm entries.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Iterable

# module -> the lru_cache functions of it that hold per-word or per-post results (emptied)
CLEARED: dict[str, tuple[str, ...]] = {
    "rules.entities": ("skeleton", "words_match", "_post_words"),
    "rules.normalise": ("canonical_media",),
    "rules.stance_model": ("_word_grams",),
    "rules.counter": ("_claim_terms", "_statement_terms"),
}
# module -> the cached functions that are kept: one fixed-size value each, costly to make again
KEPT: dict[str, tuple[str, ...]] = {
    "rules.stance_model": ("default_model",),  # the shipped model (its per-word dict is emptied)
    "rules.catalogue": ("claim_file_model",),  # a pydantic model class
    "rules.config": ("matching_model",),  # a pydantic model class
}


def _cached_functions() -> Iterable[tuple[str, Callable[..., Any]]]:
    for module, names in CLEARED.items():
        mod = sys.modules.get(module)
        if mod is None:  # never imported: nothing cached
            continue
        for name in names:
            yield f"{module}.{name}", getattr(mod, name)


def clear_caches(*objects: Any) -> None:
    """Empty every module-wide per-word cache of ``rules`` (modules not imported yet have none),
    the shipped stance model's per-word n-gram ids, and the per-word caches of each of
    ``objects`` (:class:`rules.match.Matcher`, :class:`rules.index.ClaimIndex`,
    :class:`rules.entities.EntityGuard` or :class:`rules.stance_model.StanceModel`; None is
    skipped)."""
    for _, fn in _cached_functions():
        fn.cache_clear()
    stance = sys.modules.get("rules.stance_model")
    if stance is not None and stance.default_model.cache_info().currsize:
        stance.default_model().clear_caches()
    for obj in objects:
        if obj is None:
            continue
        clear = getattr(obj, "clear_caches", None)  # each class empties its own caches
        if not callable(clear):
            raise TypeError(f"clear_caches: {type(obj).__name__} has no caches this function knows")
        clear()


def cache_sizes(*objects: Any) -> dict[str, int]:
    """Entries in each cache :func:`clear_caches` empties (module-wide ones by
    ``module.function``; those of ``objects`` summed by kind), for tests and measurements."""
    sizes = {name: fn.cache_info().currsize for name, fn in _cached_functions()}
    stance = sys.modules.get("rules.stance_model")
    if stance is not None and stance.default_model.cache_info().currsize:
        sizes["default stance model words"] = len(stance.default_model()._word_cache)
    for obj in objects:
        index = getattr(obj, "index", obj)
        if hasattr(index, "_gram_cache"):
            sizes["index stems"] = sizes.get("index stems", 0) + len(index.tokens._stem)
            sizes["index 4-grams"] = sizes.get("index 4-grams", 0) + len(index._gram_cache)
            sizes["entity words"] = sizes.get("entity words", 0) + sum(
                len(p._starts) + len(p._may) for g in index.entities if g is not None for grp in g.groups for p in grp)
        model = getattr(obj, "stance_model", None)
        if model is not None:
            sizes["stance model words"] = sizes.get("stance model words", 0) + len(model._word_cache)
    return sizes
