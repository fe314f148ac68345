import copy
import json
from pathlib import Path

import pytest

from connectors import reddit
from connectors.errors import ConfigError, HTTPStatusError, ParseError
from tests.connectors.support import assert_slow_and_cut_off_answers_fail, loopback_client
from tests.loopback import LoopbackServer, Reply

FIX = Path(__file__).parent / "fixtures" / "reddit"
NEW = "/r/pakistan/new.json"
JSON = {"Content-Type": "application/json; charset=UTF-8"}


def body(name):
    return (FIX / name).read_bytes()


def client(**settings):
    return loopback_client(**{"user_agent": "claimwatch/0.1 (+mailto:desk@example.org)", **settings})


def source(srv, c, **opts):
    return reddit.Source("reddit-pk", {"base_url": srv.url(""), "subreddit": "pakistan", "limit": 4, **opts}, c)


def ok(data):
    return Reply(200, data if isinstance(data, bytes) else json.dumps(data).encode(), JSON)


def listing(posts, after=None):
    """A /new.json page of ``posts`` [(fullname, created_utc)], each a copy of a real child."""
    page = json.loads(body("new_page2.json"))
    template = page["data"]["children"][0]
    children = []
    for name, t in posts:
        child = copy.deepcopy(template)
        child["data"].update(name=name, id=name[3:], created_utc=t,
                             permalink=f"/r/pakistan/comments/{name[3:]}/x/")
        children.append(child)
    page["data"].update(children=children, after=after)
    return ok(page)


# -- parse -------------------------------------------------------------------------------------

def test_listing_rows():
    rows = reddit.parse(body("new_page1.json"), source="s")
    assert [r["post_id"] for r in rows] == ["reddit:t3_48fbm9", "reddit:t3_48fbig", "reddit:t3_48fbgl", "reddit:t3_48fbg9"]
    r = rows[0]
    assert r["url"].startswith("https://www.reddit.com/r/AskReddit/comments/48fbm9/")
    assert r["title"] and r["published_at"].timestamp() == 1456821458.0
    assert r["likes"] is not None and r["replies"] is not None


def test_deleted_author_youtube_links_and_oembed():
    rows = {r["post_id"]: r for r in reddit.parse(body("mixed.json"))}
    assert rows["reddit:t3_fn67j"]["author"] is None  # [deleted]
    yt = rows["reddit:t3_oixhc"]
    assert "youtube:AxSulCgmJJA" in yt["video_ids"] and len(yt["video_ids"]) > 10
    imgur = rows["reddit:t3_3rxnot"]
    assert imgur["links"] == ["https://imgur.com/a/cJLBx"]  # the oEmbed iframe (embedly) is not a link of its own


def test_reddit_hosted_video_and_youtube_link_post():
    listing = json.loads(body("new_page2.json"))
    d = listing["data"]["children"][0]["data"]
    d.update(is_video=True, url="https://v.redd.it/abc123xyz", is_self=False,
             secure_media={"reddit_video": {"fallback_url": "https://v.redd.it/abc123xyz/DASH_720.mp4?source=fallback",
                                            "hls_url": "https://v.redd.it/abc123xyz/HLSPlaylist.m3u8"}})
    d2 = listing["data"]["children"][1]["data"]
    d2.update(url="https://youtu.be/dQw4w9WgXcQ?si=x", is_self=False, selftext="",
              secure_media={"type": "youtube.com", "oembed": {
                  "html": '<iframe src="https://www.youtube.com/embed/dQw4w9WgXcQ?feature=oembed"></iframe>'}})
    rows = reddit.parse(json.dumps(listing).encode())
    assert rows[0]["video_ids"] == ["https://v.redd.it/abc123xyz"]
    assert rows[0]["media_urls"] == ["https://v.redd.it/abc123xyz/DASH_720.mp4?source=fallback"]
    assert rows[1]["video_ids"] == ["youtube:dQw4w9WgXcQ"]
    assert rows[1]["links"] == ["https://youtube.com/watch?v=dQw4w9WgXcQ"]


def test_gallery_items_are_media():
    listing = json.loads(body("new_page2.json"))
    listing["data"]["children"][0]["data"]["media_metadata"] = {
        "abc": {"status": "valid", "e": "Image", "m": "image/jpg",
                "s": {"y": 1080, "x": 1920, "u": "https://preview.redd.it/abc.jpg?width=1920&amp;format=pjpg"}},
        "bad": {"status": "failed"},
    }
    assert reddit.parse(json.dumps(listing).encode())[0]["media_urls"] == [
        "https://preview.redd.it/abc.jpg?width=1920&amp;format=pjpg"]


def test_null_fields_removed_text_and_broken_children():
    listing = json.loads(body("new_page2.json"))
    ch = listing["data"]["children"]
    ch[0]["data"].update(selftext="[removed]", author="[deleted]", score=None, num_comments=None, media=None)
    ch[1]["data"].pop("created_utc")
    ch[2]["data"] = None
    ch.append({"kind": "more", "data": {"count": 3}})
    ch.append("junk")
    rows, skipped, after = reddit.parse_counted(json.dumps(listing).encode())
    assert skipped == 2 and len(rows) == 3 and after is None
    assert rows[0]["text"] is None and rows[0]["author"] is None and rows[0]["likes"] is None
    assert rows[1]["published_at"] is None


def test_not_a_listing():
    with pytest.raises(ParseError, match="not a Reddit Listing"):
        reddit.parse(b'{"kind": "t3", "data": {}}')
    with pytest.raises(ParseError, match="error"):
        reddit.parse(b'{"message": "Too Many Requests", "error": 429}')
    with pytest.raises(ParseError, match="not valid JSON"):
        reddit.parse(b"<html><body>blocked</body></html>")


# -- fetch -------------------------------------------------------------------------------------

def test_after_paging_user_agent_and_raw_json():
    with LoopbackServer() as srv:
        srv.route(NEW, [ok(body("new_page1.json")), ok(body("new_page2.json"))])
        result = source(srv, client()).fetch(None)
        assert result.requests == 2 and len(result.posts) == 8
        assert "after=t3_48fbg9" in srv.requests[1][1] and "raw_json=1" in srv.requests[0][1]
        assert srv.requests[0][2]["User-Agent"] == "claimwatch/0.1 (+mailto:desk@example.org)"
        assert result.cursor["newest"] == "t3_48fbm9" and result.cursor["newest_utc"] == 1456821458.0


def test_next_run_stops_at_posts_already_seen():
    with LoopbackServer() as srv:
        srv.route(NEW, [ok(body("new_page1.json")), ok(body("new_page2.json"))])
        cursor = {"newest": "t3_48fbgl", "newest_utc": 1456821354.0, "seen": ["t3_48fbgl"]}
        result = source(srv, client()).fetch(cursor)
        assert [p["post_id"] for p in result.posts] == ["reddit:t3_48fbm9", "reddit:t3_48fbig"]
        assert result.requests == 1  # page 2 is older than the cursor: not fetched
        assert result.cursor["newest"] == "t3_48fbm9"


def test_nothing_new_keeps_the_cursor():
    with LoopbackServer() as srv:
        srv.route(NEW, ok(body("new_page1.json")))
        cursor = {"newest": "t3_48fbm9", "newest_utc": 1456821458.0, "seen": ["t3_48fbm9"]}
        result = source(srv, client()).fetch(cursor)
        assert result.posts == [] and result.cursor == cursor and result.requests == 1


def test_search_endpoints():
    with LoopbackServer() as srv:
        srv.route("/r/pakistan/search.json", ok(body("new_page2.json")))
        srv.route("/search.json", ok(body("new_page2.json")))
        c = client()
        source(srv, c, search="Trump Khan").fetch(None)
        reddit.Source("r", {"base_url": srv.url(""), "search": "Imran Khan"}, c).fetch(None)
        first, second = srv.requests[0][1], srv.requests[1][1]
        assert first.startswith("/r/pakistan/search.json?") and "restrict_sr=1" in first and "sort=new" in first
        assert "q=Trump+Khan" in first
        assert second.startswith("/search.json?") and "restrict_sr" not in second


def test_oauth_client_credentials(monkeypatch):
    monkeypatch.setenv("CW_REDDIT_ID", "app-id")
    monkeypatch.setenv("CW_REDDIT_SECRET", "app-secret")
    with LoopbackServer() as srv:
        srv.route("/api/v1/access_token", ok({"access_token": "tok-789", "token_type": "bearer", "expires_in": 86400}))
        srv.route("/oauth" + NEW, ok(body("new_page2.json")))
        c = client()
        result = source(srv, c, client_id_env="CW_REDDIT_ID", client_secret_env="CW_REDDIT_SECRET",
                        token_url=srv.url("/api/v1/access_token"), oauth_base_url=srv.url("/oauth")).fetch(None)
        assert len(result.posts) == 4
        token_request = srv.requests[0]
        assert token_request.method == "POST" and token_request.path == "/api/v1/access_token"
        assert token_request.headers["Authorization"].startswith("Basic ")
        assert token_request.body == b"grant_type=client_credentials"
        assert srv.requests[-1][2]["Authorization"] == "Bearer tok-789"
        assert c.mask("tok-789 app-secret") == "*** ***"


def test_429_with_retry_after_then_success():
    with LoopbackServer() as srv:
        srv.route(NEW, [Reply(429, b"", {"Retry-After": "5"}), ok(body("new_page2.json"))])
        c = client()
        assert len(source(srv, c).fetch(None).posts) == 4 and c.sleeps == [5.0]


def test_500_then_success_and_final_error():
    with LoopbackServer() as srv:
        srv.route(NEW, [Reply(500, b""), ok(body("new_page2.json"))])
        assert len(source(srv, client()).fetch(None).posts) == 4
        srv.route(NEW, Reply(500, b""))
        with pytest.raises(HTTPStatusError, match="500"):
            source(srv, client(retries=1)).fetch(None)


def test_timeout_truncated_html_and_invalid_json():
    with LoopbackServer() as srv:
        assert_slow_and_cut_off_answers_fail(srv, NEW, body("new_page2.json"), JSON, 1000,
                                             lambda **kw: source(srv, client(**kw)).fetch(None))
        srv.route(NEW, Reply(200, b"<html>whoa there, pardner!</html>", {"Content-Type": "text/html"}))
        with pytest.raises(ParseError, match="sent text/html"):
            source(srv, client()).fetch(None)
        srv.route(NEW, Reply(200, b'{"kind": "Listing", "data": {"children": [', JSON))
        with pytest.raises(ParseError):
            source(srv, client()).fetch(None)


def test_subreddit_or_search_is_required():
    with pytest.raises(ConfigError, match="subreddit"):
        reddit.Source("r", {}, None)


def test_wrong_app_credentials_name_the_reddit_app_and_are_not_retried(monkeypatch):
    monkeypatch.setenv("CW_REDDIT_ID", "app-id")
    monkeypatch.setenv("CW_REDDIT_SECRET", "app-secret")
    with LoopbackServer() as srv:
        srv.route("/api/v1/access_token", Reply(401, b'{"message": "Unauthorized", "error": 401}', JSON))
        with pytest.raises(HTTPStatusError, match="401.*check the Reddit app's client id and secret") as err:
            source(srv, client(retries=3), client_id_env="CW_REDDIT_ID", client_secret_env="CW_REDDIT_SECRET",
                   token_url=srv.url("/api/v1/access_token")).fetch(None)
        assert len(srv.requests) == 1 and "app-secret" not in str(err.value)
        assert err.value.body == '{"message": "Unauthorized", "error": 401}'
        srv.route("/api/v1/access_token", Reply(503, b"", {"Retry-After": "1"}))
        with pytest.raises(HTTPStatusError, match="503"):
            source(srv, client(retries=1), client_id_env="CW_REDDIT_ID", client_secret_env="CW_REDDIT_SECRET",
                   token_url=srv.url("/api/v1/access_token")).fetch(None)
        assert len(srv.requests) == 3  # 503 with Retry-After: the token request was retried once


# -- max_pages before the last run's posts: the gap is kept, not jumped ----------------------------

LAST = {"newest": "t3_a00", "newest_utc": 1000.0, "seen": ["t3_a00"]}


def test_a_run_that_runs_out_of_pages_keeps_the_gap_and_says_what_to_do():
    with LoopbackServer() as srv:
        srv.route(NEW, [listing([("t3_p10", 1100.0), ("t3_p09", 1090.0)], after="t3_p09"),
                        listing([("t3_p08", 1080.0), ("t3_p07", 1070.0)], after="t3_p07")])
        result = source(srv, client(), limit=2, max_pages=2).fetch(LAST)
    assert [p["post_id"] for p in result.posts] == ["reddit:t3_p10", "reddit:t3_p09", "reddit:t3_p08", "reddit:t3_p07"]
    assert result.cursor == {"newest": "t3_p10", "newest_utc": 1100.0, "seen": ["t3_p10"],
                             "gap": {"after": "t3_p07", "until_utc": 1000.0, "until_seen": ["t3_a00"]}}
    [warning] = result.warnings
    assert "max_pages=2" in warning and "not read yet" in warning
    assert "raise max_pages or run more often" in warning


def test_the_next_runs_read_new_posts_first_then_close_the_gap():
    cursor = {"newest": "t3_p10", "newest_utc": 1100.0, "seen": ["t3_p10"],
              "gap": {"after": "t3_p07", "until_utc": 1000.0, "until_seen": ["t3_a00"]}}
    with LoopbackServer() as srv:
        srv.route(NEW, [listing([("t3_p11", 1110.0), ("t3_p10", 1100.0)], after="t3_p10"),
                        listing([("t3_p06", 1060.0), ("t3_p05", 1050.0)], after="t3_p05")])
        second = source(srv, client(), limit=2, max_pages=2).fetch(cursor)
        assert [p["post_id"] for p in second.posts] == ["reddit:t3_p11", "reddit:t3_p06", "reddit:t3_p05"]
        assert "after=" not in srv.requests[0][1] and "after=t3_p07" in srv.requests[1][1]
        assert second.cursor["newest"] == "t3_p11"
        assert second.cursor["gap"] == {"after": "t3_p05", "until_utc": 1000.0, "until_seen": ["t3_a00"]}
        assert second.warnings and "t3_p05" in second.warnings[0]

        srv.route(NEW, [listing([("t3_p11", 1110.0)], after="t3_p11"),
                        listing([("t3_p04", 1040.0), ("t3_a00", 1000.0)], after="t3_a00")])
        third = source(srv, client(), limit=2, max_pages=2).fetch(second.cursor)
        assert [p["post_id"] for p in third.posts] == ["reddit:t3_p04"]
        assert "after=t3_p05" in srv.requests[-1][1]
        assert "gap" not in third.cursor and third.warnings == []
        assert third.cursor["newest"] == "t3_p11"


def test_new_posts_filling_every_page_again_widen_the_gap_instead_of_dropping_it():
    cursor = {"newest": "t3_p10", "newest_utc": 1100.0, "seen": ["t3_p10"],
              "gap": {"after": "t3_p07", "until_utc": 1000.0, "until_seen": ["t3_a00"]}}
    with LoopbackServer() as srv:
        srv.route(NEW, listing([("t3_p13", 1130.0), ("t3_p12", 1120.0)], after="t3_p12"))
        result = source(srv, client(), limit=2, max_pages=1).fetch(cursor)
    assert result.requests == 1
    assert result.cursor["gap"] == {"after": "t3_p12", "until_utc": 1000.0, "until_seen": ["t3_a00"]}
    assert result.cursor["newest"] == "t3_p13" and len(result.warnings) == 1


def test_a_gap_that_fell_out_of_the_listing_is_reported_as_lost():
    cursor = {"newest": "t3_p10", "newest_utc": 1100.0, "seen": ["t3_p10"],
              "gap": {"after": "t3_p07", "until_utc": 1000.0, "until_seen": ["t3_a00"]}}
    with LoopbackServer() as srv:
        srv.route(NEW, [listing([("t3_p10", 1100.0)]), listing([])])
        result = source(srv, client(), limit=2, max_pages=3).fetch(cursor)
    assert result.posts == [] and "gap" not in result.cursor
    [warning] = result.warnings
    assert "are lost" in warning and "1000" in warning


def test_the_first_run_has_no_gap_to_keep():
    with LoopbackServer() as srv:
        srv.route(NEW, ok(body("new_page1.json")))
        result = source(srv, client(), max_pages=1).fetch(None)
    assert result.requests == 1 and "gap" not in result.cursor and result.warnings == []
