"""``claimwatch label``: the matches rows a run would write, with no Prefect and no data dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.config import CLAIMS_DIR, DEMO_SOURCES
from rules.catalogue import load_catalogue
from rules.match import MatchConfig, Matcher
from rules.schema import MATCHES_SCHEMA

ROOT = Path(__file__).resolve().parents[2]
POSTS = [
    {"post_id": "spread", "text": "Trump ne kaha woh Imran Khan ko jail se riha karwayenge, video dekho"},
    {"post_id": "debunk", "text": "Fact check: the viral clip of Trump promising to free Imran Khan is edited"},
    {"post_id": "other", "text": "Weather in Lahore is nice today"},
    {"post_id": "weak", "title": "Imran Khan", "text": "Trump video"},
]


def cw(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def posts(tmp_path: Path) -> Path:
    p = tmp_path / "posts.jsonl"
    p.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in POSTS), encoding="utf-8")
    return p


def expected(config: MatchConfig | None = None) -> pl.DataFrame:
    frame = pl.DataFrame(POSTS, schema={"post_id": pl.String, "title": pl.String, "text": pl.String})
    return Matcher(load_catalogue(CLAIMS_DIR), config).match(frame)


def read(path: Path) -> pl.DataFrame:
    if path.suffix == ".parquet":
        return pl.read_parquet(path)
    if path.suffix == ".csv":
        return pl.read_csv(path, schema=MATCHES_SCHEMA)
    return pl.read_ndjson(path, schema=MATCHES_SCHEMA)


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_label_writes_the_rows_a_run_would_write(tmp_path, posts, suffix):
    out = tmp_path / f"labels{suffix}"
    res = cw("label", "--posts", posts, "--out", out)
    assert res.exit_code == 0, res.output
    got = read(out)
    want = expected()
    assert got.columns == list(MATCHES_SCHEMA)
    assert got.select("post_id", "claim_id", "rank", "stance", "label", "evidence", "catalogue_version").rows() == \
        want.select("post_id", "claim_id", "rank", "stance", "label", "evidence", "catalogue_version").rows()
    assert (got["score"] - want["score"]).abs().max() < 1e-6
    labels = dict(got.filter(pl.col("rank") == 1).select("post_id", "label").rows())
    assert labels["spread"] == "likely_misinformation" and labels["debunk"] == "debunk" and "other" not in labels
    assert "labelled 4 posts" in res.stderr and f"{got.height} rows" in res.stderr
    assert not list(tmp_path.glob(".*.tmp"))


def test_matching_settings_come_from_a_sources_file_and_set(tmp_path, posts):
    strict = MatchConfig(flag_threshold=99.999, named_flag_threshold=99.999, review_threshold=50.0)
    out = tmp_path / "a.parquet"
    res = cw("label", "--posts", posts, "--out", out, "--set", "flag_threshold=99.999", "--set", "named_flag_threshold=99.999",
             "--set", "review_threshold=50")
    assert res.exit_code == 0, res.output
    assert read(out).select("post_id", "claim_id", "label").rows() == expected(strict).select("post_id", "claim_id", "label").rows()
    assert read(out)["label"].to_list() != expected()["label"].to_list()  # the settings made a difference
    demo = MatchConfig.from_mapping({"flag_threshold": 70, "review_threshold": 50})  # flows/demo/sources.toml
    res = cw("label", "--posts", posts, "--out", out, "--sources", DEMO_SOURCES)
    assert res.exit_code == 0, res.output
    assert read(out).select("post_id", "claim_id", "label").rows() == expected(demo).select("post_id", "claim_id", "label").rows()
    res = cw("label", "--posts", posts, "--out", out, "--sources", DEMO_SOURCES, "--set", "mentions_label=needs_review")
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize(("args", "message"), [
    (("--out", "{tmp}/x.txt"), "x.txt: unknown output format '.txt'; use a .parquet, .csv or .jsonl file"),
    (("--set", "flag_threshold"), "--set 'flag_threshold': write key=value"),
    (("--set", "flag_treshold=70"), "[matching] unknown key(s) flag_treshold"),
    (("--set", "flag_threshold=high"), "[matching] flag_threshold must be a number from 0 to 100"),
    (("--set", "review_threshold=90"), "[matching] needs report_floor <= review_threshold <= flag_threshold"),
    (("--sources", "{tmp}/none.toml"), "none.toml"),
    (("--claims", "{tmp}/no-claims"), "no-claims: no such catalogue file or folder"),
    (("--posts", "{tmp}/missing.jsonl"), "missing.jsonl: no such posts file"),
    (("--posts", "{tmp}/bad.jsonl"), "bad.jsonl:2: not valid JSON"),
])
def test_bad_inputs_are_one_line_exit_2_and_write_nothing(tmp_path, posts, args, message):
    (tmp_path / "bad.jsonl").write_text('{"post_id": "a", "text": "x"}\n{"post_id": \n', encoding="utf-8")
    out = tmp_path / "out.parquet"
    base = {"--posts": str(posts), "--out": str(out)}
    given = [a.format(tmp=tmp_path) for a in args]
    for k, v in zip(given[::2], given[1::2]):
        base[k] = v
    res = cw("label", *[x for kv in base.items() for x in kv])
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith("claimwatch label: ") and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert message.format(tmp=tmp_path) in res.stderr
    assert not out.exists() and not (tmp_path / "x.txt").exists()


def test_a_sources_file_with_a_bad_matching_table_is_refused(tmp_path, posts):
    src = tmp_path / "s.toml"
    src.write_text(DEMO_SOURCES.read_text(encoding="utf-8").replace("flag_threshold = 70", "flag_threshold = 700"),
                   encoding="utf-8")
    res = cw("label", "--posts", posts, "--out", tmp_path / "o.csv", "--sources", src)
    assert res.exit_code == 2 and "flag_threshold must be a number from 0 to 100" in res.stderr


def test_label_never_imports_prefect(tmp_path, posts):
    """A `prefect` package that fails on import is put first on the path: label still works."""
    poison = tmp_path / "poison" / "prefect"
    poison.mkdir(parents=True)
    (poison / "__init__.py").write_text("raise ImportError('claimwatch label must not import prefect')\n")
    out = tmp_path / "o.jsonl"
    code = ("import sys; from flows.cli import app; "
            f"app([ 'label', '--posts', {str(posts)!r}, '--out', {str(out)!r}], standalone_mode=False); "
            "assert not [m for m in sys.modules if m.split('.')[0] == 'prefect'], 'prefect imported'")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(poison.parent), str(ROOT)]))
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert read(out).height == expected().height


# --- reviewers' feedback (--data-dir) -------------------------------------------------------------

# a one-claim catalogue written here, so edits of the shipped catalogue cannot move these tests;
# posts as JSON Feed items (tests/flows/test_reviewer_loop.py serves them to real runs)
CLAIM = "faisal-mosque-drone-attack"
CLAIM_YAML = """\
claim_id: faisal-mosque-drone-attack
status: active
title: Video shows an Indian drone attack on Faisal Mosque, Islamabad (old fire)
text: A video shows fire near Faisal Mosque in Islamabad after an Indian drone attack on the mosque in May 2025.
variants:
  - Drone attack on Faisal Mosque Islamabad
  - Faisal Mosque on fire after Indian strike
  - Faisal Masjid par drone hamla, video dekhein
verdict: "false"
required_entities:
  - [faisal mosque, faisal masjid]
  - [drone, attack, strike, fire, hamla, aag]
fact_checks:
  - publisher: AFP Fact Check
    url: https://factcheck.afp.com/doc.afp.com.46X649D
    rating: Misrepresented (old video)
"""
TRUE_POST = {  # the real roadside fire of May 2024, reported as it happened
    "id": "1", "url": "https://news.example.pk/2024/05/28/fire-near-faisal-mosque.html",
    "title": "Fire near Faisal Mosque in Islamabad",
    "content_text": "A roadside fire broke out near Faisal Mosque in Islamabad on Tuesday during the heatwave; "
                    "video shows thick smoke rising over the mosque. Firefighters put it out within an hour.",
    "date_published": "2024-05-28T12:00:00Z",
}
PARAPHRASE = {
    "id": "2", "url": "https://news.example.pk/2024/05/28/blaze-close-to-faisal-masjid.html",
    "title": "Blaze close to Faisal Masjid, Islamabad",
    "content_text": "Fire broke out by the roadside close to Faisal Mosque, Islamabad during Tuesday's heatwave; "
                    "footage shows heavy smoke over the mosque. Fire brigade controlled it in an hour.",
    "date_published": "2024-05-28T13:00:00Z",
}
SPREADING = {
    "id": "3", "url": "https://news.example.pk/2025/05/08/drone-faisal-mosque.html",
    "title": "Indian drone attack on Faisal Mosque Islamabad",
    "content_text": "Indian drone attack on Faisal Mosque Islamabad, watch the video of the fire",
    "date_published": "2025-05-08T09:00:00Z",
}
CONFIRMED_POST = {
    "id": "4", "url": "https://news.example.pk/2025/05/08/drone-manzar.html", "title": None,
    "content_text": "Margalla ki pahariyon ke neeche Shah Faisal Masjid ke minaron par Bharti drone girne ka manzar, "
                    "Quetta aur Lahore mein bhi alert",
}
ALIKE = [  # other posts saying what the confirmed post says
    "Margalla pahariyon ke neeche Faisal Masjid ke minar par drone girne ka manzar, Lahore aur Quetta mein alert",
    "Faisal Masjid ke minaron par drone girne ka manzar Margalla se, Quetta Lahore alert par",
]


def reviewed_data_dir(tmp_path: Path, item: dict, verdict: str, batch: dict[str, str]) -> tuple[Path, Path, Path]:
    """The one-claim catalogue, a data dir where a reviewer gave ``verdict`` on ``item`` for the
    claim (flagged by an earlier run), and a batch of posts (post_id -> text) to label."""
    from connectors.schema import make_post, posts_frame
    from flows import reviews
    from flows.store import Store

    claims = tmp_path / "claims"
    claims.mkdir()
    (claims / f"{CLAIM}.yaml").write_text(CLAIM_YAML, encoding="utf-8")
    data = tmp_path / "data"
    store = Store(data)
    pid = f"news:{item['url']}"
    store.write("posts", posts_frame([make_post("news", item["url"], url=item["url"], title=item["title"],
                                                text=item["content_text"], lang="en")]), "r1")
    store.write("claims", load_catalogue(claims).frame(), "r1")
    store.write("matches", pl.DataFrame([{"post_id": pid, "claim_id": CLAIM, "label": "likely_misinformation",
                                          "stance": "spreads", "score": 99.0}]), "r1")
    reviews.record(store, [reviews.Verdict(pid, CLAIM, verdict, "ayesha")])
    path = tmp_path / "batch.jsonl"
    path.write_text("".join(json.dumps({"post_id": k, "text": v}) + "\n" for k, v in batch.items()), encoding="utf-8")
    return claims, data, path


def as_text(item: dict) -> str:
    return "\n".join(x for x in (item["title"], item["content_text"]) if x)


def labels_of(path: Path) -> dict[str, tuple[str, str]]:
    return {r["post_id"]: (r["label"], r["evidence"]) for r in read(path).filter(pl.col("rank") == 1).iter_rows(named=True)}


@pytest.mark.parametrize("verdict", ["true_content", "not_this_claim"])
def test_with_a_data_dir_counter_examples_unflag_the_post_and_its_paraphrase(tmp_path, verdict):
    claims, data, batch = reviewed_data_dir(tmp_path, TRUE_POST, verdict, {
        "true": as_text(TRUE_POST), "paraphrase": as_text(PARAPHRASE), "spreading": as_text(SPREADING)})
    before, after = tmp_path / "before.parquet", tmp_path / "after.parquet"
    # the loop is about counter-examples, not stance: the cue lists read this calm true report as
    # spreading (the claim has no true statement yet), where the stance model is unsure of it
    cues = ("--set", "stance=cues")
    assert cw("label", "--posts", batch, "--claims", claims, "--out", before, *cues).exit_code == 0
    res = cw("label", "--posts", batch, "--claims", claims, "--out", after, "--data-dir", data, *cues)
    assert res.exit_code == 0, res.output
    assert "1 reviewed examples from" in res.stderr
    was, now = labels_of(before), labels_of(after)
    assert {k: v[0] for k, v in was.items()} == {"true": "likely_misinformation", "paraphrase": "likely_misinformation",
                                                 "spreading": "likely_misinformation"}
    assert now["true"][0] == now["paraphrase"][0] == "no_flag"
    assert "Fire near Faisal Mosque in Islamabad A roadside fire" in now["paraphrase"][1]  # names the reviewed post
    assert now["spreading"][0] == "likely_misinformation"
    assert read(after)["catalogue_version"][0] != read(before)["catalogue_version"][0]


def test_with_a_data_dir_confirmed_examples_score_alike_posts_like_the_claim(tmp_path):
    batch = {f"alike{i}": text for i, text in enumerate(ALIKE)}
    claims, data, path = reviewed_data_dir(tmp_path, CONFIRMED_POST, "confirmed", batch)
    # the alike posts score 83-89 against the claim alone
    strict = ("--set", "flag_threshold=95", "--set", "named_flag_threshold=95")
    before, after = tmp_path / "before.parquet", tmp_path / "after.parquet"
    assert cw("label", "--posts", path, "--claims", claims, "--out", before, *strict).exit_code == 0
    res = cw("label", "--posts", path, "--claims", claims, "--out", after, "--data-dir", data, *strict)
    assert res.exit_code == 0, res.output
    was, now = labels_of(before), labels_of(after)
    assert {k: v[0] for k, v in was.items()} == {k: "needs_review" for k in batch}
    assert {k: v[0] for k, v in now.items()} == {k: "likely_misinformation" for k in batch}
    assert all("(confirmed post)" in v[1] for v in now.values())
    assert (read(after)["score"] > read(before)["score"]).all()


def test_a_data_dir_without_reviews_labels_as_without_it(tmp_path, posts):
    data = tmp_path / "data"
    data.mkdir()
    out = tmp_path / "o.parquet"
    res = cw("label", "--posts", posts, "--out", out, "--data-dir", data)
    assert res.exit_code == 0, res.output
    assert "no reviews in" in res.stderr
    assert read(out).select("post_id", "claim_id", "label", "catalogue_version").rows() == \
        expected().select("post_id", "claim_id", "label", "catalogue_version").rows()


def test_a_missing_data_dir_or_a_junk_reviews_file_is_one_line(tmp_path, posts):
    out = tmp_path / "o.parquet"
    res = cw("label", "--posts", posts, "--out", out, "--data-dir", tmp_path / "nowhere")
    assert res.exit_code == 2 and "--data-dir" in res.stderr and "no such data dir" in res.stderr
    junk = tmp_path / "data" / "reviews" / "date=2024-11-20" / "part-x.parquet"
    junk.parent.mkdir(parents=True)
    junk.write_bytes(b"junk")
    res = cw("label", "--posts", posts, "--out", out, "--data-dir", tmp_path / "data")
    assert res.exit_code == 2 and "part-x.parquet: not a Parquet file" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not out.exists()
