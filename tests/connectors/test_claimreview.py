from pathlib import Path

import pytest

from connectors import claimreview
from connectors.errors import ConfigError, FetchError, HTTPStatusError, ParseError
from tests.connectors.support import loopback_client
from tests.loopback import LoopbackServer, Reply

FIX = Path(__file__).parent / "fixtures" / "claimreview"
HTML = {"Content-Type": "text/html; charset=utf-8"}
RSS = {"Content-Type": "application/rss+xml"}


def page(name):
    return (FIX / name).read_bytes()


def client(**settings):
    return loopback_client(**{"retries": 1, **settings})


# --- parse -----------------------------------------------------------------------------------------

def test_a_claimreview_becomes_one_imported_claim_row():
    (row,) = claimreview.parse(page("single.html"), source="desk")
    assert row["claim_id"] == claimreview.claim_id_for("https://factcheck.example/doc/trump-khan-clip", row["text"])
    # readable words of the claim, then digits of the review URL
    assert row["claim_id"] == "cr-donald-trump-promising-work-release-imran-khan-" + \
        claimreview.claim_digest("https://factcheck.example/doc/trump-khan-clip", "")
    assert row["status"] == "imported"
    assert row["text"] == "Video shows Donald Trump promising to work for the release of Imran Khan"
    assert row["title"] == "Video of Trump pledging to free Imran Khan is edited"  # site name dropped
    assert "verdict" not in row  # the rating's meaning is the rules' business (rules.verdicts)
    assert (row["rating"], row["rating_value"], row["best_rating"], row["worst_rating"]) == ("Altered video", 1, 5, 1)
    assert row["publisher"] == "Desk Fact Check" and row["date"] == "2024-11-20"
    assert row["fact_check_urls"] == ["https://factcheck.example/doc/trump-khan-clip"]
    assert row["fact_checks"] == [{"publisher": "Desk Fact Check", "url": "https://factcheck.example/doc/trump-khan-clip",
                                   "date": "2024-11-20", "rating": "Altered video"}]
    assert row["known_media"] == ["youtube:dQw4w9WgXcQ", "https://social.example/@someone/1234"]
    assert (row["claim_author"], row["claim_date"], row["lang"], row["source"]) == (
        "Social media users", "2024-11-12", "en", "desk")


def test_claim_id_is_stable_and_its_digits_depend_on_the_review_url_only():
    a = claimreview.parse(page("single.html"))[0]["claim_id"]
    b = claimreview.parse(page("single.html"), url="https://elsewhere.example/x")[0]["claim_id"]
    assert a == b  # the review's own url wins over where the page was fetched from
    digits = claimreview.claim_digest
    assert digits("https://www.factcheck.example/doc/a?utm_source=x", "t") == digits("https://factcheck.example/doc/a", "other")
    assert claimreview.claim_id_for("https://factcheck.example/doc/a", "t") != \
        claimreview.claim_id_for("https://factcheck.example/doc/b", "t")
    assert claimreview.claim_id_for("https://factcheck.example/doc/a", "Same claim") == \
        claimreview.claim_id_for("https://factcheck.example/doc/a", "Same claim")


@pytest.mark.parametrize(("text", "title", "url", "slug"), [
    ("Video shows Imran Khan's release was promised by Trump", None, None, "imran-khan-release-promised-trump"),
    ("عمران خان کی رہائی کا وعدہ", "Fact Check: Trump video is edited - Geo News", None, "trump-edited"),
    ("عمران خان کی رہائی کا وعدہ", None, "https://x.example/news/30279001", ""),
    ("عمران خان کی رہائی کا وعدہ", None, "https://x.example/fact-check/khan-clip-edited.html", "khan-clip-edited"),
    ("Président Macron a dit ça", None, None, "president-macron-dit-ca"),
])
def test_claim_slug_reads_the_claim_then_the_title_then_the_url(text, title, url, slug):
    assert claimreview.claim_slug(text, title, url) == slug


@pytest.mark.parametrize(("title", "publisher", "clean"), [
    ("Fact Check: Is An Edited Clip Of Trump Real? - News Nation", None, "Is An Edited Clip Of Trump Real?"),
    ("FACT CHECK: video is old | AFP Fact Check", None, "Video is old"),
    ("Fact-check - Khan clip edited – Dawn.com", None, "Khan clip edited"),
    ("Video of Trump is edited - Desk Fact Check", "Desk Fact Check", "Video of Trump is edited"),
    ("Khan and Trump - what the video really shows", None, "Khan and Trump - what the video really shows"),
    ("Claim about a press release", None, "Claim about a press release"),
])
def test_clean_title_drops_fact_check_prefixes_and_site_names(title, publisher, clean):
    assert claimreview.clean_title(title, publisher) == clean


def test_graph_members_and_type_lists_are_found():
    (row,) = claimreview.parse(page("graph.html"))
    assert (row["rating"], row["lang"], row["title"]) == ("False", "ur", "Faisal Mosque attack claim is false")
    assert row["known_media"] == ["https://facebook.com/story.php?id=1"]


def test_several_reviews_under_one_url_get_distinct_ids_and_their_own_titles():
    rows = claimreview.parse(page("list.html"))
    assert [r["rating"] for r in rows] == ["Pants on Fire!", "Missing context"]
    assert len({r["claim_id"] for r in rows}) == 2
    assert [r["title"] for r in rows] == ["Claim one about a press release", "Claim two about a protest photo"]
    assert claimreview.parse(page("list.html"))[1]["claim_id"] == rows[1]["claim_id"]


def test_malformed_json_ld_is_read_leniently_and_unreadable_blocks_are_skipped():
    rows = claimreview.parse(page("malformed.html"))
    assert [(r["text"], r["rating"], r["rating_value"]) for r in rows] == [
        ("Minister says the moon is made of cheese & chutney", "Satire", None),  # trailing commas, CDATA
        ("Second object in the same block", None, "2"),  # numeric rating 2 of 1..5
        ("Entity-encoded block", "Doctored", None),  # &quot; everywhere
    ]
    assert (rows[1]["best_rating"], rows[1]["worst_rating"]) == ("5", "1")  # the broken block, the empty one and the review with a null claim are skipped
    assert rows[1]["rating"] is None and rows[1]["publisher"] is None and rows[1]["date"] is None


def test_page_without_claimreview_gives_no_rows():
    assert claimreview.parse(page("none.html")) == []


@pytest.mark.parametrize("data", [b"", b"  ", b"plain text, no markup"])
def test_non_html_is_a_parse_error(data):
    with pytest.raises(ParseError):
        claimreview.parse(data)


def test_a_bare_json_ld_document_is_accepted():
    rows = claimreview.parse(b'{"@type": "ClaimReview", "url": "https://f.example/a", "claimReviewed": "X", '
                             b'"reviewRating": {"alternateName": "Fake"}}')
    assert rows[0]["rating"] == "Fake"


# --- Source ----------------------------------------------------------------------------------------

def serve(srv, feed=None):
    srv.route("/rss.xml", body=feed or page("feed.xml"), headers={**RSS, "ETag": '"f1"'})
    srv.route("/doc/trump-khan-clip", body=page("single.html"), headers=HTML)
    srv.route("/doc/mosque", body=page("graph.html"), headers=HTML)
    srv.route("/doc/roundup", body=page("list.html"), headers=HTML)
    srv.route("/doc/none", body=page("none.html"), headers=HTML)


def test_source_reads_feed_then_pages_and_returns_claim_rows():
    with LoopbackServer() as srv:
        serve(srv)
        result = claimreview.Source("desk", {"feed_url": srv.url("/rss.xml")}, client()).fetch(None)
    assert [r["rating"] for r in result.posts] == ["Altered video", "False", "Pants on Fire!", "Missing context"]
    assert all(r["status"] == "imported" and r["source"] == "desk" for r in result.posts)
    assert any("no ClaimReview markup" in w for w in result.warnings)
    assert result.requests == 5 and len(result.cursor["seen"]) == 4


def test_source_resumes_from_cursor_and_an_unchanged_feed_costs_one_304():
    with LoopbackServer() as srv:
        serve(srv)
        src = claimreview.Source("desk", {"feed_url": srv.url("/rss.xml")}, client())
        first = src.fetch(None)
        again = src.fetch({"seen": first.cursor["seen"]})  # feed re-read, pages not
        assert again.posts == [] and again.requests == 1
        srv.route("/rss.xml", Reply(304))
        cached = src.fetch(first.cursor)
        assert cached.posts == [] and cached.requests == 1
        assert srv.requests[-1][2].get("If-None-Match") == '"f1"'


def test_max_pages_bounds_a_run_and_the_rest_waits_for_the_next():
    with LoopbackServer() as srv:
        serve(srv)
        src = claimreview.Source("desk", {"feed_url": srv.url("/rss.xml"), "max_pages": 2}, client())
        first = src.fetch(None)
        assert len(first.posts) == 2 and any("max_pages=2" in w for w in first.warnings)
        assert first.cursor["etag"] is None  # the next run must not be answered 304
        second = src.fetch(first.cursor)
        assert [r["rating"] for r in second.posts] == ["Pants on Fire!", "Missing context"]


def test_a_failing_page_is_retried_next_run_and_does_not_sink_the_batch():
    with LoopbackServer() as srv:
        serve(srv)
        srv.route("/doc/mosque", [Reply(500), Reply(500), Reply(200, page("graph.html"), HTML)])
        src = claimreview.Source("desk", {"feed_url": srv.url("/rss.xml")}, client(retries=1))
        first = src.fetch(None)
        assert len(first.posts) == 3 and any("HTTP 500" in w for w in first.warnings)
        second = src.fetch(first.cursor)
        assert [r["text"] for r in second.posts] == ["A drone attacked Faisal Mosque in Islamabad"]


def test_429_with_retry_after_on_the_feed():
    with LoopbackServer() as srv:
        serve(srv)
        srv.route("/rss.xml", [Reply(429, headers={"Retry-After": "1"}), Reply(200, page("feed.xml"), RSS)])
        c = client()
        assert len(claimreview.Source("d", {"feed_url": srv.url("/rss.xml")}, c).fetch(None).posts) == 4
        assert c.sleeps == [1.0]


def test_feed_errors_propagate_for_the_flow_to_record():
    with LoopbackServer() as srv:
        srv.route("/rss.xml", Reply(404))
        with pytest.raises(HTTPStatusError, match="404"):
            claimreview.Source("d", {"feed_url": srv.url("/rss.xml")}, client()).fetch(None)
        srv.route("/bad.xml", body=b"<html><body>not a feed</body></html>", headers=RSS)
        with pytest.raises(ParseError):
            claimreview.Source("d", {"feed_url": srv.url("/bad.xml")}, client()).fetch(None)
        srv.route("/cut.xml", Reply(200, page("feed.xml"), RSS, truncate_to=50))
        with pytest.raises(FetchError):
            claimreview.Source("d", {"feed_url": srv.url("/cut.xml")}, client(retries=0)).fetch(None)


def test_review_links_to_private_addresses_are_skipped_without_allow_private():
    with LoopbackServer() as srv:
        serve(srv)
        result = claimreview.Source("d", {"feed_url": srv.url("/rss.xml")}, client(allow_private=False)).fetch(None)
        assert result.posts == [] and len(srv.requests) == 1
        assert all("private, loopback" in w for w in result.warnings)
        assert result.cursor["seen"] == []  # nothing read: all still pending


def test_options_are_checked():
    with pytest.raises(ConfigError, match="feed_url"):
        claimreview.Source("d", {}, client())
    with pytest.raises(ConfigError, match="max_pages"):
        claimreview.Source("d", {"feed_url": "https://f.example/rss", "max_pages": 0}, client())
