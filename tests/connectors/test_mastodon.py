import json
from pathlib import Path

import pytest

from connectors import mastodon
from connectors.errors import ConfigError, FetchError, HTTPStatusError, ParseError
from tests.connectors.support import loopback_client as client
from tests.loopback import LoopbackServer, Reply

FIX = Path(__file__).parent / "fixtures" / "mastodon"
TAG = "/api/v1/timelines/tag/ImranKhan"
JSON = {"Content-Type": "application/json; charset=utf-8"}


def body(name):
    return (FIX / name).read_bytes()


def source(srv, c, **opts):
    return mastodon.Source("masto", {"instance": srv.url(""), "hashtag": "ImranKhan", "limit": 10, **opts}, c)


def page(name, link=None):
    headers = dict(JSON)
    if link:
        headers["Link"] = link
    return Reply(200, body(name), headers)


# -- parse -------------------------------------------------------------------------------------

def test_parse_status_text_links_counts_and_id():
    [row] = mastodon.parse(body("status_example.json"), source="s")
    assert row["post_id"] == "mastodon:mastodon.social/103270115826048975"
    assert row["text"].startswith('"I lost my inheritance with one wrong digit on my sort code"')
    assert "<" not in row["text"]
    assert row["links"] == ["https://theguardian.com/money/2019/dec/07/"
                            "i-lost-my-193000-inheritance-with-one-wrong-digit-on-my-sort-code"]
    assert (row["likes"], row["reposts"], row["replies"]) == (11, 6, 5)
    assert row["author"] == "Gargron@mastodon.social" and row["lang"] == "en"
    assert row["published_at"].isoformat() == "2019-12-08T03:48:33.901000+00:00"


def test_reblog_is_unwrapped_with_video_and_youtube_card():
    [row] = mastodon.parse(body("reblog_video.json"))
    assert row["post_id"] == "mastodon:mastodon.social/103270115826048975"  # the original status
    assert row["text"] == "Watch: youtu.be/OMv_EPMED8Y #video"
    assert "youtube:OMv_EPMED8Y" in row["video_ids"]
    video_file = "https://files.mastodon.social/media_attachments/files/022/546/306/original/dab9a597f68b9745.mp4"
    assert row["media_urls"] == [video_file]
    assert video_file in row["video_ids"]
    assert row["links"] == ["https://youtube.com/watch?v=OMv_EPMED8Y"]  # hashtag link left out


def test_real_hashtag_page_with_null_cards_and_hashtag_only_content():
    rows = mastodon.parse(body("tag_page1.json"))
    assert len(rows) == 10
    assert all(r["links"] == [] and r["media_urls"] == [] for r in rows)
    assert rows[0]["text"].startswith("Toot number 29!")


def test_null_and_missing_fields_do_not_sink_the_page():
    items = json.loads(body("tag_page1.json"))
    items[0]["account"] = None
    items[1]["card"] = None
    items[1]["media_attachments"] = None
    for key in ("language", "content", "favourites_count", "url"):
        items[2].pop(key)
    items[3] = {"id": "1"}  # no uri: cannot be identified
    items[4] = "not a status"
    rows, skipped = mastodon.parse_counted(json.dumps(items).encode())
    assert skipped == 2 and len(rows) == 8
    assert rows[0]["author"] is None
    assert rows[2]["lang"] is None and rows[2]["text"] == "" and rows[2]["likes"] is None
    assert rows[2]["url"] == items[2]["uri"]


def test_jsonc_doc_example_is_a_clear_parse_error():
    with pytest.raises(ParseError, match="not valid JSON"):
        mastodon.parse(body("status_doc_example.jsonc"))


def test_error_body_and_wrong_shape_are_parse_errors():
    with pytest.raises(ParseError, match="requires an authenticated user"):
        mastodon.parse(body("error_401.json"))
    with pytest.raises(ParseError, match="expected a JSON array"):
        mastodon.parse(b'"hello"')


def test_link_header_parsing():
    links = mastodon.parse_link_header(
        '<https://m.s/api/v1/timelines/tag/x?max_id=2>; rel="next", <https://m.s/api/v1/timelines/tag/x?min_id=9>; rel="prev"')
    assert links == {"next": "https://m.s/api/v1/timelines/tag/x?max_id=2",
                     "prev": "https://m.s/api/v1/timelines/tag/x?min_id=9"}


# -- fetch -------------------------------------------------------------------------------------

def test_first_run_follows_next_links_to_older_pages_within_max_pages():
    with LoopbackServer() as srv:
        srv.route(TAG, [
            page("tag_page1.json", f'<{srv.url(TAG)}?max_id=117020582169338212>; rel="next"'),
            page("tag_page2.json", f'<{srv.url(TAG)}?max_id=117020582089808071>; rel="next"'),
            page("tag_page1.json"),
        ])
        c = client()
        result = source(srv, c, max_pages=2).fetch(None)
        assert result.requests == 2 and len(srv.requests) == 2
        assert "max_id=117020582169338212" in srv.requests[1][1]
        assert len(result.posts) == 20
        assert result.cursor == {"min_id": "117020582251615632"}  # newest id of the first page
        assert any("max_pages" in w for w in result.warnings)


def test_empty_page_ends_paging():
    with LoopbackServer() as srv:
        srv.route(TAG, [page("tag_page1.json", f'<{srv.url(TAG)}?max_id=1>; rel="next"'),
                        page("tag_empty.json", f'<{srv.url(TAG)}?max_id=0>; rel="next"')])
        result = source(srv, client()).fetch(None)
        assert result.requests == 2 and len(result.posts) == 10 and not result.warnings


def test_resume_asks_only_for_newer_statuses_and_follows_prev_links():
    with LoopbackServer() as srv:
        srv.route(TAG, [page("tag_newer.json", f'<{srv.url(TAG)}?min_id=117020593741189701>; rel="prev"'),
                        page("tag_empty.json")])
        result = source(srv, client()).fetch({"min_id": "117020582251615632"})
        assert "min_id=117020582251615632" in srv.requests[0][1]
        assert "min_id=117020593741189701" in srv.requests[1][1]
        assert [r["post_id"] for r in result.posts] == ["mastodon:localhost:3000/117020593741189701"]
        assert result.cursor == {"min_id": "117020593741189701"}


def test_nothing_new_keeps_the_cursor_and_refetches_nothing():
    with LoopbackServer() as srv:
        srv.route(TAG, page("tag_empty.json"))
        result = source(srv, client()).fetch({"min_id": "117020593741189701"})
        assert result.posts == [] and result.cursor == {"min_id": "117020593741189701"}
        assert result.requests == 1


def test_link_to_another_host_is_not_followed():
    with LoopbackServer() as srv:
        srv.route(TAG, page("tag_page1.json", '<https://elsewhere.example/api?max_id=1>; rel="next"'))
        result = source(srv, client()).fetch(None)
        assert result.requests == 1 and any("another host" in w for w in result.warnings)


def test_token_from_env_is_sent_and_never_shown(monkeypatch):
    monkeypatch.setenv("CW_TEST_MASTO_TOKEN", "s3cret-token")
    with LoopbackServer() as srv:
        srv.route(TAG, Reply(401, b'{"error":"The access token is invalid"}', JSON))
        c = client()
        with pytest.raises(HTTPStatusError) as err:
            source(srv, c, token_env="CW_TEST_MASTO_TOKEN").fetch(None)
        assert srv.requests[0][2].get("Authorization") == "Bearer s3cret-token"
        assert "s3cret-token" not in str(err.value)


def test_missing_token_env_reads_without_token_and_warns(monkeypatch):
    monkeypatch.delenv("CW_TEST_MASTO_TOKEN", raising=False)
    with LoopbackServer() as srv:
        srv.route(TAG, page("tag_empty.json"))
        result = source(srv, client(), token_env="CW_TEST_MASTO_TOKEN").fetch(None)
        assert "Authorization" not in srv.requests[0][2]
        assert any("CW_TEST_MASTO_TOKEN" in w for w in result.warnings)


def test_429_with_retry_after_is_waited_out():
    with LoopbackServer() as srv:
        srv.route(TAG, [Reply(429, b"", {"Retry-After": "7"}), page("tag_page1.json")])
        c = client()
        result = source(srv, c).fetch(None)
        assert len(result.posts) == 10 and c.sleeps == [7.0]


def test_500_then_success():
    with LoopbackServer() as srv:
        srv.route(TAG, [Reply(500, b"oops"), page("tag_page1.json")])
        result = source(srv, client()).fetch(None)
        assert len(result.posts) == 10 and len(srv.requests) == 2


def test_500_every_time_is_a_fetch_error():
    with LoopbackServer() as srv:
        srv.route(TAG, Reply(503, b"down"))
        with pytest.raises(HTTPStatusError, match="503"):
            source(srv, client(retries=1)).fetch(None)


def test_timeout_is_a_fetch_error():
    with LoopbackServer() as srv:
        srv.route(TAG, Reply(200, body("tag_page1.json"), JSON, delay=1.0))
        with pytest.raises(FetchError):
            source(srv, client(timeout=0.2, retries=0)).fetch(None)


def test_truncated_body_is_a_fetch_error_not_half_a_page():
    with LoopbackServer() as srv:
        srv.route(TAG, Reply(200, body("tag_page1.json"), JSON, truncate_to=500))
        with pytest.raises(FetchError):
            source(srv, client(retries=1)).fetch(None)


def test_html_instead_of_json_is_a_parse_error():
    with LoopbackServer() as srv:
        srv.route(TAG, Reply(200, b"<html><body>Maintenance</body></html>", {"Content-Type": "text/html"}))
        with pytest.raises(ParseError, match="expected JSON but the server sent text/html"):
            source(srv, client()).fetch(None)


def test_invalid_json_is_a_parse_error():
    with LoopbackServer() as srv:
        srv.route(TAG, Reply(200, b'[{"id": "1", ', JSON))
        with pytest.raises(ParseError):
            source(srv, client()).fetch(None)


def test_config_errors_name_the_option():
    with pytest.raises(ConfigError, match="instance"):
        mastodon.Source("m", {"hashtag": "x"}, None)
    with pytest.raises(ConfigError, match="hashtag"):
        mastodon.Source("m", {"instance": "https://mastodon.social"}, None)


def test_public_timeline_endpoint():
    with LoopbackServer() as srv:
        srv.route("/api/v1/timelines/public", page("tag_empty.json"))
        mastodon.Source("m", {"instance": srv.url(""), "timeline": "local"}, client()).fetch(None)
        assert srv.requests[0][1].startswith("/api/v1/timelines/public?") and "local=true" in srv.requests[0][1]
