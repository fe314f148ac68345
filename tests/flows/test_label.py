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
    strict = MatchConfig(flag_threshold=99.999, review_threshold=50.0)
    out = tmp_path / "a.parquet"
    res = cw("label", "--posts", posts, "--out", out, "--set", "flag_threshold=99.999", "--set", "review_threshold=50")
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
