"""Streaming reader for large RSS/Atom documents: one entry at a time, in bounded memory.

feedparser builds every entry of a document before returning and runs an HTML sanitiser over
each field, about a millisecond per entry: a 100,000-entry feed takes minutes and close to a
gigabyte. :func:`iter_entries` reads the document with lxml's ``iterparse`` (entities not
resolved, no DTD, no network, ``recover`` for ill-formed documents) and yields each entry as soon
as it is complete, as a dict with the keys of a feedparser entry that :mod:`connectors.rss` reads
(``title``, ``link``, ``id``, ``guidislink``, ``summary``, ``content``, ``links``,
``enclosures``, ``media_content``, ``media_thumbnail``, ``yt_videoid``, ``author``, ``authors``,
``published_parsed``, ``updated_parsed``), then frees it. Dates go through feedparser's own date
parser; relative URLs are resolved against ``xml:base`` and the document's URL, as feedparser
does. ``tests/connectors/test_feedstream.py`` compares the rows of both readers on every real
feed in the shared payloads.

:mod:`connectors.rss` uses it for documents over :data:`connectors.rss.STREAM_FROM_BYTES`;
smaller ones keep feedparser.
"""

from __future__ import annotations

import io
import re
from typing import Any, Callable, Iterator
from urllib.parse import urljoin

from connectors.errors import ParseError

ATOM = "http://www.w3.org/2005/Atom"
ATOM03 = "http://purl.org/atom/ns#"
RSS10 = "http://purl.org/rss/1.0/"
RSS090 = "http://my.netscape.com/rdf/simple/0.9/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DC = "http://purl.org/dc/elements/1.1/"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
MEDIA = "http://search.yahoo.com/mrss/"
YT = "http://www.youtube.com/xml/schemas/2015"
ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
XHTML = "http://www.w3.org/1999/xhtml"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

_VERSIONS = {("", "rss"): "rss", (RDF, "RDF"): "rss10", (ATOM, "feed"): "atom10", (ATOM03, "feed"): "atom03"}
_ENTRY_TAGS = {"item", f"{{{RSS10}}}item", f"{{{RSS090}}}item", f"{{{ATOM}}}entry", f"{{{ATOM03}}}entry"}
_RSS_NS = ("", RSS10, RSS090)
_ATOM_NS = (ATOM, ATOM03)
_XML_ENCODING = re.compile(rb"^(\s*<\?xml[^>]*?encoding\s*=\s*[\"'])([\w.:-]+)([\"'])", re.I)


# prefixes feeds use without declaring them (feedparser knows them by name too)
_KNOWN_PREFIXES = {"content": CONTENT, "dc": DC, "media": MEDIA, "itunes": ITUNES, "atom": ATOM, "yt": YT,
                   "rdf": RDF}


_SPLIT_CACHE: dict[str, tuple[str, str]] = {}


def _split(tag: Any) -> tuple[str, str]:
    if not isinstance(tag, str):
        return "", ""  # comments and processing instructions
    known = _SPLIT_CACHE.get(tag)
    if known is not None:
        return known
    if len(_SPLIT_CACHE) < 4096:
        _SPLIT_CACHE[tag] = _split_tag(tag)
        return _SPLIT_CACHE[tag]
    return _split_tag(tag)


def _split_tag(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    if ":" in tag:  # an undeclared prefix, kept in the name by the recovering parser
        prefix, _, local = tag.partition(":")
        return _KNOWN_PREFIXES.get(prefix.lower(), prefix), local
    return "", tag


def _utf8(data: bytes) -> bytes:
    """``data`` as lxml should read it: unchanged when it decodes as declared, else decoded the
    way :func:`connectors.safe.decode_text` does and re-encoded as UTF-8 (a feed that says UTF-8
    but holds Windows-1252 bytes)."""
    from connectors.safe import decode_text

    m = _XML_ENCODING.match(data[:512])
    declared = m.group(2).decode("ascii") if m else "utf-8"
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or data[:3] == b"\xef\xbb\xbf":
        return data  # a byte-order mark: lxml reads it
    if _decodes(data, declared):
        return data
    text = decode_text(data, None).encode("utf-8")
    return _XML_ENCODING.sub(rb"\g<1>utf-8\g<3>", text, count=1)


def _decodes(data: bytes, encoding: str) -> bool:
    """Whether ``data`` is valid ``encoding``, checked a megabyte at a time (decoding a 100 MB
    document whole would hold up to 400 MB of text)."""
    import codecs

    try:
        decoder = codecs.getincrementaldecoder(encoding)()
    except LookupError:
        return False
    view = memoryview(data)
    try:
        for i in range(0, len(data), 1 << 20):
            decoder.decode(view[i:i + (1 << 20)], final=False)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _inner(el: Any) -> str:
    """The text of ``el``, with child elements serialised (inline HTML, xhtml content)."""
    from lxml import etree

    children = [c for c in el if isinstance(c.tag, str)]
    if not children:
        return el.text or ""
    if len(children) == 1 and _split(children[0].tag) == (XHTML, "div") and not (el.text or "").strip():
        el = children[0]  # Atom xhtml content: the div's contents
    parts = [el.text or ""]
    for child in el:
        parts.append(etree.tostring(child, encoding="unicode", with_tail=True))
    return _TAG.sub(_plain_tag, "".join(parts))


_TAG = re.compile(r"<[^<>]+>")
_XMLNS = re.compile(r"\s+xmlns(?::[\w.-]+)?=(?:\"[^\"]*\"|'[^']*')")
_PREFIX = re.compile(r"^(</?)[\w.-]+:")


def _plain_tag(m: "re.Match[str]") -> str:
    """A serialised tag without namespace declarations or prefixes (``<html:p>`` -> ``<p>``)."""
    return _PREFIX.sub(r"\1", _XMLNS.sub("", m.group(0)))


_HREF_ATTR = re.compile(r"""(<a\b[^<>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.I | re.S)


def _resolved(markup: str, base: str) -> str:
    """``markup`` with every anchor's href made absolute against ``base`` (feedparser's
    ``resolve_relative_uris``), so the links of a large feed match a small one's."""
    if not base or "href" not in markup:
        return markup
    import html

    def fix(m: "re.Match[str]") -> str:
        try:
            url = urljoin(base, html.unescape(m.group(3)).strip())
        except ValueError:
            return m.group(0)
        return f"{m.group(1)}{m.group(2)}{html.escape(url, quote=True)}{m.group(2)}"

    return _HREF_ATTR.sub(fix, markup)


def _base(el: Any, url: str | None) -> str:
    """The base URI in scope at ``el``: its ``xml:base`` (and its ancestors') against ``url``."""
    declared = el.base  # lxml combines the xml:base attributes of the element and its ancestors
    if declared:
        return urljoin(url or "", declared)
    return url or ""


def _lang(el: Any) -> str | None:
    while el is not None:
        value = el.get(XML_LANG)
        if value:
            return value
        el = el.getparent()
    return None


def _date(text: str | None) -> Any:
    if not text or not text.strip():
        return None
    from feedparser.datetimes import _parse_date

    try:
        return _parse_date(text.strip())
    except Exception:  # an unreadable date is no date, as in feedparser
        return None


class FeedInfo(dict):
    """Feed-level fields (``title``, ``language``, ``next``, ``version``), filled while reading."""


def iter_entries(data: bytes, url: str | None = None, info: FeedInfo | None = None,
                 keep: Callable[[dict[str, Any]], bool] | None = None) -> Iterator[dict[str, Any]]:
    """Each entry of the RSS/Atom document ``data`` (see the module docstring), in document
    order. ``info`` is filled with the feed's fields as they are read (complete once the
    iterator is exhausted). Raises :class:`ParseError` if the document is not a feed.

    ``keep``: called first with each entry's identity only (``link``, ``links``, ``id``,
    ``guidislink``, as the whole entry has them); an entry it returns False for is passed over
    without reading its text, dates or media (an entry already delivered, or past a cap)."""
    from lxml import etree

    info = info if info is not None else FeedInfo()
    info["url"] = url
    events = etree.iterparse(io.BytesIO(_utf8(data)), events=("start", "end"), resolve_entities=False,
                             no_network=True, load_dtd=False, huge_tree=False, recover=True,
                             remove_comments=True, remove_pis=True)
    root = None
    inside = 0  # entries open (their children's end events are not feed fields)
    try:
        for event, el in events:
            if event == "start":
                if el.tag in _ENTRY_TAGS:
                    inside += 1
                if root is None:
                    root = el
                if "version" not in info:
                    version = _VERSIONS.get(_split(el.tag))
                    if version is not None:
                        info["version"] = version
                        if el.get(XML_LANG):
                            info.setdefault("language", el.get(XML_LANG))
                continue
            tag = el.tag
            if tag in _ENTRY_TAGS:
                inside -= 1
                if keep is None or keep(_entry(el, url, ids_only=True)):
                    yield _entry(el, url)
                el.clear(keep_tail=False)
                parent = el.getparent()
                if parent is not None:
                    while el.getprevious() is not None:
                        del parent[0]
                continue
            if not inside:
                _feed_field(el, info)
    except etree.XMLSyntaxError as exc:
        if root is None:
            raise ParseError(f"feed could not be read ({exc})") from None
        # a cut or broken document: the entries read so far stand, like feedparser's bozo feeds
        info["bozo"] = str(exc)
    if root is None:
        raise ParseError("not an RSS, Atom or JSON feed (no XML element could be read)")
    if "version" not in info:
        local = _split(root.tag)[1] or "?"
        raise ParseError(f"not an RSS, Atom or JSON feed (root element {local!r})")


def _feed_field(el: Any, info: FeedInfo) -> None:
    parent = el.getparent()
    if parent is None:
        return
    pns, plocal = _split(parent.tag)
    if plocal not in ("channel", "feed"):
        return
    ns, local = _split(el.tag)
    if local == "title" and "title" not in info and (ns in _RSS_NS or ns in _ATOM_NS):
        info["title"] = (el.text or "").strip()
    elif (local == "language" and ns in ("", DC)) and "language" not in info:
        info["language"] = (el.text or "").strip()
    elif local == "link" and ns in _ATOM_NS and el.get("rel") == "next" and el.get("href"):
        info.setdefault("next", urljoin(_base(el, info.get("url")), el.get("href").strip()))


_ID_TAGS = frozenset(("link", "guid", "id"))  # the children an entry's identity is read from


def _entry(el: Any, url: str | None, ids_only: bool = False) -> dict[str, Any]:
    """The feedparser-like dict of one entry element; ``ids_only``: only what its identity is
    made of (``link``, ``links``, ``id``, ``guidislink``), the same as in the whole dict."""
    e: dict[str, Any] = {"links": [], "enclosures": [], "media_content": [], "media_thumbnail": [],
                         "content": [], "authors": []}
    base = _base(el, url)
    rss_link = guid = None
    guid_is_link = True
    published = updated = None
    for child in el:
        ns, local = _split(child.tag)
        if not local or (ids_only and local not in _ID_TAGS):
            continue
        here = _base(child, url) if child.get("{http://www.w3.org/XML/1998/namespace}base") else base
        if ns in _RSS_NS:
            if local == "title":
                e.setdefault("title", _inner(child))
            elif local == "link":
                rss_link = rss_link or (child.text or "").strip() or None
            elif local == "guid":
                guid = (child.text or "").strip() or None
                guid_is_link = (child.get("isPermaLink") or "true").strip().lower() == "true"
            elif local == "description":
                _summary(e, child, here)
            elif local == "author":
                e.setdefault("author", (child.text or "").strip() or None)
            elif local == "pubDate":
                published = published or child.text
            elif local == "enclosure" and child.get("url"):
                e["enclosures"].append({"href": urljoin(here, child.get("url").strip()), "type": child.get("type")})
        elif ns in _ATOM_NS:
            if local == "title":
                e.setdefault("title", _inner(child))
            elif local == "link":
                href = (child.get("href") or "").strip()
                if href:
                    rel = child.get("rel") or "alternate"
                    link = {"rel": rel, "href": urljoin(here, href), "type": child.get("type")}
                    e["links"].append(link)
                    if rel == "enclosure":
                        e["enclosures"].append({"href": link["href"], "type": link["type"]})
            elif local == "id":
                e.setdefault("id", (child.text or "").strip())
            elif local == "summary":
                _summary(e, child, here)
            elif local == "content":
                e["content"].append({"value": _resolved(_inner(child), here), "language": _lang(child),
                                     "type": child.get("type")})
            elif local == "author":
                name = (child.findtext(f"{{{ns}}}name") or "").strip()
                email = (child.findtext(f"{{{ns}}}email") or "").strip()
                if name or email:
                    e["authors"].append({"name": name, "email": email})
            elif local in ("published", "issued", "created"):
                published = published or child.text
            elif local in ("updated", "modified"):
                updated = updated or child.text
        elif ns == DC:
            if local == "creator" and (child.text or "").strip():
                e["authors"].append({"name": child.text.strip()})
                e.setdefault("author", child.text.strip())
            elif local == "date":
                published = published or child.text
            elif local == "description":
                _summary(e, child, here)
            elif local == "title":
                e.setdefault("title", _inner(child))
        elif ns == CONTENT and local == "encoded":
            e["content"].append({"value": _resolved(_inner(child), here), "language": _lang(child), "type": "text/html"})
        elif ns == MEDIA:
            _media(child, local, e, here)
        elif ns == YT and local == "videoId":
            e["yt_videoid"] = (child.text or "").strip()
        elif ns == ITUNES:
            if local == "author" and (child.text or "").strip():
                e.setdefault("author", child.text.strip())
            elif local == "summary":
                _summary(e, child, here)
    about = el.get(f"{{{RDF}}}about")
    if guid:
        e["id"] = urljoin(base, guid) if guid_is_link else guid
    elif about and "id" not in e:
        e["id"] = about
    if rss_link:
        e["link"] = urljoin(base, rss_link)
        e["links"].insert(0, {"rel": "alternate", "href": e["link"], "type": "text/html"})
    else:
        alternates = [l for l in e["links"] if l["rel"] == "alternate"]
        if alternates:
            html = [l for l in alternates if (l["type"] or "text/html") in ("text/html", "application/xhtml+xml")]
            e["link"] = (html or alternates)[0]["href"]
        elif guid and guid_is_link:
            e["link"] = e["id"]
            e["guidislink"] = True
    if ids_only:
        return e
    if "author" not in e and e["authors"]:
        first = e["authors"][0]
        e["author"] = (f"{first['name']} ({first['email']})" if first.get("name") and first.get("email")
                       else first.get("name") or first.get("email"))
    e["published_parsed"] = _date(published)
    e["updated_parsed"] = _date(updated)
    if e["content"] and "summary" not in e:
        e["summary"] = e["content"][0]["value"]
    return e


def _summary(e: dict[str, Any], el: Any, base: str) -> None:
    """A summary-like element: the entry's summary, or (as feedparser does) one more content
    value when the entry already has a summary."""
    value = _resolved(_inner(el), base)
    if "summary" in e:
        e["content"].append({"value": value, "language": _lang(el), "type": "text/plain"})
    else:
        e["summary"] = value


def _media(el: Any, local: str, e: dict[str, Any], base: str) -> None:
    if local in ("group", "content"):
        if local == "content" and el.get("url"):
            e["media_content"].append({"url": urljoin(base, el.get("url").strip())})
        for child in el:
            ns, sub = _split(child.tag)
            if ns == MEDIA and (sub == "description" or local == "group"):
                _media(child, sub, e, base)
    elif local == "description":
        _summary(e, el, base)
    elif local == "thumbnail" and el.get("url"):
        e["media_thumbnail"].append({"url": urljoin(base, el.get("url").strip())})
