"""rules.clear_caches: every per-word cache is emptied, no answer changes, and a dropped
matcher's index is not kept alive by a module-wide cache."""

import functools
import gc
import importlib
import pkgutil
import weakref
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import rules
from rules import clear_caches
from rules.caches import CLEARED, KEPT, cache_sizes
from rules.catalogue import load_catalogue
from rules.match import Matcher

ROOT = Path(__file__).resolve().parents[2]

TEXTS = [
    "BREAKING: Donald Trump promises to get Imran Khan out of Adiala jail, watch the video! https://youtu.be/dQw4w9WgXcQ",
    "Trump ne kha Imran Kahn ki rehai ke liye kaam karenge #FreeImranKhan",
    "ٹرمپ عمران خان کو جیل سے رہا کروائیں گے",
    "Fact check: the clip of Trump is AI-generated, he never spoke about Imran Khan's release",
    "An Indian drone hit Faisal Mosque in Islamabad, says ISPR spokesman",
    "Sadiq Khan hits back after Trump calls him a terrible mayor",
    "PTI march in London and Italy, khan sahab ki rihai ka waqt aa gaya",
    "Imran Khan is dead, press release from Adiala jail authorities",
    # close to a true statement (the small London protest) and saying what the claim adds ("bara"):
    # what the claim adds is worked out, so rules.counter's per-claim terms are cached
    "UK visit pe Munir ka welcome, London mein itna bara protest, history ban gai",
    "weather is nice today, cricket match in Lahore",
    "",
]


def posts(n_copies: int = 1) -> pl.DataFrame:
    texts = TEXTS * n_copies
    return pl.DataFrame({"post_id": [f"p{i}" for i in range(len(texts))], "text": texts,
                         "links": [["https://youtu.be/dQw4w9WgXcQ"] if i % 3 == 0 else [] for i in range(len(texts))]})


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(ROOT / "rules" / "claims")


def test_clearing_empties_every_cache_and_changes_no_match(catalogue):
    m = Matcher(catalogue)
    first = m.match(posts(2))
    sizes = cache_sizes(m)
    for name in ("rules.entities.skeleton", "rules.entities.words_match", "rules.entities._post_words",
                 "rules.normalise.canonical_media", "rules.counter._claim_terms", "index stems",
                 "index 4-grams", "entity words"):
        assert sizes[name] > 0, (name, sizes)
    assert sizes.get("stance model words", 0) > 0 or m.stance_model is None
    clear_caches(m)
    assert set(cache_sizes(m).values()) == {0}, cache_sizes(m)
    again = m.match(posts(2))
    assert_frame_equal(first, again)
    assert first.height > 0 and first["label"].is_in(["likely_misinformation"]).any()
    clear_caches()  # module-wide caches only; the matcher keeps its own
    assert_frame_equal(first, m.match(posts(2)))


def test_a_dropped_matcher_is_not_kept_alive_by_a_module_cache(catalogue):
    m = Matcher(catalogue)
    m.match(posts())
    index = weakref.ref(m.index)
    del m
    clear_caches()
    gc.collect()
    assert index() is None


def test_other_objects_are_refused_with_one_line():
    clear_caches(None)  # skipped
    with pytest.raises(TypeError, match="clear_caches: dict has no caches"):
        clear_caches({})


def test_every_cached_function_of_rules_is_cleared_or_kept_on_purpose():
    """A new ``lru_cache`` in rules/ must be listed in rules.caches.CLEARED (per-word or per-post
    results) or KEPT (one fixed-size value), so a long run cannot grow it unseen."""
    found = set()
    for info in pkgutil.iter_modules(rules.__path__):
        mod = importlib.import_module(f"rules.{info.name}")
        for name, value in vars(mod).items():
            if isinstance(value, functools._lru_cache_wrapper) and value.__module__ == mod.__name__:
                found.add((mod.__name__, name))
    listed = {(m, n) for table in (CLEARED, KEPT) for m, names in table.items() for n in names}
    assert found == listed
