"""Counter-evidence: a post that matches one of a claim's true statements at least as well as the
claim is not flagged, and its evidence says which statement."""

from pathlib import Path

import polars as pl
import pytest
import yaml

from rules.catalogue import Catalogue, CatalogueError, Claim, load_catalogue
from rules.feedback import Feedback
from rules.match import Matcher

ROOT = Path(__file__).resolve().parents[2]
RELEASE = Claim(
    claim_id="release", verdict="altered", title="Trump pledges to work for Imran Khan's release (edited clip)",
    text="A video shows Donald Trump promising to get Imran Khan out of jail if he wins the election.",
    variants=("Trump ne waada kiya ke Imran Khan ko jail se rihai dilayenge",),
    required_entities=(("trump", "ٹرمپ"), ("imran khan", "عمران خان")),
    fact_checks=({"url": "https://factcheck.example.org/release"},),
    true_statements=("Richard Grenell, a close ally of Donald Trump, called for Imran Khan's release in posts on X "
                     "in November 2024",),
)


def posts(*texts):
    return pl.DataFrame({"post_id": [f"p{i}" for i in range(len(texts))], "text": list(texts)})


def rows(matcher, *texts):
    out = matcher.match(posts(*texts)).filter(pl.col("claim_id") == "release")
    return {r["post_id"]: r for r in out.iter_rows(named=True)}


GRENELL = "Trump ally Richard Grenell calls for the release of Imran Khan: Free Imran Khan!"
SPREAD = "BREAKING: Donald Trump promises to get Imran Khan out of jail if he wins, watch!"


def test_a_post_closer_to_a_true_statement_is_not_flagged_and_says_why():
    with_truth = rows(Matcher(Catalogue([RELEASE])), GRENELL, SPREAD)
    assert with_truth["p0"]["label"] == "no_flag" and with_truth["p0"]["stance"] == "spreads"
    assert with_truth["p0"]["evidence"].startswith("closer to true statement: Richard Grenell, a close ally")
    assert with_truth["p1"]["label"] == "likely_misinformation" and "closer" not in with_truth["p1"]["evidence"]
    # the same catalogue without the statement flags the true news
    without = Claim(**{**RELEASE.__dict__, "true_statements": ()})
    assert rows(Matcher(Catalogue([without])), GRENELL)["p0"]["label"] == "likely_misinformation"


def test_a_debunk_close_to_the_truth_stays_a_debunk():
    r = rows(Matcher(Catalogue([RELEASE])), "Fake video: Trump never promised to free Imran Khan; it was Richard "
                                            "Grenell who called for Imran Khan's release on X in November 2024")
    assert r["p0"]["label"] == "debunk"


def test_a_reviewers_counter_example_unflags_the_post_and_its_paraphrase():
    true_post = "Trump rally speech: Donald Trump says he will get Imran Khan's party seats at jail talks"
    paraphrase = "Donald Trump says he'll get Imran Khan's party seats in the jail talks, rally speech"
    plain = Matcher(Catalogue([RELEASE]))
    before = rows(plain, true_post, paraphrase)
    assert [before[p]["label"] for p in ("p0", "p1")] == ["likely_misinformation"] * 2
    reviewed = Matcher(Catalogue([RELEASE]), feedback=Feedback(counter={"release": [true_post]}))
    after = rows(reviewed, true_post, paraphrase, SPREAD)
    assert [after[p]["label"] for p in ("p0", "p1", "p2")] == ["no_flag", "no_flag", "likely_misinformation"]
    assert after["p1"]["evidence"].startswith("closer to true statement: Trump rally speech")
    assert reviewed.catalogue_version != plain.catalogue_version


def test_the_loader_reads_true_statements_and_refuses_bad_ones(tmp_path):
    base = {"claim_id": "x", "status": "active", "text": "Trump will free Imran Khan.", "verdict": "false",
            "variants": ["Trump frees Khan"], "fact_checks": [{"url": "https://f.example/x"}]}
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump({**base, "true_statements": ["Grenell called for Khan's release", "Grenell called for Khan's release"]}))
    claim = load_catalogue(path).get("x")
    assert claim.true_statements == ("Grenell called for Khan's release",)
    assert "true_statements" in claim.content()
    for bad, message in ((["ok", 3], "field 'true_statements': must be a list of strings"),
                         ("one string", "field 'true_statements': must be a list of strings"),
                         (["Trump frees Khan!"], "is the claim itself")):
        path.write_text(yaml.safe_dump({**base, "true_statements": bad}))
        with pytest.raises(CatalogueError, match=message) as exc:
            load_catalogue(path)
        assert "\n" not in str(exc.value)


def test_a_claim_without_statements_keeps_its_content_and_version():
    plain = Claim(claim_id="x", text="t")
    assert "true_statements" not in plain.content()


# The true news that the shipped catalogue flagged before it listed true statements.
TRUE_NEWS = {
    "grenell-en": "Richard Grenell calls for the release of Imran Khan: \"Free Imran Khan!\"",
    "grenell-roman": "Trump ke qareebi Richard Grenell ne Imran Khan ki rihai ka mutalba kar diya",
    "grenell-ur": "ٹرمپ کے قریبی ساتھی رچرڈ گرینل نے عمران خان کی رہائی کا مطالبہ کر دیا",
    "london": "Small PTI protest in London today against Asim Munir's visit, a few dozen people with flags",
    "fire-2024": "Last May's fire by the road near Faisal Mosque in Islamabad, during the heatwave",
}


def test_the_shipped_catalogue_does_not_flag_the_true_news_it_looks_like():
    m = Matcher(load_catalogue(ROOT / "rules" / "claims"))
    out = m.match(pl.DataFrame({"post_id": list(TRUE_NEWS), "text": list(TRUE_NEWS.values())}))
    assert set(out["post_id"]) == set(TRUE_NEWS)  # they do match a claim ...
    assert out.filter(pl.col("label") == "likely_misinformation").is_empty(), out  # ... and none is flagged
    best = out.filter(pl.col("rank") == 1)
    # each says why: it is closer to the true event, or (last May's fire, read as a correction of
    # the drone story) it says what the fact check says
    assert all(e.startswith(("closer to true statement:", "says what the fact check says:")) for e in best["evidence"]), best
    assert best.filter(pl.col("evidence").str.starts_with("says what")).get_column("post_id").to_list() in ([], ["fire-2024"])


def test_a_post_in_the_true_events_words_that_adds_what_the_claim_adds_is_still_flagged():
    # "Small PTI protest in London ..." is a true statement of the claim; a huge crowd is what the
    # claim adds to it, so a post with the crowd spreads the claim even in the true event's words
    m = Matcher(load_catalogue(ROOT / "rules" / "claims"))
    out = m.match(pl.DataFrame({"post_id": ["huge", "small"], "text": [
        "Huge crowd in London against Asim Munir's UK visit, PTI supporters everywhere",
        "Small PTI protest in London against Asim Munir's UK visit, PTI supporters with flags"]}))
    best = {r["post_id"]: r for r in out.filter(pl.col("rank") == 1).iter_rows(named=True)}
    assert best["huge"]["label"] == "likely_misinformation", best["huge"]
    assert best["small"]["label"] == "no_flag" and best["small"]["evidence"].startswith("closer to true statement:")


LONDON = Claim(
    claim_id="london", verdict="misleading", title="Huge crowd protests against army chief Munir in London",
    text="An aerial video shows a huge crowd of Pakistanis protesting against Asim Munir in London.",
    variants=("London mein Munir ke khilaf bohat bara hujoom",),
    required_entities=(("munir", "asim munir"), ("london",)),
    true_statements=("PTI supporters marched in Brescia, Italy, in November 2024",
                     "A small PTI protest was held in London during Munir's visit in February 2025"),
    debunk_variants=("The aerial video shows the PTI march in Brescia, Italy, in November 2024, not London",
                     "Bare hujoom wali video London ki nahi, Italy ke Brescia mein PTI ke march ki hai"),
)
CORRECTION = "Bhai ye London nahi, Italy ka Brescia hai. PTI ka march tha, Munir ke dore wala protest chhota tha"
LONDON_SPREAD = "Aaj London mein Munir ke khilaf bohat bara hujoom, dekho kitne log nikle!!"


@pytest.mark.parametrize("stance", ["model", "cues"])
def test_a_correction_without_a_verdict_word_is_a_debunk_and_says_which_variant(stance, monkeypatch):
    import rules.match as match_module
    from rules.config import MatchConfig

    matcher = Matcher(Catalogue([LONDON]), MatchConfig(stance=stance))
    got = {r["post_id"]: r for r in matcher.match(posts(CORRECTION, LONDON_SPREAD)).iter_rows(named=True)}
    assert got["p0"]["label"] == "debunk" and got["p0"]["stance"] == "debunks", got["p0"]
    assert "says what the fact check says: " in got["p0"]["evidence"]
    assert got["p1"]["label"] == "likely_misinformation", got["p1"]  # the claim restated stays a flag
    if stance == "model":
        return  # the shipped model has learnt this wording; the cue lists have not
    # without the rule the cue lists' reading of the correction is no debunk
    monkeypatch.setattr(match_module, "CORRECTION_MARGIN", float("inf"))
    again = Matcher(Catalogue([LONDON]), MatchConfig(stance=stance)).match(posts(CORRECTION)).row(0, named=True)
    assert again["label"] != "debunk"


def test_a_weak_match_that_names_every_required_entity_is_reviewed_not_dropped():
    from rules.config import MatchConfig

    cfg = MatchConfig()
    matcher = Matcher(load_catalogue(ROOT / "rules" / "claims"), cfg)
    asked = "ye trump wali video sach hai kia?? imran khan ko chhudwane wali. koi batao yaar 🤔"
    trump_only = "ye trump wali video sach hai kia?? koi batao yaar 🤔"
    got = matcher.match(posts(asked, trump_only)).filter(pl.col("claim_id") == "trump-khan-release-clip")
    by_post = {r["post_id"]: r for r in got.iter_rows(named=True)}
    assert by_post["p0"]["score"] < cfg.review_threshold and by_post["p0"]["entities_ok"]
    assert by_post["p0"]["label"] == "needs_review"
    assert "p1" not in by_post or by_post["p1"]["label"] == "no_flag"  # Trump alone names one group of two


def test_a_report_far_closer_to_the_truth_keeps_it_though_it_holds_a_word_the_claim_adds(monkeypatch):
    import rules.match as match_module

    reports = [
        "Trump ally Richard Grenell renews call to free Imran Khan. Richard Grenell, a close ally of president-elect "
        "Donald Trump, again called for the release of Pakistan's jailed former prime minister Imran Khan in a "
        "message on X.",
        "رچرڈ گرینل نے ایک بار پھر عمران خان کی رہائی کا مطالبہ کیا۔ امریکی صدر منتخب ڈونلڈ ٹرمپ کے قریبی ساتھی نے "
        "سوشل میڈیا پر پیغام میں کہا کہ حکومت عمران خان کو رہا کرے",
    ]
    cat = load_catalogue(ROOT / "rules" / "claims")

    def labels():
        out = Matcher(cat).match(posts(*reports)).filter(pl.col("claim_id") == "trump-khan-release-clip")
        return {r["post_id"]: (r["label"], r["evidence"], r["stance"]) for r in out.iter_rows(named=True)}

    got = labels()
    assert [got[p][0] for p in ("p0", "p1")] == ["no_flag", "no_flag"], got
    # a report read as spreading is kept from a flag by the true statement (one read as a neutral
    # report is no flag anyway)
    assert got["p0"][2] == "spreads" and got["p0"][1].startswith("closer to true statement: ")
    assert got["p1"][2] == "mentions" or got["p1"][1].startswith("closer to true statement: ")
    # "president-elect Donald Trump" and "message" are words of the claim that no true statement
    # holds: without the margin they made the report (read as spreading) a flag
    monkeypatch.setattr(match_module, "ADDS_MARGIN", float("inf"))
    assert labels()["p0"][0] == "likely_misinformation"
