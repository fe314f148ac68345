"""The matcher: candidates, fuzzy scores, media evidence, entity guards, labels, schema, pickling."""

import os
import pickle
from pathlib import Path

import polars as pl
import pytest

from rules.catalogue import Catalogue, Claim
from rules.config import MatchConfig
from rules.match import Matcher
from rules.schema import MATCHES_SCHEMA

TRUMP = Claim(
    claim_id="trump-khan", verdict="altered", title="Trump pledges to work for Imran Khan's release",
    text="A video shows Donald Trump promising to get Imran Khan out of jail.",
    variants=("Trump ne kaha Imran Khan ki rihai ke liye kaam karenge", "ٹرمپ عمران خان کو جیل سے رہا کروائیں گے"),
    required_entities=(("trump", "ٹرمپ"), ("imran khan", "khan", "عمران خان")),
    known_media=("youtube:dQw4w9WgXcQ",), fact_checks=({"url": "https://factcheck.example.org/trump-khan"},),
)
KOREA = Claim(claim_id="korea", verdict="false", text="South Korea declared martial law to stop a North Korean invasion.",
              title="South Korea martial law invasion", required_entities=(("south korea",),))
OTHER = Claim(claim_id="mosque", verdict="missing-context", text="An Indian drone hit Faisal Mosque in Islamabad.", title=None)
CAT = Catalogue([TRUMP, KOREA, OTHER])


def posts(*texts, **cols):
    data = {"post_id": [f"p{i}" for i in range(len(texts))], "text": list(texts)}
    data.update(cols)
    return pl.DataFrame(data)


@pytest.fixture(scope="module")
def matcher():
    return Matcher(CAT)


def test_a_spreading_post_is_likely_misinformation_with_its_parts(matcher):
    out = matcher.match(posts("BREAKING: Donald Trump promises to get Imran Khan out of jail, watch the video!"))
    assert out.schema == pl.Schema(MATCHES_SCHEMA)
    row = out.row(0, named=True)
    assert (row["claim_id"], row["label"], row["stance"], row["rank"]) == ("trump-khan", "likely_misinformation", "spreads", 1)
    assert row["score"] >= 60 and row["entities_ok"] and row["score_media"] == 0
    assert "trump" in row["evidence"] and row["catalogue_version"] == CAT.version
    assert row["run_id"] is None and row["flagged_at"] is None


def test_roman_urdu_and_urdu_posts_match_the_variants(matcher):
    out = matcher.match(posts("Trump ne kha Imran Kahn ki rehai ke liye kaam karenge", "ٹرمپ عمران خان کو جیل سے رہا کروائیں گے"))
    assert out.filter(pl.col("rank") == 1)["claim_id"].to_list() == ["trump-khan", "trump-khan"]


def test_a_debunk_is_labelled_debunk_and_a_not_fake_is_not(matcher):
    out = matcher.match(posts("Fact check: the video of Donald Trump promising to get Imran Khan out of jail is fake",
                              "This video of Donald Trump promising to get Imran Khan out of jail is not fake"))
    labels = dict(zip(out.filter(pl.col("rank") == 1)["post_id"], out.filter(pl.col("rank") == 1)["label"]))
    assert labels == {"p0": "debunk", "p1": "likely_misinformation"}


def test_known_media_alone_matches_from_links_video_ids_or_text():
    m = Matcher(CAT)
    df = pl.DataFrame({"post_id": ["a", "b", "c"], "text": ["wow", "see https://m.youtube.com/watch?v=dQw4w9WgXcQ&feature=x", "lol"],
                       "links": [["https://youtu.be/dQw4w9WgXcQ?si=1"], [], []],
                       "video_ids": [[], [], ["youtube:dQw4w9WgXcQ"]]})
    out = m.match(df)
    assert sorted(out["post_id"]) == ["a", "b", "c"]
    assert set(out["score_media"]) == {100.0} and set(out["claim_id"]) == {"trump-khan"}
    assert all("youtube:dQw4w9WgXcQ" in e for e in out["evidence"])


def test_known_media_on_an_ipv6_host_matches_the_same_address_however_written(tmp_path):
    import json

    from rules.catalogue import load_jsonl

    path = tmp_path / "claims.jsonl"
    path.write_text(json.dumps({"claim_id": "clip", "text": "A video shows Donald Trump promising to free Imran Khan.",
                                "verdict": "altered", "known_media": ["http://[2001:DB8:0::1]:80/clip.mp4#t=3"],
                                "fact_checks": [{"url": "https://factcheck.example.org/clip"}]}) + "\n")
    cat = load_jsonl(path)
    assert cat.get("clip").known_media == ("https://[2001:db8::1]/clip.mp4",)
    m = Matcher(Catalogue(list(cat) + [KOREA]))
    df = pl.DataFrame({"post_id": ["link", "text", "other"], "text": ["wow", "see http://[2001:DB8:0::1]:80/clip.mp4", "lol"],
                       "links": [["https://[2001:db8::1]/clip.mp4?utm_source=x"], [], ["https://[2001:db8::2]/clip.mp4"]]})
    out = m.match(df)
    assert sorted(out["post_id"]) == ["link", "text"]
    assert all("https://[2001:db8::1]/clip.mp4" in e for e in out["evidence"])


def test_a_link_to_the_claims_fact_check_makes_it_a_debunk(matcher):
    df = posts("Donald Trump promising to get Imran Khan out of jail, read this", links=[["https://factcheck.example.org/trump-khan?utm_source=x"]])
    row = matcher.match(df).row(0, named=True)
    assert row["stance"] == "debunks" and row["label"] == "debunk"


def test_entity_guard_north_korea_does_not_satisfy_south_korea(matcher):
    out = matcher.match(posts("North Korea declared martial law to stop an invasion"))
    row = out.filter(pl.col("claim_id") == "korea").row(0, named=True)
    assert row["entities_ok"] is False and row["label"] != "likely_misinformation"


def test_a_claim_whose_entities_the_post_names_outranks_a_higher_scored_one_that_lacks_them():
    israel = Claim(claim_id="trump-israel", verdict="false", title="Trump says Imran Khan supports Israel",
                   text="A video shows Donald Trump saying Imran Khan supports Israel.",
                   required_entities=(("trump",), ("imran khan",), ("israel",)))
    release = Claim(claim_id="trump-release", verdict="altered", title="Trump promises Imran Khan's release from jail",
                    text="A video shows Donald Trump promising to free Imran Khan from jail.",
                    required_entities=(("trump",), ("imran khan",)))
    m = Matcher(Catalogue([israel, release]))
    post = posts("Donald Trump says Imran Khan, video")
    scored = {r["claim_id"]: r for r in m.match(post).iter_rows(named=True)}
    assert scored["trump-israel"]["score"] > scored["trump-release"]["score"]
    assert scored["trump-release"]["rank"] == 1 and scored["trump-release"]["entities_ok"]
    assert scored["trump-israel"]["rank"] == 2 and not scored["trump-israel"]["entities_ok"]


def test_imported_claims_are_at_most_needs_review_and_retired_never_match():
    imported = Catalogue([Claim(**{**TRUMP.__dict__, "status": "imported"})])
    text = "BREAKING: Donald Trump promises to get Imran Khan out of jail, watch the video!"
    assert Matcher(imported).match(posts(text))["label"].to_list() == ["needs_review"]
    retired = Catalogue([Claim(**{**TRUMP.__dict__, "status": "retired"})])
    assert Matcher(retired).match(posts(text)).height == 0
    assert Matcher(retired).rank(posts(text)).height == 0


def test_rank_gives_every_post_up_to_top_k_rows_best_first(matcher):
    r = matcher.rank(posts("Trump Imran Khan jail video", "Faisal Mosque drone Islamabad", "nothing at all here"), top_k=2)
    assert r.columns == ["post_id", "claim_id", "score", "rank"]
    assert r.group_by("post_id").len()["len"].max() <= 2
    assert r.filter(pl.col("post_id") == "p1").row(0, named=True)["claim_id"] == "mosque"
    for _, g in r.group_by("post_id"):
        assert g.sort("rank")["score"].is_sorted(descending=True)
    assert sorted(set(r["post_id"].to_list())) == ["p0", "p1", "p2"]


@pytest.mark.parametrize("text", ["", "🔥🔥🔥😂", None, "qwzx blorfication zzyzx"])
def test_rank_gives_a_post_without_candidates_its_top_k_rows_with_low_scores(matcher, text):
    df = pl.DataFrame({"post_id": ["odd", "ok"], "text": [text, "Donald Trump promises to get Imran Khan out of jail"]},
                      schema={"post_id": pl.String, "text": pl.String})
    r = matcher.rank(df, top_k=2)
    odd = r.filter(pl.col("post_id") == "odd").sort("rank")
    assert odd["rank"].to_list() == [1, 2] and odd["score"].max() <= 1.0
    assert r.filter(pl.col("post_id") == "ok").sort("rank")["claim_id"][0] == "trump-khan"
    assert matcher.rank(df, top_k=10).filter(pl.col("post_id") == "odd").height == 3  # the whole catalogue
    assert matcher.match(df).filter(pl.col("post_id") == "odd").height == 0  # nothing reported as a match


@pytest.mark.parametrize("text", ["", "🔥🔥🔥😂", None, "عمران Khan ٹرمپ mixed स्क्रिप्ट", "x" * 1_000_000])
def test_odd_posts_do_not_break_the_batch(matcher, text):
    df = pl.DataFrame({"post_id": ["odd", "ok"], "text": [text, "Donald Trump promises to get Imran Khan out of jail"]},
                      schema={"post_id": pl.String, "text": pl.String})
    out = matcher.match(df)
    ok = out.filter(pl.col("post_id") == "ok")
    assert ok.select("claim_id", "rank", "label").rows() == [("trump-khan", 1, "likely_misinformation")]
    odd = out.filter(pl.col("post_id") == "odd")
    # no claim is reported for a post with no words of it; a post naming only Trump and Khan
    # can match the Trump-Khan claim, never the unrelated ones
    assert set(odd["claim_id"].to_list()) <= ({"trump-khan"} if text and "Khan" in text else set())
    assert set(out["post_id"].to_list()) <= {"odd", "ok"}


def test_a_long_transcript_still_finds_the_claim(matcher):
    filler = "the weather was fine and people went to the market " * 3000
    df = pl.DataFrame({"post_id": ["t"], "text": ["podcast"],
                       "transcript": [filler + " Donald Trump promises to get Imran Khan out of jail " + filler]})
    assert matcher.rank(df, top_k=1)["claim_id"].to_list() == ["trump-khan"]


def test_missing_columns_and_bad_top_k_are_clear(matcher):
    with pytest.raises(ValueError, match="post_id and text"):
        matcher.match(pl.DataFrame({"id": ["x"]}))
    with pytest.raises(ValueError, match="top_k"):
        matcher.rank(posts("x"), top_k=0)


def test_a_catalogue_of_one_claim_and_the_matcher_pickles():
    m = Matcher(Catalogue([OTHER]))
    m2 = pickle.loads(pickle.dumps(m))
    df = posts("Indian drone hit Faisal Mosque Islamabad")
    assert m2.rank(df).equals(m.rank(df))


def test_config_from_mapping_refuses_unknown_keys_and_bad_values():
    assert MatchConfig.from_mapping({"flag_threshold": 70, "review_threshold": 50}).flag_threshold == 70.0
    with pytest.raises(ValueError, match="unknown key\\(s\\) flag_treshold"):
        MatchConfig.from_mapping({"flag_treshold": 70})
    with pytest.raises(ValueError, match="review_threshold <= flag_threshold"):
        MatchConfig.from_mapping({"flag_threshold": 40, "review_threshold": 50})
    with pytest.raises(ValueError, match="named_flag_threshold <= flag_threshold"):
        MatchConfig.from_mapping({"named_flag_threshold": 60})
    with pytest.raises(ValueError, match="report_floor <= named_flag_threshold"):
        MatchConfig.from_mapping({"named_flag_threshold": 10})


def test_a_spreading_post_naming_every_entity_group_flags_from_the_named_threshold():
    from rules.labels import label_of

    cfg = MatchConfig()
    args = dict(stance="spreads", direct_evidence=False, entities_ok=True, can_flag=True, hedged=False)
    assert label_of(cfg, 25.0, names_entities=True, **args) == "likely_misinformation"
    assert label_of(cfg, 19.0, names_entities=True, **args) == "needs_review"  # under the named threshold
    # a claim without required entities (or a post that misses a group) needs flag_threshold
    assert label_of(cfg, 25.0, names_entities=False, **{**args, "entities_ok": True}) == "no_flag"
    assert label_of(cfg, 45.0, names_entities=False, **args) == "needs_review"
    assert label_of(cfg, 55.0, names_entities=False, **args) == "likely_misinformation"
    # still never a hedged, unclear or true-rated reading
    assert label_of(cfg, 90.0, names_entities=True, **{**args, "hedged": True}) == "needs_review"
    assert label_of(cfg, 90.0, names_entities=True, **{**args, "stance": "unclear"}) == "needs_review"
    assert label_of(cfg, 90.0, names_entities=True, rated_true=True, **args) == "no_flag"
    strict = MatchConfig(named_flag_threshold=50.0)
    assert label_of(strict, 25.0, names_entities=True, **args) == "needs_review"


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_catalogue_of_200000_claims_builds_and_matches():
    from rules.synthetic import synthetic_catalogue

    big = synthetic_catalogue(Catalogue([KOREA, OTHER]), 200_000)
    m = Matcher(Catalogue(list(big.claims) + [TRUMP]))
    r = m.rank(posts("Donald Trump promising to get Imran Khan out of jail video"), top_k=5)
    assert r["claim_id"][0] == "trump-khan"
    r = m.rank(posts("South Korea martial law Faisal Mosque drone"), top_k=5)
    assert r.height == 5


def test_long_posts_take_their_stance_from_the_words_around_the_claim(matcher):
    filler = "the markets were calm and the weather in the capital was pleasant for the season " * 20
    podcast = pl.DataFrame({
        "post_id": ["pod"], "title": ["Episode 12: election results"], "text": ["We look at the results."],
        "transcript": [filler + " BREAKING: Donald Trump promises to get Imran Khan out of jail, share before they delete it! "
                       + filler],
    })
    assert matcher.match(podcast).row(0, named=True)["stance"] == "spreads"
    article = pl.DataFrame({
        "post_id": ["news"], "title": ["Pakistan hopes for a reset with Washington"],
        "text": [filler + " a video of Donald Trump promising to get Imran Khan out of jail was an edited clip " + filler],
    })
    row = matcher.match(article).row(0, named=True)
    assert (row["stance"], row["label"]) == ("mentions", "no_flag")


def test_a_hedged_spreading_post_is_only_needs_review(matcher):
    out = matcher.match(posts("If this is real: Donald Trump promises to get Imran Khan out of jail"))
    assert out.row(0, named=True)["label"] == "needs_review"


def test_one_matcher_serves_concurrent_batches(matcher):
    from concurrent.futures import ThreadPoolExecutor

    batches = [posts("Donald Trump promises to get Imran Khan out of jail", "Faisal Mosque drone Islamabad fake"),
               posts("Is this real? Trump Imran Khan jail", "South Korea martial law invasion")] * 4
    alone = [matcher.match(b) for b in batches]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(matcher.match, batches))
    assert all(a.equals(t) for a, t in zip(alone, together))


def test_two_catalogue_words_written_as_one_lower_case_hashtag_still_find_the_claim():
    rapper = Claim(claim_id="rapper", title="Rapper Lil Quasar death hoax", text="Rapper Lil Quasar was shot dead.")
    other = Claim(claim_id="quasar", title="Quasar found in deep space", text="Astronomers found a quasar.")
    m = Matcher(Catalogue([rapper, other]))
    ranked = m.rank(posts("im not going anywhere #lilquasar", "#deepspace #astronomy"), top_k=1)
    assert ranked["claim_id"].to_list() == ["rapper", "quasar"]
    assert m.rank(posts("#lilquasar"), top_k=1)["claim_id"].to_list() == ["rapper"]


def test_only_the_best_ranked_claim_of_a_post_carries_a_flag():
    israel = Claim(claim_id="trump-israel", verdict="false", title="Trump says Imran Khan supports Israel",
                   text="A video shows Donald Trump saying Imran Khan supports Israel.",
                   required_entities=(("trump",), ("imran khan",), ("israel",)),
                   fact_checks=({"url": "https://factcheck.example.org/trump-israel"},))
    release = Claim(claim_id="trump-release", verdict="altered", title="Trump says Imran Khan will be freed from jail",
                    text="A video shows Donald Trump saying Imran Khan will be freed from jail.",
                    required_entities=(("trump",), ("imran khan",)),
                    fact_checks=({"url": "https://factcheck.example.org/trump-release"},))
    m = Matcher(Catalogue([israel, release]))
    out = m.match(posts("Watch: Donald Trump says Imran Khan supports Israel, a video of Trump on Imran Khan",
                        "Fake: Trump never said Imran Khan will be freed https://factcheck.example.org/trump-release"))
    labels = {(r["post_id"], r["claim_id"]): (r["rank"], r["label"]) for r in out.iter_rows(named=True)}
    assert labels[("p0", "trump-israel")] == (1, "likely_misinformation")
    assert labels.get(("p0", "trump-release"), (2, "no_flag"))[1] in ("needs_review", "no_flag")
    assert labels[("p1", "trump-release")] == (1, "debunk")
    assert labels.get(("p1", "trump-israel"), (2, "no_flag"))[1] in ("needs_review", "no_flag")
    flagged = out.filter(pl.col("label").is_in(["likely_misinformation", "debunk"]))
    assert flagged["post_id"].is_unique().all()


def test_scores_are_identical_whatever_the_hash_seed():
    """Dask workers and later runs are other processes, each with its own string-hash seed."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    data = root.parent / "shared" / "data" / "checkthat2020"
    if not data.is_dir():
        pytest.skip(f"CheckThat data not found at {data}")
    code = (
        "import polars as pl\n"
        "from rules.catalogue import load_jsonl\n"
        "from rules.match import Matcher\n"
        f"posts = pl.read_ndjson({str(data / 'dev' / 'posts.jsonl')!r}).head(60)\n"
        f"m = Matcher(load_jsonl({str(data / 'claims.jsonl')!r}))\n"
        "r = m.rank(posts, top_k=5)\n"
        "print(repr(r['claim_id'].to_list()), repr(r['score'].to_list()))\n"
    )
    outs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                       env={**os.environ, "PYTHONHASHSEED": seed}, check=True).stdout
        for seed in ("1", "2")
    }
    assert len(outs) == 1, "rank() scores differ between processes"


def test_a_code_mixed_post_is_also_scored_on_each_scripts_words(monkeypatch):
    import rules.match as match_module
    from rules.catalogue import load_catalogue

    root = Path(__file__).resolve().parents[2]
    cat = load_catalogue(root / "rules" / "claims")
    posts = pl.DataFrame({"post_id": ["a", "b", "short"], "text": [
        "عمران خان ہسپتال میں داخل ہیں، sar pe chot lagi hai. They beat him inside the jail cell. سب دعا کریں",
        "عمران خان ہسپتال میں ہیں اور سب پریشان ہیں, sar pe gehri chot hai they pushed him down the stairs",
        # four Urdu-script words: too few to be scored alone, so "see this Trump video" flags nothing
        "ٹرمپ کی یہ ویڈیو دیکھیں، Khan ne private mein Israel ke saath normal relations ki haami bhari thi",
    ]})

    def flags(matcher):
        out = matcher.match(posts).filter(pl.col("label") == "likely_misinformation")
        return dict(zip(out["post_id"], out["claim_id"]))

    # the score decides these flags, not the entities named (rules.config: named_flag_threshold)
    cfg = MatchConfig(named_flag_threshold=MatchConfig().flag_threshold)
    assert flags(Matcher(cat, cfg)) == {"a": "imran-khan-2013-injury-footage", "b": "imran-khan-2013-injury-footage"}
    monkeypatch.setattr(match_module, "MIXED_SCRIPT_WORDS", 10**6)  # whole posts only
    assert flags(Matcher(cat, cfg)) == {}
