"""Reach over time: ``post_metrics`` snapshots from every fetch and from the by-id re-fetch of
recently flagged posts, and the account columns of ``posts``."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from connectors import bluesky, mastodon, reddit, telegram, youtube
from connectors.schema import make_post, metrics_frame, posts_frame
from flows.store import Store
from tests.connectors.support import loopback_client, payloads_dir
from tests.loopback import LoopbackServer

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "flows" / "demo" / "responses"
JSON = {"Content-Type": "application/json"}
SPREADING_URI = "at://did:plc:kaptaan4everxxxxxxxxxxxx/app.bsky.feed.post/3lakz3fwdns2x"


def demo_view(rkey: str = "3lakz3fwdns2x") -> dict:
    for page in ("searchPosts_page1.json", "searchPosts_page2.json"):
        for view in json.loads((DEMO / "bluesky" / page).read_text())["posts"]:
            if view["uri"].endswith(rkey):
                return view
    raise AssertionError(rkey)


def with_counts(view: dict, likes: int, reposts: int) -> dict:
    return {**view, "likeCount": likes, "repostCount": reposts}


# --- connectors: stable account ids and by-id re-fetch -----------------------------------------


def test_every_platform_records_a_stable_account_id_and_handle():
    root = payloads_dir()
    (bs,) = [r for r in bluesky.parse((root / "bluesky" / "getPosts.json").read_bytes())][:1]
    assert bs["author_id"].startswith("did:plc:") and bs["author_handle"] and "." in bs["author_handle"]
    listing = json.loads((root / "reddit" / "TestSubredditListings.test_new__01__200.json").read_text())
    rd = reddit.parse(json.dumps(listing).encode())[0]
    assert rd["author_id"] == rd["author_handle"] == "u/RedHeadQc"  # a 2016 answer: no author_fullname
    listing["data"]["children"][0]["data"]["author_fullname"] = "t2_abc12"  # what the API sends today
    assert reddit.parse(json.dumps(listing).encode())[0]["author_id"] == "t2_abc12"
    yt = youtube.parse_api((root / "youtube" / "videos" / "videos_info_single.json").read_bytes())[0]
    assert yt["author_id"].startswith("UC")
    feed = youtube.parse_feed((root / "youtube" / "feedjira__youtube_atom.xml").read_bytes())[0]
    assert feed["author_id"].startswith("UC")
    tg = telegram.parse((DEMO / "telegram" / "s_kaptaan_updates_pk.html").read_bytes())[0]
    assert (tg["author_id"], tg["author_handle"]) == ("kaptaan_updates_pk", "@kaptaan_updates_pk")
    ms = mastodon.parse((DEMO / "mastodon" / "tag_ImranKhan_page1.json").read_bytes(),
                        url="https://mastodon.social/api/v1/timelines/tag/ImranKhan")[0]
    assert ms["author_id"].startswith("mastodon.social/") and "@" in ms["author_handle"]
    assert isinstance(ms["author_followers"], int)


def test_telegram_pages_give_the_channels_subscribers():
    page = (b'<div class="tgme_channel_info_counters"><div class="tgme_channel_info_counter">'
            b'<span class="counter_value">12.3K</span> <span class="counter_type">subscribers</span></div></div>'
            + (DEMO / "telegram" / "s_kaptaan_updates_pk.html").read_bytes())
    rows = telegram.parse(page)
    assert rows and {r["author_followers"] for r in rows} == {12300}


def test_refetch_reads_posts_again_by_id_on_each_platform():
    view = with_counts(demo_view(), 500, 90)
    status = json.loads((DEMO / "mastodon" / "tag_ImranKhan_page1.json").read_text())[0]
    listing = json.loads((payloads_dir() / "reddit" / "TestSubredditListings.test_new__01__200.json").read_text())
    videos = (DEMO / "youtube" / "videos_imran_khan_trump.json").read_bytes()
    with LoopbackServer() as srv, loopback_client() as client:
        host = srv.url("/").split("://")[1].rstrip("/")
        srv.route("/xrpc/app.bsky.feed.getPosts", body=json.dumps({"posts": [view]}).encode(), headers=JSON)
        srv.route(f"/api/v1/statuses/{status['id']}", body=json.dumps({**status, "favourites_count": 77}).encode(),
                  headers=JSON)
        srv.route("/api/info.json", body=json.dumps(listing).encode(), headers=JSON)
        srv.route("/youtube/v3/videos", body=videos, headers=JSON)
        srv.route("/s/kaptaan_updates_pk", body=(DEMO / "telegram" / "s_kaptaan_updates_pk.html").read_bytes(),
                  headers={"Content-Type": "text/html"})

        bs = bluesky.Source("b", {"query": "x", "service": srv.url("")}, client).refetch([f"bluesky:{view['uri']}"])
        assert [(r["post_id"], r["likes"], r["reposts"]) for r in bs.posts] == [(f"bluesky:{view['uri']}", 500, 90)]
        assert any("getPosts?uris=" in r.path for r in srv.requests)

        ms = mastodon.Source("m", {"instance": srv.url(""), "hashtag": "x"}, client)
        out = ms.refetch([f"mastodon:{host}/{status['id']}", "mastodon:not-a-status"])
        assert [r["likes"] for r in out.posts] == [77] and "not a Mastodon status id" in out.warnings[0]

        names = [c["data"]["name"] for c in listing["data"]["children"][:3]]
        rd = reddit.Source("r", {"subreddit": "x", "base_url": srv.url("")}, client).refetch([f"reddit:{n}" for n in names])
        assert any(f"id={'%2C'.join(names)}" in r.path or f"id={','.join(names)}" in r.path for r in srv.requests)
        assert rd.posts

        import os

        os.environ["CW_TEST_YT_KEY"] = "k"
        try:
            yt = youtube.Source("y", {"query": "x", "api_key_env": "CW_TEST_YT_KEY", "base_url": srv.url("/youtube/v3")},
                                client).refetch(["youtube:Rk4ZpTq8vN0"])
        finally:
            del os.environ["CW_TEST_YT_KEY"]
        assert yt.posts and all(r["views"] is not None for r in yt.posts)

        tg_rows = telegram.parse((DEMO / "telegram" / "s_kaptaan_updates_pk.html").read_bytes())
        wanted = [r["post_id"] for r in tg_rows[-2:]]
        tg = telegram.Source("t", {"channel": "kaptaan_updates_pk", "base_url": srv.url("")}, client).refetch(wanted)
        assert sorted(r["post_id"] for r in tg.posts) == sorted(wanted)
        top = max(int(p.rsplit("/", 1)[1]) for p in wanted)
        assert srv.requests[-1].path.endswith(f"/s/kaptaan_updates_pk?before={top + 1}")


def test_sources_without_a_by_id_endpoint_say_so():
    from connectors import rss

    with loopback_client() as client:
        out = rss.Source("news", {"url": "https://news.example/feed.xml"}, client).refetch(["news:https://x"])
    assert out.posts == [] and "cannot re-read single posts" in out.warnings[0]


def test_metrics_frame_keeps_one_snapshot_per_post_with_counts():
    now = datetime(2026, 11, 28, 12, tzinfo=timezone.utc)
    rows = [make_post("bluesky", "at://a/1", likes=5, fetched_at=now, author_followers=10, source="s"),
            make_post("bluesky", "at://a/1", likes=6, fetched_at=now, source="s"),
            make_post("news", "https://x", text="no counts", fetched_at=now, source="n")]
    m = metrics_frame(posts_frame(rows), "fetch", "r1")
    assert m.select("post_id", "likes", "followers", "how", "run_id").rows() == [("bluesky:at://a/1", 5, 10, "fetch", "r1")]


# --- the flows: a post seen again keeps every snapshot ------------------------------------------


def _sources(tmp_path: Path, srv: LoopbackServer) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(f"""
[settings]
user_agent = "claimwatch-test/0.1 (+mailto:test@example.org)"
allow_private_links = true
retries = 0

[[sources]]
name = "bsky"
kind = "bluesky"
query = "Imran Khan Trump"
service = "{srv.url('')}"
""")
    return path


def _in_process():
    """The flow bodies as ``claimwatch run`` runs them with no Prefect API (flows/execution.py)."""
    from flows import execution, steps

    def call(body):
        def run(**kw):
            with execution.use(execution.LocalExecutor()):
                return body(**kw)
        return run

    return call(steps.ingest_and_detect), call(steps.refresh_metrics)


def _as_flows(request):
    request.getfixturevalue("prefect_harness")
    from flows.pipeline import refresh_metrics, run_pipeline

    return run_pipeline, refresh_metrics


@pytest.mark.parametrize("mode", ["in-process", pytest.param("prefect", marks=pytest.mark.prefect)])
def test_a_refetched_post_with_new_counts_keeps_both_snapshots(tmp_path, mode, request):
    run_pipeline, refresh_metrics = _in_process() if mode == "in-process" else _as_flows(request)
    view = demo_view()
    data_dir = tmp_path / "data"
    with LoopbackServer() as srv:
        srv.route("/xrpc/app.bsky.feed.searchPosts", body=json.dumps({"posts": [with_counts(view, 12, 3)]}).encode(),
                  headers=JSON)
        srv.route("/xrpc/app.bsky.feed.getPosts", body=json.dumps({"posts": [with_counts(view, 1200, 300)]}).encode(),
                  headers=JSON)
        sources = _sources(tmp_path, srv)
        run_pipeline(config=str(sources), data_dir=str(data_dir))
        store = Store(data_dir)
        flagged = store.read("matches").filter(pl.col("post_id") == f"bluesky:{view['uri']}")
        assert set(flagged["label"]) & {"likely_misinformation", "needs_review"}, flagged
        out = refresh_metrics(config=str(sources), data_dir=str(data_dir))
        assert out["due"] == 1 and out["snapshots"] == 1 and out["errors"] == {}
        # a second run seeing the post again in search adds a third snapshot, not a posts row
        srv.route("/xrpc/app.bsky.feed.searchPosts", body=json.dumps({"posts": [with_counts(view, 1500, 320)]}).encode(),
                  headers=JSON)
        store.save_cursors({"bsky": {}})
        run_pipeline(config=str(sources), data_dir=str(data_dir))
    metrics = store.read("post_metrics").sort("observed_at")
    assert metrics.select("how", "likes", "reposts").rows() == [("fetch", 12, 3), ("refetch", 1200, 300),
                                                               ("fetch", 1500, 320)]
    assert metrics["observed_at"].is_sorted() and metrics["post_id"].unique().to_list() == [f"bluesky:{view['uri']}"]
    posts = store.read("posts")
    assert posts.height == 1  # the text did not change: one posts row, its first counts
    assert posts.row(0, named=True)["likes"] == 12
    assert posts.row(0, named=True)["author_id"] == view["author"]["did"]


def test_only_recent_flagged_posts_are_due_for_a_refetch(tmp_path):
    from flows.steps import posts_to_refresh

    store = Store(tmp_path)
    now = datetime(2026, 11, 28, 12, tzinfo=timezone.utc)
    rows = [make_post("reddit", f"t3_{i}", text="x", source="r", fetched_at=now - timedelta(hours=h))
            for i, h in enumerate((1, 47, 49, 2))]
    store.write("posts", posts_frame(rows), "r1", now.date())
    store.write("matches", pl.DataFrame({"post_id": ["reddit:t3_0", "reddit:t3_1", "reddit:t3_2", "reddit:t3_3"],
                                         "claim_id": ["c"] * 4, "catalogue_version": ["v"] * 4,
                                         "label": ["likely_misinformation", "needs_review", "likely_misinformation",
                                                   "no_flag"]}), "r1", now.date())
    assert posts_to_refresh(store, now, 48).rows() == [("reddit:t3_0", "r"), ("reddit:t3_1", "r")]


def test_claimwatch_run_in_process_writes_post_metrics_and_languages(tmp_path):
    """`claimwatch run` with no Prefect API (flows/execution.py's in-process mode) stores a reach
    snapshot of every fetched post that carries counts, and a language for every post with text."""
    from typer.testing import CliRunner

    from connectors.lang import MIN_LETTERS
    from flows.cli import app

    data_dir = tmp_path / "data"
    result = CliRunner().invoke(app, ["run", "--local", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    store = Store(data_dir)
    posts, metrics = store.read("posts"), store.read("post_metrics")
    counted = posts.filter(pl.any_horizontal(pl.col(c).is_not_null() for c in ("likes", "reposts", "replies", "views")))
    assert counted.height and sorted(metrics["post_id"]) == sorted(counted["post_id"])
    assert set(metrics["how"]) == {"fetch"} and metrics["run_id"].to_list() == [posts["run_id"][0]] * metrics.height
    letters = (pl.concat_str([pl.col("title").fill_null(""), pl.col("text").fill_null(""),
                              pl.col("transcript").fill_null("")], separator="\n")
               .str.count_matches(r"\p{L}"))
    assert posts.filter((letters >= MIN_LETTERS) & pl.col("lang").is_null()).is_empty()
    assert "roman-ur" in posts["lang"].to_list()


def test_a_refresh_run_is_named_with_what_was_re_read_and_what_failed_in_60_characters():
    from flows import ui

    at = datetime(2026, 12, 3, 9, 5, tzinfo=timezone.utc)
    assert ui.refresh_name(at, 48) == "refresh Dec 03 09:05Z · flagged posts of 48 h"
    result = {"due": 14, "snapshots": 12, "errors": {"reddit-pakistan-news-and-politics": "x", "bsky": "y"}}
    name = ui.refresh_name(at, 48, result)
    assert name.startswith("refresh Dec 03 09:05Z · 12/14 re-read · failed: ") and len(name) <= 60, name
    assert "bsky" in name


def test_a_video_read_again_without_its_captions_is_not_stored_again_as_an_edit(tmp_path, monkeypatch):
    """videos.list gives no captions: the re-read keeps the stored transcript, so only its counts
    are new (a snapshot) and ``posts`` keeps one row with the captions; an edited description is
    stored again, with the captions carried over. Only the videos asked for are counted."""
    from connectors.schema import content_hash
    from flows import execution, steps

    videos = json.loads((DEMO / "youtube" / "videos_imran_khan_trump.json").read_text())
    first = youtube.parse_api(json.dumps(videos).encode())
    wanted = {"youtube:Rk4ZpTq8vN0", "youtube:bW2cXy7Lh1s"}
    now = datetime.now(timezone.utc)
    stored = []
    for row in first:
        if row["post_id"] in wanted:
            row = {**row, "source": "yt", "fetched_at": now - timedelta(hours=1), "transcript": f"captions of {row['post_id']}",
                   "lang": "ur"}
            row["content_hash"] = content_hash(row["title"], row["text"], row["transcript"])
            stored.append(row)
    data_dir = tmp_path / "data"
    store = Store(data_dir)
    store.write("posts", posts_frame(stored), "r1", now.date())
    store.write("matches", pl.DataFrame({"post_id": sorted(wanted), "claim_id": ["c", "c"], "catalogue_version": ["v", "v"],
                                         "label": ["likely_misinformation", "needs_review"]}), "r1", now.date())
    for item in videos["items"]:
        item["statistics"]["viewCount"] = str(int(item["statistics"]["viewCount"]) * 10)
        if item["id"] == "bW2cXy7Lh1s":
            item["snippet"]["description"] += " (updated)"
    monkeypatch.setenv("CW_TEST_YT_KEY", "k")
    with LoopbackServer() as srv:
        srv.route("/youtube/v3/videos", body=json.dumps(videos).encode(), headers=JSON)  # all five, as a cache might
        sources = tmp_path / "sources.toml"
        sources.write_text(f"""
[settings]
allow_private_links = true
retries = 0

[[sources]]
name = "yt"
kind = "youtube"
query = "Imran Khan Trump"
api_key_env = "CW_TEST_YT_KEY"
base_url = "{srv.url('/youtube/v3')}"
""")
        with execution.use(execution.LocalExecutor()):
            out = steps.refresh_metrics(config=str(sources), data_dir=str(data_dir))
    assert out["errors"] == {} and out["sources"] == {"yt": {"asked": 2, "read": 2}}
    assert out["snapshots"] == 2 and out["edited"] == 1
    metrics = store.read("post_metrics")
    assert sorted(metrics["post_id"]) == sorted(wanted) and set(metrics["how"]) == {"refetch"}
    posts = store.read("posts").sort("fetched_at")
    assert posts.filter(pl.col("post_id") == "youtube:Rk4ZpTq8vN0").height == 1  # counts only: not stored again
    edited = posts.filter(pl.col("post_id") == "youtube:bW2cXy7Lh1s")
    assert edited.height == 2 and edited["text"][-1].endswith("(updated)")
    latest = edited.row(-1, named=True)
    assert latest["transcript"] == "captions of youtube:bW2cXy7Lh1s" and latest["lang"] == "ur"
    assert latest["content_hash"] == content_hash(latest["title"], latest["text"], latest["transcript"])
