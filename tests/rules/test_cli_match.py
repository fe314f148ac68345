"""`claimwatch match` and `claimwatch eval`: outputs, and one-line errors with exit code 2."""

import json

import polars as pl
import typer
from typer.testing import CliRunner

from flows.commands import match as match_cmd


def app():
    a = typer.Typer()
    match_cmd.register(a)

    @a.command("noop")
    def noop() -> None:  # keeps typer in multi-command mode
        pass

    return a


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


CLAIMS = [{"claim_id": "1", "text": "Trump will free Imran Khan from jail", "title": "Trump Khan jail"},
          {"claim_id": "2", "text": "A drone hit Faisal Mosque in Islamabad", "title": None}]
POSTS = [{"post_id": "a", "text": "Trump promises to free Imran Khan from jail"},
         {"post_id": "b", "text": "drone strike on Faisal Mosque Islamabad"},
         {"post_id": "c", "text": ""}]


def test_match_writes_ranked_rows_for_every_post(tmp_path):
    out = tmp_path / "r.parquet"
    res = CliRunner().invoke(app(), ["match", "--claims", str(write_jsonl(tmp_path / "c.jsonl", CLAIMS)),
                                     "--posts", str(write_jsonl(tmp_path / "p.jsonl", POSTS)),
                                     "--top-k", "2", "--out", str(out)])
    assert res.exit_code == 0, res.output
    df = pl.read_parquet(out)
    assert df.columns == ["post_id", "claim_id", "score", "rank"]
    best = df.filter(pl.col("rank") == 1).sort("post_id")
    assert best["post_id"].to_list() == ["a", "b", "c"]  # the empty post too, with low scores
    assert best["claim_id"].to_list()[:2] == ["1", "2"]
    assert df.filter(pl.col("post_id") == "c")["score"].to_list() == [0.0, 0.0]


def test_eval_prints_the_measures(tmp_path):
    q = tmp_path / "q.tsv"
    q.write_text("post_id\tclaim_id\na\t1\nb\t2\n")
    res = CliRunner().invoke(app(), ["eval", "--claims", str(write_jsonl(tmp_path / "c.jsonl", CLAIMS)),
                                     "--posts", str(write_jsonl(tmp_path / "p.jsonl", POSTS)), "--qrels", str(q)])
    assert res.exit_code == 0, res.output
    assert "MAP@5\t1.0000" in res.output and "MRR\t1.0000" in res.output


def test_bad_files_give_one_line_and_exit_2(tmp_path):
    claims = write_jsonl(tmp_path / "c.jsonl", CLAIMS)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"post_id": "a", "text": "x"}\n{oops\n')
    cases = [
        ["match", "--claims", str(tmp_path / "none.jsonl"), "--posts", str(bad), "--out", str(tmp_path / "o.parquet")],
        ["match", "--claims", str(claims), "--posts", str(bad), "--out", str(tmp_path / "o.parquet")],
        ["eval", "--claims", str(claims), "--posts", str(bad), "--qrels", str(tmp_path / "none.tsv")],
    ]
    for args in cases:
        res = CliRunner().invoke(app(), args)
        assert res.exit_code == 2, res.output
        assert "Traceback" not in res.output
        assert res.output.strip().count("\n") == 0 or "claimwatch:" in res.output
    res = CliRunner().invoke(app(), cases[1])
    assert "bad.jsonl:2: not valid JSON" in res.output


def test_match_and_eval_report_duplicate_groups_on_stderr(tmp_path):
    claims = write_jsonl(tmp_path / "c.jsonl", CLAIMS + [{"claim_id": "3", "text": "Trump will free “Imran Khan” from the jail",
                                                          "title": "Trump Khan jail"}])
    posts = write_jsonl(tmp_path / "p.jsonl", POSTS)
    q = tmp_path / "q.tsv"
    q.write_text("a\t1\nb\t2\n")
    for args in (["match", "--out", str(tmp_path / "r.parquet")], ["eval", "--qrels", str(q)]):
        res = CliRunner().invoke(app(), args + ["--claims", str(claims), "--posts", str(posts)])
        assert res.exit_code == 0, res.output
        assert "1 duplicate groups (1 later copies" in res.output
    df = pl.read_parquet(tmp_path / "r.parquet").filter(pl.col("post_id") == "a").sort("rank")
    assert df["claim_id"].to_list()[:2] == ["1", "3"]


def test_match_writes_rows_for_posts_without_any_candidate(tmp_path):
    claims = write_jsonl(tmp_path / "c.jsonl", CLAIMS)
    odd = POSTS + [{"post_id": "d", "text": "🔥🔥😂"}, {"post_id": "e", "text": "zzqxv blorfication"},
                   {"post_id": "f", "text": "Islamabd"}]
    out = tmp_path / "r.parquet"
    res = CliRunner().invoke(app(), ["match", "--claims", str(claims), "--posts", str(write_jsonl(tmp_path / "p.jsonl", odd)),
                                     "--top-k", "2", "--out", str(out)])
    assert res.exit_code == 0, res.output
    df = pl.read_parquet(out)
    counts = dict(df.group_by("post_id").len().iter_rows())
    assert {p: counts.get(p) for p in "cdef"} == {"c": 2, "d": 2, "e": 2, "f": 2}
    fallback = df.filter(pl.col("post_id").is_in(["c", "d", "e", "f"]))
    assert fallback["score"].max() <= 1.0  # low: a 4-gram cosine, not a match
    # a misspelt post is still ranked by shared character 4-grams
    assert df.filter((pl.col("post_id") == "f") & (pl.col("rank") == 1))["claim_id"].to_list() == ["2"]
    best = df.filter(pl.col("rank") == 1).sort("post_id")
    assert best.filter(pl.col("post_id").is_in(["a", "b"]))["claim_id"].to_list() == ["1", "2"]


def test_match_writes_csv_and_jsonl_by_suffix_and_refuses_other_suffixes(tmp_path):
    claims = write_jsonl(tmp_path / "c.jsonl", CLAIMS)
    posts = write_jsonl(tmp_path / "p.jsonl", POSTS)
    base = ["match", "--claims", str(claims), "--posts", str(posts), "--top-k", "1", "--out"]
    res = CliRunner().invoke(app(), base + [str(tmp_path / "r.csv")])
    assert res.exit_code == 0, res.output
    csv = pl.read_csv(tmp_path / "r.csv", schema_overrides={"post_id": pl.String, "claim_id": pl.String})
    assert csv.columns == ["post_id", "claim_id", "score", "rank"] and csv.height == 3
    res = CliRunner().invoke(app(), base + [str(tmp_path / "r.jsonl")])
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert len(lines) == 3 and set(lines[0]) == {"post_id", "claim_id", "score", "rank"}
    for bad in ("r.txt", "r"):
        res = CliRunner().invoke(app(), base + [str(tmp_path / bad)])
        assert res.exit_code == 2
        assert res.output.strip().count("\n") == 0 and "use a .parquet, .csv or .jsonl file" in res.output
        assert "Traceback" not in res.output and not (tmp_path / bad).exists()


def test_eval_warns_about_qrels_outside_the_posts_and_catalogue(tmp_path):
    claims = write_jsonl(tmp_path / "c.jsonl", CLAIMS)
    posts = write_jsonl(tmp_path / "p.jsonl", POSTS)
    q = tmp_path / "q.tsv"
    q.write_text("a\t1\nb\t2\nzz\t1\nb\t999\n")
    res = CliRunner().invoke(app(), ["eval", "--claims", str(claims), "--posts", str(posts), "--qrels", str(q)])
    assert res.exit_code == 0, res.output
    warn = [x for x in res.output.splitlines() if x.startswith("warning:")]
    assert len(warn) == 1
    assert "1 of 3 qrels posts are not in" in warn[0] and "1 qrels claim ids are not in" in warn[0]
    # scored on a and b only (zz left out); b's unknown claim 999 is never found: AP 1 and 0.5
    assert "MAP@5\t0.7500" in res.output and "MRR\t1.0000" in res.output


def test_eval_with_no_qrels_post_in_the_posts_file_exits_2_naming_both(tmp_path):
    claims = write_jsonl(tmp_path / "c.jsonl", CLAIMS)
    posts = write_jsonl(tmp_path / "p.jsonl", POSTS)
    q = tmp_path / "other.tsv"
    q.write_text("x\t1\ny\t2\n")
    res = CliRunner().invoke(app(), ["eval", "--claims", str(claims), "--posts", str(posts), "--qrels", str(q)])
    assert res.exit_code == 2
    err = [x for x in res.output.splitlines() if x.startswith("claimwatch:")]
    assert len(err) == 1 and "other.tsv" in err[0] and "p.jsonl" in err[0]
    assert "Traceback" not in res.output and "MAP" not in res.output
