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
    assert best["claim_id"].to_list() == ["1", "2"]


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
