"""Article pages. The title acceptance figure is computed on the 39 real pages of the shared
payloads (mozilla/readability test pages) against their ``expected-metadata.json`` titles.

"Matches" means: equal after normalisation (Unicode NFKC, case folded, whitespace collapsed,
curly quotes and dashes made plain), or equal once one side's trailing site name is removed
(``"Headline - Breitbart"`` vs ``"Headline"``: one title is the other followed by a separator
`` - ``, `` | ``, ``_``, `` :: `` and at most 40 more characters). Both rates are printed.
"""

import json
import unicodedata
from datetime import datetime, timezone
from pathlib import Path

import pytest

from connectors import article
from connectors.errors import ParseError
from connectors.http import HttpClient, HttpSettings
from tests.connectors.support import NO_PAYLOADS, assert_lang_or_reason, payloads_dir
from tests.loopback import LoopbackServer, Reply

FIX = Path(__file__).parent / "fixtures"


PAGES = payloads_dir() / "html"
_PLAIN = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})
_SEPS = (" - ", " | ", "_", " _", " :: ", " – ", " — ")


def norm(s):
    return " ".join(unicodedata.normalize("NFKC", s or "").casefold().translate(_PLAIN).split())


def titles_match(got, expected, strict=False):
    g, e = norm(got), norm(expected)
    if g == e:
        return True
    if strict or not g or not e:
        return False
    longer, shorter = (g, e) if len(g) > len(e) else (e, g)
    rest = longer[len(shorter):]
    return longer.startswith(shorter) and rest.startswith(_SEPS) and len(rest) <= 45


@pytest.mark.skipif(not PAGES.is_dir(), reason=NO_PAYLOADS)
def test_titles_match_expected_on_at_least_90_percent_and_no_page_is_empty():
    pages = sorted(PAGES.glob("*.html"))
    assert len(pages) == 39
    matched = strict = 0
    misses = []
    for page in pages:
        expected = json.loads(page.with_name(page.stem + ".expected-metadata.json").read_text())["title"]
        row = article.parse(page.read_bytes(), source="test")[0]
        assert row["title"] and row["title"].strip(), f"{page.name}: empty title"
        assert row["text"] and len(row["text"]) >= 200, f"{page.name}: text too short ({len(row['text'] or '')})"
        assert_lang_or_reason([row], page.name)
        matched += titles_match(row["title"], expected)
        strict += titles_match(row["title"], expected, strict=True)
        if not titles_match(row["title"], expected, strict=True):
            misses.append(f"{page.name}: got {row['title']!r}, expected {expected!r}")
    rate, strict_rate = matched / len(pages), strict / len(pages)
    print(f"\ntitle match: {matched}/{len(pages)} = {rate:.1%} (site-name tolerant); "
          f"strict: {strict}/{len(pages)} = {strict_rate:.1%}")
    print("\n".join(misses))
    assert rate >= 0.9


def test_fields_from_json_ld_meta_and_html():
    row = article.parse((FIX / "article/story.html").read_bytes(), url=None, source="desk")[0]
    assert row["post_id"] == "news:https://news.example/news/clip"  # from <link rel=canonical>
    assert row["title"] == "Edited clip of Trump on Imran Khan circulates"
    assert "stitched together" in row["text"] and "Copyright" not in row["text"]
    assert row["author"] == "Desk Reporter"  # JSON-LD wins over <meta name=author>
    assert row["published_at"] == datetime(2024, 11, 21, 10, tzinfo=timezone.utc)
    assert row["lang"] == "en"
    assert row["video_ids"] == ["youtube:dQw4w9WgXcQ"]


def test_the_given_url_is_the_id():
    row = article.parse((FIX / "article/story.html").read_bytes(), url="https://www.news.example/x?utm_medium=a")[0]
    assert row["post_id"] == "news:https://news.example/x" and row["url"] == "https://www.news.example/x?utm_medium=a"


def test_site_name_is_stripped_from_the_title():
    assert article.strip_site_name("Headline | Desk News", "Desk News") == "Headline"
    assert article.strip_site_name("Desk News", "Desk News") == "Desk News"
    assert article.strip_site_name("Headline", None) == "Headline"


@pytest.mark.parametrize("html, title, text", [
    (b"<html><head><title>Only a title</title></head><body></body></html>", "Only a title", "Only a title"),
    (b"<html><body><p>Only a short paragraph of text.</p></body></html>", "Only a short paragraph of text.",
     "Only a short paragraph of text."),
    (b'<html><head><meta property="og:title" content="OG title"><meta name="description" content="Desc"></head>'
     b"<body></body></html>", "OG title", "Desc"),
    (b'<html><head><script type="application/ld+json">{"@type":"NewsArticle","headline":"LD &amp; title",'
     b'"articleBody":"LD body",}</script></head><body></body></html>', "LD & title", "LD body"),
])
def test_fallbacks_never_leave_a_page_empty(html, title, text):
    row = article.parse(html)[0]
    assert (row["title"], row["text"]) == (title, text)
    assert row["post_id"].startswith("news:sha256-")


@pytest.mark.parametrize("data", [b"", b"   ", b'{"a": 1}', b"plain words, no markup",
                                  b'<?xml version="1.0"?><rss><channel/></rss>'])
def test_non_html_is_a_parse_error(data):
    with pytest.raises(ParseError):
        article.parse(data)


def test_wrongly_declared_charset_still_decodes():
    html = "<html><head><meta charset='utf-8'><title>Café crème</title></head><body><p>Déjà vu, naïve façade.</p></body></html>"
    row = article.parse(html.encode("latin-1"))[0]  # declared utf-8, really latin-1
    assert row["title"] == "Café crème" and "naïve" in row["text"]


def test_json_ld_in_graph_with_several_objects():
    html = b"""<html><head><script type="application/ld+json">
    {"@context":"https://schema.org","@graph":[{"@type":"WebSite","name":"Site"},
     {"@type":"NewsArticle","headline":"From the graph","datePublished":"2024-01-02T03:04:05Z",
      "author":{"@type":"Person","name":"G. Author"},"inLanguage":"ur"}]}
    </script></head><body><p>x</p></body></html>"""
    row = article.parse(html)[0]
    assert (row["title"], row["author"], row["lang"]) == ("From the graph", "G. Author", "ur")
    assert row["published_at"] == datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def test_page_served_by_loopback_with_wrong_content_type():
    with LoopbackServer() as srv:
        srv.route("/a", Reply(200, (FIX / "article/story.html").read_bytes(), {"Content-Type": "application/octet-stream"}))
        resp = HttpClient(HttpSettings(allow_private=True)).get(srv.url("/a"))
    row = article.parse(resp.content, url=resp.url, content_type=resp.header("content-type"))[0]
    assert row["title"].startswith("Edited clip")
