"""The Parquet store: atomic, idempotent writes through a commit log, readable after a killed run,
atomic cursors, no file outside a table folder ever touched, bad files named before a run fetches."""

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


def test_write_lays_out_one_part_file_per_run_in_a_date_partition_and_commits_it(tmp_path):
    store = Store(tmp_path)
    written = store.write("posts", posts((1, "a"), (2, "b")), "run-1", DAY)
    assert written.height == 2
    (path,) = (tmp_path / "posts" / "date=2026-11-28").glob("*.parquet")
    assert path.name.startswith("part-run-1-")
    # a new table's log begins with an empty version 0, before any part file exists; the write is version 1
    begun, version = sorted((tmp_path / "posts" / "_log").glob("*.json"))
    assert json.loads(begun.read_text())["files"] == {} and json.loads(begun.read_text())["op"] == "create"
    assert json.loads(version.read_text())["files"] == {
        f"date=2026-11-28/{path.name}": {"rows": 2, "size": path.stat().st_size, "stamp": str(path.stat().st_mtime_ns),
                                         "stats": {"fetched_at": ["2026-11-28T00:00:00+00:00"] * 2, "published_at": None,
                                                   "run_id": None}}}


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


def test_writing_the_same_run_id_twice_adds_only_the_new_rows(tmp_path):
    store = Store(tmp_path)
    store.write("posts", posts((1, "a")), "run-1", DAY)
    store.write("posts", posts((1, "a"), (2, "b")), "run-1", DAY)  # a retried task
    frame = scan(tmp_path, "posts")
    assert frame.height == 2
    assert len(store.files("posts")) == 2  # part files are never rewritten in place


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
    assert [p.name[:11] for p in store.files("posts")] == ["part-run-1-"]


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
    (name,) = [p.name for p in store.files("posts")]
    assert [dst for src, dst in seen if src.startswith(f".{name}.") and src.endswith(".tmp")] == [name]


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
    assert store.remove_tmp() == 0  # young: may be a write in progress
    assert store.remove_tmp(older_than=0) == 2


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
    latest = sorted((tmp_path / "_state" / "cursors").glob("*.json"))[-1]
    assert json.loads(latest.read_text())["data"] == {"a": {"since": "1"}, "b": {"etag": "x"}}
    assert Store(tmp_path).read_cursors() == {"a": {"since": "1"}, "b": {"etag": "x"}}
    assert not list((tmp_path / "_state").rglob("*.tmp"))


def test_cursors_of_a_data_dir_written_before_versioned_state_are_read_and_kept(tmp_path):
    (tmp_path / "_state").mkdir()
    (tmp_path / "_state" / "cursors.json").write_text('{"a": {"since": "1"}}')
    store = Store(tmp_path)
    assert store.read_cursors() == {"a": {"since": "1"}}
    store.save_cursors({"b": 2})
    assert Store(tmp_path).read_cursors() == {"a": {"since": "1"}, "b": 2}


def test_concurrent_cursor_saves_lose_nothing(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda n: Store(tmp_path).save_cursors({f"s{n}": n}), range(12)))
    assert Store(tmp_path).read_cursors() == {f"s{n}": n for n in range(12)}


def test_an_unreadable_cursors_file_is_a_one_line_error(tmp_path):
    store = Store(tmp_path)
    store.save_cursors({"a": 1})
    (latest,) = (tmp_path / "_state" / "cursors").glob("*.json")
    latest.write_text("{not json")
    with pytest.raises(StoreError, match=f"^{latest}: unreadable cursors .*fetch every source from the start$"):
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


def test_a_writer_that_lists_another_writers_uncommitted_first_part_never_takes_it(tmp_path, monkeypatch):
    """Writer A has put the new table's first part file but not committed it when writer B
    starts: B must not mistake it for a file from before the log, adopt it and so make A
    delete a file the log then lists."""
    import threading

    import flows.store as store_module

    put, go = threading.Event(), threading.Event()
    real_put = store_module.Store._put_part

    def slow_put(self, table, rel, frame):
        record = real_put(self, table, rel, frame)
        if rel.split("/", 1)[1].startswith("part-run-a-"):
            put.set()
            go.wait(10)
        return record

    monkeypatch.setattr(store_module.Store, "_put_part", slow_put)
    frame = posts(*[(i, f"text {i}") for i in range(5)])
    result = {}
    a = threading.Thread(target=lambda: result.setdefault("a", Store(tmp_path).write("posts", frame, "run-a", DAY)))
    a.start()
    assert put.wait(10)
    result["b"] = Store(tmp_path).write("posts", frame, "run-b", DAY)
    go.set()
    a.join(10)
    assert sorted([result["a"].height, result["b"].height]) == [0, 5]
    store = Store(tmp_path)
    store.check()  # every file the log lists is there
    assert store.read("posts").height == 5


# ---------------------------------------------------------------- bad part files


@pytest.mark.parametrize("content, reason", [(b"", "empty file"), (b"hello, not parquet", "no PAR1"),
                                             (b"PAR1 broken footer PAR1", "")])
def test_a_junk_part_file_is_one_line_naming_it_and_never_read(tmp_path, content, reason):
    root = tmp_path / "claimwatch-data"
    store = Store(root)
    store.write("matches", pl.DataFrame({"post_id": ["p"], "claim_id": ["c"], "catalogue_version": ["v"]}), "r1", DAY)
    junk = root / "matches" / "date=2026-11-28" / "part-junk.parquet"
    junk.write_bytes(content)
    for call in (store.check, lambda: Store(root).compact("matches"),
                 lambda: Store(root).write("matches", pl.DataFrame({"post_id": ["q"], "claim_id": ["c"], "catalogue_version": ["v"]}), "r2", DAY)):
        with pytest.raises(StoreError) as info:
            call()
        msg = str(info.value)
        assert "\n" not in msg
        assert msg.startswith(f"{junk}: not a Parquet file (") and msg.endswith("); move it away or delete it")
        assert reason in msg
    assert store.read("matches").height == 1  # never read: no log version lists it
    assert store.read("posts").height == 0  # other tables stay readable
    junk.unlink()
    store.check()


# ---------------------------------------------------------------- crash-safe compaction


def test_a_compaction_killed_before_deleting_the_merged_files_never_shows_a_row_twice(tmp_path, monkeypatch):
    import flows.store as store_module
    from flows.store import part_files

    store = Store(tmp_path)
    for run in range(3):
        store.write("posts", posts((run, f"text {run}")), f"run-{run}", DAY)
    part = tmp_path / "posts" / "date=2026-11-28"
    sources = sorted(part.glob("*.parquet"))

    def killed(self, rel):
        raise KeyboardInterrupt  # the new version is committed; the merged files are still there

    monkeypatch.setattr(store_module._Local, "delete", killed)
    with pytest.raises(KeyboardInterrupt):
        store.compact("posts")
    monkeypatch.undo()
    assert len(list(part.glob("*.parquet"))) == 4
    # every claimwatch reader reads the newest version: the merged file only
    fresh = Store(tmp_path)
    assert [p.name for p in fresh.files("posts")] == [p.name for p in part_files(tmp_path, "posts")]
    assert len(fresh.files("posts")) == 1 and fresh.files("posts")[0].name.startswith("part-compacted-")
    assert sorted(fresh.read("posts")["post_id"]) == ["mastodon:m.s/0", "mastodon:m.s/1", "mastodon:m.s/2"]
    assert fresh.keys("posts").height == 3
    assert fresh.write("posts", posts((1, "text 1"), (3, "text 3")), "run-4", DAY).height == 1
    # once old enough to be no write in flight, the leftovers are adopted: all their rows are
    # in the table already, so they are deleted and a plain glob agrees again
    for f in sources:
        os.utime(f, (f.stat().st_atime - 3600, f.stat().st_mtime - 3600))
    Store(tmp_path).write("posts", posts((5, "text 5")), "run-5", DAY)
    assert not any(f.exists() for f in sources)
    assert scan(tmp_path, "posts").height == Store(tmp_path).read("posts").height == 5


def test_a_copied_data_dir_keeps_its_log(tmp_path):
    import shutil

    store = Store(tmp_path / "a")
    for run in range(2):
        store.write("posts", posts((run, f"text {run}")), f"run-{run}", DAY)
    store.compact("posts")
    store.write("posts", posts((7, "text 7")), "run-7", DAY)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert Store(tmp_path / "b").read("posts").height == 3
    assert Store(tmp_path / "b").write("posts", posts((7, "text 7")), "run-8", DAY).height == 0


def test_part_files_can_list_without_opening_the_files(tmp_path):
    from flows.store import part_files

    junk = tmp_path / "posts" / "date=2026-11-28" / "part-junk.parquet"
    junk.parent.mkdir(parents=True)
    junk.write_text("junk")
    assert part_files(tmp_path, "posts", check=False) == [junk]
    with pytest.raises(StoreError, match="part-junk.parquet: not a Parquet file"):
        part_files(tmp_path, "posts")


# ---------------------------------------------------------------- damaged files are named before fetching


def damage(path):
    """Overwrite the data pages, keeping the magic bytes and the footer (a valid schema)."""
    data = bytearray(path.read_bytes())
    footer = len(data) - 8 - int.from_bytes(data[-8:-4], "little")  # where the footer starts
    end = max(footer // 2, 9)
    data[8:end] = b"\x55" * (end - 8)
    path.write_bytes(bytes(data))


def matches_rows(n, prefix="p"):
    return pl.DataFrame({"post_id": [f"{prefix}{i}" for i in range(n)], "claim_id": ["c"] * n,
                         "catalogue_version": ["v"] * n, "evidence": [f"some words {i}" * 20 for i in range(n)]})


@pytest.mark.parametrize("how", ["copied in", "changed in place"])
def test_a_part_file_with_a_damaged_data_page_is_named_before_a_run_fetches(tmp_path, how):
    store = Store(tmp_path)
    store.write("matches", matches_rows(200), "r1", DAY)
    (committed,) = store.files("matches")
    if how == "copied in":
        bad = committed.with_name("part-copied.parquet")
        bad.write_bytes(committed.read_bytes())
    else:
        bad = committed
    damage(bad)
    pl.read_parquet_schema(bad)  # the footer still reads: a footer-only check lets it pass
    with pytest.raises(StoreError) as info:
        Store(tmp_path).check()
    msg = str(info.value)
    assert msg.startswith(f"{bad}: the data in this part file cannot be read (") and "\n" not in msg
    assert msg.endswith("move it away or delete it")


@pytest.mark.parametrize("how", ["copied in", "changed in place"])
def test_a_part_file_of_another_table_is_named_before_a_run_fetches(tmp_path, how):
    store = Store(tmp_path)
    store.write("matches", matches_rows(3), "r1", DAY)
    (committed,) = store.files("matches")
    bad = committed.with_name("part-copied.parquet") if how == "copied in" else committed
    posts((1, "a")).write_parquet(bad)  # valid Parquet, the columns of posts
    with pytest.raises(StoreError) as info:
        Store(tmp_path).check()
    msg = str(info.value)
    assert msg.startswith(f"{bad}: not a part file of table matches (") and "unknown columns" in msg
    assert msg.endswith("move it away or delete it") and "\n" not in msg


def test_the_check_before_a_run_reads_only_files_it_has_not_verified(tmp_path, monkeypatch):
    store = Store(tmp_path)
    for run in range(5):
        store.write("matches", matches_rows(50, f"r{run}-"), f"r{run}", DAY)
    read = []
    real = pl.read_parquet
    monkeypatch.setattr(pl, "read_parquet", lambda src, *a, **k: read.append(str(src)) or real(src, *a, **k))
    Store(tmp_path).check()  # every file was verified when written, and is unchanged
    assert read == []
    extra = tmp_path / "matches" / "date=2026-11-28" / "part-copied.parquet"
    matches_rows(3, "x").write_parquet(extra)
    Store(tmp_path).check()
    assert read == [str(extra)]  # a file the log does not know is read in full


# ---------------------------------------------------------------- readers and compaction at once


def test_readers_see_the_old_or_the_new_file_set_while_compactions_run(tmp_path):
    import threading

    Store(tmp_path).write("posts", posts(*[(i, f"text {i}") for i in range(20)]), "r0", DAY)
    stop = threading.Event()
    failures = []

    def compactions():
        try:
            for n in range(1, 41):
                w = Store(tmp_path)
                w.write("posts", posts((1000 + 2 * n, f"new {n}")), f"r{n}a", DAY)
                w.write("posts", posts((1001 + 2 * n, f"new {n} b")), f"r{n}b", DAY)
                w.compact("posts")
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(f"compaction: {exc}")
        finally:
            stop.set()

    thread = threading.Thread(target=compactions)
    thread.start()
    reads, last = 0, 0
    while not stop.is_set() or reads < 5:
        try:
            frame = Store(tmp_path).read("posts")
        except Exception as exc:
            failures.append(f"read {reads}: {exc}")
            frame = None
        if frame is not None:
            if not frame["post_id"].is_unique().all():
                failures.append(f"read {reads}: a row seen twice")
            if frame.height < last:
                failures.append(f"read {reads}: rows lost ({frame.height} after {last})")
            last = max(last, frame.height)
        reads += 1
    thread.join()
    assert not failures, f"{len(failures)} of {reads} reads failed; first: {failures[0]}"
    assert Store(tmp_path).read("posts").height == 100


def test_the_exact_reads_in_docs_data_md_read_the_newest_log_version(tmp_path, monkeypatch):
    """docs/data.md's polars and DuckDB snippets read what the log lists, not a leftover."""
    import re
    from pathlib import Path

    import duckdb

    text = (Path(__file__).resolve().parents[2] / "docs" / "data.md").read_text()
    section = text[text.index("**Exact reads"):]
    python = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    sql = re.search(r"```sql\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    store = Store("claimwatch-data")
    for run in range(3):
        store.write("posts", posts(*[(run * 10 + i, f"text {run} {i}") for i in range(4)]), f"r{run}", DAY)
    store.compact("posts")
    leftover = tmp_path / "claimwatch-data" / "posts" / "date=2026-11-28" / "part-killed-abc123.parquet"
    posts((0, "text 0 0"), (99, "never committed")).write_parquet(leftover)  # a killed writer's file
    assert scan("claimwatch-data", "posts").height == 14  # a glob reads the leftover too
    scope = {}
    exec(python, scope)
    assert scope["posts"].collect().height == 12
    con = duckdb.connect()
    statements = [s for s in sql.split(";") if s.strip()]
    for s in statements[:-1]:
        con.execute(s)
    assert con.execute(statements[-1]).fetchall() == [(DAY, 12)]


def test_a_file_name_the_log_cannot_hold_in_a_data_dir_without_log_is_one_line(tmp_path):
    part = tmp_path / "posts" / "date=2026-11-28"
    part.mkdir(parents=True)
    odd = part / "my copy (1).parquet"
    posts((1, "a")).write_parquet(odd)
    assert Store(tmp_path).read("posts").height == 1  # read as before
    with pytest.raises(StoreError, match=r"my copy \(1\)\.parquet: not a part file name claimwatch can use"):
        Store(tmp_path).write("posts", posts((2, "b")), "r1", DAY)
    assert odd.exists() and not (tmp_path / "posts" / "_log").exists()


def test_key_filters_are_built_hashed_and_probed_a_chunk_of_keys_at_a_time_with_the_same_answers(monkeypatch):
    import flows.store as S

    keys = pl.Series("post_id", [f"post-{i}" for i in range(3 * S._PROBE_KEYS + 5)])
    text = S.key_filter(keys)
    parsed = S._parse_filter(text, "post_id")
    absent = [f"other-{i}" for i in range(S._PROBE_KEYS + 100)]
    assert not S._may_hold(parsed, S._key_hashes(pl.Series(absent)))
    # a key that is in the file, in the last chunk of the probe
    assert S._may_hold(parsed, S._key_hashes(pl.Series(absent + ["post-7"])))
    monkeypatch.setattr(S, "_PROBE_KEYS", 10**9)  # everything in one chunk: the same filter and hashes
    assert S.key_filter(keys) == text
    whole = S._key_hashes(keys)
    monkeypatch.undo()
    pairs = lambda h: set(zip(h[0].tolist(), h[1].tolist()))  # noqa: E731 (unique() has no order)
    assert pairs(S._key_hashes(keys)) == pairs(whole) and len(pairs(whole)) == keys.len()
