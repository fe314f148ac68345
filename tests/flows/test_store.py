"""The Parquet store: atomic, idempotent writes, readable after a killed run, atomic cursors."""

from __future__ import annotations

import json
import os
from datetime import date, datetime, timezone

import polars as pl
import pytest

from connectors.schema import make_post, posts_frame
from flows.store import KEYS, SCHEMAS, Store, StoreError, conform

DAY = date(2026, 11, 28)


def posts(*specs):
    rows = [make_post("mastodon", f"m.s/{i}", text=text, source="masto",
                      fetched_at=datetime(2026, 11, 28, tzinfo=timezone.utc)) for i, text in specs]
    return posts_frame(rows)


def scan(root, table):
    return pl.scan_parquet(f"{root}/{table}/**/*.parquet", hive_partitioning=True).collect()


def test_write_lays_out_one_part_file_per_run_in_a_date_partition(tmp_path):
    store = Store(tmp_path)
    written = store.write("posts", posts((1, "a"), (2, "b")), "run-1", DAY)
    assert written.height == 2
    path = tmp_path / "posts" / "date=2026-11-28" / "part-run-1.parquet"
    assert path.is_file()


def test_written_file_is_zstd_and_readable_with_the_documented_glob(tmp_path):
    store = Store(tmp_path)
    store.write("posts", posts((1, "a")), "run-1", DAY)
    frame = scan(tmp_path, "posts")
    assert frame["post_id"].to_list() == ["mastodon:m.s/1"]
    assert frame["date"].to_list() == [DAY]
    import duckdb

    codec = duckdb.sql(f"select compression from parquet_metadata('{tmp_path}/posts/**/*.parquet')").fetchall()
    assert {c[0].upper() for c in codec} == {"ZSTD"}


def test_rows_already_in_the_table_are_not_written_again(tmp_path):
    store = Store(tmp_path)
    store.write("posts", posts((1, "a"), (2, "b")), "run-1", DAY)
    again = store.write("posts", posts((1, "a"), (2, "b"), (3, "c")), "run-2", DAY)
    assert again["post_id"].to_list() == ["mastodon:m.s/3"]
    assert sorted(scan(tmp_path, "posts")["post_id"]) == ["mastodon:m.s/1", "mastodon:m.s/2", "mastodon:m.s/3"]


def test_an_edited_post_is_a_new_row_its_key_is_post_id_and_content_hash(tmp_path):
    store = Store(tmp_path)
    store.write("posts", posts((1, "first text")), "run-1", DAY)
    store.write("posts", posts((1, "edited text")), "run-2", DAY)
    assert scan(tmp_path, "posts")["text"].sort().to_list() == ["edited text", "first text"]


def test_writing_the_same_run_id_twice_replaces_that_part_file(tmp_path):
    store = Store(tmp_path)
    store.write("posts", posts((1, "a")), "run-1", DAY)
    store.write("posts", posts((1, "a"), (2, "b")), "run-1", DAY)  # a retried task
    frame = scan(tmp_path, "posts")
    assert frame.height == 2
    assert len(store.files("posts")) == 1


def test_matches_are_keyed_on_post_claim_and_catalogue_version(tmp_path):
    store = Store(tmp_path)
    m = pl.DataFrame({"post_id": ["p1", "p1"], "claim_id": ["c1", "c2"], "catalogue_version": ["v1", "v1"],
                      "run_id": ["r1", "r1"], "label": ["needs_review", "no_flag"]})
    assert store.write("matches", m, "r1", DAY).height == 2
    assert store.write("matches", m.with_columns(run_id=pl.lit("r2")), "r2", DAY).height == 0
    assert store.write("matches", m.with_columns(catalogue_version=pl.lit("v2")), "r3", DAY).height == 2
    assert scan(tmp_path, "matches").height == 4
    assert KEYS["matches"] == ("post_id", "claim_id", "catalogue_version")


def test_duplicates_inside_one_write_are_dropped(tmp_path):
    store = Store(tmp_path)
    assert store.write("posts", posts((1, "a"), (1, "a")), "run-1", DAY).height == 1


def test_nothing_new_writes_no_file(tmp_path):
    store = Store(tmp_path)
    store.write("posts", posts((1, "a")), "run-1", DAY)
    store.write("posts", posts((1, "a")), "run-2", DAY)
    assert [p.name for p in store.files("posts")] == ["part-run-1.parquet"]


def test_every_table_has_its_documented_columns(tmp_path):
    store = Store(tmp_path)
    for table, schema in SCHEMAS.items():
        frame = conform(table, pl.DataFrame({KEYS[table][0]: ["x"]}))
        store.write(table, frame, "run-1", DAY)
        assert dict(store.read(table).schema) == schema


def test_write_goes_through_a_tmp_file_and_a_rename(tmp_path, monkeypatch):
    store = Store(tmp_path)
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append((os.path.basename(src), os.path.basename(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    store.write("posts", posts((1, "a")), "run-1", DAY)
    assert (".part-run-1.parquet.tmp", "part-run-1.parquet") in seen


def test_a_killed_run_leaves_tables_readable_and_its_tmp_files_are_ignored(tmp_path):
    store = Store(tmp_path)
    store.write("posts", posts((1, "a")), "run-1", DAY)
    # a run killed mid-write: half a file under the tmp name, for posts and for a new table
    part = tmp_path / "posts" / "date=2026-11-28"
    (part / ".part-run-2.parquet.tmp").write_bytes(b"PAR1\x00\x00 half a file")
    (tmp_path / "matches" / "date=2026-11-28").mkdir(parents=True)
    (tmp_path / "matches" / "date=2026-11-28" / ".part-run-2.parquet.tmp").write_bytes(b"PAR1")
    assert scan(tmp_path, "posts")["post_id"].to_list() == ["mastodon:m.s/1"]
    assert store.read("matches").height == 0
    import duckdb

    assert duckdb.sql(f"select count(*) from read_parquet('{tmp_path}/posts/**/*.parquet')").fetchall()[0][0] == 1
    # the next run writes normally and the leftovers can be cleaned
    store.write("posts", posts((2, "b")), "run-3", DAY)
    assert store.read("posts").height == 2
    assert store.remove_tmp() == 2


def test_a_killed_write_does_not_leave_a_part_file(tmp_path, monkeypatch):
    store = Store(tmp_path)

    def die(src, dst):
        raise KeyboardInterrupt  # killed between writing the tmp file and renaming it

    monkeypatch.setattr(os, "replace", die)
    with pytest.raises(KeyboardInterrupt):
        store.write("posts", posts((1, "a")), "run-1", DAY)
    monkeypatch.undo()
    assert store.files("posts") == []
    assert store.read("posts").height == 0


def test_cursors_are_saved_atomically_and_merged(tmp_path):
    store = Store(tmp_path)
    assert store.read_cursors() == {}
    store.save_cursors({"a": {"since": "1"}})
    store.save_cursors({"b": {"etag": "x"}})
    assert json.loads((tmp_path / "_state" / "cursors.json").read_text()) == {"a": {"since": "1"}, "b": {"etag": "x"}}
    assert not list((tmp_path / "_state").glob("*.tmp"))


def test_an_unreadable_cursors_file_is_a_one_line_error(tmp_path):
    store = Store(tmp_path)
    store.ensure()
    (tmp_path / "_state" / "cursors.json").write_text("{not json")
    with pytest.raises(StoreError, match="cursors.json: unreadable cursors"):
        store.read_cursors()


def test_a_data_dir_that_is_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(StoreError, match="cannot create the data dir"):
        Store(tmp_path / "f").ensure()


def test_run_ids_cannot_escape_the_partition(tmp_path):
    with pytest.raises(ValueError, match="run_id"):
        Store(tmp_path).write("posts", posts((1, "a")), "../x", DAY)


def test_concurrent_writers_take_turns_and_never_double_rows(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    frame = posts(*[(i, f"text {i}") for i in range(50)])
    with ThreadPoolExecutor(8) as pool:
        written = list(pool.map(lambda n: Store(tmp_path).write("posts", frame, f"run-{n}", DAY).height, range(8)))
    assert sorted(written) == [0] * 7 + [50]
    assert Store(tmp_path).read("posts").height == 50


# ---------------------------------------------------------------- bad part files


@pytest.mark.parametrize("content, reason", [(b"", "empty file"), (b"hello, not parquet", "no PAR1"),
                                             (b"PAR1 broken footer PAR1", "")])
def test_a_junk_part_file_is_one_line_naming_it(tmp_path, content, reason):
    store = Store(tmp_path / "claimwatch-data")
    store.write("matches", pl.DataFrame({"post_id": ["p"], "claim_id": ["c"], "catalogue_version": ["v"]}), "r1", DAY)
    junk = tmp_path / "claimwatch-data" / "matches" / "date=2026-11-28" / "part-junk.parquet"
    junk.write_bytes(content)
    for call in (lambda: store.read("matches"), lambda: store.files("matches"), store.check,
                 lambda: store.write("matches", pl.DataFrame({"post_id": ["q"], "claim_id": ["c"], "catalogue_version": ["v"]}), "r2", DAY)):
        with pytest.raises(StoreError) as info:
            call()
        msg = str(info.value)
        assert "\n" not in msg
        assert msg.startswith(f"{junk}: not a Parquet file (") and msg.endswith("); move it away or delete it")
        assert reason in msg
    assert store.read("posts").height == 0  # other tables stay readable
    junk.unlink()
    assert store.read("matches").height == 1


# ---------------------------------------------------------------- crash-safe compaction


def test_a_compaction_killed_between_rename_and_delete_never_shows_a_row_twice(tmp_path, monkeypatch):
    from flows.store import part_files

    store = Store(tmp_path)
    for run in range(3):
        store.write("posts", posts((run, f"text {run}")), f"run-{run}", DAY)
    real_finish = Store._finish_compaction

    def killed(self):
        if self.journal_path.exists():
            raise KeyboardInterrupt  # the merged file is renamed in; the small files are still there
        return real_finish(self)

    monkeypatch.setattr(Store, "_finish_compaction", killed)
    with pytest.raises(KeyboardInterrupt):
        store.compact("posts")
    monkeypatch.undo()
    part = tmp_path / "posts" / "date=2026-11-28"
    assert len(list(part.glob("*.parquet"))) == 4 and (tmp_path / "_state" / "compact.json").exists()
    # before anything finishes the journal, every reader sees each row once
    fresh = Store(tmp_path)
    assert [p.name for p in fresh.files("posts")] == [p.name for p in part_files(tmp_path, "posts")]
    assert len(fresh.files("posts")) == 1 and fresh.files("posts")[0].name.startswith("part-compacted-")
    assert sorted(fresh.read("posts")["post_id"]) == ["mastodon:m.s/0", "mastodon:m.s/1", "mastodon:m.s/2"]
    assert fresh.keys("posts").height == 3
    # a write of a row already merged is still recognised, and it finishes the journal
    assert fresh.write("posts", posts((1, "text 1"), (3, "text 3")), "run-4", DAY).height == 1
    assert not (tmp_path / "_state" / "compact.json").exists()
    assert len(list(part.glob("*.parquet"))) == 2
    assert fresh.read("posts").height == 4


def test_a_copied_data_dir_keeps_its_compaction_journal(tmp_path, monkeypatch):
    import shutil

    store = Store(tmp_path / "a")
    for run in range(2):
        store.write("posts", posts((run, f"text {run}")), f"run-{run}", DAY)
    monkeypatch.setattr(Store, "_finish_compaction", lambda self: None)
    store.compact("posts")
    monkeypatch.undo()
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert Store(tmp_path / "b").read("posts").height == 2


def test_part_files_can_list_without_opening_the_files(tmp_path):
    from flows.store import part_files

    junk = tmp_path / "posts" / "date=2026-11-28" / "part-junk.parquet"
    junk.parent.mkdir(parents=True)
    junk.write_text("junk")
    assert part_files(tmp_path, "posts", check=False) == [junk]
    with pytest.raises(StoreError, match="part-junk.parquet: not a Parquet file"):
        part_files(tmp_path, "posts")
