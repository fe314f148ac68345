"""The learned stance model: shipped, fitted on the train part only, deterministic, and used by
the matcher."""

import hashlib
import json
import pickle
from pathlib import Path

import polars as pl
import pytest

from rules.catalogue import load_catalogue
from rules.config import MatchConfig
from rules.match import Matcher
from rules.normalise import normalise
from rules.stance_model import CUE_FEATURES, MODEL_PATH, StanceModel, default_model, specs_agree

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "rules" / "data"


def stance(text):
    return default_model().predict([normalise(text)], [text])[0]


def test_the_shipped_model_was_fitted_on_the_committed_train_part_only():
    spec = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    assert set(spec["fitted_on"]) == {"posts_train.jsonl", "labelled_posts.jsonl"}
    for name, info in spec["fitted_on"].items():
        digest = hashlib.sha256((DATA / name).read_bytes()).hexdigest()
        assert info["sha256"] == digest, f"{name} changed since the model was fitted: run bench/fit_stance.py"
    assert spec["cue_features"] == list(CUE_FEATURES) and spec["classes"] == ["debunks", "mentions", "spreads", "unclear"]
    assert MODEL_PATH.stat().st_size < 2_500_000


@pytest.mark.slow
def test_refitting_on_the_train_part_gives_the_committed_model(tmp_path):
    pytest.importorskip("sklearn")
    import subprocess
    import sys

    out = tmp_path / "model.json"
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "fit_stance.py"), "--refit-only", "--out", str(out)],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr
    # the same n-grams, classes, settings and digests; weights equal but for the solver's float noise
    refit, committed = json.loads(out.read_text(encoding="utf-8")), json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    assert specs_agree(refit, committed)
    assert refit["vocabulary"] == committed["vocabulary"] and refit["fitted_on"] == committed["fitted_on"]


def test_specs_agree_only_up_to_float_noise():
    spec = {"coef": [[0.30589, -0.0092442]], "classes": ["debunks"], "cue_weight": 0.5, "vocabulary": {"ab": 0}}
    assert specs_agree(spec, {**spec, "coef": [[0.30589, -0.0092441]]})  # the last written digit
    assert not specs_agree(spec, {**spec, "coef": [[0.30589, -0.0093442]]})
    assert not specs_agree(spec, {**spec, "vocabulary": {"ab": 1}})
    assert not specs_agree(spec, {**spec, "classes": ["spreads"]})
    assert not specs_agree(spec, {**spec, "coef": [[0.30589]]})
    assert not specs_agree({"x": 1.0}, {"x": True}) and not specs_agree({"x": 1}, {"y": 1})


@pytest.mark.parametrize("text,expected", [
    # neutral reports
    ("Posts claiming a Foreign Office press release announced Imran Khan's death are trending on X today", "mentions"),
    # sincere questions
    ("Did Trump actually say he would free Imran Khan? Anyone have the original source?", "unclear"),
    ("kya ye video sach hai? Faisal Masjid pe sach mein hamla hua?", "unclear"),
    # debunks in Roman Urdu and Urdu
    ("Faisal Masjid pe koi drone hamla nahi hua, ye video May 2024 ki hai", "debunks"),
    ("Trump wali video AI se bani hai. Honth aur awaz match nahi karte", "debunks"),
    ("یہ ویڈیو جعلی ہے، ٹرمپ نے عمران خان کی رہائی کا کوئی وعدہ نہیں کیا", "debunks"),
    # spreading
    ("BREAKING: Trump promises to get Imran Khan out of jail, share before it's deleted!", "spreads"),
    ("Trump ne kaha Imran Khan mera dost hai, jald rihai hogi, sab share karo", "spreads"),
])
def test_the_model_reads_stances_the_cue_lists_were_not_written_for(text, expected):
    assert stance(text) == expected


def test_questions_need_review_and_neutral_reports_are_not_flagged():
    m = Matcher(load_catalogue(ROOT / "rules" / "claims"))
    posts = pl.DataFrame({"post_id": ["q", "m"], "text": [
        "Did Trump actually say he would get Imran Khan out of jail? Anyone have the original source?",
        "Posts claiming a Foreign Office press release announced Imran Khan's death are trending on X today"]})
    best = {r["post_id"]: r for r in m.match(posts).filter(pl.col("rank") == 1).iter_rows(named=True)}
    assert (best["q"]["stance"], best["q"]["label"]) == ("unclear", "needs_review")
    assert (best["m"]["stance"], best["m"]["label"]) == ("mentions", "no_flag")


def test_the_cue_lists_alone_remain_a_setting_and_a_bad_value_is_refused():
    assert MatchConfig.from_mapping({"stance": "cues"}).stance == "cues"
    with pytest.raises(ValueError, match=r"\[matching\] stance must be model or cues \(got 'bert'\)"):
        MatchConfig.from_mapping({"stance": "bert"})


def test_a_model_fitted_with_other_features_is_refused_in_one_line(tmp_path):
    spec = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    spec["cue_features"] = spec["cue_features"][:-1]
    with pytest.raises(ValueError, match="fitted with other features; refit it with bench/fit_stance.py"):
        StanceModel(spec)


def test_a_matcher_with_the_model_pickles_and_answers_the_same():
    m = Matcher(load_catalogue(ROOT / "rules" / "claims"))
    posts = pl.DataFrame({"post_id": ["a"], "text": ["Faisal Masjid pe koi drone hamla nahi hua, ye video May 2024 ki hai"]})
    assert pickle.loads(pickle.dumps(m)).match(posts).equals(m.match(posts))


def test_an_unsure_spreads_reading_is_unclear_and_the_threshold_is_fitted():
    spec = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    assert 0.25 < spec["spreads_min_probability"] < 1  # chosen on the matcher's flags by CV (docs/matching.md)
    text = "BREAKING: Trump promises to get Imran Khan out of jail, share before it's deleted!"
    args = ([normalise(text)], [text])
    assert StanceModel({**spec, "spreads_min_probability": 0.0}).predict(*args) == ["spreads"]
    assert StanceModel({**spec, "spreads_min_probability": 1.0}).predict(*args) == ["unclear"]


def test_the_evaluation_never_reads_test_posts_one_by_one():
    import subprocess
    import sys

    for flag in ("--errors", "--cv-stance=5"):
        r = subprocess.run([sys.executable, str(ROOT / "bench" / "eval_labelled.py"), "--part", "test", flag],
                           capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert r.returncode != 0 and "not on the frozen test part" in r.stderr, r


def test_a_new_batch_is_scored_but_never_the_test_part_in_disguise(tmp_path):
    import subprocess
    import sys

    data = ROOT / "tests" / "rules" / "data"

    def run(path, *flags):
        return subprocess.run([sys.executable, str(ROOT / "bench" / "eval_labelled.py"), "--posts", str(path), *flags],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)

    copy = tmp_path / "batch.jsonl"
    copy.write_text((data / "posts_test.jsonl").read_text(encoding="utf-8").splitlines()[7] + "\n", encoding="utf-8")
    r = run(copy, "--errors")
    assert r.returncode != 0 and "holds posts of the frozen test part" in r.stderr and "t0" not in r.stdout, r
    batch = tmp_path / "new.jsonl"
    batch.write_text("".join((data / "posts_train.jsonl").read_text(encoding="utf-8").splitlines(True)[:6]), encoding="utf-8")
    r = run(batch, "--causes")
    assert r.returncode == 0 and "part new.jsonl" in r.stdout and "\nall " in r.stdout, r
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n", encoding="utf-8")
    r = run(bad)
    assert r.returncode != 0 and r.stderr.startswith(f"{bad}: cannot read labelled posts"), r
