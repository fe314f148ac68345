"""The dataset in object storage: a real S3-compatible server on loopback (moto's server, started
by these tests), claimwatch's own readers, plain polars globs, concurrent writer processes, kill -9
in the middle of commits and compactions. Nothing doubled, nothing lost."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from s3server import new_bucket, s3_server  # noqa: E402

from flows.store import Store, StoreError  # noqa: E402
from flows import execution  # noqa: E402

pytest.importorskip("s3fs")
pytest.importorskip("moto")

DAY = date(2026, 11, 28)


@pytest.fixture(scope="module")
def s3():
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def url(s3):
    return f"s3://{new_bucket()}/claimwatch-data"


def rows(keys, tag="x"):
    keys = list(keys)
    return pl.DataFrame({"post_id": [f"p{k}" for k in keys], "content_hash": [f"h{k}" for k in keys],
                         "text": [f"{tag} {k}" for k in keys]})


def glob(url, table="posts"):
    """What an analyst's plain polars glob on the bucket reads."""
    return pl.scan_parquet(f"{url}/{table}/**/*.parquet", hive_partitioning=True).collect()


def test_write_read_compact_and_cursors_on_a_bucket(url):
    store = Store(url)
    assert store.write("posts", rows(range(5)), "r1", DAY).height == 5
    assert store.write("posts", rows(range(3, 8)), "r2", DAY).height == 3
    assert [f.startswith(f"{url}/posts/date=2026-11-28/part-r") for f in store.files("posts")] == [True, True]
    before = glob(url).sort("post_id")
    assert before.height == 8 and Store(url).read("posts").height == 8
    assert store.compact("posts") == [("date=2026-11-28", 2, 8)]
    assert len(store.files("posts")) == 1
    assert glob(url).sort("post_id").equals(before)
    store.save_cursors({"a": {"since": "1"}})
    Store(url).save_cursors({"b": 2})
    assert Store(url).read_cursors() == {"a": {"since": "1"}, "b": 2}
    Store(url).check()


def test_a_missing_bucket_is_one_line(s3):
    with pytest.raises(StoreError, match=r"^s3://no-such-bucket-here/x: the bucket does not exist"):
        Store("s3://no-such-bucket-here/x").ensure()


WRITER = r"""
import os, sys, time
import polars as pl
from datetime import date
from flows.store import Store
url, name, start, stop, compact = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
store = Store(url, compact_files=compact)
for i, k in enumerate(range(start, stop, 3)):
    keys = list(range(k, k + 6))  # overlaps the previous write and the other writer's
    frame = pl.DataFrame({"post_id": [f"p{j}" for j in keys], "content_hash": [f"h{j}" for j in keys],
                          "text": [f"{name} {j}" for j in keys]})
    store.write("posts", frame, f"{name}-{i}", date(2026, 11, 28 - i % 2))
    store.save_cursors({name: i, "shared": {"by": name, "i": i}})
    print(i, flush=True)
"""


def writer(url, name, start, stop, compact=0):
    return subprocess.Popen([sys.executable, "-c", WRITER, url, name, str(start), str(stop), str(compact)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())


def test_two_concurrent_writer_processes_never_double_or_lose_a_row(url):
    a, b = writer(url, "a", 0, 30), writer(url, "b", 0, 30, compact=3)
    for p in (a, b):
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err[-2000:]
    frame = Store(url).read("posts")
    assert frame["post_id"].is_unique().all()
    assert sorted(frame["post_id"]) == sorted(f"p{k}" for k in range(0, 33))
    assert glob(url).height == frame.height  # nothing left over for a glob either
    cursors = Store(url).read_cursors()
    assert cursors["a"] == 9 and cursors["b"] == 9 and cursors["shared"]["i"] == 9


@pytest.fixture(params=["s3", "local disk"])
def any_url(request, tmp_path):
    if request.param == "local disk":
        return str(tmp_path / "claimwatch-data")
    request.getfixturevalue("s3")
    return f"s3://{new_bucket()}/claimwatch-data"


def test_kill_9_in_the_middle_of_commits_and_compactions_doubles_and_loses_nothing(any_url, monkeypatch):
    url = any_url
    import flows.store as store_module

    rng = random.Random(7)
    kills = 0
    for attempt in range(3):
        # 200 writes, compacting after nearly every one: far more than a writer gets through
        # before the kill, on a fast disk as on a slow bucket
        p = writer(url, f"k{attempt}", 0, 600, compact=2)
        for _ in range(rng.randint(1, 4)):
            assert p.stdout.readline()  # a few writes committed
        time.sleep(rng.uniform(0.0, 0.05))  # then kill it somewhere in the next write or compaction
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
            kills += 1
        p.wait(timeout=60)
    assert kills == 3, "a writer finished its 200 writes before the kill"
    committed = Store(url).read("posts")
    assert committed["post_id"].is_unique().all()  # claimwatch's readers: never a row twice
    # the next run writes everything again: what the killed runs committed is not written twice
    # and what they lost is written now
    monkeypatch.setattr(store_module, "ADOPT_AFTER_S", 0.0)  # as if the next run came 10 minutes later
    recovered = Store(url)
    recovered.write("posts", rows(range(0, 605), tag="again"), "recovery", DAY)
    frame = Store(url).read("posts")
    assert frame["post_id"].is_unique().all()
    assert sorted(frame["post_id"]) == sorted(f"p{k}" for k in range(0, 605))
    # the killed writers' leftovers were adopted or deleted: a plain glob reads the same rows
    assert sorted(glob(url)["post_id"]) == sorted(frame["post_id"])
    assert Store(url).read_cursors()  # the cursors document is whole


def test_a_compaction_racing_a_writer_on_a_bucket_keeps_every_row(url):
    store = Store(url, compact_files=0)
    for i in range(4):
        store.write("posts", rows(range(i * 10, i * 10 + 10)), f"r{i}", DAY)
    p = writer(url, "w", 40, 58)
    merged = []
    while p.poll() is None:
        merged += Store(url).compact("posts")
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err[-2000:]
    assert merged
    frame = Store(url).read("posts")
    assert frame["post_id"].is_unique().all()
    assert sorted(frame["post_id"]) == sorted(f"p{k}" for k in range(0, 61))  # 40 before, then 40..60
    assert glob(url).height == 61


def test_a_log_version_that_names_a_key_outside_the_table_deletes_nothing(url):
    import s3fs

    store = Store(url)
    store.write("posts", rows(range(3)), "r1", DAY)
    fs = s3fs.S3FileSystem()
    bucket = url.split("/")[2]
    fs.pipe_file(f"{bucket}/precious.txt", b"keep me")
    log = f"{url[5:]}/posts/_log"
    latest = sorted(fs.ls(log))[-1]
    entry = json.loads(fs.cat_file(latest))
    entry["files"]["../../precious.txt"] = {}
    fs.pipe_file(f"{log}/{int(latest.rsplit('/', 1)[1][:20]) + 1:020d}.json", json.dumps(entry).encode())
    with pytest.raises(StoreError, match="which is not a part file"):
        Store(url).compact("posts")
    assert fs.cat_file(f"{bucket}/precious.txt") == b"keep me"


@pytest.mark.prefect
def test_a_run_on_a_bucket_stores_matches_cursors_and_alert_state(prefect_harness, url, tmp_path, monkeypatch):
    """The whole pipeline with --data-dir s3://…: posts, matches, matched_posts, runs, health,
    cursors and alert state in the bucket; a second run adds nothing and catches up nothing."""
    import flows.pipeline as pipeline
    from connectors import registry

    monkeypatch.setitem(registry.KINDS, "once", "tests.flows.test_run_demo")
    monkeypatch.setattr(execution, "event", lambda **kw: None)
    sources = tmp_path / "once.toml"
    sources.write_text('[runner]\nbatch_size = 5\n[alerts]\nspreading_threshold = 1\n'
                       '[[sources]]\nname = "once"\nkind = "once"\n')
    first = pipeline.run_pipeline(config=str(sources), data_dir=url, return_state=True)
    assert first.is_completed(), first.message
    summary = first.result()
    assert summary["posts_new"] == 12 and summary["data_dir"] == url
    store = Store(url)
    assert store.read("posts").height == 12 and store.read("matches").height > 0
    assert store.read("matched_posts")["post_id"].n_unique() == 12
    assert store.read_cursors() == {"once": {"done": True}}
    assert store.read_state("alerts")  # a claim crossed the threshold of 1
    again = pipeline.run_pipeline(config=str(sources), data_dir=url, return_state=True).result()
    assert again["posts_new"] == 0 and again["matches_new"] == 0 and again["caught_up"] == 0
    assert Store(url).read("runs").height == 2


def test_report_and_review_read_and_write_a_bucket(url, tmp_path):
    """Every command that takes --data-dir takes a bucket: report (and --quality) and review
    list / mark / import read through the store and write the reviews table into the bucket."""
    from typer.testing import CliRunner

    from flows.cli import app
    from test_reviews import CLIP, FIRE, post_id, write_dataset

    def cw(*args):
        return CliRunner().invoke(app, [str(a) for a in args])

    write_dataset(url)
    res = cw("report", "--data-dir", url, "--format", "json", "--label", "all")
    assert res.exit_code == 0, res.output
    assert sorted(f["url"] for f in json.loads(res.stdout)["flags"]) == sorted(
        f"https://{p}.example/{n}" for p, n in [("mastodon", "m1"), ("mastodon", "m2"), ("youtube", "y1"),
                                               ("telegram", "t1"), ("telegram", "t2"), ("news", "n1")])
    res = cw("report", "--data-dir", url, "--claim", FIRE, "--view", "daily", "--format", "csv")
    assert res.exit_code == 0 and res.stdout.splitlines()[1].startswith(f"{FIRE},2024-11-20,1,"), res.output
    res = cw("review", "list", "--data-dir", url, "--format", "json")
    assert res.exit_code == 0 and len(json.loads(res.stdout)["queue"]) == 5, res.output
    res = cw("review", "mark", post_id("m1"), CLIP, "confirmed", "--reviewer", "ayesha", "--data-dir", url)
    assert res.exit_code == 0 and res.stdout.startswith("recorded confirmed"), res.output
    verdicts = tmp_path / "verdicts.csv"
    verdicts.write_text(f"post_id,claim_id,verdict,reviewer\n{post_id('m2')},{CLIP},not_this_claim,bilal\n")
    res = cw("review", "import", verdicts, "--data-dir", url)
    assert res.exit_code == 0 and res.stdout.startswith("recorded 1 verdicts"), res.output
    assert sorted(Store(url).read("reviews")["reviewer"]) == ["ayesha", "bilal"]
    assert all(f.startswith(f"{url}/reviews/date=") for f in Store(url).files("reviews"))
    res = cw("report", "--quality", "--data-dir", url, "--format", "json")
    assert res.exit_code == 0, res.output
    (overall,) = [r for r in json.loads(res.stdout)["quality"] if r["by"] == "all"]
    assert (overall["reviewed"], overall["confirmed"]) == (2, 1)
    # a bucket that is not there, or holds no dataset: one line each, nothing written
    for args, code, message in [(("report",), 1, "the bucket does not exist"),
                                (("review", "list"), 2, "the bucket does not exist"),
                                (("report", "--quality"), 1, "the bucket does not exist")]:
        res = cw(*args, "--data-dir", "s3://no-such-bucket-here/data")
        assert res.exit_code == code and message in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.output
    empty_prefix = f"{url.rsplit('/', 1)[0]}/nothing-here"
    res = cw("report", "--data-dir", empty_prefix)
    assert res.exit_code == 1 and f"no claimwatch data in {empty_prefix} (no Parquet files)" in res.stderr, res.output
