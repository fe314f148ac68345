import gzip
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.commands import parse as parse_cmd
from tests.connectors.support import NO_PAYLOADS, payloads_dir

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "connectors" / "fixtures"


PAYLOADS = payloads_dir()


def run(kind, *files, **kw):
    out, err = io.StringIO(), io.StringIO()
    code = parse_cmd.run(kind, [str(f) for f in files], out=out, err=err, **kw)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    return code, rows, err.getvalue()


def test_rss_rows_as_jsonl_with_source_file_and_iso_times():
    code, rows, err = run("rss", FIX / "rss/page1.xml", url="https://desk.example/feed.xml", source="desk")
    assert (code, err) == (0, "")
    assert [r["post_id"] for r in rows] == ["news:https://desk.example/news/clip", "news:https://desk.example/news/second"]
    assert rows[0]["published_at"] == "2024-11-21T10:00:00+00:00"
    assert all(r["source_file"] == str(FIX / "rss/page1.xml") and r["source"] == "desk" for r in rows)


def test_bad_files_get_one_line_each_and_the_others_are_still_parsed(tmp_path):
    empty = tmp_path / "empty.xml"
    empty.write_bytes(b"")
    code, rows, err = run("rss", FIX / "hostile/billion_laughs.xml", tmp_path / "missing.xml", empty,
                          FIX / "rss/page2.xml", tmp_path)
    assert code == 1
    assert [r["title"] for r in rows] == ["Older story"]
    lines = err.splitlines()
    assert lines == [
        f"{FIX / 'hostile/billion_laughs.xml'}: feed: declares entities that expand other entities; refused (entity expansion attack)",
        f"{tmp_path / 'missing.xml'}: no such file",
        f"{empty}: empty document; expected an RSS, Atom or JSON feed",
        f"{tmp_path}: is a folder; give the files inside it",
    ]


def test_article_gives_one_row_per_page_with_title_and_text():
    code, rows, _ = run("article", FIX / "article/story.html")
    assert code == 0 and len(rows) == 1
    assert rows[0]["title"] == "Edited clip of Trump on Imran Khan circulates" and "stitched" in rows[0]["text"]


def test_claimreview_gives_one_row_per_review():
    code, rows, _ = run("claimreview", FIX / "claimreview/list.html", FIX / "claimreview/none.html")
    assert code == 0 and [r["verdict"] for r in rows] == ["false", "missing-context"]
    assert all(r["status"] == "imported" for r in rows)


def test_deep_json_and_gzip_bomb_files_fail_cleanly(tmp_path):
    bomb = tmp_path / "bomb.xml.gz"
    with gzip.open(bomb, "wb") as fh:
        for _ in range(60):
            fh.write(bytes(1024 * 1024))
    code, rows, err = run("rss", FIX / "hostile/deep.json", bomb)
    assert code == 1 and rows == []
    assert "nested deeper than 200 levels" in err
    assert f"{bomb}: gzip file: decompressed body larger than" in err


def test_gzip_files_are_inflated(tmp_path):
    packed = tmp_path / "feed.xml.gz"
    packed.write_bytes(gzip.compress((FIX / "rss/page2.xml").read_bytes()))
    assert run("rss", packed)[1][0]["title"] == "Older story"


def test_unknown_kind_is_a_usage_error():
    code, rows, err = run("nonsense", FIX / "rss/page1.xml")
    assert code == 2 and rows == [] and "unknown parse kind 'nonsense'" in err


@pytest.mark.skipif(not PAYLOADS.is_dir(), reason=NO_PAYLOADS)
def test_every_real_feed_and_page_through_the_command():
    feeds = sorted((PAYLOADS / "feeds").glob("*"))
    code, rows, err = run("rss", *feeds)
    failed = err.splitlines()
    assert len(failed) == 6 and all("FirstEntry" in line and "not an RSS, Atom or JSON feed" in line for line in failed)
    assert code == 1 and len({r["source_file"] for r in rows}) == len(feeds) - 6


def test_console_script_exit_codes_no_traceback_and_fast_start(tmp_path):
    exe = [sys.executable, "-m", "flows.cli"]
    started = time.monotonic()
    ok = subprocess.run([*exe, "parse", "rss", str(FIX / "rss/page2.xml")], capture_output=True, text=True, cwd=ROOT)
    elapsed = time.monotonic() - started
    print(f"\nclaimwatch parse rss (one feed): {elapsed:.2f}s")
    assert ok.returncode == 0 and json.loads(ok.stdout)["title"] == "Older story"
    bad = subprocess.run([*exe, "parse", "rss", str(FIX / "hostile/xxe.xml"), str(tmp_path / "nope")],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and len(bad.stderr.splitlines()) == 2
    usage = subprocess.run([*exe, "parse", "rss"], capture_output=True, text=True, cwd=ROOT)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
    assert elapsed < 5


def test_identical_caption_files_keep_the_id_of_their_own_name(tmp_path):
    body = (FIX / "captions" / "sample.vtt").read_bytes()
    (tmp_path / "a.vtt").write_bytes(body)
    (tmp_path / "b.vtt").write_bytes(body)
    code, rows, err = run("captions", tmp_path / "a.vtt", tmp_path / "b.vtt")
    assert (code, err) == (0, "")
    assert [r["post_id"] for r in rows] == [f"captions:{tmp_path / 'a.vtt'}", f"captions:{tmp_path / 'b.vtt'}"]


def test_parse_path_does_not_import_prefect():
    code = ("import sys; from flows.cli import app; from flows.commands import parse; "
            f"parse.run('rss', [{str(FIX / 'rss/page2.xml')!r}]); "
            "print('prefect' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stderr


def test_captions_files_get_their_own_rows_with_cue_times():
    caps = FIX / "captions"
    code, rows, err = run("captions", caps / "sample.vtt", caps / "sample.srt", caps / "youtube_dl.vtt")
    assert (code, err) == (0, "")
    assert [r["source_file"] for r in rows] == [str(caps / n) for n in ("sample.vtt", "sample.srt", "youtube_dl.vtt")]
    assert [r["post_id"] for r in rows] == [f"captions:{caps / n}" for n in ("sample.vtt", "sample.srt", "youtube_dl.vtt")]
    assert rows[2]["transcript_cues"][0] == {"start": 286.07, "end": 286.47, "text": "yeah"}
    assert rows[2]["transcript"].splitlines() == [c["text"] for c in rows[2]["transcript_cues"]]
