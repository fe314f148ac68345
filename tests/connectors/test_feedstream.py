"""Large feeds: the streaming reader gives the rows feedparser gives, one entry at a time, and a
run takes at most max_items new entries, leaving the rest for the next runs."""


import pytest

from bench.feeds import rss_feed
from connectors import feedstream, rss
from connectors.errors import ParseError
from tests.connectors.support import NO_PAYLOADS, loopback_client, payloads_dir
from tests.loopback import LoopbackServer, Reply

FEEDS = payloads_dir() / "feeds"
COLUMNS = ("post_id", "url", "canonical_url", "title", "text", "author", "published_at", "lang", "links",
           "media_urls", "video_ids")
# where the two readers differ on the real feeds, and why
KNOWN_DIFFERENCES = {
    # an anchor with no closing ">" in the HTML: feedparser's sanitiser rewrites it, so its text
    # loses the broken tag; the stream reader keeps the text as the feed wrote it
    ("AmazonWebServicesBlog.xml", "text"),
    # media:content url="//img.vidible.tv/...": the stream reader resolves the protocol-relative
    # URL against the feed's (https://img.vidible.tv/...); feedparser leaves it relative, and a
    # relative URL is not stored
    ("HuffPostCanada.xml", "media_urls"),
}
URL = "https://feeds.example.org/dir/feed.xml"


@pytest.fixture
def stream_from_50_kb(monkeypatch):
    """Stream documents from 50 KB on, so the tests use feeds of hundreds of entries, not thousands."""
    monkeypatch.setattr(rss, "STREAM_FROM_BYTES", 50_000)


def real_feeds():
    return sorted(p for p in FEEDS.glob("*.xml")) if FEEDS.is_dir() else []


@pytest.mark.skipif(not FEEDS.is_dir(), reason=NO_PAYLOADS)
@pytest.mark.parametrize("path", real_feeds(), ids=lambda p: p.name)
def test_streamed_rows_are_feedparsers_rows_on_every_real_feed(path):
    data = path.read_bytes()
    results = []
    for stream in (False, True):
        try:
            results.append(rss.parse_feed(data, url=URL, stream=stream)[0])
        except ParseError as exc:
            results.append(type(exc))
    small, large = results
    if not isinstance(small, list):
        assert large is small  # both refuse it (an HTML fragment)
        return
    assert len(small) == len(large)
    for a, b in zip(small, large):
        for column in COLUMNS:
            if (path.name, column) not in KNOWN_DIFFERENCES:
                assert a[column] == b[column], (path.name, column)
    for e in rss.iter_xml_entries(data.lstrip(b"\xef\xbb\xbf").lstrip(), URL, {}):  # the quick id is the row's id
        row = rss._entry_row(e, None, "")
        if row is not None and rss.entry_id(e) is not None:
            assert rss.entry_id(e) == row["post_id"]


def test_large_documents_are_streamed_and_small_ones_keep_feedparser(monkeypatch, stream_from_50_kb):
    calls = []
    real = feedstream.iter_entries
    monkeypatch.setattr(feedstream, "iter_entries", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    assert len(rss.parse(rss_feed(20))) == 20 and not calls
    big = rss_feed(300)
    assert len(big) > rss.STREAM_FROM_BYTES
    rows = rss.parse(big, url="https://news.example.pk/feed")
    assert calls and len(rows) == 300
    assert rows[0]["post_id"].startswith("news:https://news.example.pk/news/0/") and rows[0]["title"].endswith(" 0")
    assert rows[0]["published_at"] > rows[-1]["published_at"] and rows[0]["lang"] == "en"


def test_a_cut_off_large_document_keeps_the_entries_before_the_cut(stream_from_50_kb):
    data = rss_feed(300)
    cut = data[: len(data) * 2 // 3]
    rows = rss.parse(cut)
    assert 190 < len(rows) <= 201  # the entry cut in the middle is kept as far as it goes
    assert [r["title"].rsplit(" ", 1)[1] for r in rows[:3]] == ["0", "1", "2"]


def test_streamed_documents_are_checked_like_small_ones(stream_from_50_kb):
    pad = b"<!-- " + b" " * rss.STREAM_FROM_BYTES + b" -->\n"
    laughs = (b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>\n' + pad
              + b'<rss version="2.0"><channel><item><title>&b;</title></item></channel></rss>')
    with pytest.raises(ParseError, match="entity expansion"):
        rss.parse(laughs)
    page = b"<html><body>" + b"<p>not a feed</p>" * 5_000 + b"</body></html>"
    with pytest.raises(ParseError, match="not an RSS, Atom or JSON feed"):
        rss.parse(page)
    with pytest.raises(ParseError, match=r"not an RSS, Atom or JSON feed \(no XML element could be read\)"):
        rss.parse(b"<" * 100_000)  # markup garbage
    wrapped = b'<html xmlns="http://www.w3.org/1999/xhtml"><body><feed xmlns="http://www.w3.org/2005/Atom">' + \
        b"".join(b"<entry><title>T%d</title><id>tag:x,2020:%d</id></entry>" % (i, i) for i in range(2_000)) + \
        b"</feed></body></html>"
    assert len(rss.parse(wrapped)) == 2_000  # an Atom feed inside an XHTML page, as feedparser reads it


# --- the Source: at most max_items per run, the rest next run ----------------------------------------

def source(srv, **options):
    return rss.Source("big", {"url": srv.url("/feed.xml"), **options}, loopback_client())


def test_max_items_leaves_the_rest_for_the_next_runs_and_each_entry_comes_once(stream_from_50_kb, monkeypatch):
    monkeypatch.setattr(rss, "FRAME_ROWS", 50)  # past 50 rows the result is a polars frame
    data = rss_feed(300, base="https://news.example.pk")
    with LoopbackServer() as srv:
        srv.route("/feed.xml", Reply(200, data, {"Content-Type": "application/rss+xml", "ETag": '"v1"'}))
        cursor, delivered, warnings = None, [], []
        for _ in range(3):
            result = source(srv, max_items=120, max_seen=100).fetch(cursor)
            posts = result.posts.to_dicts() if hasattr(result.posts, "to_dicts") else result.posts
            delivered.append([p["post_id"] for p in posts])
            warnings.append(result.warnings)
            cursor = result.cursor
        conditional = [r.headers.get("If-None-Match") for r in srv.requests]
    assert [len(d) for d in delivered] == [120, 120, 60]
    assert len({i for d in delivered for i in d}) == 300  # each entry once, newest first
    assert delivered[0][0].startswith("news:https://news.example.pk/news/0/")
    assert warnings[0] == ["big: max_items=120 reached; 180 entries left for the next run"]
    assert warnings[2] == []
    assert conditional == [None, None, None]  # while entries are left, the whole feed is read again
    assert cursor["etag"] == '"v1"' and len(rss.decode_known(cursor["known"])) == 300


def test_entries_left_over_come_on_later_runs_from_a_server_that_answers_304(stream_from_50_kb):
    """A server that honours If-None-Match: while entries are left the runs ask unconditionally
    and get the whole feed; once all are delivered an unchanged feed costs a 304, and a changed
    one brings only its new entries."""
    data = rss_feed(300)
    feed = {"Content-Type": "application/rss+xml"}
    with LoopbackServer() as srv:
        srv.route("/feed.xml", Reply(200, data, {**feed, "ETag": '"v1"'}, conditional=True))
        cursor, delivered = None, []
        for _ in range(4):
            result = source(srv, max_items=120, max_seen=100).fetch(cursor)
            posts = result.posts.to_dicts() if hasattr(result.posts, "to_dicts") else result.posts
            delivered.append([p["post_id"] for p in posts])
            cursor = result.cursor
        asked = [r.headers.get("If-None-Match") for r in srv.requests]
        newer = rss_feed(310)  # the same 300 items and ten more
        srv.route("/feed.xml", Reply(200, newer, {**feed, "ETag": '"v2"'}, conditional=True))
        fifth = source(srv, max_items=120, max_seen=100).fetch(cursor)
        sixth = source(srv, max_items=120, max_seen=100).fetch(fifth.cursor)
    assert [len(d) for d in delivered] == [120, 120, 60, 0]
    assert len({i for d in delivered for i in d}) == 300
    assert asked == [None, None, None, '"v1"']  # the fourth run's conditional GET got a 304
    new_ids = [p["post_id"] for p in (fifth.posts.to_dicts() if hasattr(fifth.posts, "to_dicts") else fifth.posts)]
    assert len(new_ids) == 10 and not set(new_ids) & {i for d in delivered for i in d}
    assert fifth.warnings == [] and fifth.cursor["etag"] == '"v2"'
    assert sixth.posts == [] and sixth.requests == 1  # unchanged again: one 304


def test_an_unchanged_large_feed_without_validators_is_skipped_by_known_ids(monkeypatch, stream_from_50_kb):
    data = rss_feed(300)
    with LoopbackServer() as srv:
        srv.route("/feed.xml", Reply(200, data, {"Content-Type": "application/rss+xml"}))
        first = source(srv, max_seen=100).fetch(None)
        assert len(first.posts) == 300 and first.cursor["etag"] is None
        built = []
        real = rss._entry_row
        monkeypatch.setattr(rss, "_entry_row", lambda *a: (built.append(1), real(*a))[1])
        second = source(srv, max_seen=100).fetch(first.cursor)
    assert len(second.posts) == 0 and built == []  # every id known: no entry's text was read


def test_a_small_feed_is_capped_too_and_keeps_its_dict_rows():
    with LoopbackServer() as srv:
        srv.route("/feed.xml", Reply(200, rss_feed(5), {"Content-Type": "application/rss+xml"}))
        result = source(srv, max_items=2).fetch(None)
        again = source(srv, max_items=2).fetch(result.cursor)
    assert isinstance(result.posts, list) and len(result.posts) == 2 and len(again.posts) == 2
    assert {p["post_id"] for p in result.posts}.isdisjoint(p["post_id"] for p in again.posts)
    assert result.warnings == ["big: max_items=2 reached; 3 entries left for the next run"]


def test_a_damaged_known_list_only_means_entries_are_offered_again():
    assert rss.decode_known("not base64!") == set() and rss.decode_known(None) == set()
    digests = {rss._digest("news:a"), rss._digest("news:b")}
    assert rss.decode_known(rss.encode_known(digests)) == digests
