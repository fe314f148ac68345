"""Reviewers' feedback given to the matcher at build time: confirmed posts as claim fields, a
catalogue version that changes with the feedback."""

import pickle

import polars as pl
import pytest

from rules.catalogue import Catalogue, Claim
from rules.feedback import Feedback, FeedbackError
from rules.match import Matcher

CLAIM = Claim(claim_id="mosque", title="Drone attack on Faisal Mosque",
              text="A video shows fire near Faisal Mosque in Islamabad after an Indian drone attack.",
              fact_checks=({"url": "https://factcheck.example.org/mosque"},))
OTHER = Claim(claim_id="korea", text="South Korea declared martial law to stop a North Korean invasion.")
CAT = Catalogue([CLAIM, OTHER])
PARAPHRASE = "bharat ne raat ko masjid ko nishana bana diya, shaher mein dhuan hi dhuan"


def test_no_feedback_keeps_the_catalogue_version():
    assert Matcher(CAT).catalogue_version == CAT.version
    assert Matcher(CAT, feedback=Feedback()).catalogue_version == CAT.version


def test_the_version_changes_with_the_feedback_and_not_with_its_order():
    a = Feedback(confirmed={"mosque": ["one post", "two post"]})
    b = Feedback(confirmed={"mosque": ["two post", "one post", "one post "]})
    c = Feedback(confirmed={"mosque": ["one post"]}, counter={"mosque": ["true news"]})
    va, vb, vc = (Matcher(CAT, feedback=f).catalogue_version for f in (a, b, c))
    assert va == vb and va != CAT.version and vc not in (va, CAT.version)
    row = Matcher(CAT, feedback=a).match(pl.DataFrame({"post_id": ["p"], "text": ["drone attack on Faisal Mosque"]}))
    assert row["catalogue_version"].to_list() == [va]


def test_a_confirmed_post_makes_its_close_paraphrases_match_the_claim():
    posts = pl.DataFrame({"post_id": ["p"], "text": [PARAPHRASE + " #Islamabad"]})
    before = Matcher(CAT).match(posts)
    fb = Feedback.from_frame(pl.DataFrame({"claim_id": ["mosque"], "kind": ["confirmed"], "text": [PARAPHRASE]}))
    after = Matcher(CAT, feedback=fb).match(posts)
    score_before = before.filter(pl.col("claim_id") == "mosque")["score"].max() or 0.0
    row = after.filter(pl.col("claim_id") == "mosque").row(0, named=True)
    assert row["score"] > score_before + 30
    assert "words (confirmed post)" in row["evidence"]


def test_feedback_for_a_claim_not_in_the_catalogue_changes_no_match():
    posts = pl.DataFrame({"post_id": ["p"], "text": ["drone attack on Faisal Mosque Islamabad"]})
    m = Matcher(CAT, feedback=Feedback(confirmed={"gone": ["drone attack on Faisal Mosque"]}))
    assert m.match(posts).drop("catalogue_version").equals(Matcher(CAT).match(posts).drop("catalogue_version"))


def test_a_matcher_with_feedback_pickles():
    m = Matcher(CAT, feedback=Feedback(confirmed={"mosque": [PARAPHRASE]}))
    posts = pl.DataFrame({"post_id": ["p"], "text": [PARAPHRASE]})
    assert pickle.loads(pickle.dumps(m)).match(posts).equals(m.match(posts))


@pytest.mark.parametrize("frame,message", [
    (pl.DataFrame({"claim_id": ["mosque"], "text": ["x"]}), "missing kind"),
    (pl.DataFrame({"claim_id": ["mosque"], "kind": ["maybe"], "text": ["x"]}), "row 1: kind must be counter or confirmed"),
    (pl.DataFrame({"claim_id": [None], "kind": ["counter"], "text": ["x"]}, schema={"claim_id": pl.String, "kind": pl.String, "text": pl.String}), "claim_id missing"),
])
def test_a_bad_feedback_frame_is_refused_in_one_line(frame, message):
    with pytest.raises(FeedbackError, match=message) as exc:
        Feedback.from_frame(frame)
    assert "\n" not in str(exc.value)
