import copy
import json
from pathlib import Path

import pytest

from connectors import youtube
from connectors.errors import ConfigError, FetchError, HTTPStatusError, ParseError
from tests.connectors.support import assert_slow_and_cut_off_answers_fail, loopback_client as client
from tests.loopback import LoopbackServer, Reply

FIX = Path(__file__).parent / "fixtures" / "youtube"
CAPS = Path(__file__).parent / "fixtures" / "captions"
FEED = "/feeds/videos.xml"
ATOM = {"Content-Type": "application/atom+xml; charset=UTF-8"}
JSON = {"Content-Type": "application/json; charset=UTF-8"}
CHANNEL = "UCK8sQmJBp8GCxrOtXWBpyEA"


def body(name):
    return (FIX / name).read_bytes()


def feed_source(srv, c, **opts):
    return youtube.Source("yt-channel", {"channel_id": CHANNEL, "feed_url": srv.url(FEED), **opts}, c)


def api_source(srv, c, **opts):
    return youtube.Source("yt-search", {"query": "Imran Khan Trump", "api_key_env": "CW_TEST_YT_KEY",
                                        "base_url": srv.url("/youtube/v3"), "limit": 3, **opts}, c)


def search_ids():
    return [i["id"]["videoId"] for name in ("search_p1.json", "search_p2.json")
            for i in json.loads(body(name))["items"]]


def videos_answer(ids):
    """A videos.list answer for ``ids``, each item a copy of a real one with documented statistics."""
    answer = json.loads(body("videos_multi.json"))
    template = answer["items"][0]
    items = []
    for n, vid in enumerate(ids):
        item = copy.deepcopy(template)
        item["id"] = vid
        item["snippet"]["description"] = f"Full description {n} https://youtu.be/dQw4w9WgXcQ"
        item["statistics"] = {"viewCount": str(1000 + n), "likeCount": "12", "favoriteCount": "0",
                              "commentCount": "3"}
        items.append(item)
    answer["items"] = items
    return json.dumps(answer).encode()


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("CW_TEST_YT_KEY", "AIza-test-key")
    return "AIza-test-key"


# -- parse -------------------------------------------------------------------------------------

def test_parse_feed():
    rows = youtube.parse_feed(body("channel_feed.xml"), source="s")
    assert len(rows) == 15
    r = rows[0]
    assert r["post_id"] == "youtube:5shykyfmb28" and r["video_ids"] == ["youtube:5shykyfmb28"]
    assert r["url"] == "https://www.youtube.com/watch?v=5shykyfmb28"
    assert r["title"] == "The Google app: Questions Title" and r["author"] == "Google"
    assert r["views"] == 251497 and r["text"].startswith("A question is the most powerful force")
    assert r["published_at"].isoformat() == "2015-05-04T00:01:27+00:00"


def test_feed_entry_without_video_id_is_skipped_and_counted():
    data = body("channel_feed.xml").replace(b"<yt:videoId>5shykyfmb28</yt:videoId>", b"", 1)
    rows, skipped = youtube.parse_feed_counted(data)
    assert skipped == 1 and len(rows) == 14


def test_feed_refuses_entities_and_non_feeds():
    bomb = b'<?xml version="1.0"?><!DOCTYPE f [<!ENTITY a "aa"><!ENTITY b "&a;&a;">]><feed>&b;</feed>'
    with pytest.raises(ParseError):
        youtube.parse_feed(bomb)
    with pytest.raises(ParseError, match="not an Atom feed"):
        youtube.parse_feed(b"<rss><channel/></rss>")
    with pytest.raises(ParseError, match="not well-formed"):
        youtube.parse_feed(b"<feed><entry>")


def test_parse_api_videos_and_search_answers():
    [a, b] = youtube.parse_api(body("videos_multi.json"))
    assert a["post_id"] == "youtube:D-lhorsDlUQ" and a["lang"] == "en"
    assert "https://bit.ly/2YabdS5" in a["links"]
    answer = json.loads(body("videos_multi.json"))
    answer["items"][1]["snippet"]["defaultAudioLanguage"] = "ur-PK"
    assert youtube.parse_api(json.dumps(answer).encode())[1]["lang"] == "ur"  # primary subtag
    rows = youtube.parse_api(body("search_p1.json"))
    assert [r["post_id"] for r in rows] == [f"youtube:{i}" for i in search_ids()[:3]]
    assert youtube.parse_api(body("search_channels.json")) == []  # channels are not videos


def test_parse_api_statistics_and_bad_items():
    answer = json.loads(videos_answer(["D-lhorsDlUQ", "bad id!", "xfFHnBQ6nQg"]))
    answer["items"][2]["statistics"] = {"viewCount": "77"}  # likes hidden
    answer["items"][2]["snippet"].pop("description")
    rows, skipped = youtube.parse_api_counted(json.dumps(answer).encode())
    assert skipped == 1 and len(rows) == 2
    assert (rows[0]["views"], rows[0]["likes"], rows[0]["replies"]) == (1000, 12, 3)
    assert rows[0]["video_ids"] == ["youtube:D-lhorsDlUQ", "youtube:dQw4w9WgXcQ"]
    assert rows[1]["likes"] is None and rows[1]["text"] == ""


@pytest.mark.parametrize("reason,words", [("quotaExceeded", "quota is used up"),
                                           ("keyInvalid", "not valid"),
                                           ("accessNotConfigured", "not enabled")])
def test_api_errors_read_clearly(reason, words):
    err = {"error": {"code": 403, "message": "x", "errors": [{"reason": reason, "domain": "youtube"}]}}
    with pytest.raises(ParseError, match=words):
        youtube.parse_api(json.dumps(err).encode())


# -- feed fetch --------------------------------------------------------------------------------

def test_feed_conditional_get_and_304():
    with LoopbackServer() as srv:
        srv.route(FEED, [Reply(200, body("channel_feed.xml"), {**ATOM, "ETag": '"v1"',
                                                                "Last-Modified": "Mon, 04 May 2015 00:01:27 GMT"}),
                         Reply(304, b"")])
        c = client()
        first = feed_source(srv, c).fetch(None)
        assert len(first.posts) == 15 and f"channel_id={CHANNEL}" in srv.requests[0][1]
        assert first.cursor["etag"] == '"v1"'
        second = feed_source(srv, c).fetch(first.cursor)
        assert second.posts == [] and second.cursor == first.cursor
        assert srv.requests[1][2]["If-None-Match"] == '"v1"'
        assert srv.requests[1][2]["If-Modified-Since"] == "Mon, 04 May 2015 00:01:27 GMT"


def test_feed_without_etag_repeats_no_video():
    with LoopbackServer() as srv:
        srv.route(FEED, Reply(200, body("channel_feed.xml"), ATOM))
        c = client()
        first = feed_source(srv, c).fetch(None)
        assert feed_source(srv, c).fetch(first.cursor).posts == []


def test_feed_errors():
    with LoopbackServer() as srv:
        srv.route(FEED, [Reply(429, b"", {"Retry-After": "4"}), Reply(200, body("channel_feed.xml"), ATOM)])
        c = client()
        assert len(feed_source(srv, c).fetch(None).posts) == 15 and c.sleeps == [4.0]
        srv.route(FEED, [Reply(500), Reply(200, body("channel_feed.xml"), ATOM)])
        assert len(feed_source(srv, client()).fetch(None).posts) == 15
        assert_slow_and_cut_off_answers_fail(srv, FEED, body("channel_feed.xml"), ATOM, 2000,
                                             lambda **kw: feed_source(srv, client(**kw)).fetch(None))
        srv.route(FEED, Reply(200, b'{"not": "xml"}', JSON))
        with pytest.raises(ParseError):
            feed_source(srv, client()).fetch(None)
        srv.route(FEED, Reply(404, b"not found"))
        with pytest.raises(HTTPStatusError, match="404"):
            feed_source(srv, client()).fetch(None)


# -- API fetch ---------------------------------------------------------------------------------

def test_search_pages_then_videos_list_and_resume(key):
    ids = search_ids()
    with LoopbackServer() as srv:
        srv.route("/youtube/v3/search", [Reply(200, body("search_p1.json"), JSON), Reply(200, body("search_p2.json"), JSON)])
        srv.route("/youtube/v3/videos", Reply(200, videos_answer(ids), JSON))
        result = api_source(srv, client(), max_pages=2).fetch(None)
        assert [p["post_id"] for p in result.posts] == [f"youtube:{i}" for i in ids]
        assert result.posts[0]["text"].startswith("Full description")  # from videos.list
        assert result.posts[0]["views"] == 1000
        s1, s2, v = (r[1] for r in srv.requests)
        assert "order=date" in s1 and "type=video" in s1 and "q=Imran+Khan+Trump" in s1
        assert "pageToken=CBkQAA" in s2
        assert v.startswith("/youtube/v3/videos?") and "part=snippet%2Cstatistics" in v
        assert "id=" + "%2C".join(ids) in v
        newest = max(p["published_at"] for p in result.posts)
        assert result.cursor["published_after"] == newest.isoformat().replace("+00:00", "Z")

        srv.route("/youtube/v3/search", Reply(200, body("search_p2.json"), JSON))
        again = api_source(srv, client()).fetch(result.cursor)
        searches = [r[1] for r in srv.requests if r[1].startswith("/youtube/v3/search")]
        assert len(searches) == 3 and "publishedAfter=" in searches[-1]
        assert "publishedAfter=" not in searches[0]
        assert all(p["post_id"] not in result.cursor["seen"] for p in again.posts)


def test_missing_key_is_a_config_error(monkeypatch):
    monkeypatch.delenv("CW_TEST_YT_KEY", raising=False)
    with pytest.raises(ConfigError, match="CW_TEST_YT_KEY is not set"):
        api_source(type("S", (), {"url": lambda self, p: "http://x" + p})(), None).fetch(None)


def test_quota_403_names_the_likely_causes_and_hides_the_key(key):
    with LoopbackServer() as srv:
        srv.route("/youtube/v3/search", Reply(403, b'{"error": {"code": 403, "errors": [{"reason": "quotaExceeded"}]}}', JSON))
        with pytest.raises(HTTPStatusError, match="quota") as err:
            api_source(srv, client()).fetch(None)
        assert key not in str(err.value)
        assert srv.requests[0][1].count("key=AIza-test-key") == 1


def test_api_429_500_timeout_and_bad_bodies(key):
    with LoopbackServer() as srv:
        srv.route("/youtube/v3/videos", Reply(200, videos_answer(search_ids()), JSON))
        srv.route("/youtube/v3/search", [Reply(429, b"", {"Retry-After": "1"}), Reply(503), Reply(200, body("search_p2.json"), JSON)])
        c = client()
        assert len(api_source(srv, c).fetch(None).posts) == 2 and c.sleeps[0] == 1.0 and len(c.sleeps) == 2
        srv.route("/youtube/v3/search", Reply(200, body("search_p2.json"), JSON, delay=1.0))
        with pytest.raises(FetchError):
            api_source(srv, client(timeout=0.2, retries=0)).fetch(None)
        srv.route("/youtube/v3/search", Reply(200, body("search_p2.json"), JSON, truncate_to=100))
        with pytest.raises(FetchError):
            api_source(srv, client(retries=0)).fetch(None)
        srv.route("/youtube/v3/search", Reply(200, b"<html>consent</html>", {"Content-Type": "text/html"}))
        with pytest.raises(ParseError, match="sent text/html"):
            api_source(srv, client()).fetch(None)
        srv.route("/youtube/v3/search", Reply(200, b'{"items": [', JSON))
        with pytest.raises(ParseError):
            api_source(srv, client()).fetch(None)


def test_captions_fill_the_transcript_and_404_means_none():
    with LoopbackServer() as srv:
        srv.route(FEED, Reply(200, body("channel_feed.xml"), ATOM))
        srv.route("/captions/5shykyfmb28.vtt", Reply(200, (CAPS / "youtube_dl.vtt").read_bytes(), {"Content-Type": "text/vtt"}))
        srv.route("/captions/xfFHnBQ6nQg.vtt", Reply(200, (CAPS / "invalid.vtt").read_bytes(), {"Content-Type": "text/vtt"}))
        result = feed_source(srv, client(), captions_url=srv.url("/captions/{video_id}.vtt")).fetch(None)
        by_id = {p["post_id"]: p for p in result.posts}
        assert by_id["youtube:5shykyfmb28"]["transcript"] == "yeah\nwhat\nthis will happen is I'm telling"
        assert by_id["youtube:5shykyfmb28"]["transcript_cues"] == [
            {"start": 286.07, "end": 286.47, "text": "yeah"},
            {"start": 286.47, "end": 304.08, "text": "what"},
            {"start": 304.08, "end": 305.069, "text": "this will happen is I'm telling"},
        ]
        assert by_id["youtube:xfFHnBQ6nQg"]["transcript_cues"] == []
        assert by_id["youtube:xfFHnBQ6nQg"]["transcript"] is None
        assert sum(p["transcript"] is None for p in result.posts) == 14  # 404s: no captions, no warning
        assert len(result.warnings) == 1 and "xfFHnBQ6nQg" in result.warnings[0]
        plain = youtube.parse_feed(body("channel_feed.xml"))[0]
        assert by_id["youtube:5shykyfmb28"]["content_hash"] != plain["content_hash"]


def test_config_errors():
    with pytest.raises(ConfigError, match="exactly one"):
        youtube.Source("y", {}, None)
    with pytest.raises(ConfigError, match="video_id"):
        youtube.Source("y", {"channel_id": CHANNEL, "captions_url": "https://c.example.org/x.vtt"}, None)


# -- API refusals, as the Data API sends them (the shape of developers.google.com/youtube/v3/docs/errors)

QUOTA_403 = b"""{
 "error": {
  "code": 403,
  "message": "The request cannot be completed because you have exceeded your \\u003ca href=\\"/youtube/v3/getting-started#quota\\"\\u003equota\\u003c/a\\u003e.",
  "errors": [
   {
    "message": "The request cannot be completed because you have exceeded your \\u003ca href=\\"/youtube/v3/getting-started#quota\\"\\u003equota\\u003c/a\\u003e.",
    "domain": "youtube.quota",
    "reason": "quotaExceeded"
   }
  ]
 }
}
"""

KEY_INVALID_400 = b"""{
 "error": {
  "errors": [
   {
    "domain": "usageLimits",
    "reason": "keyInvalid",
    "message": "Bad Request"
   }
  ],
  "code": 400,
  "message": "Bad Request"
 }
}
"""

FORBIDDEN_403 = b"""{
 "error": {
  "errors": [
   {
    "domain": "global",
    "reason": "forbidden",
    "message": "Forbidden"
   }
  ],
  "code": 403,
  "message": "Forbidden"
 }
}
"""

NOT_ENABLED = ("YouTube Data API v3 has not been used in project 123456789012 before or it is disabled. "
               "Enable it by visiting https://console.developers.google.com/apis/api/youtube.googleapis.com/"
               "overview?project=123456789012 then retry. If you enabled this API recently, wait a few "
               "minutes for the action to propagate to our systems and retry.")
# over 500 bytes before "reason": the excerpt the client keeps ends before the errors list
ACCESS_NOT_CONFIGURED_403 = json.dumps({"error": {
    "code": 403, "message": NOT_ENABLED,
    "errors": [{"message": NOT_ENABLED, "domain": "usageLimits", "reason": "accessNotConfigured",
                "extendedHelp": "https://console.developers.google.com"}],
    "status": "PERMISSION_DENIED"}}, indent=1).encode()


@pytest.mark.parametrize("status, answer, reason, advice", [
    (403, QUOTA_403, "quotaExceeded", "daily quota is used up"),
    (400, KEY_INVALID_400, "keyInvalid", "check the env var named by api_key_env"),
    (403, FORBIDDEN_403, "forbidden", "may not make this request"),
    (403, ACCESS_NOT_CONFIGURED_403, "accessNotConfigured", "not enabled for the key's project"),
])
def test_api_refusals_name_the_reason_and_what_to_do(key, status, answer, reason, advice):
    with LoopbackServer() as srv:
        srv.route("/youtube/v3/search", Reply(status, answer, JSON))
        with pytest.raises(HTTPStatusError) as err:
            api_source(srv, client(retries=3)).fetch(None)
    message = str(err.value)
    assert f"HTTP {status}" in message and f"YouTube says {reason}: " in message and advice in message
    assert key not in message and len(srv.requests) == 1
    assert err.value.status_code == status and err.value.body.startswith("{")


def test_error_reasons_reads_whole_and_cut_off_bodies():
    assert youtube.error_reasons(QUOTA_403.decode()) == (["quotaExceeded"], json.loads(QUOTA_403)["error"]["message"])
    assert youtube.error_reasons(ACCESS_NOT_CONFIGURED_403[:500].decode())[0] == ["accessNotConfigured"]
    assert youtube.error_reasons(QUOTA_403[:420].decode())[0] == ["quotaExceeded"]
    assert youtube.error_reasons(None) == ([], None)
    assert youtube.error_reasons("<html>Service Unavailable</html>") == ([], None)
    assert youtube.error_reasons('{"error": "not an object"}') == ([], None)


def test_an_unknown_reason_shows_the_api_message_without_markup(key):
    answer = {"error": {"code": 400, "message": "Invalid <b>pageToken</b> value.",
                        "errors": [{"reason": "invalidPageToken", "domain": "youtube.parameter",
                                    "message": "Invalid pageToken"}]}}
    with LoopbackServer() as srv:
        srv.route("/youtube/v3/search", Reply(400, json.dumps(answer).encode(), JSON))
        with pytest.raises(HTTPStatusError, match="YouTube says invalidPageToken: Invalid pageToken value."):
            api_source(srv, client()).fetch(None)


def test_a_refusal_without_a_readable_body_still_names_the_likely_causes(key):
    with LoopbackServer() as srv:
        srv.route("/youtube/v3/search", Reply(403, b"<html>Forbidden</html>", {"Content-Type": "text/html"}))
        with pytest.raises(HTTPStatusError, match="quotaExceeded, keyInvalid and API-not-enabled"):
            api_source(srv, client()).fetch(None)
        srv.route("/youtube/v3/search", Reply(404, b""))
        with pytest.raises(HTTPStatusError, match="HTTP 404; check the URL$"):
            api_source(srv, client()).fetch(None)
