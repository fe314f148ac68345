"""The claim index cache: same matches with and without it, never trusted when damaged or stale."""

import json
import os
import pickle
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from rules.catalogue import Catalogue, Claim, load_catalogue
from rules.feedback import Feedback
from rules.index import ClaimIndex
from rules import index_cache
from rules.index_cache import MAGIC, IndexCache, load_index
from rules.match import Matcher

ROOT = Path(__file__).resolve().parents[2]
LABELLED = ROOT / "tests" / "rules" / "data" / "labelled_posts.jsonl"


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(ROOT / "rules" / "claims")


@pytest.fixture(scope="module")
def posts():
    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines() if line.strip()]
    return pl.DataFrame({"post_id": [r["post_id"] for r in rows], "text": [r["text"] for r in rows],
                         "title": [r.get("title") for r in rows]})


@pytest.fixture(scope="module")
def plain(catalogue, posts):
    m = Matcher(catalogue)
    return m.match(posts), m.rank(posts, top_k=5)


class Warnings(list):
    def __call__(self, msg):
        self.append(msg)


def cached_matcher(catalogue, folder, warn=None, **kw):
    cache = IndexCache(folder, warn=Warnings() if warn is None else warn)
    return Matcher(catalogue, index_cache=cache, **kw), cache


def test_a_cached_index_gives_the_same_matches_as_one_built_in_memory(catalogue, posts, plain, tmp_path):
    first, cache = cached_matcher(catalogue, tmp_path)
    assert cache.last == "built"
    assert len(list(tmp_path.glob("index-*.cwidx"))) == 1
    second, cache2 = cached_matcher(catalogue, tmp_path)
    assert cache2.last == "loaded"
    for m in (first, second):
        assert_frame_equal(m.match(posts), plain[0], check_exact=True)
        assert_frame_equal(m.rank(posts, top_k=5), plain[1], check_exact=True)
    assert second.duplicate_groups() == first.duplicate_groups()


def test_the_cached_index_has_every_attribute_of_a_built_one(catalogue, tmp_path):
    built, _ = cached_matcher(catalogue, tmp_path)
    loaded, cache = cached_matcher(catalogue, tmp_path)
    assert cache.last == "loaded"
    assert set(vars(loaded.index)) >= set(vars(built.index)) - {"tiebreak", "claim_id_series", "field_sorted_array"}
    assert loaded.index.claims == built.index.claims
    assert loaded.index.tokens.compounds == built.index.tokens.compounds


@pytest.mark.parametrize("damage", ["flip a payload byte", "truncate", "garbage", "empty", "flip the trailer"])
def test_a_damaged_cache_file_is_rebuilt_with_one_warning(catalogue, posts, plain, tmp_path, damage):
    cached_matcher(catalogue, tmp_path)
    (path,) = tmp_path.glob("index-*.cwidx")
    data = bytearray(path.read_bytes())
    if damage == "flip a payload byte":
        data[len(data) // 2] ^= 0xFF
    elif damage == "truncate":
        data = data[: len(data) * 2 // 3]
    elif damage == "garbage":
        data = bytearray(os.urandom(5000))
    elif damage == "empty":
        data = bytearray()
    else:
        data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    warned = Warnings()
    m, cache = cached_matcher(catalogue, tmp_path, warn=warned)
    assert cache.last == "built"
    assert len(warned) == 1 and str(path) in warned[0] and "building the index again" in warned[0]
    assert_frame_equal(m.match(posts), plain[0], check_exact=True)
    again, cache = cached_matcher(catalogue, tmp_path)  # the file was replaced by a good one
    assert cache.last == "loaded"


def test_a_file_that_would_run_code_is_refused_not_executed(catalogue, tmp_path):
    cached_matcher(catalogue, tmp_path)
    (path,) = tmp_path.glob("index-*.cwidx")
    data = path.read_bytes()
    size = int.from_bytes(data[len(MAGIC):len(MAGIC) + 4], "big")
    head = data[: len(MAGIC) + 4 + size]
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    payload = pickle.dumps({"claim_ids": [], "evil": Evil()}, protocol=5)
    import hashlib

    path.write_bytes(head + payload + len(payload).to_bytes(8, "big") + hashlib.sha256(payload).digest())
    warned = Warnings()
    _, cache = cached_matcher(catalogue, tmp_path, warn=warned)
    assert not marker.exists()
    assert cache.last == "built" and "refused to load" in warned[0]


def test_a_new_catalogue_version_does_not_use_the_old_file(catalogue, tmp_path):
    cached_matcher(catalogue, tmp_path)
    (old,) = tmp_path.glob("index-*.cwidx")
    claims = list(catalogue)
    changed = Catalogue([Claim(**{**vars(claims[0]), "text": claims[0].text + " zebracorn"})] + claims[1:])
    assert changed.version != catalogue.version
    warned = Warnings()
    m, cache = cached_matcher(changed, tmp_path, warn=warned)
    assert cache.last == "built" and not warned
    assert len(list(tmp_path.glob("index-*.cwidx"))) == 2
    assert "zebracorn" in " ".join(m.index.field_text)
    # an old file put in the new file's place is refused, not used
    new_path = cache.path(m.catalogue_version)
    new_path.write_bytes(old.read_bytes())
    warned = Warnings()
    _, cache = cached_matcher(changed, tmp_path, warn=warned)
    assert cache.last == "built" and "another catalogue version" in warned[0]


def test_feedback_changes_the_key_and_the_index(catalogue, tmp_path):
    _, cache = cached_matcher(catalogue, tmp_path)
    claim = next(c for c in catalogue if c.status == "active")
    fb = Feedback(confirmed={claim.claim_id: ("a reviewer confirmed this exact post about it",)})
    m, cache = cached_matcher(catalogue, tmp_path, feedback=fb)
    assert cache.last == "built"
    loaded, cache = cached_matcher(catalogue, tmp_path, feedback=fb)
    assert cache.last == "loaded"
    assert "a reviewer confirmed this exact post about it" in loaded.index.field_text


def test_other_claims_under_the_same_version_are_refused(catalogue, tmp_path):
    m, cache = cached_matcher(catalogue, tmp_path)
    fewer = list(catalogue)[1:]
    with pytest.raises(index_cache.CacheFileError, match="other claims"):
        load_index(cache.path(m.catalogue_version), fewer, m.catalogue_version)


def test_a_code_or_library_change_changes_the_key(catalogue, tmp_path, monkeypatch):
    _, cache = cached_matcher(catalogue, tmp_path)
    before = cache.path(catalogue.version)
    monkeypatch.setattr(index_cache, "_fingerprint", "another-build")
    assert cache.path(catalogue.version) != before
    _, cache = cached_matcher(catalogue, tmp_path)
    assert cache.last == "built"


def test_an_unwritable_folder_warns_once_and_still_matches(catalogue, posts, plain, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    warned = Warnings()
    cache = IndexCache(blocker / "index", warn=warned)
    m = Matcher(catalogue, index_cache=cache)
    Matcher(catalogue, index_cache=cache)
    assert cache.last == "built (not cached)"
    assert len(warned) == 1 and "claim index cache" in warned[0] and "built in memory" in warned[0]
    assert_frame_equal(m.match(posts), plain[0], check_exact=True)


def test_old_files_beyond_keep_are_removed(catalogue, tmp_path):
    claims = list(catalogue)
    for i in range(4):
        cat = Catalogue([Claim(**{**vars(claims[0]), "text": f"{claims[0].text} v{i}"})] + claims[1:])
        cache = IndexCache(tmp_path, keep=2, warn=Warnings())
        Matcher(cat, index_cache=cache)
    assert len(list(tmp_path.glob("index-*.cwidx"))) == 2


def test_retired_claims_are_left_out_as_when_building(tmp_path):
    cat = Catalogue([Claim(claim_id="a", text="alpha beta gamma delta", status="imported"),
                     Claim(claim_id="b", text="epsilon zeta eta theta", status="retired")])
    IndexCache(tmp_path, warn=Warnings()).load_or_build(list(cat), cat.version)
    loaded = IndexCache(tmp_path, warn=Warnings())
    index = loaded.load_or_build(list(cat), cat.version)
    assert loaded.last == "loaded"
    assert index.claim_ids == ClaimIndex(list(cat), cat.version).claim_ids == ["a"]
