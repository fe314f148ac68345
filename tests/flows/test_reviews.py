"""``claimwatch review list|mark|import``, the ``reviews`` table and ``report --quality``,
on a small dataset written through the store (no Prefect)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from connectors.schema import make_post, posts_frame
from flows import reviews
from flows.cli import app
from flows.store import KEYS, REVIEWS_SCHEMA, SCHEMAS, Store
from rules.schema import CLAIMS_SCHEMA, MATCHES_SCHEMA

UTC = timezone.utc
CLIP = "trump-khan-release-clip"
FIRE = "faisal-mosque-drone-attack"
T0 = datetime(2024, 11, 20, 8, 0, tzinfo=UTC)

# post native id, platform, lang, text, claim, label, stance, score, hours after T0
POSTS = [
    ("m1", "mastodon", "en", "Trump says he will get Imran Khan out of jail, watch the video", CLIP,
     "likely_misinformation", "spreads", 91.0, 1),
    ("m2", "mastodon", "en", "Grenell calls for Imran Khan's release", CLIP, "likely_misinformation", "spreads", 62.0, 2),
    ("y1", "youtube", "ur", "ٹرمپ نے کہا عمران خان کو جیل سے نکالوں گا", CLIP, "likely_misinformation", "spreads", 88.0, 3),
    ("t1", "telegram", "ur", "Trump ne kaha Khan ko riha karwaenge?", CLIP, "needs_review", "unclear", 55.0, 4),
    ("t2", "telegram", "ur", "Faisal Masjid ke paas aag lagi, video", FIRE, "likely_misinformation", "spreads", 98.0, 5),
    ("n1", "news", "en", "Fact check: the Trump clip is edited", CLIP, "debunk", "debunks", 93.0, 6),
]


def post_id(native: str) -> str:
    platform = next(p[1] for p in POSTS if p[0] == native)
    return f"{platform}:{native}"


def write_dataset(root: Path) -> Path:
    store = Store(root)
    posts, matches = [], []
    for native, platform, lang, text, claim, label, stance, score, hours in POSTS:
        at = T0 + timedelta(hours=hours)
        posts.append(make_post(platform, native, source=f"{platform}-src", url=f"https://{platform}.example/{native}",
                               published_at=at, fetched_at=at, lang=lang, text=text, run_id="r1"))
        matches.append({"run_id": "r1", "post_id": f"{platform}:{native}", "claim_id": claim, "score": score,
                        "rank": 1, "score_lexical": 50.0, "score_fuzzy": 60.0, "score_media": 0.0,
                        "entities_ok": True, "stance": stance, "label": label, "evidence": f"words (text): {text[:20]}",
                        "catalogue_version": "v1", "flagged_at": at + timedelta(minutes=5)})
    store.write("posts", posts_frame(posts), "r1", T0.date())
    store.write("matches", pl.DataFrame(matches, schema=MATCHES_SCHEMA), "r1", T0.date())
    claims = [{"claim_id": CLIP, "text": "Trump pledges to free Imran Khan", "title": "Edited clip of Trump",
               "status": "active", "catalogue_version": "v1"},
              {"claim_id": FIRE, "text": "Drone attack on Faisal Mosque", "title": "Faisal Mosque drone attack",
               "status": "active", "catalogue_version": "v1"}]
    store.write("claims", pl.DataFrame(claims).pipe(lambda f: f.select(
        [pl.col(c) if c in f.columns else pl.lit(None, dtype=t).alias(c) for c, t in CLAIMS_SCHEMA.items()])),
        "r1", T0.date())
    return root


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "claimwatch-data")


def cw(*args: str, env: dict | None = None):
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def review_files(data: Path) -> list[Path]:
    return sorted((data / "reviews").glob("date=*/*.parquet"))


def table(data: Path) -> pl.DataFrame:
    return Store(data).read("reviews")


# --- verdict words ------------------------------------------------------------------------------


@pytest.mark.parametrize(("word", "verdict"), [
    ("confirmed", "confirmed"), ("Confirmed", "confirmed"), ("confirm", "confirmed"),
    ("not_this_claim", "not_this_claim"), ("not-this-claim", "not_this_claim"), ("Not this claim", "not_this_claim"),
    ("wrong stance", "wrong_stance"), ("WRONG-STANCE", "wrong_stance"),
    ("true content", "true_content"), ("true-content", "true_content"), (" true_content ", "true_content"),
])
def test_obvious_spellings_of_a_verdict_are_accepted(word, verdict):
    assert reviews.parse_verdict(word) == verdict


@pytest.mark.parametrize("word", ["true", "false", "spam", "", "not this", "confirmedd"])
def test_other_words_are_refused_listing_the_valid_ones(word):
    with pytest.raises(reviews.ReviewError, match="confirmed, not_this_claim, wrong_stance, true_content"):
        reviews.parse_verdict(word)


# --- the table ----------------------------------------------------------------------------------


def test_reviews_is_a_registered_table_keyed_per_post_claim_reviewer_and_time():
    assert SCHEMAS["reviews"] is REVIEWS_SCHEMA
    assert KEYS["reviews"] == ("post_id", "claim_id", "reviewer", "reviewed_at")


def test_mark_records_the_verdict_with_the_match_and_post_as_reviewed(data):
    res = cw("review", "mark", post_id("m2"), CLIP, "true content", "--reviewer", "ayesha",
             "--note", "Grenell really said it", "--data-dir", data)
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == f"recorded true_content on {post_id('m2')} / {CLIP} by ayesha"
    rows = table(data)
    assert rows.height == 1
    row = rows.row(0, named=True)
    assert row["verdict"] == "true_content" and row["reviewer"] == "ayesha" and row["note"] == "Grenell really said it"
    assert (row["label"], row["stance"], row["score"], row["catalogue_version"]) == ("likely_misinformation", "spreads", 62.0, "v1")
    assert (row["platform"], row["lang"], row["text"]) == ("mastodon", "en", "Grenell calls for Imran Khan's release")
    assert row["reviewed_at"] > datetime.now(UTC) - timedelta(minutes=5)
    assert rows.schema == pl.Schema(REVIEWS_SCHEMA)


def test_marking_the_same_verdict_again_writes_nothing(data):
    args = ("review", "mark", post_id("m1"), CLIP, "confirmed", "--reviewer", "ayesha", "--data-dir", data)
    assert cw(*args).exit_code == 0
    files = review_files(data)
    again = cw(*args)
    assert again.exit_code == 0, again.output
    assert "unchanged" in again.stdout and "nothing written" in again.stdout
    assert review_files(data) == files and table(data).height == 1


def test_a_changed_verdict_is_a_new_row_and_the_latest_counts(data):
    base = ("review", "mark", post_id("m1"), CLIP)
    assert cw(*base, "confirmed", "--reviewer", "ayesha", "--data-dir", data).exit_code == 0
    res = cw(*base, "wrong-stance", "--reviewer", "ayesha", "--data-dir", data)
    assert res.exit_code == 0 and "(was confirmed)" in res.stdout
    back = cw(*base, "confirmed", "--reviewer", "ayesha", "--data-dir", data)  # back to the first: recorded again
    assert back.exit_code == 0 and "(was wrong_stance)" in back.stdout
    rows = table(data).sort("reviewed_at")
    assert rows["verdict"].to_list() == ["confirmed", "wrong_stance", "confirmed"]
    assert rows["reviewed_at"].is_sorted() and rows["reviewed_at"].n_unique() == 3
    assert reviews.current_per_reviewer(Store(data))["verdict"].to_list() == ["confirmed"]


def test_the_latest_verdict_on_a_pair_counts_whoever_gave_it(data):
    store = Store(data)
    pid = post_id("m2")
    reviews.record(store, [reviews.Verdict(pid, CLIP, "confirmed", "bilal")], now=T0 + timedelta(days=1))
    reviews.record(store, [reviews.Verdict(pid, CLIP, "true_content", "ayesha")], now=T0 + timedelta(days=2))
    assert reviews.current_per_reviewer(store).height == 2
    assert reviews.current(store).select("reviewer", "verdict").rows() == [("ayesha", "true_content")]


def test_the_reviewer_comes_from_the_environment_when_not_given(data):
    res = cw("review", "mark", post_id("m1"), CLIP, "confirmed", "--data-dir", data, env={"CLAIMWATCH_REVIEWER": "sana"})
    assert res.exit_code == 0, res.output
    assert table(data)["reviewer"].to_list() == ["sana"]


@pytest.mark.parametrize(("args", "message"), [
    (("mastodon:nope", CLIP, "confirmed"), "post 'mastodon:nope' is not in"),
    ((post_id("m1"), "no-such-claim", "confirmed"), f"claim 'no-such-claim' is not in .* \\(known: {FIRE}, {CLIP}\\)"),
    ((post_id("m1"), CLIP, "fake"), "unknown verdict 'fake'; use one of: confirmed, not_this_claim, wrong_stance, true_content"),
])
def test_a_bad_verdict_is_one_line_and_changes_nothing(data, args, message):
    cw("review", "mark", post_id("y1"), CLIP, "confirmed", "--reviewer", "ayesha", "--data-dir", data)
    before = review_files(data)
    res = cw("review", "mark", *args, "--reviewer", "ayesha", "--data-dir", data)
    assert res.exit_code == 2
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    import re

    assert re.search(message, res.stderr), res.stderr
    assert "Traceback" not in res.output
    assert review_files(data) == before and table(data).height == 1


def test_no_reviewer_or_no_data_dir_is_one_line(tmp_path, data):
    res = cw("review", "mark", post_id("m1"), CLIP, "confirmed", "--data-dir", data, env={"CLAIMWATCH_REVIEWER": ""})
    assert res.exit_code == 2 and "no reviewer; give --reviewer NAME" in res.stderr
    res = cw("review", "mark", post_id("m1"), CLIP, "confirmed", "--reviewer", "a", "--data-dir", tmp_path / "none")
    assert res.exit_code == 2 and "run `claimwatch run --data-dir" in res.stderr
    assert not (tmp_path / "none").exists()


def test_a_verdict_on_a_pair_the_matcher_never_made_is_kept_as_a_finding(data):
    res = cw("review", "mark", post_id("t2"), CLIP, "not this claim", "--reviewer", "ayesha", "--data-dir", data)
    assert res.exit_code == 0 and "has not paired this post with this claim" in res.stderr
    row = table(data).row(0, named=True)
    assert row["label"] is None and row["text"].startswith("Faisal Masjid")


def test_compaction_merges_review_files_without_changing_a_verdict(data):
    for verdict in ("confirmed", "wrong stance", "true content"):
        assert cw("review", "mark", post_id("m1"), CLIP, verdict, "--reviewer", "ayesha", "--data-dir", data).exit_code == 0
    before = table(data).sort("reviewed_at")
    assert len(review_files(data)) == 3
    res = cw("compact", "--data-dir", data)
    assert res.exit_code == 0, res.output
    assert len(review_files(data)) == 1
    assert table(data).sort("reviewed_at").equals(before)
    assert reviews.current(Store(data))["verdict"].to_list() == ["true_content"]


# --- import -------------------------------------------------------------------------------------


def write_csv(path: Path, rows: list[dict], header: list[str] | None = None) -> Path:
    header = header or list(rows[0])
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def test_import_records_many_verdicts_and_a_second_import_adds_nothing(data, tmp_path):
    f = write_csv(tmp_path / "v.csv", [
        {"post_id": post_id("m1"), "claim_id": CLIP, "verdict": "confirmed", "reviewer": "ayesha", "note": ""},
        {"post_id": post_id("m2"), "claim_id": CLIP, "verdict": "true content", "reviewer": "ayesha", "note": "real"},
        {"post_id": post_id("t2"), "claim_id": FIRE, "verdict": "true-content", "reviewer": "bilal", "note": ""},
    ])
    res = cw("review", "import", f, "--data-dir", data)
    assert res.exit_code == 0, res.output
    assert "recorded 3 verdicts" in res.stdout
    assert sorted(table(data)["verdict"]) == ["confirmed", "true_content", "true_content"]
    assert len(review_files(data)) == 1  # one part file per import
    again = cw("review", "import", f, "--data-dir", data)
    assert again.exit_code == 0 and "recorded 0 verdicts" in again.stdout and "3 already recorded" in again.stdout
    assert table(data).height == 3


def test_import_reads_jsonl_with_times_and_a_default_reviewer(data, tmp_path):
    f = tmp_path / "v.jsonl"
    f.write_text(json.dumps({"post_id": post_id("y1"), "claim_id": CLIP, "verdict": "confirmed",
                             "reviewed_at": "2024-11-21T10:00:00Z"}) + "\n\n"
                 + json.dumps({"post_id": post_id("t1"), "claim_id": CLIP, "verdict": "wrong_stance",
                               "reviewer": "bilal", "note": "a question"}) + "\n", encoding="utf-8")
    res = cw("review", "import", f, "--reviewer", "ayesha", "--data-dir", data)
    assert res.exit_code == 0, res.output
    rows = table(data).sort("post_id")
    assert rows.select("post_id", "reviewer", "verdict").rows() == [
        (post_id("t1"), "bilal", "wrong_stance"), (post_id("y1"), "ayesha", "confirmed")]
    assert rows.filter(pl.col("reviewer") == "ayesha")["reviewed_at"].item() == datetime(2024, 11, 21, 10, tzinfo=UTC)


BAD_LINES = [
    ("unknown verdict", "v.csv", "post_id,claim_id,verdict,reviewer\n{m1},{clip},confirmed,a\n{m2},{clip},maybe,a\n",
     r"v\.csv:3: unknown verdict 'maybe'"),
    ("unknown post", "v.csv", "post_id,claim_id,verdict,reviewer\n{m1},{clip},confirmed,a\nreddit:gone,{clip},confirmed,a\n",
     r"v\.csv:3: post 'reddit:gone' is not in"),
    ("unknown claim", "v.csv", "post_id,claim_id,verdict,reviewer\n{m1},{clip},confirmed,a\n{m2},nope,confirmed,a\n",
     r"v\.csv:3: claim 'nope' is not in"),
    ("missing column", "v.csv", "post_id,claim,verdict,reviewer\n{m1},{clip},confirmed,a\n",
     r"v\.csv: no column claim_id in the header row"),
    ("ragged row", "v.csv", "post_id,claim_id,verdict,reviewer\n{m1},{clip},confirmed,a\n{m2},{clip},confirmed\n",
     r"v\.csv:3: 3 fields where the header has 4"),
    ("no reviewer", "v.csv", "post_id,claim_id,verdict,reviewer\n{m1},{clip},confirmed,a\n{m2},{clip},confirmed,\n",
     r"v\.csv:3: no reviewer; fill in the reviewer column"),
    ("bad json", "v.jsonl", '{{"post_id": "{m1}", "claim_id": "{clip}", "verdict": "confirmed", "reviewer": "a"}}\n{{"post_id": \n',
     r"v\.jsonl:2: not valid JSON"),
    ("not an object", "v.jsonl", '{{"post_id": "{m1}", "claim_id": "{clip}", "verdict": "confirmed", "reviewer": "a"}}\n[1, 2]\n',
     r"v\.jsonl:2: a verdict is a JSON object"),
    ("bad time", "v.jsonl", '{{"post_id": "{m1}", "claim_id": "{clip}", "verdict": "confirmed", "reviewer": "a", "reviewed_at": "yesterday"}}\n',
     r"v\.jsonl:1: reviewed_at 'yesterday' is not an ISO date-time"),
    ("future time", "v.jsonl", '{{"post_id": "{m1}", "claim_id": "{clip}", "verdict": "confirmed", "reviewer": "a", "reviewed_at": "2999-01-01"}}\n',
     r"v\.jsonl:1: reviewed_at 2999-01-01T00:00:00\+00:00 is in the future"),
    ("twice", "v.csv", "post_id,claim_id,verdict,reviewer\n{m1},{clip},confirmed,a\n{m1},{clip},true content,a\n",
     r"v\.csv:3: a second verdict by a on post"),
    ("wrong suffix", "v.txt", "post_id,claim_id,verdict,reviewer\n", r"v\.txt: a reviews file is \.csv"),
    ("empty", "v.csv", "", r"v\.csv: empty file"),
]


@pytest.mark.parametrize(("name", "file", "content", "message"), BAD_LINES, ids=[b[0] for b in BAD_LINES])
def test_a_malformed_or_partly_valid_reviews_file_records_nothing(data, tmp_path, name, file, content, message):
    import re

    cw("review", "mark", post_id("y1"), CLIP, "confirmed", "--reviewer", "ayesha", "--data-dir", data)
    before = review_files(data)
    f = tmp_path / file
    f.write_text(content.format(m1=post_id("m1"), m2=post_id("m2"), clip=CLIP), encoding="utf-8")
    res = cw("review", "import", f, "--data-dir", data)
    assert res.exit_code == 2, res.output
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert re.search(message, res.stderr), res.stderr
    assert review_files(data) == before and table(data).height == 1


def test_a_filled_in_queue_csv_imports_as_it_is(data, tmp_path):
    res = cw("review", "list", "--format", "csv", "--data-dir", data)
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert {"post_id", "claim_id", "verdict", "reviewer"} <= set(rows[0])
    for r in rows:
        if r["post_id"] == post_id("m2"):
            r["verdict"] = "true content"
        elif r["post_id"] == post_id("m1"):
            r["verdict"] = "confirmed"
    f = write_csv(tmp_path / "queue.csv", rows)
    res = cw("review", "import", f, "--reviewer", "ayesha", "--data-dir", data)
    assert res.exit_code == 0, res.output
    assert f"recorded 2 verdicts" in res.stdout and f"{len(rows) - 2} rows without a verdict skipped" in res.stdout
    assert dict(table(data).select("post_id", "verdict").rows()) == {post_id("m1"): "confirmed", post_id("m2"): "true_content"}


# --- the queue ----------------------------------------------------------------------------------


def queue_json(data: Path, *args: str) -> list[dict]:
    res = cw("review", "list", "--format", "json", "--data-dir", data, *args)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)["queue"]


def test_the_queue_lists_unreviewed_flags_and_needs_review_newest_first(data):
    q = queue_json(data)
    assert [r["post_id"] for r in q] == [post_id(n) for n in ("t2", "t1", "y1", "m2", "m1")]  # no debunk
    first = q[0]
    assert first["claim_title"] == "Faisal Mosque drone attack" and first["url"] == "https://telegram.example/t2"
    assert first["excerpt"] == "Faisal Masjid ke paas aag lagi, video" and first["evidence"].startswith("words")
    assert first["verdict"] is None
    cw("review", "mark", post_id("t2"), FIRE, "true content", "--reviewer", "ayesha", "--data-dir", data)
    assert post_id("t2") not in [r["post_id"] for r in queue_json(data)]
    shown = [r for r in queue_json(data, "--reviewed") if r["post_id"] == post_id("t2")]
    assert shown[0]["verdict"] == "true_content" and shown[0]["reviewer"] == "ayesha"


def test_the_queue_filters_by_claim_platform_label_since_and_limit(data):
    assert {r["claim_id"] for r in queue_json(data, "--claim", FIRE)} == {FIRE}
    assert {r["platform"] for r in queue_json(data, "--platform", "telegram,youtube")} == {"telegram", "youtube"}
    assert [r["label"] for r in queue_json(data, "--label", "needs_review")] == ["needs_review"]
    assert [r["label"] for r in queue_json(data, "--label", "debunk")] == ["debunk"]
    assert [r["post_id"] for r in queue_json(data, "--since", "2024-11-20T12:00")] == [post_id("t2"), post_id("t1")]
    assert len(queue_json(data, "--limit", "2")) == 2


def test_the_queue_table_shows_text_claim_evidence_link_and_how_to_mark(data):
    res = cw("review", "list", "--data-dir", data, "--limit", "1")
    assert res.exit_code == 0, res.output
    out = res.stdout
    for text in ("likely_misinformation", FIRE, "text      Faisal Masjid ke paas aag lagi", "claim     Faisal Mosque drone attack",
                 "link      https://telegram.example/t2", "evidence  words", "claimwatch review mark POST_ID CLAIM_ID VERDICT"):
        assert text in out, text


def test_long_post_text_is_cut_to_an_excerpt(tmp_path):
    store = Store(tmp_path / "d")
    long = "word " * 400
    store.write("posts", posts_frame([make_post("reddit", "x", text=long, fetched_at=T0)]), "r", T0.date())
    store.write("matches", pl.DataFrame([{"post_id": "reddit:x", "claim_id": CLIP, "label": "needs_review",
                                          "flagged_at": T0}]), "r", T0.date())
    (row,) = reviews.queue(store).iter_rows(named=True)
    assert len(row["excerpt"]) == reviews.EXCERPT_CHARS and row["excerpt"].endswith("…")


@pytest.mark.parametrize(("args", "message"), [
    (("--claim", "nope"), "--claim 'nope' does not occur in"),
    (("--platform", "myspace"), "--platform 'myspace' does not occur in"),
    (("--label", "spam"), "--label 'spam' is not a label"),
    (("--since", "soon"), "--since 'soon' is neither a date"),
])
def test_bad_queue_options_are_one_line(data, args, message):
    res = cw("review", "list", "--data-dir", data, *args)
    assert res.exit_code == 2 and message in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_a_junk_reviews_file_is_named_in_one_line(data):
    junk = data / "reviews" / "date=2024-11-20" / "part-junk.parquet"
    junk.parent.mkdir(parents=True)
    junk.write_bytes(b"not parquet")
    res = cw("review", "list", "--data-dir", data)
    assert res.exit_code == 1 and "part-junk.parquet: not a Parquet file" in res.stderr
    res = cw("review", "mark", post_id("m1"), CLIP, "confirmed", "--reviewer", "a", "--data-dir", data)
    assert res.exit_code == 1 and "part-junk.parquet" in res.stderr
    assert review_files(data) == [junk]


# --- feedback -----------------------------------------------------------------------------------


def test_feedback_turns_verdicts_into_counter_and_confirmed_examples(data):
    store = Store(data)
    reviews.record(store, [
        reviews.Verdict(post_id("m1"), CLIP, "confirmed", "ayesha"),
        reviews.Verdict(post_id("m2"), CLIP, "true_content", "ayesha"),
        reviews.Verdict(post_id("t2"), FIRE, "not_this_claim", "ayesha"),
        reviews.Verdict(post_id("t1"), CLIP, "wrong_stance", "ayesha"),
    ], now=T0 + timedelta(days=1))
    fb = reviews.feedback(store)
    assert fb.rows() == [
        (FIRE, "counter", "Faisal Masjid ke paas aag lagi, video", post_id("t2")),
        (CLIP, "confirmed", "Trump says he will get Imran Khan out of jail, watch the video", post_id("m1")),
        (CLIP, "counter", "Grenell calls for Imran Khan's release", post_id("m2")),
    ]
    # a later verdict replaces the example: m1 is no longer a confirmed example
    reviews.record(store, [reviews.Verdict(post_id("m1"), CLIP, "not_this_claim", "bilal")],
                   now=T0 + timedelta(days=2))
    assert (CLIP, "counter", post_id("m1")) in reviews.feedback(store).select("claim_id", "kind", "ref").rows()
    assert (CLIP, "confirmed", post_id("m1")) not in reviews.feedback(store).select("claim_id", "kind", "ref").rows()


def test_no_reviews_means_no_feedback(data):
    fb = reviews.feedback(Store(data))
    assert fb.is_empty() and fb.columns == ["claim_id", "kind", "text", "ref"]


# --- report --quality ---------------------------------------------------------------------------


def reviewed(data: Path) -> Path:
    store = Store(data)
    reviews.record(store, [
        reviews.Verdict(post_id("m1"), CLIP, "confirmed", "ayesha"),
        reviews.Verdict(post_id("m2"), CLIP, "true_content", "ayesha"),
        reviews.Verdict(post_id("y1"), CLIP, "confirmed", "bilal"),
        reviews.Verdict(post_id("t2"), FIRE, "true_content", "bilal"),
        reviews.Verdict(post_id("t1"), CLIP, "confirmed", "bilal"),
    ], now=T0 + timedelta(days=1))
    # bilal first agreed on m2, ayesha's later verdict counts
    reviews.record(store, [reviews.Verdict(post_id("m2"), CLIP, "confirmed", "bilal")], now=T0 + timedelta(hours=20))
    return data


def quality_json(data: Path, *args: str) -> list[dict]:
    res = cw("report", "--quality", "--format", "json", "--data-dir", data, *args)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)["quality"]


def test_quality_gives_precision_of_flags_per_claim_language_and_platform(data):
    q = quality_json(reviewed(data))
    by = {(r["by"], r["value"], r["label"]): r for r in q}
    lm = "likely_misinformation"
    clip = by[("claim", CLIP, lm)]
    assert (clip["reviewed"], clip["confirmed"], clip["true_content"], clip["precision"]) == (3, 2, 1, 0.667)
    assert by[("claim", FIRE, lm)]["precision"] == 0.0
    assert by[("claim", CLIP, "needs_review")]["confirmed"] == 1
    assert (by[("language", "en", lm)]["reviewed"], by[("language", "en", lm)]["precision"]) == (2, 0.5)
    assert (by[("language", "ur", lm)]["reviewed"], by[("language", "ur", lm)]["precision"]) == (2, 0.5)
    assert by[("platform", "youtube", lm)]["precision"] == 1.0
    assert by[("platform", "telegram", lm)]["true_content"] == 1
    total = by[("all", "all", lm)]
    assert (total["reviewed"], total["confirmed"], total["not_this_claim"], total["wrong_stance"], total["true_content"]) == (4, 2, 0, 0, 2)


def test_quality_filters_and_formats(data):
    reviewed(data)
    assert {r["value"] for r in quality_json(data, "--claim", FIRE) if r["by"] == "claim"} == {FIRE}
    assert {r["label"] for r in quality_json(data, "--label", "likely_misinformation")} == {"likely_misinformation"}
    assert {r["value"] for r in quality_json(data, "--platform", "youtube") if r["by"] == "platform"} == {"youtube"}
    assert quality_json(data, "--since", "2024-11-21T09:00") == []  # every verdict was given before
    res = cw("report", "--quality", "--format", "csv", "--data-dir", data)
    assert res.exit_code == 0
    header, *lines = res.stdout.splitlines()
    assert header == "by,value,label,reviewed,confirmed,not_this_claim,wrong_stance,true_content,precision"
    assert f"claim,{CLIP},likely_misinformation,3,2,0,0,1,0.667" in lines
    table_out = cw("report", "--quality", "--data-dir", data).stdout
    for text in ("by claim", "by language", "by platform", "all reviewed", "0.667", "precision"):
        assert text in table_out


def test_quality_without_reviews_says_so_and_prints_empty_tables(data):
    res = cw("report", "--quality", "--format", "json", "--data-dir", data)
    assert res.exit_code == 0 and json.loads(res.stdout) == {"quality": []}
    assert "has no reviews yet" in res.stderr
    res = cw("report", "--quality", "--view", "daily", "--data-dir", data)
    assert res.exit_code == 2 and "leave out --view and --plot" in res.stderr  # usage, as in `report`


def test_quality_reads_since_in_tz_takes_any_case_and_exits_like_report(data, tmp_path):
    reviewed(data)  # verdicts at 04:00 and 08:00 UTC on 21 Nov 2024
    assert quality_json(data, "--since", "2024-11-21T12:00") == []  # 12:00 UTC: after every verdict
    karachi = quality_json(data, "--since", "2024-11-21T12:00", "--tz", "Asia/Karachi")  # 07:00 UTC
    clip = {(r["by"], r["value"], r["label"]): r for r in karachi}[("claim", CLIP, "likely_misinformation")]
    assert clip["reviewed"] == 3
    table_out = cw("report", "--quality", "--since", "2024-11-21T12:00", "--tz", "Asia/Karachi", "--data-dir", data)
    assert "reviewed since 2024-11-21 12:00 Asia/Karachi" in table_out.stdout
    assert {r["value"] for r in quality_json(data, "--platform", "YouTube") if r["by"] == "platform"} == {"youtube"}
    for args in (("--since", "yesterday-ish"), ("--tz", "Mars/Olympus"), ("--platform", "myspace"), ("--label", "nope")):
        res = cw("report", "--quality", "--data-dir", data, *args)
        assert res.exit_code == 2 and res.stdout == "" and len(res.stderr.strip().splitlines()) == 1, (args, res.output)
    res = cw("report", "--quality", "--data-dir", tmp_path / "nothing-here")
    assert res.exit_code == 1 and "run `claimwatch run" in res.stderr


# --- a run re-matches the judged posts -------------------------------------------------------------


def test_a_run_re_matches_reviewed_posts_first_whatever_their_age(tmp_path):
    from flows.steps import posts_to_catch_up

    store = Store(tmp_path / "d")
    now = datetime(2024, 12, 1, tzinfo=UTC)
    old, recent = now - timedelta(days=10), now - timedelta(hours=1)
    store.write("posts", posts_frame([make_post("reddit", n, text=n, fetched_at=t) for n, t in
                                      (("old1", old), ("old2", old), ("new1", recent), ("seen", old))]), "r")
    store.write("matches", pl.DataFrame([{"post_id": "reddit:seen", "claim_id": CLIP, "catalogue_version": "v2"}]), "r")

    def ids(**kw):
        return posts_to_catch_up(store, "v2", now, 3, kw.pop("limit", 10), **kw)["post_id"].to_list()

    assert ids() == ["reddit:new1"]
    assert ids(reviewed=["reddit:old1", "reddit:seen"]) == ["reddit:old1", "reddit:new1"]
    assert ids(reviewed=["reddit:old1"], limit=1) == ["reddit:old1"]


def test_the_run_builds_one_matcher_per_feedback_and_its_version_follows_the_verdicts():
    from flows.matching import MatcherSpec
    from flows.steps import _matcher
    from rules.catalogue import load_catalogue
    from flows.config import CLAIMS_DIR

    def matcher(cat, feedback=None):
        return _matcher(MatcherSpec(cat, {}, None, feedback))

    cat = load_catalogue(CLAIMS_DIR)
    fb = pl.DataFrame({"claim_id": [FIRE], "kind": ["counter"], "text": ["Fire near Faisal Mosque, a real one"],
                       "ref": ["x"]})
    plain, same = matcher(cat), matcher(cat, reviews.feedback_from(pl.DataFrame(schema=REVIEWS_SCHEMA)))
    assert plain is same and plain.catalogue_version == cat.version
    taught = matcher(cat, fb)
    assert taught is matcher(cat, fb.clone()) and taught.catalogue_version != cat.version
    other = matcher(cat, fb.with_columns(kind=pl.lit("confirmed")))
    assert other.catalogue_version not in (cat.version, taught.catalogue_version)
    # the run names the version before it builds a matcher (a matcher that fails to build is a
    # matching failure, after the posts are stored)
    for frame, matcher in ((None, plain), (fb, taught), (fb.with_columns(kind=pl.lit("confirmed")), other)):
        assert reviews.matcher_version(cat, frame) == matcher.catalogue_version
