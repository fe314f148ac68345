"""Duplicate claims: identical matching representation -> the first in catalogue order ranks
first, later copies right below it, in rank() and match(), with scores that sort the same way."""

import json

import polars as pl
import yaml

from rules.catalogue import Catalogue, Claim, load_catalogue, load_jsonl
from rules.match import Matcher

FIRST = Claim(claim_id="2", text="Donald Trump will free Imran Khan from jail.", title="Trump to free Khan")
# a re-import differing only in quote characters and a stop word; a higher id, so the lab's
# tie-break (higher id first) would put it first
COPY = Claim(claim_id="10", text="Donald Trump will free “Imran Khan” from the jail", title="Trump to free 'Khan'")
OTHER = Claim(claim_id="5", text="An Indian drone hit Faisal Mosque in Islamabad.", title="Drone hits Faisal Mosque")
NEAR = Claim(claim_id="7", text="Donald Trump will free Imran Khan from prison soon.", title="Trump to free Khan")
POSTS = pl.DataFrame({"post_id": ["a", "b"],
                      "text": ["BREAKING: Donald Trump will free Imran Khan from jail!!", "drone hit Faisal Mosque"]})


def test_groups_map_every_copy_to_the_first_in_catalogue_order():
    m = Matcher(Catalogue([FIRST, OTHER, COPY, NEAR]))
    assert m.duplicate_groups() == {"2": "2", "10": "2"}
    assert Matcher(Catalogue([COPY, FIRST])).duplicate_groups() == {"10": "10", "2": "10"}
    assert Matcher(Catalogue([FIRST, OTHER, NEAR])).duplicate_groups() == {}


def test_rank_puts_the_canonical_first_and_the_copy_right_below_with_a_lower_score():
    m = Matcher(Catalogue([FIRST, OTHER, COPY, NEAR]))
    r = m.rank(POSTS, top_k=5).filter(pl.col("post_id") == "a").sort("rank")
    ids, scores = r["claim_id"].to_list(), r["score"].to_list()
    assert ids.index("10") == ids.index("2") + 1, ids
    assert scores[ids.index("2")] > scores[ids.index("10")] > max(
        [s for c, s in zip(ids, scores) if c not in {"2", "10"}] or [0.0])
    assert scores[ids.index("2")] - scores[ids.index("10")] <= 1e-3
    # re-sorting by score gives the same order as the rank column
    assert r.sort("score", descending=True)["claim_id"].to_list() == ids


def test_catalogue_order_decides_not_the_id():
    r = Matcher(Catalogue([COPY, OTHER, FIRST])).rank(POSTS, top_k=2).filter(pl.col("post_id") == "a").sort("rank")
    assert r["claim_id"].to_list() == ["10", "2"]


def test_match_orders_duplicates_the_same_way_and_flags_at_most_the_canonical():
    m = Matcher(Catalogue([FIRST, OTHER, COPY]))
    out = m.match(POSTS).filter(pl.col("post_id") == "a").sort("rank")
    ids = out["claim_id"].to_list()
    assert ids[:2] == ["2", "10"], ids
    assert out["score"][0] > out["score"][1]
    assert out.sort("score", descending=True)["claim_id"].to_list() == ids
    assert out.filter(pl.col("claim_id") == "10")["label"].to_list() != ["likely_misinformation"]


def test_a_copy_outside_the_candidates_is_still_ranked_below_its_canonical():
    # with one candidate per post, the copy comes in through its group
    from rules.config import MatchConfig

    m = Matcher(Catalogue([FIRST, OTHER, COPY]), MatchConfig(candidates=1))
    r = m.rank(POSTS.head(1), top_k=3)
    assert r.sort("rank")["claim_id"].to_list()[:2] == ["2", "10"]


def test_jsonl_file_order_and_yaml_sorted_file_order_decide_the_canonical(tmp_path):
    p = tmp_path / "c.jsonl"
    rows = [{"claim_id": "9", "text": "Trump frees Khan"}, {"claim_id": "1", "text": "Trump frees “Khan”"}]
    p.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert Matcher(load_jsonl(p)).duplicate_groups() == {"9": "9", "1": "9"}
    d = tmp_path / "claims"
    d.mkdir()
    fc = [{"url": "https://example.org/fc"}]
    for name, cid in (("b.yaml", "aaa"), ("a.yaml", "zzz")):
        (d / name).write_text(yaml.safe_dump({"claim_id": cid, "text": "Trump frees Khan", "verdict": "false", "fact_checks": fc}),
                              encoding="utf-8")
    assert Matcher(load_catalogue(d)).duplicate_groups() == {"zzz": "zzz", "aaa": "zzz"}


def test_claims_that_differ_in_a_content_word_are_not_duplicates():
    a = Claim(claim_id="a", text="Trump frees Khan")
    b = Claim(claim_id="b", text="Trump frees Khan today")
    c = Claim(claim_id="c", text="Trump frees Khan", title="video")
    assert Matcher(Catalogue([a, b, c])).duplicate_groups() == {}
