from datetime import datetime, timezone
from pathlib import Path

import pytest

from connectors import rss
from connectors.errors import ConfigError, FetchError, FetchTimeout, HTTPStatusError, ParseError
from tests.connectors.support import NO_PAYLOADS, assert_lang_or_reason, loopback_client as client, payloads_dir
from tests.loopback import LoopbackServer, Reply

FIX = Path(__file__).parent / "fixtures"


FEEDS = payloads_dir() / "feeds"
ATOM = {"Content-Type": "application/atom+xml"}


# --- parse: pure ---------------------------------------------------------------------------------

@pytest.mark.skipif(not FEEDS.is_dir(), reason=NO_PAYLOADS)
@pytest.mark.parametrize("path", sorted(FEEDS.glob("*")) if FEEDS.is_dir() else [], ids=lambda p: p.name)
def test_every_real_feed_parses_or_gives_a_clear_parse_error(path):
    try:
        rows = rss.parse(path.read_bytes(), url="https://feeds.example/feed", source="s")
    except ParseError as exc:
        assert "not an RSS, Atom or JSON feed" in str(exc)
        assert "FirstEntry" in path.name  # only the saved entry fragments are not feeds
        return
    assert rows, f"{path.name}: no entries"
    assert_lang_or_reason(rows, path.name)
    for r in rows:
        assert r["post_id"].startswith("news:") and r["platform"] == "news" and r["source"] == "s"
        assert r["title"] or r["text"] or r["url"]


def test_atom_entry_fields():
    rows = rss.parse((FIX / "rss/page1.xml").read_bytes(), url="https://desk.example/feed.xml", source="desk")
    first = rows[0]
    assert first["post_id"] == "news:https://desk.example/news/clip"  # relative link resolved, utm dropped
    assert first["url"] == "https://desk.example/news/clip?utm_source=feed"
    assert first["title"] == "Edited clip of Trump on Imran Khan circulates"
    assert first["text"] == "A video shared widely was edited."
    assert first["author"] == "Desk Reporter"
    assert first["published_at"] == datetime(2024, 11, 21, 10, tzinfo=timezone.utc)
    assert first["lang"] == "en"
    assert first["video_ids"] == ["youtube:dQw4w9WgXcQ"]
    assert "https://youtu.be/dQw4w9WgXcQ?si=x" in first["links"]


@pytest.mark.skipif(not FEEDS.is_dir(), reason=NO_PAYLOADS)
def test_rss2_and_rss1_and_json_feed_dialects():
    assert rss.parse((FEEDS / "TechCrunch.xml").read_bytes())[0]["title"].startswith("Angie")
    assert rss.parse((FEEDS / "HREFConsideredHarmful.xml").read_bytes())[0]["title"] == "Chrome, V8 and Strongtalk"
    json_rows = rss.parse((FEEDS / "json_feed.json").read_bytes())
    assert len(json_rows) == 20 and json_rows[0]["published_at"].year == 2017


def test_missing_fields_keep_what_can_be_kept():
    rows, skipped, info = rss.parse_feed((FIX / "rss/missing_fields.xml").read_bytes(),
                                         url="https://odd.example/rss")
    titles = [r["title"] for r in rows]
    assert titles == ["Only a title", None, None, None]
    assert skipped == 1  # the empty <item/>
    assert rows[2]["url"] == "https://news.example/no-title" and rows[2]["text"] == ""
    assert rows[3]["published_at"] is None and rows[3]["text"] == "Empty title and link"
    assert all(r["lang"] == "ur" for r in rows)
    assert len({r["post_id"] for r in rows}) == 4  # items without links still get stable ids
    again = rss.parse((FIX / "rss/missing_fields.xml").read_bytes(), url="https://odd.example/rss")
    assert [r["post_id"] for r in again] == [r["post_id"] for r in rows]


def test_json_feed_null_fields_and_bad_items_are_skipped_not_fatal():
    rows, skipped, _ = rss.parse_feed((FIX / "rss/null_fields.json").read_bytes())
    assert skipped == 2
    assert rows[0]["text"] == "Text only" and rows[0]["title"] is None and rows[0]["author"] is None
    assert rows[1]["post_id"] == "news:7" and rows[1]["lang"] == "ur"
    assert rows[1]["video_ids"] == ["youtube:dQw4w9WgXcQ"]
    assert rows[1]["published_at"] == datetime(2024, 11, 20, 5, tzinfo=timezone.utc)


@pytest.mark.parametrize("data, message", [
    (b"", "empty document"),
    (b"   \n", "empty document"),
    (b"<html><body><p>Not a feed</p></body></html>", "HTML page"),
    (b'{"items": []}', "not a JSON Feed"),
    (b'{"version": "https://jsonfeed.org/version/1", "items": ', "not valid JSON"),
    (b"just words", "does not start with markup"),
])
def test_invalid_documents_give_parse_errors(data, message):
    with pytest.raises(ParseError, match=message):
        rss.parse(data)


def test_broken_xml_is_read_as_far_as_it_goes_not_refused():
    # feedparser's lenient parser recovers an RSS document cut off mid-item: an item with a link
    # becomes a row, an item with nothing usable is skipped and counted
    rows, skipped, info = rss.parse_feed(b"<rss><channel><item><title>unclosed")
    assert (rows, skipped, info["version"]) == ([], 1, "rss")
    rows, skipped, _ = rss.parse_feed(b"<rss><channel><item><title>Clip</title><link>https://x.example/a</link>")
    assert skipped == 0 and [(r["post_id"], r["title"]) for r in rows] == [("news:https://x.example/a", "Clip")]


def test_source_options_are_checked():
    with pytest.raises(ConfigError, match="url"):
        rss.Source("bad", {"url": "ftp://x"}, client())
    with pytest.raises(ConfigError, match="max_articles"):
        rss.Source("bad", {"url": "https://x.example/feed", "max_articles": "ten"}, client())


# --- Source against the loopback server ----------------------------------------------------------

def test_conditional_get_unchanged_feed_costs_one_304():
    body = (FIX / "rss/page1.xml").read_bytes()
    with LoopbackServer() as srv:
        srv.route("/feed.xml", [Reply(200, body, {**ATOM, "ETag": '"v1"', "Last-Modified": "Thu, 21 Nov 2024 10:00:00 GMT"}),
                                Reply(304, headers={"ETag": '"v1"'})])
        src = rss.Source("desk", {"url": srv.url("/feed.xml")}, client())
        first = src.fetch(None)
        assert len(first.posts) == 2 and first.cursor["etag"] == '"v1"'
        assert first.cursor["newest"] == "2024-11-21T10:00:00+00:00"
        second = src.fetch(first.cursor)
        assert second.posts == [] and second.requests == 1 and second.cursor == first.cursor
        sent = srv.requests[-1][2]
        assert sent.get("If-None-Match") == '"v1"'
        assert sent.get("If-Modified-Since") == "Thu, 21 Nov 2024 10:00:00 GMT"


def test_resume_from_cursor_delivers_only_new_entries():
    body = (FIX / "rss/page1.xml").read_bytes()
    with LoopbackServer() as srv:
        srv.route("/feed.xml", body=body, headers=ATOM)
        src = rss.Source("desk", {"url": srv.url("/feed.xml")}, client())
        first = src.fetch(None)
        again = src.fetch(first.cursor)
        assert again.posts == [] and again.cursor["seen"] == first.cursor["seen"]
        assert src.fetch({"seen": [first.posts[0]["post_id"]]}).posts[0]["title"] == "Second story"


def test_next_pages_are_followed_up_to_max_pages():
    with LoopbackServer() as srv:
        srv.route("/feed.xml", body=(FIX / "rss/page1.xml").read_bytes(), headers=ATOM)
        srv.route("/feed.xml?page=2", body=(FIX / "rss/page2.xml").read_bytes(), headers=ATOM)
        one = rss.Source("desk", {"url": srv.url("/feed.xml")}, client()).fetch(None)
        two = rss.Source("desk", {"url": srv.url("/feed.xml"), "max_pages": 3}, client()).fetch(None)
    assert len(one.posts) == 2
    assert [p["title"] for p in two.posts][-1] == "Older story" and two.requests == 2


def test_429_with_retry_after_then_success():
    with LoopbackServer() as srv:
        srv.route("/feed.xml", [Reply(429, headers={"Retry-After": "2"}),
                                Reply(200, (FIX / "rss/page1.xml").read_bytes(), ATOM)])
        c = client()
        result = rss.Source("desk", {"url": srv.url("/feed.xml")}, c).fetch(None)
    assert len(result.posts) == 2 and c.sleeps == [2.0]


def test_500_then_success():
    with LoopbackServer() as srv:
        srv.route("/feed.xml", [Reply(500), Reply(200, (FIX / "rss/page1.xml").read_bytes(), ATOM)])
        assert len(rss.Source("desk", {"url": srv.url("/feed.xml")}, client()).fetch(None).posts) == 2


def test_persistent_500_is_an_http_status_error_and_the_cursor_is_untouched():
    with LoopbackServer() as srv:
        srv.route("/feed.xml", Reply(500))
        src = rss.Source("desk", {"url": srv.url("/feed.xml")}, client(retries=1))
        with pytest.raises(HTTPStatusError):
            src.fetch({"etag": '"old"'})


def test_timeout():
    with LoopbackServer() as srv:
        srv.route("/feed.xml", Reply(200, b"<rss/>", delay=1.0))
        with pytest.raises(FetchTimeout):
            rss.Source("desk", {"url": srv.url("/feed.xml")}, client(timeout=0.2, retries=0)).fetch(None)


def test_truncated_body_is_a_fetch_error():
    body = (FIX / "rss/page1.xml").read_bytes()
    with LoopbackServer() as srv:
        srv.route("/feed.xml", Reply(200, body, ATOM, truncate_to=100))
        with pytest.raises(FetchError):
            rss.Source("desk", {"url": srv.url("/feed.xml")}, client(retries=1)).fetch(None)


def test_wrong_content_type_is_ignored_for_a_real_feed_and_html_is_refused():
    with LoopbackServer() as srv:
        srv.route("/feed.xml", body=(FIX / "rss/page1.xml").read_bytes(), headers={"Content-Type": "text/html"})
        srv.route("/page", body=b"<!DOCTYPE html><html><body>hi</body></html>", headers={"Content-Type": "application/rss+xml"})
        assert len(rss.Source("d", {"url": srv.url("/feed.xml")}, client()).fetch(None).posts) == 2
        with pytest.raises(ParseError, match="HTML page"):
            rss.Source("d", {"url": srv.url("/page")}, client()).fetch(None)


def test_fetch_articles_fills_text_and_metadata_from_the_page():
    page = (FIX / "article/story.html").read_bytes()
    with LoopbackServer() as srv:
        srv.route("/feed.xml", body=(FIX / "rss/page1.xml").read_bytes(), headers=ATOM)
        srv.route("/news/clip", body=page, headers={"Content-Type": "text/html; charset=utf-8"})
        srv.route("/news/second", Reply(404))
        result = rss.Source("desk", {"url": srv.url("/feed.xml"), "fetch_articles": True}, client()).fetch(None)
    clip_row, second = result.posts
    assert "stitched together" in clip_row["text"]
    assert clip_row["post_id"].endswith("/news/clip")  # the feed's id is kept
    assert clip_row["video_ids"] == ["youtube:dQw4w9WgXcQ"]
    assert second["text"] == "Plain summary."  # page failed: the feed's text stays
    assert any("HTTP 404" in w for w in result.warnings)


def test_fetch_articles_is_bounded_by_max_articles():
    with LoopbackServer() as srv:
        srv.route("/feed.xml", body=(FIX / "rss/page1.xml").read_bytes(), headers=ATOM)
        srv.route("/news/clip", body=(FIX / "article/story.html").read_bytes())
        result = rss.Source("d", {"url": srv.url("/feed.xml"), "fetch_articles": True, "max_articles": 1},
                            client()).fetch(None)
        paths = [p for _, p, _ in srv.requests]
    assert paths == ["/feed.xml", "/robots.txt", "/news/clip?utm_source=feed"]  # robots.txt: 404, all allowed
    assert any("max_articles" in w for w in result.warnings)


def test_article_links_to_private_addresses_are_not_followed_without_allow_private():
    with LoopbackServer() as srv:
        srv.route("/feed.xml", body=(FIX / "rss/page1.xml").read_bytes(), headers=ATOM)
        # the configured feed URL is fetched; the links found inside it (loopback) are not
        result = rss.Source("d", {"url": srv.url("/feed.xml"), "fetch_articles": True},
                            client(allow_private=False)).fetch(None)
        paths = [p for _, p, _ in srv.requests]
    assert paths == ["/feed.xml"] and len(result.posts) == 2
    assert all("private, loopback" in w for w in result.warnings)


def test_invalid_xml_and_invalid_json_over_http_are_parse_errors():
    with LoopbackServer() as srv:
        srv.route("/bad.json", body=b'{"version": "https://jsonfeed.org/version/1.1", "items": [',
                  headers={"Content-Type": "application/feed+json"})
        srv.route("/bad.xml", body=b"\x00\x01 not xml at all", headers=ATOM)
        with pytest.raises(ParseError, match="not valid JSON"):
            rss.Source("d", {"url": srv.url("/bad.json")}, client()).fetch(None)
        with pytest.raises(ParseError, match="not an RSS, Atom or JSON feed"):
            rss.Source("d", {"url": srv.url("/bad.xml")}, client()).fetch(None)


def test_null_fields_over_http_skip_the_bad_items_and_count_them():
    with LoopbackServer() as srv:
        srv.route("/f.json", body=(FIX / "rss/null_fields.json").read_bytes(), headers={"Content-Type": "application/json"})
        result = rss.Source("d", {"url": srv.url("/f.json")}, client()).fetch(None)
    assert len(result.posts) == 2 and result.skipped == 2


def test_an_article_that_breaks_the_extractor_keeps_the_feed_row(monkeypatch):
    from connectors import article

    def broken(*a, **kw):
        raise RuntimeError("extractor bug")

    monkeypatch.setattr(article, "read_page", broken)
    with LoopbackServer() as srv:
        srv.route("/feed.xml", body=(FIX / "rss/page1.xml").read_bytes(), headers=ATOM)
        srv.route("/news/clip", body=b"<html><body>x</body></html>")
        result = rss.Source("d", {"url": srv.url("/feed.xml"), "fetch_articles": True, "max_articles": 1},
                            client()).fetch(None)
    assert result.posts[0]["text"] == "A video shared widely was edited."
    assert any("could not be read (RuntimeError)" in w for w in result.warnings)
