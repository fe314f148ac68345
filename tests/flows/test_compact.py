"""`claimwatch compact` merges part files per partition without changing any query's answer."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from connectors.schema import make_post, posts_frame
from flows.cli import app
from flows.store import Store

T0 = datetime(2026, 11, 27, 8, tzinfo=timezone.utc)


def build(root) -> Store:
    store = Store(root, compact_files=0)
    for run in range(6):
        day = date(2026, 11, 27) + timedelta(days=run % 2)
        rows = [make_post("reddit", f"t3_{run}_{i}", text=f"post {run} {i}", source=f"src{i % 3}",
                          published_at=T0 + timedelta(hours=run * 5 + i), likes=i * run) for i in range(7)]
        store.write("posts", posts_frame(rows).with_columns(run_id=pl.lit(f"r{run}")), f"r{run}", day)
        matches = pl.DataFrame({
            "run_id": [f"r{run}"] * 3, "post_id": [f"reddit:t3_{run}_{i}" for i in range(3)],
            "claim_id": ["c1", "c2", "c1"], "score": [90.0, 55.0, 75.0 + run],
            "label": ["likely_misinformation", "needs_review", "debunk"],
            "stance": ["spreads", "mentions", "debunks"], "catalogue_version": ["v1"] * 3,
        })
        store.write("matches", matches, f"r{run}", day)
        store.write("runs", pl.DataFrame({"run_id": [f"r{run}"], "status": ["ok"], "posts_new": [7]}), f"r{run}", day)
    return store


QUERIES = {
    "posts per source and day": lambda r: pl.scan_parquet(f"{r}/posts/**/*.parquet", hive_partitioning=True)
        .group_by("date", "source").agg(n=pl.len(), likes=pl.col("likes").sum()).sort("date", "source").collect(),
    "all posts": lambda r: pl.read_parquet(f"{r}/posts/**/*.parquet", hive_partitioning=True)
        .sort("post_id"),
    "flags per claim and label": lambda r: pl.scan_parquet(f"{r}/matches/**/*.parquet", hive_partitioning=True)
        .filter(pl.col("label") != "no_flag").group_by("claim_id", "label").agg(pl.len(), pl.col("score").mean())
        .sort("claim_id", "label").collect(),
    "posts joined to matches": lambda r: pl.read_parquet(f"{r}/matches/**/*.parquet")
        .join(pl.read_parquet(f"{r}/posts/**/*.parquet"), on="post_id").select("post_id", "claim_id", "text")
        .sort("post_id", "claim_id"),
    "runs": lambda r: pl.read_parquet(f"{r}/runs/**/*.parquet").sort("run_id"),
    "duckdb daily counts": lambda r: pl.DataFrame(duckdb.sql(
        f"select date, claim_id, count(*) n, sum(score) s from read_parquet('{r}/matches/**/*.parquet', "
        f"hive_partitioning=true) group by all order by all").fetchall(), orient="row"),
}


def build_legacy(root) -> Store:
    """A data dir as written before tables had a commit log."""
    import shutil

    build(root)
    for log in root.glob("*/_log"):
        shutil.rmtree(log)
    return Store(root)


def answers(root):
    return {name: q(root) for name, q in QUERIES.items()}


def test_compaction_keeps_every_answer_and_leaves_one_file_per_partition(tmp_path):
    store = build(tmp_path)
    assert len(store.files("posts")) == 6
    before = answers(tmp_path)
    merged = store.compact("posts") + store.compact("matches") + store.compact("runs")
    assert sorted(m[1] for m in merged) == [3] * 6
    assert len(store.files("posts")) == 2 and len(store.files("matches")) == 2
    after = answers(tmp_path)
    for name in QUERIES:
        assert after[name].equals(before[name]), name


def test_writes_after_compaction_stay_idempotent(tmp_path):
    store = build(tmp_path)
    store.compact("posts")
    rows = [make_post("reddit", "t3_0_0", text="post 0 0", source="src0")]
    assert store.write("posts", posts_frame(rows), "r9", date(2026, 11, 27)).height == 0
    assert store.read("posts").height == 42


def journal(root, merged, sources):
    (root / "_state" / "compact.json").write_text(json.dumps(
        {"merged": str(merged.relative_to(root)), "sources": [str(s.relative_to(root)) for s in sources]}))


def test_an_interrupted_compaction_of_a_data_dir_without_logs_is_finished_without_doubling_rows(tmp_path):
    store = build_legacy(tmp_path)
    part = tmp_path / "posts" / "date=2026-11-27"
    sources = sorted(part.glob("*.parquet"))
    # killed after the merged file was renamed in, before the small files were deleted
    merged = part / "part-compacted-x.parquet"
    pl.read_parquet(sources).write_parquet(merged, compression="zstd")
    journal(tmp_path, merged, sources)
    assert store.read("posts").height == 42  # readers leave the replaced files out
    store.compact("matches")  # a write to any table finishes the journal first
    assert sorted(part.glob("*.parquet")) == [merged]
    assert store.read("posts").height == 42


def test_an_interrupted_compaction_before_the_rename_deletes_nothing(tmp_path):
    store = build_legacy(tmp_path)
    part = tmp_path / "posts" / "date=2026-11-27"
    sources = sorted(part.glob("*.parquet"))
    journal(tmp_path, part / "part-compacted-never-written.parquet", sources)
    store.compact("runs")
    assert sorted(part.glob("*.parquet")) == sources
    assert store.read("posts").height == 42


def test_the_compact_command(tmp_path):
    build(tmp_path)
    import os

    leftovers = [tmp_path / "posts" / "date=2026-11-27" / ".part-r7.parquet.tmp",
                 tmp_path / "_state" / ".cursors.json.1a2b3c4d.tmp",  # a killed run of an older claimwatch
                 tmp_path / "_state" / "cursors" / ".00000000000000000003.json.1a2b3c4d.tmp",
                 tmp_path / "posts" / "_log" / ".00000000000000000009.json.1a2b3c4d.tmp"]
    for f in leftovers:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"half")
        os.utime(f, (0, 0))  # written long ago: not a write in progress
    young = tmp_path / "_state" / "cursors" / ".00000000000000000004.json.5e6f7a8b.tmp"
    young.write_bytes(b"being written right now")
    before = answers(tmp_path)
    result = CliRunner().invoke(app, ["compact", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "posts/date=2026-11-27: 3 files -> 1 (21 rows)" in result.output
    assert "removed 4 leftover .tmp files" in result.output
    assert not any(f.exists() for f in leftovers) and young.exists()
    after = answers(tmp_path)
    assert all(after[n].equals(before[n]) for n in QUERIES)
    again = CliRunner().invoke(app, ["compact", "--data-dir", str(tmp_path)])
    assert "nothing to compact" in again.output


@pytest.mark.parametrize("args, expected", [
    (["--data-dir", "{tmp}/missing"], "no such data dir"),
    (["--data-dir", "{tmp}", "--table", "tweets"], "unknown table 'tweets'"),
])
def test_compact_bad_input_is_one_line(tmp_path, args, expected):
    result = CliRunner().invoke(app, ["compact"] + [a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 2
    assert expected in result.output and "Traceback" not in result.output


def test_a_junk_part_file_stops_compaction_with_one_line_and_its_partition_is_left_alone(tmp_path):
    build(tmp_path)
    junk = tmp_path / "matches" / "date=2026-11-27" / "part-junk.parquet"
    junk.write_text("not parquet")
    result = CliRunner().invoke(app, ["compact", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith(f"claimwatch compact: {junk}: not a Parquet file (")
    assert lines[-1].endswith("move it away or delete it")
    assert "Traceback" not in result.output
    assert junk.exists()
    assert len(list((tmp_path / "matches" / "date=2026-11-27").glob("*.parquet"))) == 4
    assert len(list((tmp_path / "posts" / "date=2026-11-27").glob("*.parquet"))) == 3  # nothing compacted


# ---------------------------------------------------------------- nothing outside a table folder


@pytest.mark.parametrize("bad", ["../outside.txt", "{outside}", "posts/date=2026-11-27/notes.txt",
                                 "posts/../../outside.txt", "_state/cursors.json", "matches/date=2026-11-27/x.parquet"])
def test_a_compaction_journal_naming_anything_but_a_part_file_of_its_table_deletes_nothing(tmp_path, bad):
    root = tmp_path / "data"
    build(root)
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    notes = root / "posts" / "date=2026-11-27" / "notes.txt"
    notes.write_text("precious")
    merged = sorted((root / "posts" / "date=2026-11-27").glob("*.parquet"))[0]
    name = bad.format(outside=outside)
    (root / "_state" / "compact.json").write_text(json.dumps(
        {"merged": str(merged.relative_to(root)), "sources": [name]}))
    files = sorted(str(p) for p in root.rglob("*") if p.is_file())
    result = CliRunner().invoke(app, ["compact", "--data-dir", str(root)])
    assert result.exit_code == 1, result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith(f"claimwatch compact: {root / '_state' / 'compact.json'}: lists {name!r}, which is not a part file")
    assert "nothing was deleted" in line
    assert outside.read_text() == "precious" and notes.read_text() == "precious"
    assert sorted(str(p) for p in root.rglob("*") if p.is_file()) == files


def test_a_log_version_naming_a_file_outside_its_table_is_refused_and_deletes_nothing(tmp_path):
    root = tmp_path / "data"
    store = build(root)
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    log = root / "posts" / "_log"
    latest = sorted(log.glob("*.json"))[-1]
    entry = json.loads(latest.read_text())
    entry["files"]["../../outside.txt"] = {"rows": 1}
    entry["files"]["date=2026-11-27/../../../outside.txt"] = {"rows": 1}
    (log / f"{int(latest.stem) + 1:020d}.json").write_text(json.dumps(entry))
    result = CliRunner().invoke(app, ["compact", "--data-dir", str(root)])
    assert result.exit_code == 1
    assert "which is not a part file" in result.output and "nothing was deleted" in result.output
    assert outside.read_text() == "precious"
    with pytest.raises(Exception, match="which is not a part file"):
        store.read("posts")
