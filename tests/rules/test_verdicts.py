"""The verdict scale: publishers' ratings read onto it, and what each verdict lets the matcher do."""

import json

import polars as pl
import pytest
import yaml

from rules.catalogue import Catalogue, CatalogueError, Claim, load_catalogue, load_jsonl
from rules.match import Matcher
from rules.verdicts import FLAGGABLE, REVIEW_ONLY, SCALE, TRUE_VERDICTS, verdict_from_rating

# Ratings as fact-checkers publish them in ClaimReview reviewRating.alternateName (PolitiFact,
# Snopes, AFP, Reuters, Full Fact, The Washington Post, Lead Stories, BOOM, Newschecker, Vishvas
# News, Soch, Geo, Dawn, Logically, ...), and the catalogue's own fact_checks ratings.
REAL_RATINGS = [
    ("True", "true"), ("Mostly True", "mostly-true"), ("Half True", "mixture"), ("Mostly False", "misleading"),
    ("False", "false"), ("Pants on Fire!", "false"), ("Pants on Fire", "false"),
    ("Mixture", "mixture"), ("Unproven", "unproven"), ("Outdated", "missing-context"),
    ("Miscaptioned", "missing-context"), ("Correct Attribution", "true"), ("Misattributed", "missing-context"),
    ("Legend", "unproven"), ("Scam", "false"), ("Labeled Satire", "satire"), ("Originated as Satire", "satire"),
    ("Research In Progress", "unproven"), ("Legit", "true"), ("Fake", "false"),
    ("Missing context", "missing-context"), ("Partly false", "misleading"), ("Altered photo", "altered"),
    ("Altered video", "altered"), ("Misleading", "misleading"), ("Satire", "satire"), ("Photo montage", "altered"),
    ("Digitally altered", "altered"), ("No evidence", "unproven"), ("Partly true", "mixture"),
    ("Unverifiable", "unproven"), ("Incorrect.", "false"), ("Correct.", "true"), ("This is not correct.", "false"),
    ("Four Pinocchios", "false"), ("Three Pinocchios", "misleading"), ("Two Pinocchios", "mixture"),
    ("One Pinocchio", "mostly-true"), ("Geppetto Checkmark", "true"), ("Bottomless Pinocchio", "false"),
    ("Not True", "false"), ("Needs Context", "missing-context"), ("Edited", "altered"), ("Sarcasm", "satire"),
    ("Altered Media", "altered"), ("Exaggerated", "misleading"), ("FALSE", "false"), ("MISLEADING", "misleading"),
    ("Fake (dubbed-over 2017 clip)", "altered"), ("Edited (old interview)", "altered"),
    ("Misrepresented (old video)", "missing-context"), ("False (audio replaced)", "altered"),
    ("Doctored video", "altered"), ("Old video republished as new", "missing-context"),
    ("Fake (fabricated document)", "false"), ("Falso", "false"), ("Engañoso", "misleading"),
    ("Sátira", "satire"), ("Faux", "false"), ("Trompeur", "misleading"),
    # Urdu
    ("غلط", "false"), ("گمراہ کن", "misleading"), ("من گھڑت", "false"), ("جعلی", "false"), ("درست", "true"),
    ("جزوی طور پر درست", "mixture"), ("ایڈٹ شدہ", "altered"), ("سیاق و سباق سے ہٹ کر", "missing-context"),
    ("غیر مصدقہ", "unproven"), ("نادرست", "false"), ("جھوٹ", "false"),
    # Hindi (with and without nukta)
    ("झूठ", "false"), ("फ़र्ज़ी", "false"), ("फर्जी", "false"), ("भ्रामक", "misleading"), ("सच", "true"),
    ("आधा सच", "mixture"), ("ग़लत", "false"), ("संपादित", "altered"), ("सही", "true"), ("व्यंग्य", "satire"),
    # not a verdict
    ("Discredited source", None), ("Khan is alive; photo from 2013", None), ("", None), (None, None),
]


@pytest.mark.parametrize("rating,verdict", REAL_RATINGS)
def test_publishers_ratings_are_read_onto_the_scale(rating, verdict):
    assert verdict_from_rating(rating) == verdict


def test_scale_terms_read_as_themselves_and_partition_the_scale():
    assert [verdict_from_rating(v) for v in SCALE] == list(SCALE)
    assert FLAGGABLE | REVIEW_ONLY | TRUE_VERDICTS == set(SCALE)
    assert not (FLAGGABLE & REVIEW_ONLY or FLAGGABLE & TRUE_VERDICTS or REVIEW_ONLY & TRUE_VERDICTS)


@pytest.mark.parametrize("value,best,worst,verdict", [
    (1, 5, 1, "false"), ("2", "5", "1", "misleading"), (3, 5, 1, "mixture"), (4, 5, 1, "mostly-true"),
    ("5", "5", "1", "true"), (0, 10, 0, "false"), ("n/a", 5, 1, None), (9, 5, 1, None), (3, 3, 3, None),
])
def test_numeric_ratings_are_placed_on_the_scale(value, best, worst, verdict):
    assert verdict_from_rating(None, value, best, worst) == verdict


def test_a_text_rating_wins_over_the_number():
    assert verdict_from_rating("Mostly True", 1, 5, 1) == "mostly-true"


# --- the catalogue ------------------------------------------------------------------------------

def _yaml_claim(tmp_path, **fields):
    claim = {"claim_id": "x", "status": "active", "text": "Some claim.", "verdict": "false",
             "fact_checks": [{"url": "https://f.example/x"}], **fields}
    (tmp_path / "x.yaml").write_text(yaml.safe_dump(claim))
    return tmp_path / "x.yaml"


def test_a_yaml_verdict_must_be_a_term_of_the_scale_and_the_message_reads_the_rating(tmp_path):
    with pytest.raises(CatalogueError, match=r"field 'verdict': must be one of false, altered, .* "
                                             r"\(got 'Mostly False'; the rating reads as 'misleading'\)"):
        load_catalogue(_yaml_claim(tmp_path, verdict="Mostly False"))
    with pytest.raises(CatalogueError, match="an active claim needs a verdict"):
        load_catalogue(_yaml_claim(tmp_path, verdict=None))
    assert load_catalogue(_yaml_claim(tmp_path, verdict=None, status="imported")).get("x").verdict is None


def test_a_jsonl_verdict_may_be_a_publishers_rating_but_must_be_readable(tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_text(json.dumps({"claim_id": "1", "text": "a", "verdict": "Pants on Fire!"}) + "\n"
                 + json.dumps({"claim_id": "2", "text": "b"}) + "\n")
    cat = load_jsonl(p)
    assert (cat.get("1").verdict, cat.get("2").verdict) == ("false", None)
    p.write_text(json.dumps({"claim_id": "1", "text": "a", "verdict": "banana"}) + "\n")
    with pytest.raises(CatalogueError, match=r"c.jsonl:1: claim '1': field 'verdict': 'banana' is not a rating"):
        load_jsonl(p)


# --- the matcher --------------------------------------------------------------------------------

POST = pl.DataFrame({"post_id": ["p"], "text": ["BREAKING: Donald Trump promises to get Imran Khan out of jail, watch!"]})


def _label(verdict, status="active"):
    claim = Claim(claim_id="c", verdict=verdict, status=status, title="Trump pledges to free Imran Khan",
                  text="A video shows Donald Trump promising to get Imran Khan out of jail.",
                  required_entities=(("trump",), ("imran khan",)), fact_checks=({"url": "https://f.example/c"},))
    return Matcher(Catalogue([claim])).match(POST).row(0, named=True)["label"]


@pytest.mark.parametrize("verdict", sorted(FLAGGABLE))
def test_only_false_altered_misleading_or_out_of_context_claims_flag(verdict):
    assert _label(verdict) == "likely_misinformation"


@pytest.mark.parametrize("verdict", sorted(REVIEW_ONLY) + [None])
def test_mixed_unproven_satire_or_unrated_claims_give_at_most_needs_review(verdict):
    assert _label(verdict) == "needs_review"


@pytest.mark.parametrize("verdict", sorted(TRUE_VERDICTS))
def test_a_post_stating_a_claim_rated_true_is_not_flagged(verdict):
    assert _label(verdict) == "no_flag"
    assert _label(verdict, status="imported") == "no_flag"
