import copy
import json
from datetime import timedelta
from pathlib import Path

import pytest

from connectors import bluesky
from connectors.errors import ConfigError, HTTPStatusError, ParseError
from tests.connectors.support import assert_slow_and_cut_off_answers_fail, loopback_client as client
from tests.loopback import LoopbackServer, Reply

FIX = Path(__file__).parent / "fixtures" / "bluesky"
SEARCH = "/xrpc/app.bsky.feed.searchPosts"
JSON = {"Content-Type": "application/json; charset=utf-8"}


def body(name):
    return (FIX / name).read_bytes()


def source(srv, c, **opts):
    return bluesky.Source("bsky", {"service": srv.url(""), "query": "Imran Khan Trump", "limit": 3, **opts}, c)


def ok(data):
    return Reply(200, data if isinstance(data, bytes) else json.dumps(data).encode(), JSON)


# -- parse -------------------------------------------------------------------------------------

def test_get_posts_answer_facets_images_and_counts():
    [row] = bluesky.parse(body("getPosts.json"), source="s")
    assert row["post_id"] == "bluesky:at://did:plc:ic6zqvuw5ulmfpjiwnhsr2ns/app.bsky.feed.post/3k7qmjev5lr2s"
    assert row["url"] == "https://bsky.app/profile/soubhikbarari.bsky.social/post/3k7qmjev5lr2s"
    assert row["links"] == ["https://localview.net/", "https://rstats.ai/gov.html"]
    assert row["media_urls"][0].startswith("https://cdn.bsky.app/img/feed_fullsize/")
    assert (row["likes"], row["reposts"], row["replies"]) == (4, 0, 0)
    assert row["lang"] == "en" and row["author"] == "soubhikbarari.bsky.social"
    assert row["published_at"].isoformat() == "2023-09-19T11:32:54.574000+00:00"


def test_external_embed_becomes_a_link():
    rows = bluesky.parse(body("search_page2.json"))
    ext = [r for r in rows if "https://github.com/christopherkenny/harvard-diss" in r["links"]]
    assert ext and ext[0]["author"] == "chriskenny.bsky.social"


def test_video_embed_and_youtube_link_and_record_with_media():
    post = json.loads(body("getPosts.json"))["posts"][0]
    post["embed"] = {"$type": "app.bsky.embed.recordWithMedia#view",
                     "media": {"$type": "app.bsky.embed.video#view", "cid": "bafy",
                               "playlist": "https://video.bsky.app/watch/did%3Aplc%3Aabc/bafy/playlist.m3u8",
                               "thumbnail": "https://video.bsky.app/watch/did%3Aplc%3Aabc/bafy/thumbnail.jpg"},
                     "record": {"record": {}}}
    post["record"]["facets"].append({"features": [{"$type": "app.bsky.richtext.facet#link",
                                                   "uri": "https://youtu.be/dQw4w9WgXcQ?si=x"}],
                                     "index": {"byteStart": 0, "byteEnd": 5}})
    [row] = bluesky.parse(json.dumps({"posts": [post]}).encode())
    assert row["media_urls"] == ["https://video.bsky.app/watch/did%3Aplc%3Aabc/bafy/playlist.m3u8"]
    assert row["video_ids"] == ["youtube:dQw4w9WgXcQ",
                                "https://video.bsky.app/watch/did%3Aplc%3Aabc/bafy/playlist.m3u8"]


def test_invalid_handle_null_fields_and_a_broken_item():
    posts = json.loads(body("search_page1.json"))["posts"]
    posts[0]["author"]["handle"] = "handle.invalid"
    posts[1]["record"]["langs"] = None
    posts[1]["record"]["facets"] = None
    posts[1]["embed"] = None
    posts[1].pop("likeCount")
    posts.append({"cid": "no uri"})
    posts.append(None)
    rows, skipped = bluesky.parse_counted(json.dumps({"posts": posts}).encode())
    assert skipped == 2 and len(rows) == 3
    did = posts[0]["author"]["did"]
    assert rows[0]["url"].startswith(f"https://bsky.app/profile/{did}/post/") and rows[0]["author"] == did
    assert rows[1]["lang"] is None and rows[1]["likes"] is None


def test_author_feed_shape_is_read_too():
    feed = {"feed": [{"post": p} for p in json.loads(body("search_page2.json"))["posts"]]}
    assert len(bluesky.parse(json.dumps(feed).encode())) == 3


def test_error_and_wrong_shapes():
    with pytest.raises(ParseError, match="BadQueryString"):
        bluesky.parse(b'{"error":"BadQueryString","message":"Error: q is required"}')
    with pytest.raises(ParseError, match="no 'posts'"):
        bluesky.parse(b'{"cursor":"x"}')
    with pytest.raises(ParseError, match="not valid JSON"):
        bluesky.parse(b"<html>")


# -- fetch -------------------------------------------------------------------------------------

def test_pages_follow_the_cursor_and_the_next_run_asks_since_newest():
    page1, page2 = json.loads(body("search_page1.json"))["posts"], json.loads(body("search_page2.json"))["posts"]
    with LoopbackServer() as srv:
        srv.route(SEARCH, [ok(body("search_page1.json")), ok(body("search_page2.json"))])
        result = source(srv, client()).fetch(None)
        assert result.requests == 2 and len(result.posts) == 6
        assert "cursor=3" in srv.requests[1][1] and "q=Imran+Khan+Trump" in srv.requests[0][1]
        assert "sort=latest" in srv.requests[0][1] and "since=" not in srv.requests[0][1]
        newest = max(bluesky.sort_time(p) for p in page1 + page2)
        assert result.cursor["newest"] == bluesky._iso(newest)
        assert result.cursor["since"] == bluesky._iso(newest - timedelta(minutes=15))
        assert sorted(result.cursor["seen"]) == sorted(p["uri"] for p in page1 + page2)
        cursor = result.cursor

        # the overlap brings back posts already delivered, and one new post indexed late
        late = copy.deepcopy(page1[0])
        late["uri"] = late["uri"][:-5] + "zzzzz"
        late["record"]["createdAt"] = "2020-01-01T00:00:00.000Z"  # backdated: sort time is createdAt
        srv.route(SEARCH, ok({"posts": page1 + [late]}))
        again = source(srv, client()).fetch(cursor)
        assert f"since={cursor['since'].replace(':', '%3A')}" in srv.requests[-1][1]
        assert [p["post_id"] for p in again.posts] == [f"bluesky:{late['uri']}"]
        assert again.cursor["newest"] == cursor["newest"]  # an older sort time does not move it back
        assert late["uri"] in again.cursor["seen"]


def test_sort_time_is_the_earlier_of_created_and_indexed():
    view = {"indexedAt": "2024-11-09T07:41:13.118Z", "record": {"createdAt": "2024-11-09T07:40:00Z"}}
    assert bluesky._iso(bluesky.sort_time(view)) == "2024-11-09T07:40:00.000Z"
    assert bluesky.sort_time({"record": {"createdAt": "not a date"}}) is None


def test_max_pages_bounds_the_first_run_without_a_gap():
    with LoopbackServer() as srv:
        srv.route(SEARCH, ok(body("search_page1.json")))
        result = source(srv, client(), max_pages=1).fetch(None)
        assert result.requests == 1 and "gap" not in result.cursor
        [warning] = result.warnings
        assert "max_pages=1" in warning and "first run" in warning and "raise max_pages" in warning


def test_app_password_session(monkeypatch):
    monkeypatch.setenv("CW_BSKY_HANDLE", "desk.example.org")
    monkeypatch.setenv("CW_BSKY_PASSWORD", "abcd-efgh-ijkl-mnop")
    with LoopbackServer() as srv:
        srv.route(bluesky.CREATE_SESSION, ok({"accessJwt": "jwt-123", "refreshJwt": "r", "did": "did:plc:x"}))
        srv.route(SEARCH, ok(body("search_page2.json")))
        c = client()
        src = source(srv, c, handle_env="CW_BSKY_HANDLE", app_password_env="CW_BSKY_PASSWORD",
                     auth_service=srv.url(""), service="http://unused.invalid")
        result = src.fetch(None)
        assert len(result.posts) == 3
        assert srv.requests[0][:2] == ("POST", bluesky.CREATE_SESSION)
        assert json.loads(srv.posted(bluesky.CREATE_SESSION)[0]) == {"identifier": "desk.example.org",
                                                                   "password": "abcd-efgh-ijkl-mnop"}
        search_req = [r for r in srv.requests if r[1].startswith(SEARCH)][0]
        assert search_req[2].get("Authorization") == "Bearer jwt-123"
        assert c.mask("x jwt-123 abcd-efgh-ijkl-mnop") == "x *** ***"  # never in a message


def test_429_with_retry_after_then_success():
    with LoopbackServer() as srv:
        srv.route(SEARCH, [Reply(429, b"", {"Retry-After": "2"}), ok(body("search_page2.json"))])
        c = client()
        assert len(source(srv, c).fetch(None).posts) == 3 and c.sleeps == [2.0]


def test_500_then_success():
    with LoopbackServer() as srv:
        srv.route(SEARCH, [Reply(502, b"bad gateway"), ok(body("search_page2.json"))])
        assert len(source(srv, client()).fetch(None).posts) == 3


def test_403_is_a_status_error():
    with LoopbackServer() as srv:
        srv.route(SEARCH, Reply(403, b'{"error":"Forbidden"}', JSON))
        with pytest.raises(HTTPStatusError, match="403.*needs? a session: set handle_env"):
            source(srv, client()).fetch(None)


def test_timeout_truncated_html_and_invalid_json():
    with LoopbackServer() as srv:
        assert_slow_and_cut_off_answers_fail(srv, SEARCH, body("search_page2.json"), JSON, 300,
                                             lambda **kw: source(srv, client(**kw)).fetch(None))
        srv.route(SEARCH, Reply(200, b"<!doctype html><title>Bluesky</title>", {"Content-Type": "text/html"}))
        with pytest.raises(ParseError, match="sent text/html"):
            source(srv, client()).fetch(None)
        srv.route(SEARCH, Reply(200, b'{"posts": [', JSON))
        with pytest.raises(ParseError):
            source(srv, client()).fetch(None)


def test_query_is_required():
    with pytest.raises(ConfigError, match="query"):
        bluesky.Source("b", {}, None)


def test_wrong_app_password_names_the_server_error_and_is_not_retried(monkeypatch):
    monkeypatch.setenv("CW_BSKY_HANDLE", "desk.example.org")
    monkeypatch.setenv("CW_BSKY_PASSWORD", "abcd-efgh-ijkl-mnop")
    with LoopbackServer() as srv:
        srv.route(bluesky.CREATE_SESSION, Reply(401, b'{"error":"AuthenticationRequired","message":"Invalid '
                                                     b'identifier or password"}', JSON))
        with pytest.raises(HTTPStatusError, match="AuthenticationRequired: Invalid identifier or password.*"
                                                  "check the handle and app password") as err:
            source(srv, client(retries=3), handle_env="CW_BSKY_HANDLE", app_password_env="CW_BSKY_PASSWORD",
                   auth_service=srv.url("")).fetch(None)
        assert len(srv.requests) == 1 and "abcd-efgh" not in str(err.value)
        srv.route(bluesky.CREATE_SESSION, Reply(500, b"oops"))
        with pytest.raises(HTTPStatusError, match="500"):
            source(srv, client(retries=3), handle_env="CW_BSKY_HANDLE", app_password_env="CW_BSKY_PASSWORD",
                   auth_service=srv.url("")).fetch(None)
        assert len(srv.requests) == 2  # a POST that may have opened a session is not repeated


# -- max_pages before the last run's posts: the gap is kept, not jumped ----------------------------

def views(*stamps, cursor=None):
    """A searchPosts page with one post per ISO time (sort time = that time)."""
    template = json.loads(body("search_page1.json"))["posts"][0]
    posts = []
    for t in stamps:
        p = copy.deepcopy(template)
        p["uri"] = f"at://did:plc:x/app.bsky.feed.post/{t.replace(':', '').replace('-', '').replace('.', '')}"
        p["indexedAt"] = p["record"]["createdAt"] = t
        posts.append(p)
    return ok({"posts": posts, **({"cursor": cursor} if cursor else {})})


def t(minute):
    return f"2024-11-09T08:{minute:02d}:00.000Z"


LAST = {"since": t(0), "newest": t(15), "seen": []}


def test_a_run_that_runs_out_of_pages_keeps_the_gap_and_says_what_to_do():
    with LoopbackServer() as srv:
        srv.route(SEARCH, [views(t(50), t(49), cursor="2"), views(t(48), t(47), cursor="4")])
        result = source(srv, client(), limit=2, max_pages=2).fetch(LAST)
    assert len(result.posts) == 4
    assert result.cursor["newest"] == t(50) and result.cursor["since"] == t(35)
    assert result.cursor["gap"] == {"since": t(0), "until": "2024-11-09T08:47:00.001Z"}
    [warning] = result.warnings
    assert "max_pages=2" in warning and "from 2024-11-09T08:00:00.000Z to 2024-11-09T08:47:00.001Z" in warning
    assert "raise max_pages (or limit) or run more often" in warning


def test_the_next_runs_read_new_posts_first_then_close_the_gap_by_time():
    cursor = {"since": t(35), "newest": t(50), "seen": [],
              "gap": {"since": t(0), "until": "2024-11-09T08:47:00.001Z"}}
    with LoopbackServer() as srv:
        srv.route(SEARCH, [views(t(51)), views(t(47), t(46), cursor="2")])
        second = source(srv, client(), limit=2, max_pages=2).fetch(cursor)
        top, gap = srv.requests[0][1], srv.requests[1][1]
        assert "since=2024-11-09T08%3A35" in top and "until=" not in top
        assert "until=2024-11-09T08%3A47%3A00.001Z" in gap and "since=2024-11-09T08%3A00" in gap
        assert "cursor=" not in gap  # the gap is resumed by time, not by a stale page cursor
        assert len(second.posts) == 3 and second.cursor["newest"] == t(51)
        assert second.cursor["gap"] == {"since": t(0), "until": "2024-11-09T08:46:00.001Z"}
        assert len(second.warnings) == 1

        srv.route(SEARCH, [views(), views(t(46), t(20))])
        third = source(srv, client(), limit=2, max_pages=2).fetch(second.cursor)
        assert "until=2024-11-09T08%3A46%3A00.001Z" in srv.requests[-1][1]
        assert [p["published_at"].minute for p in third.posts] == [20]  # 08:46 was delivered already
        assert "gap" not in third.cursor and third.warnings == []
        assert third.cursor["newest"] == t(51)


def test_new_posts_filling_every_page_again_widen_the_gap():
    cursor = {"since": t(35), "newest": t(50), "seen": [],
              "gap": {"since": t(0), "until": "2024-11-09T08:47:00.001Z"}}
    with LoopbackServer() as srv:
        srv.route(SEARCH, views(t(59), t(58), cursor="2"))
        result = source(srv, client(), limit=2, max_pages=1).fetch(cursor)
    assert result.requests == 1
    assert result.cursor["gap"] == {"since": t(0), "until": "2024-11-09T08:58:00.001Z"}
    assert result.cursor["newest"] == t(59)


def test_sort_top_is_not_in_time_order_so_no_gap_is_kept():
    with LoopbackServer() as srv:
        srv.route(SEARCH, views(t(50), t(49), cursor="2"))
        result = source(srv, client(), limit=2, max_pages=1, sort="top").fetch(LAST)
    assert "gap" not in result.cursor and "older matching posts were not read" in result.warnings[0]
