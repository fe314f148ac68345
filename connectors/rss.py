"""News feeds: RSS 0.9x/1.0/2.0, Atom and JSON Feed (kind ``rss``, platform ``news``).

One ``posts`` row per feed entry; ``post_id`` is ``news:<canonical link>`` (the entry's id when
it has no link). ``parse(data, url=None, source="")`` is pure: XML goes through
:func:`connectors.safe.check_xml` (entity declarations refused) and then feedparser, or, from
:data:`STREAM_FROM_BYTES` (2 MB) on, :mod:`connectors.feedstream` (lxml ``iterparse``, one entry
at a time: a 100,000-entry document in bounded memory); JSON Feed (1.0/1.1) is read with a
depth-bounded JSON loader.

Source options (``[[sources]]`` with ``kind = "rss"``):

* ``url`` (required): the feed.
* ``fetch_articles`` (default false): fetch each new entry's page and fill ``text`` (main text),
  ``title``, ``author``, ``published_at`` and ``lang`` from it (:mod:`connectors.article`).
  Links are checked by the private-address rule and the site's robots.txt first.
* ``max_articles`` (default 20): at most this many pages per run.
* ``max_pages`` (default 1): follow RFC 5005 ``<link rel="next">`` pages up to this many.
* ``max_seen`` (default 1000): how many entry ids the cursor remembers.
* ``max_items`` (default 10,000): at most this many new entries per run; the rest are left for
  the next runs (a warning says how many).

Cursor: ``{"etag", "last_modified", "newest", "seen", "known"}``. ``etag``/``last_modified`` make
the next run a conditional GET, so an unchanged feed costs one ``304``; ``newest`` is the newest
``published_at`` seen (ISO 8601); ``seen`` the ids of the latest entries, so entries already
delivered are not delivered again. ``known`` (only for documents longer than ``max_seen``, or
while entries are left over) holds an 8-byte digest of every id delivered or present in the last
document, base64-encoded: an entry whose id is known is skipped before its text is read. While
entries are left over the validators are dropped, so the next run reads the whole document
again and delivers the next ``max_items``.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import io
import re
from datetime import datetime, timezone
from typing import Any

from connectors.base import BaseSource, FetchResult
from connectors.common import conditional_headers, parse_items
from connectors.errors import ConfigError, ConnectorError, ParseError
from connectors.safe import charset_of, check_xml, clip, decode_text, load_json
from connectors.schema import make_post
from connectors.urls import canonical_url, unsafe_id, video_ref

MAX_FEED_BYTES = 20 * 1024 * 1024  # feedparser's share; bigger documents are streamed
MAX_STREAM_BYTES = 512 * 1024 * 1024  # streamed documents (the HTTP client's max_bytes caps them first)
STREAM_FROM_BYTES = 2 * 1024 * 1024  # XML documents from this size on are read by connectors.feedstream


def parse(data: bytes, *, url: str | None = None, source: str = "") -> list[dict[str, Any]]:
    """The entries of one feed document as ``posts`` rows; :class:`ParseError` if ``data`` is
    not a feed."""
    return parse_feed(data, url=url, source=source)[0]


def parse_feed(data: bytes, *, url: str | None = None, source: str = "",
               stream: bool | None = None) -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
    """``(rows, skipped, info)``; ``info`` has the feed's ``title``, ``lang`` and ``next`` page.
    ``stream`` picks the XML reader: feedparser (False), :mod:`connectors.feedstream` (True), or
    by size (None: streamed from :data:`STREAM_FROM_BYTES` on)."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf").lstrip()
    xml = head.startswith(b"<")
    streamed = xml and (stream if stream is not None else len(data) >= STREAM_FROM_BYTES)
    limit = MAX_STREAM_BYTES if streamed else MAX_FEED_BYTES
    if len(data) > limit:
        raise ParseError(f"feed of {len(data)} bytes is larger than {limit}; refused")
    body = data.lstrip(b"\xef\xbb\xbf").lstrip()
    if not body:
        raise ParseError("empty document; expected an RSS, Atom or JSON feed")
    if body[:1] in (b"{", b"["):
        return _parse_json_feed(body, url, source)
    if streamed:
        info: dict[str, Any] = {}
        rows, skipped = parse_items(iter_xml_entries(body, url, info), lambda e: _entry_row(e, info["lang"], source),
                                    (ValueError, TypeError, KeyError))
        return rows, skipped, info
    return _parse_xml_feed(body, url, source)


def iter_xml_entries(body: bytes, url: str | None, info: dict[str, Any], keep: Any = None):
    """The entries of a large XML feed one at a time (:func:`connectors.feedstream.iter_entries`,
    with its ``keep``), after the same entity check as feedparser's input; ``info`` gets
    ``title``, ``lang``, ``next`` and ``version`` (``lang`` as soon as the feed names it)."""
    from connectors.feedstream import FeedInfo, iter_entries

    check_xml(body, "feed")
    if not body.startswith(b"<"):
        raise ParseError("not an RSS, Atom or JSON feed (the document does not start with markup)")
    raw = FeedInfo()
    info.setdefault("lang", None)
    for entry in iter_entries(body, url, raw, keep):
        info.update(title=raw.get("title"), lang=_lang(raw.get("language")), next=raw.get("next"),
                    version=raw.get("version"))
        yield entry
    info.update(title=raw.get("title"), lang=_lang(raw.get("language")), next=raw.get("next"),
                version=raw.get("version"))


# --- XML (feedparser) ---------------------------------------------------------------------------

def _parse_xml_feed(body: bytes, url: str | None, source: str):
    import feedparser

    check_xml(body, "feed")
    if not body.startswith(b"<"):
        raise ParseError("not an RSS, Atom or JSON feed (the document does not start with markup)")
    headers = {"content-type": "application/xml"}
    if url:
        headers["content-location"] = url
    try:
        parsed = feedparser.parse(io.BytesIO(body), response_headers=headers,
                                  resolve_relative_uris=True, sanitize_html=True)
    except Exception as exc:  # feedparser raises its own and sgmllib errors on garbage
        raise ParseError(f"feed could not be read ({type(exc).__name__}: {exc})") from None
    version = parsed.get("version") or ""
    feed = parsed.get("feed") or {}
    entries = parsed.get("entries") or []
    if not version and not entries:
        problem = parsed.get("bozo_exception")
        looks = "an HTML page or fragment" if re.match(rb"<(!doctype\s+html|html|div|p|img|body|a)\b", body[:200], re.I) else "not a feed"
        raise ParseError(f"not an RSS, Atom or JSON feed ({looks}"
                         + (f"; {problem}" if problem and looks == "not a feed" else "") + ")")
    feed_lang = _lang(feed.get("language"))
    rows, skipped = parse_items(entries, lambda e: _entry_row(e, feed_lang, source), (ValueError, TypeError, KeyError))
    nxt = next((l.get("href") for l in feed.get("links", []) if l.get("rel") == "next" and l.get("href")), None)
    return rows, skipped, {"title": feed.get("title"), "lang": feed_lang, "next": nxt, "version": version}


def _entry_link(e: Any) -> str | None:
    link = e.get("link")
    if not link:
        guid = e.get("id") or ""
        if e.get("guidislink") or re.match(r"^https?://", guid):
            link = guid if re.match(r"^https?://", guid) else None
    return link


def entry_id(e: Any) -> str | None:
    """The ``post_id`` :func:`_entry_row` gives an entry, computed without reading its text
    (None when only the text can tell: an entry with neither link nor id)."""
    return _entry_key(e)[2]


def _entry_key(e: Any) -> tuple[str | None, str | None, str | None]:
    """``(link, canonical link, post_id or None)`` of an entry (see :func:`entry_id`)."""
    link = _entry_link(e)
    canonical = canonical_url(link) if link else None
    if canonical:
        return link, canonical, f"news:{canonical}"
    ident = (e.get("id") or "").strip()
    return link, canonical, (f"news:{ident}" if ident and not unsafe_id(ident) else None)


def _entry_row(e: Any, feed_lang: str | None, source: str,
               key: tuple[str | None, str | None, str | None] | None = None) -> dict[str, Any] | None:
    """One ``posts`` row; ``key``: the entry's :func:`_entry_key` when already computed."""
    link, canonical, _ = key if key is not None else _entry_key(e)
    content = e.get("content") or []
    html_body = next((c.get("value") for c in content if c.get("value")), None) or e.get("summary") or ""
    text = html_to_text(html_body)
    title = html_to_text(e.get("title") or "") or None
    if not title and not text and not canonical:
        return None
    native = canonical or (e.get("id") or "").strip() or _hash_id(title, text)
    links = _links_in(html_body)
    media = []
    for enc in (e.get("enclosures") or []) + (e.get("media_content") or []):
        href = enc.get("href") or enc.get("url")
        if href:
            media.append(href)
    for th in e.get("media_thumbnail") or []:
        if th.get("url"):
            media.append(th["url"])
    for l in e.get("links") or []:
        if l.get("rel") == "enclosure" and l.get("href"):
            media.append(l["href"])
    videos = [v for v in (video_ref(u) for u in [link or "", *links, *media]) if v]
    if e.get("yt_videoid"):
        videos.insert(0, f"youtube:{e['yt_videoid']}")
    lang = _lang(next((c.get("language") for c in content if c.get("language")), None)) or feed_lang
    author = e.get("author") or ", ".join(a.get("name") for a in (e.get("authors") or []) if a.get("name")) or None
    return make_post(
        "news", native,
        source=source,
        url=link,
        canonical_url=canonical,
        author=clip(author, 500),
        published_at=_time(dict.get(e, "published_parsed") or dict.get(e, "updated_parsed")),
        lang=lang,
        title=clip(title, 2000),
        text=clip(text),
        links=list(dict.fromkeys(links))[:500],
        media_urls=list(dict.fromkeys(media))[:100],
        video_ids=list(dict.fromkeys(videos)),
    )


def _hash_id(title: str | None, text: str | None) -> str:
    import hashlib

    return "sha256-" + hashlib.sha256(f"{title}\x1f{text}".encode("utf-8", "surrogatepass")).hexdigest()[:24]


def _time(st: Any) -> datetime | None:
    if not st:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(st), tz=timezone.utc)
    except (OverflowError, ValueError, TypeError, OSError):
        return None


def _lang(value: Any) -> str | None:
    if not value or not isinstance(value, str):
        return None
    primary = re.split(r"[-_]", value.strip())[0].lower()
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None


_TAG = re.compile(r"<[^<>]*>")
_HREF = re.compile(r"""<a\b[^<>]{0,2000}?\bhref\s*=\s*["']([^"'<>]{1,4000})["']""", re.I)
_BLOCK = re.compile(r"<\s*(?:br|/p|/div|/li|/h[1-6]|/blockquote|/tr)\b[^<>]{0,200}>", re.I)


def _drop_scripts(fragment: str) -> str:
    low = fragment.lower()
    if "<script" not in low and "<style" not in low:
        return fragment
    out, pos = [], 0
    while True:
        starts = [i for i in (low.find("<script", pos), low.find("<style", pos)) if i >= 0]
        if not starts:
            out.append(fragment[pos:])
            break
        i = min(starts)
        out.append(fragment[pos:i])
        tag = "</script" if low.startswith("<script", i) else "</style"
        end = low.find(tag, i)
        if end < 0:
            break
        close = low.find(">", end)
        pos = len(fragment) if close < 0 else close + 1
    return " ".join(out)


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment in linear time (no parser: tags dropped, entities decoded,
    block ends become line breaks)."""
    import html

    if not fragment:
        return ""
    if "<" in fragment:
        fragment = _BLOCK.sub("\n", _drop_scripts(fragment))
        fragment = _TAG.sub(" ", fragment)
    text = html.unescape(fragment)
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _links_in(fragment: str) -> list[str]:
    import html

    if not fragment or "href" not in fragment:
        return []
    return [html.unescape(m.group(1)).strip() for m in _HREF.finditer(fragment)
            if re.match(r"^https?://", m.group(1).strip(), re.I)][:500]


# --- JSON Feed ----------------------------------------------------------------------------------

def _parse_json_feed(body: bytes, url: str | None, source: str):
    doc = load_json(body, what="JSON feed")
    if not isinstance(doc, dict) or "items" not in doc or not str(doc.get("version", "")).startswith("https://jsonfeed.org/version/"):
        raise ParseError("JSON document is not a JSON Feed (needs \"version\": \"https://jsonfeed.org/version/1.x\" and \"items\")")
    items = doc.get("items")
    if not isinstance(items, list):
        raise ParseError("JSON Feed \"items\" is not a list")
    feed_lang = _lang(doc.get("language"))
    feed_authors = _json_authors(doc)
    rows, skipped = parse_items(items, lambda it: _json_item(it, feed_lang, feed_authors, source)
                                if isinstance(it, dict) else None, ())
    nxt = doc.get("next_url") if isinstance(doc.get("next_url"), str) else None
    return rows, skipped, {"title": doc.get("title"), "lang": feed_lang, "next": nxt, "version": "json"}


def _json_authors(obj: dict) -> str | None:
    authors = obj.get("authors")
    if not isinstance(authors, list):
        authors = [obj.get("author")] if isinstance(obj.get("author"), dict) else []
    names = [a.get("name") for a in authors if isinstance(a, dict) and isinstance(a.get("name"), str)]
    return ", ".join(names) or None


def _json_item(it: dict, feed_lang: str | None, feed_authors: str | None, source: str) -> dict | None:
    from connectors.article import parse_time

    def s(key: str) -> str | None:
        v = it.get(key)
        return v if isinstance(v, str) and v.strip() else None

    link = s("url") or s("external_url")
    canonical = canonical_url(link) if link else None
    html_body = s("content_html") or ""
    text = s("content_text") or html_to_text(html_body) or s("summary") or ""
    title = s("title")
    if not title and not text and not canonical:
        return None
    native = canonical or (str(it.get("id")) if it.get("id") not in (None, "") else None) \
        or _hash_id(title, text)
    media = [a.get("url") for a in it.get("attachments") or [] if isinstance(a, dict) and isinstance(a.get("url"), str)]
    media += [u for u in (s("image"), s("banner_image")) if u]
    links = _links_in(html_body)
    if s("external_url") and s("url"):
        links.insert(0, s("external_url"))
    videos = [v for v in (video_ref(u) for u in [link or "", *links, *media]) if v]
    return make_post(
        "news", native,
        source=source,
        url=link,
        canonical_url=canonical,
        author=_json_authors(it) or feed_authors,
        published_at=parse_time(s("date_published") or s("date_modified")),
        lang=_lang(s("language")) or feed_lang,
        title=clip(html_to_text(title) if title else None, 2000),
        text=clip(text),
        links=list(dict.fromkeys(links)),
        media_urls=list(dict.fromkeys(media)),
        video_ids=list(dict.fromkeys(videos)),
    )


# --- Source -------------------------------------------------------------------------------------

def _int_option(name: str, options: dict, key: str, default: int, low: int = 0) -> int:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"source {name!r}: {key} must be a whole number >= {low}, got {value!r}")
    return value


class Source(BaseSource):
    """A feed fetched with a conditional GET (see the module docstring for options and cursor)."""

    kind = "rss"
    OPTIONS: dict[str, type | tuple[type, ...]] = {
        "url": str, "fetch_articles": bool, "max_articles": int, "max_pages": int, "max_seen": int,
        "max_items": int,
    }

    def __init__(self, name: str, options: dict[str, Any], client: Any):
        super().__init__(name, options, client)
        self.url = options.get("url")
        if not isinstance(self.url, str) or not re.match(r"^https?://", self.url):
            raise ConfigError(f"source {name!r}: url must be the feed's http(s) URL, got {self.url!r}")
        self.fetch_articles = bool(options.get("fetch_articles", False))
        self.max_articles = _int_option(name, options, "max_articles", 20)
        self.max_pages = _int_option(name, options, "max_pages", 1, 1)
        self.max_seen = _int_option(name, options, "max_seen", 1000, 1)
        self.max_items = _int_option(name, options, "max_items", DEFAULT_MAX_ITEMS, 1)

    def fetch(self, cursor: dict[str, Any] | None) -> FetchResult:
        cursor = dict(cursor or {})
        seen = list(cursor.get("seen") or [])
        headers = conditional_headers(cursor, {
            "Accept": "application/rss+xml, application/atom+xml, application/feed+json, "
                      "application/xml;q=0.9, */*;q=0.5"})
        result = FetchResult(posts=[], cursor=cursor)
        resp = self.client.get(self.url, headers=headers)
        result.requests += 1
        if resp.not_modified:
            return result
        new_cursor = dict(cursor)
        new_cursor["etag"] = resp.header("etag")
        new_cursor["last_modified"] = resp.header("last-modified")
        found = _Collector(self.max_items, set(seen), decode_known(cursor.get("known")))
        page_url, page = self.url, resp
        for n in range(self.max_pages):
            before = found.delivered
            skipped, info = self._read(page, page_url, found)
            result.skipped += skipped
            nxt = info.get("next")
            if not nxt or found.delivered == before or found.left or n + 1 >= self.max_pages:
                break
            try:
                page_url = self.client.check_url(_join(page.url or page_url, nxt))
                page = self.client.get(page_url, headers={"Accept": headers["Accept"]})
                result.requests += 1
            except ConnectorError as exc:
                result.warnings.append(f"{self.name}: next page not fetched: {exc}")
                break
        if self.fetch_articles:
            self._fill_articles(found.head, result)
        result.posts = found.posts()
        newest = cursor.get("newest")
        if found.newest:
            newest = max(t for t in (newest, found.newest) if t)
        ids = found.ids
        new_cursor["newest"] = newest
        new_cursor["seen"] = (ids[: self.max_seen] + [i for i in seen if i not in set(ids)])[: self.max_seen]
        if found.left:
            # the rest waits for the next run: fetch the whole document again then (no
            # conditional GET) and skip what was delivered
            new_cursor.pop("etag", None)
            new_cursor.pop("last_modified", None)
            result.warnings.append(f"{self.name}: max_items={self.max_items} reached; {found.left} entries "
                                   "left for the next run")
            new_cursor["known"] = encode_known(found.known | found.digests_delivered())
        elif found.entries > self.max_seen:
            # a document longer than the seen list: remember all its ids compactly, so an
            # unchanged feed without validators costs a scan of ids, not a parse of every entry
            new_cursor["known"] = encode_known(found.digests_in_document)
        else:
            new_cursor.pop("known", None)
        result.cursor = new_cursor
        return result

    def _read(self, page: Any, page_url: str, found: "_Collector") -> tuple[int, dict[str, Any]]:
        """Offer every entry of one feed document to ``found``; ``(skipped, info)``. Large XML
        documents are streamed, and an entry already known is skipped before its text is read."""
        data = page.content
        url = page.url or page_url
        body = data.lstrip(b"\xef\xbb\xbf").lstrip()
        if not (body.startswith(b"<") and len(data) >= STREAM_FROM_BYTES):
            rows, skipped, info = parse_feed(data, url=url, source=self.name)
            for row in rows:
                found.add(row)
            return skipped, info
        if len(data) > MAX_STREAM_BYTES:
            raise ParseError(f"feed of {len(data)} bytes is larger than {MAX_STREAM_BYTES}; refused")
        info: dict[str, Any] = {}
        skipped = 0
        key: list[Any] = [None]

        def keep(ids: dict[str, Any]) -> bool:
            # an entry already delivered or past max_items is passed over on its id alone
            key[0] = _entry_key(ids)
            pid = key[0][2]
            return pid is None or found.wants(pid)

        for e in iter_xml_entries(body, url, info, keep):
            try:
                row = _entry_row(e, info["lang"], self.name, key[0])
            except (ValueError, TypeError, KeyError):
                row = None
            if row is None:
                skipped += 1
                continue
            found.add(row, checked=key[0][2] is not None)
        return skipped, info

    def _fill_articles(self, rows: list[dict[str, Any]], result: FetchResult) -> None:
        from connectors import article

        done = 0
        for row in rows:
            if done >= self.max_articles:
                result.warnings.append(f"{self.name}: max_articles={self.max_articles} reached; "
                                       f"{len(rows) - done} entries kept with the feed's text only")
                break
            if not row["url"]:
                continue
            done += 1
            try:
                self.client.check_url(row["url"])
                self.client.check_robots(row["url"])
                resp = self.client.get(row["url"], headers={"Accept": "text/html,application/xhtml+xml"})
                result.requests += 1
                page = article.read_page(decode_text(resp.content, charset_of(resp.header("content-type"))),
                                         resp.url or row["url"])
            except ConnectorError as exc:
                result.warnings.append(f"{self.name}: article not fetched: {exc}")
                continue
            except Exception as exc:  # one unreadable page never sinks the batch
                result.warnings.append(f"{self.name}: {row['url']}: article could not be read "
                                       f"({type(exc).__name__}); the feed's text is kept")
                continue
            merge_article(row, page)


def merge_article(row: dict[str, Any], page: dict[str, Any]) -> None:
    """Fill a feed row with what its page says (main text, and title/author/time/lang where the
    feed had none). The row keeps its id."""
    from connectors.schema import content_hash

    if page.get("text") and len(page["text"]) > len(row.get("text") or ""):
        row["text"] = page["text"]
    for key, pkey in (("title", "title"), ("author", "author"), ("published_at", "published"), ("lang", "lang")):
        if not row.get(key) and page.get(pkey):
            row[key] = page[pkey]
    row["links"] = list(dict.fromkeys([*row["links"], *page.get("links", [])]))[:500]
    row["media_urls"] = list(dict.fromkeys([*row["media_urls"], *page.get("media", [])]))[:100]
    row["video_ids"] = list(dict.fromkeys([*row["video_ids"], *page.get("videos", [])]))
    row["content_hash"] = content_hash(row["title"], row["text"], row["transcript"])


DEFAULT_MAX_ITEMS = 10_000
FRAME_ROWS = 5_000  # rows past the first this many are kept as polars frames, not dicts


def _digest(post_id: str) -> bytes:
    return hashlib.blake2b(post_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()


def encode_known(digests: set[bytes]) -> str:
    """A set of 8-byte id digests as one base64 string (the cursor's ``known``)."""
    return base64.b64encode(b"".join(sorted(digests))).decode("ascii")


def decode_known(value: Any) -> set[bytes]:
    if not isinstance(value, str) or not value:
        return set()
    try:
        raw = base64.b64decode(value, validate=True)
    except (ValueError, TypeError):
        return set()  # a damaged cursor: entries are offered again, duplicates are dropped by post_id
    return {raw[i:i + 8] for i in range(0, len(raw) - len(raw) % 8, 8)}


class _Collector:
    """The new rows of a fetch: skips ids in ``seen``/``known`` and repeats, keeps at most
    ``cap`` (counting the rest in ``left``), holds the first :data:`FRAME_ROWS` rows as dicts
    (``head``: articles are filled there) and the rest as polars frames."""

    def __init__(self, cap: int, seen: set[str], known: set[bytes]):
        self.cap, self.seen, self.known = cap, seen, known
        self.head: list[dict[str, Any]] = []
        self._buffer: list[dict[str, Any]] = []
        self._frames: list[Any] = []
        self.ids: list[str] = []
        self._taken: set[str] = set()
        self.digests_in_document: set[bytes] = set()
        self.entries = 0
        self.left = 0
        self.newest: str | None = None

    @property
    def delivered(self) -> int:
        return len(self.ids)

    def wants(self, post_id: str) -> bool:
        self.entries += 1
        digest = _digest(post_id)
        self.digests_in_document.add(digest)
        if post_id in self.seen or post_id in self._taken or digest in self.known:
            return False
        if len(self.ids) >= self.cap:
            self.left += 1
            return False
        return True

    def add(self, row: dict[str, Any], checked: bool = False) -> None:
        pid = row["post_id"]
        if not checked and not self.wants(pid):
            return
        self._taken.add(pid)
        self.ids.append(pid)
        if row["published_at"] is not None:
            stamp = row["published_at"].isoformat()
            self.newest = max(self.newest or stamp, stamp)
        if len(self.head) < FRAME_ROWS:
            self.head.append(row)
            return
        self._buffer.append(row)
        if len(self._buffer) >= FRAME_ROWS:
            self._flush()

    def _flush(self) -> None:
        from connectors.schema import posts_frame

        if self._buffer:
            self._frames.append(posts_frame(self._buffer))
            self._buffer = []

    def digests_delivered(self) -> set[bytes]:
        return {_digest(pid) for pid in self.ids}

    def posts(self) -> Any:
        """The rows as a list of dicts, or (more than :data:`FRAME_ROWS`) one polars frame."""
        if not self._frames and not self._buffer:
            return self.head
        import polars as pl

        from connectors.schema import posts_frame

        self._flush()
        return pl.concat([posts_frame(self.head), *self._frames], how="vertical")


def _join(base: str, href: str) -> str:
    from urllib.parse import urljoin

    return urljoin(base, href)
