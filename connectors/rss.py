"""News feeds: RSS 0.9x/1.0/2.0, Atom and JSON Feed (kind ``rss``, platform ``news``).

One ``posts`` row per feed entry; ``post_id`` is ``news:<canonical link>`` (the entry's id when
it has no link). ``parse(data, url=None, source="")`` is pure: XML goes through
:func:`connectors.safe.check_xml` (entity declarations refused) and then feedparser; JSON Feed
(1.0/1.1) is read with a depth-bounded JSON loader.

Source options (``[[sources]]`` with ``kind = "rss"``):

* ``url`` (required): the feed.
* ``fetch_articles`` (default false): fetch each new entry's page and fill ``text`` (main text),
  ``title``, ``author``, ``published_at`` and ``lang`` from it (:mod:`connectors.article`).
  Links are checked by the private-address rule first.
* ``max_articles`` (default 20): at most this many pages per run.
* ``max_pages`` (default 1): follow RFC 5005 ``<link rel="next">`` pages up to this many.
* ``max_seen`` (default 1000): how many entry ids the cursor remembers.

Cursor: ``{"etag", "last_modified", "newest", "seen"}``. ``etag``/``last_modified`` make the next
run a conditional GET, so an unchanged feed costs one ``304``; ``newest`` is the newest
``published_at`` seen (ISO 8601); ``seen`` the ids of the latest entries, so entries already
delivered are not delivered again.
"""

from __future__ import annotations

import calendar
import io
import re
from datetime import datetime, timezone
from typing import Any

from connectors.base import BaseSource, FetchResult
from connectors.common import conditional_headers, parse_items
from connectors.errors import ConfigError, ConnectorError, ParseError
from connectors.safe import charset_of, check_xml, clip, decode_text, load_json
from connectors.schema import make_post
from connectors.urls import canonical_url, video_ref

MAX_FEED_BYTES = 20 * 1024 * 1024


def parse(data: bytes, *, url: str | None = None, source: str = "") -> list[dict[str, Any]]:
    """The entries of one feed document as ``posts`` rows; :class:`ParseError` if ``data`` is
    not a feed."""
    return parse_feed(data, url=url, source=source)[0]


def parse_feed(data: bytes, *, url: str | None = None, source: str = "") -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
    """``(rows, skipped, info)``; ``info`` has the feed's ``title``, ``lang`` and ``next`` page."""
    if len(data) > MAX_FEED_BYTES:
        raise ParseError(f"feed of {len(data)} bytes is larger than {MAX_FEED_BYTES}; refused")
    body = data.lstrip(b"\xef\xbb\xbf").lstrip()
    if not body:
        raise ParseError("empty document; expected an RSS, Atom or JSON feed")
    if body[:1] in (b"{", b"["):
        return _parse_json_feed(body, url, source)
    return _parse_xml_feed(body, url, source)


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


def _entry_row(e: Any, feed_lang: str | None, source: str) -> dict[str, Any] | None:
    link = e.get("link")
    if not link:
        guid = e.get("id") or ""
        if e.get("guidislink") or re.match(r"^https?://", guid):
            link = guid if re.match(r"^https?://", guid) else None
    canonical = canonical_url(link) if link else None
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

    def fetch(self, cursor: dict[str, Any] | None) -> FetchResult:
        cursor = dict(cursor or {})
        seen = list(cursor.get("seen") or [])
        seen_set = set(seen)
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
        page_url, page, fresh = self.url, resp, []
        for n in range(self.max_pages):
            rows, skipped, info = parse_feed(page.content, url=page.url or page_url, source=self.name)
            result.skipped += skipped
            page_new = [r for r in rows if r["post_id"] not in seen_set]
            fresh.extend(page_new)
            seen_set.update(r["post_id"] for r in page_new)
            nxt = info.get("next")
            if not nxt or not page_new or n + 1 >= self.max_pages:
                break
            try:
                page_url = self.client.check_url(_join(page.url or page_url, nxt))
                page = self.client.get(page_url, headers={"Accept": headers["Accept"]})
                result.requests += 1
            except ConnectorError as exc:
                result.warnings.append(f"{self.name}: next page not fetched: {exc}")
                break
        if self.fetch_articles:
            self._fill_articles(fresh, result)
        result.posts = fresh
        newest = cursor.get("newest")
        times = [r["published_at"].isoformat() for r in fresh if r["published_at"] is not None]
        if times:
            newest = max([t for t in [newest, *times] if t])
        ids = [r["post_id"] for r in fresh]
        new_cursor["newest"] = newest
        new_cursor["seen"] = (ids + [i for i in seen if i not in set(ids)])[: self.max_seen]
        result.cursor = new_cursor
        return result

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


def _join(base: str, href: str) -> str:
    from urllib.parse import urljoin

    return urljoin(base, href)
