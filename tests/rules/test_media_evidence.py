"""Outside media evidence (e.g. perceptual-hash matches of a post's video) passed to match()/rank():
direct evidence exactly like a link to a known video of the claim."""

import polars as pl
import pytest

from rules.catalogue import Catalogue, Claim
from rules.match import MEDIA_MATCHES_SCHEMA, Matcher

CLIP = Claim(
    claim_id="trump-khan", verdict="altered", title="Trump pledges to work for Imran Khan's release",
    text="A video shows Donald Trump promising to get Imran Khan out of jail.",
    required_entities=(("trump",), ("imran khan", "khan")),
    known_media=("youtube:dQw4w9WgXcQ",), fact_checks=({"url": "https://factcheck.example.org/trump-khan"},),
)
MOSQUE = Claim(claim_id="mosque", verdict="missing-context", text="An Indian drone hit Faisal Mosque in Islamabad.", title="Drone hits Faisal Mosque",
               fact_checks=({"url": "https://factcheck.example.org/mosque"},))
CAT = Catalogue([CLIP, MOSQUE])


def media(*rows):
    return pl.DataFrame([dict(zip(MEDIA_MATCHES_SCHEMA, r)) for r in rows], schema=MEDIA_MATCHES_SCHEMA)


@pytest.fixture(scope="module")
def matcher():
    return Matcher(CAT)


POSTS = pl.DataFrame({"post_id": ["spread", "debunk", "bare", "nothing"], "text": [
    "Trump finally says it: Imran Khan will be out soon!!",
    "This clip of Trump is fake, it was edited. Do not share.",
    "wow",
    "lovely weather in Lahore today",
]})


def test_a_media_match_reports_the_pair_whatever_the_text(matcher):
    out = matcher.match(POSTS, media=media(("bare", "trump-khan", 92.0, "video phash 0.94 ~ known clip frame 12")))
    row = out.filter(pl.col("post_id") == "bare").row(0, named=True)
    assert (row["claim_id"], row["score"], row["score_media"]) == ("trump-khan", 92.0, 92.0)
    assert "video phash 0.94" in row["evidence"]
    # no words of the claim: the entity guard fails, but the post shows the claim's own clip, so it
    # is flagged on that evidence alone (a re-upload under a neutral title names nobody)
    assert (row["entities_ok"], row["label"]) == (False, "likely_misinformation")
    # words alone, with the guard failing, are still held back for a person
    assert matcher.match(POSTS.filter(pl.col("post_id") == "bare")).is_empty()


def test_stance_still_decides_a_debunk_that_shows_the_clip_is_a_debunk(matcher):
    out = matcher.match(POSTS, media=media(("debunk", "trump-khan", 100.0, "image phash"),
                                           ("spread", "trump-khan", 100.0, "image phash")))
    labels = {r["post_id"]: (r["claim_id"], r["stance"], r["label"]) for r in out.filter(pl.col("rank") == 1).iter_rows(named=True)}
    assert labels["debunk"] == ("trump-khan", "debunks", "debunk")
    assert labels["spread"] == ("trump-khan", "spreads", "likely_misinformation")


def test_media_evidence_behaves_as_a_known_media_link():
    with_link = POSTS.with_columns(pl.Series("links", [["https://youtu.be/dQw4w9WgXcQ"], [], [], []]))
    m = Matcher(CAT)
    by_link = m.match(with_link.head(1)).drop("evidence")
    by_hash = m.match(POSTS.head(1), media=media(("spread", "trump-khan", 100.0, "x"))).drop("evidence")
    assert by_link.equals(by_hash)


def test_a_media_match_on_top_of_a_known_media_link_keeps_both_evidences(matcher):
    with_link = POSTS.head(1).with_columns(pl.Series("links", [["https://youtu.be/dQw4w9WgXcQ"]]))
    row = matcher.match(with_link, media=media(("spread", "trump-khan", 60.0, "frame hash"))).row(0, named=True)
    assert row["score_media"] == 100.0
    assert row["evidence"].startswith("known media youtube:dQw4w9WgXcQ; frame hash")


def test_rank_puts_a_media_match_first(matcher):
    ranked = matcher.rank(POSTS.filter(pl.col("post_id") == "nothing"), top_k=2,
                          media=media(("nothing", "mosque", 80.0, "photo hash")))
    assert ranked.row(0, named=True)["claim_id"] == "mosque" and ranked.row(0, named=True)["score"] >= 80.0


def test_rows_for_unknown_posts_or_claims_are_ignored(matcher):
    plain = matcher.match(POSTS)
    assert matcher.match(POSTS, media=media(("elsewhere", "trump-khan", 100.0, "x"),
                                            ("bare", "retired-or-unknown", 100.0, "x"))).equals(plain)
    assert matcher.match(POSTS, media=media()).equals(plain)


@pytest.mark.parametrize("frame,message", [
    (pl.DataFrame({"post_id": ["bare"], "claim_id": ["trump-khan"]}), "missing score_media"),
    (media(("bare", "trump-khan", 140.0, "x")), "must be 0-100"),
])
def test_a_bad_media_frame_is_refused_in_one_line(matcher, frame, message):
    with pytest.raises(ValueError, match=message) as exc:
        matcher.match(POSTS, media=frame)
    assert "\n" not in str(exc.value)
