"""News article pages: one ``posts`` row per page (platform ``news``, id = the canonical URL).

``parse(data, url=None, source="")`` reads one saved HTML page. Where each field comes from, in
order of preference:

* **title**: the page's JSON-LD ``headline``, trafilatura's title, ``og:title``, ``<title>``,
  the first ``<h1>``; a trailing `` | Site name`` (or ``-``, ``–``, ``_``, ``::``) is removed when
  the site name is known (``og:site_name``, JSON-LD publisher).
* **text**: trafilatura's main text; else JSON-LD ``articleBody``; else the meta description;
  else all visible text. A page never comes back with an empty title or text: the URL or the
  first words stand in.
* **author**: JSON-LD ``author`` names, trafilatura's author, ``<meta name=author>``.
* **published_at**: JSON-LD ``datePublished``, ``article:published_time``, trafilatura's date.
* **lang**: ``<html lang>``, JSON-LD ``inLanguage``, ``og:locale``, ``content-language``; the
  primary subtag in lower case (``en-US`` -> ``en``).
* **url**: the ``url`` argument, else ``<link rel=canonical>``, ``og:url``, JSON-LD ``url``.

Used by ``claimwatch parse article`` and by the RSS connector's ``fetch_articles`` option.
Trafilatura is imported inside :func:`parse` (it is slow to import).
"""

from __future__ import annotations

import hashlib
import html as htmlmod
import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Iterator

from connectors.errors import ParseError
from connectors.safe import clip, decode_text, load_json_lenient
from connectors.schema import make_post
from connectors.urls import canonical_url, video_ref

MAX_HTML_BYTES = 20 * 1024 * 1024
_SEPARATORS = (" | ", " - ", " – ", " — ", " _ ", " :: ", " : ", " · ", "_")


def parse(data: bytes, *, url: str | None = None, source: str = "",
          content_type: str | None = None) -> list[dict[str, Any]]:
    """One row for the page in ``data`` (see the module docstring); :class:`ParseError` if it is
    not an HTML page."""
    return [parse_page(data, url=url, source=source, content_type=content_type)]


def parse_page(data: bytes, *, url: str | None = None, source: str = "",
               content_type: str | None = None) -> dict[str, Any]:
    if len(data) > MAX_HTML_BYTES:
        raise ParseError(f"page of {len(data)} bytes is larger than {MAX_HTML_BYTES}; refused")
    from connectors.safe import charset_of

    text = decode_text(data, charset_of(content_type))
    head = text.lstrip()[:512].lower()
    if not head or head.startswith(("{", "[")) or (head.startswith("<?xml") and "<html" not in text[:4096].lower()):
        raise ParseError("not an HTML page (it looks like JSON or XML); use the matching parse kind")
    if "<" not in text[:65536]:
        raise ParseError("not an HTML page (no markup found)")
    page = read_page(text, url)
    if not page["title"] and not page["text"]:
        raise ParseError("page has no title and no text")
    native = page["canonical"] or _content_id(data)
    return make_post(
        "news", native,
        source=source,
        url=page["url"],
        canonical_url=page["canonical"],
        author=page["author"],
        published_at=page["published"],
        lang=page["lang"],
        title=page["title"],
        text=page["text"],
        links=page["links"],
        media_urls=page["media"],
        video_ids=page["videos"],
    )


def _content_id(data: bytes) -> str:
    return "sha256-" + hashlib.sha256(data).hexdigest()[:24]


def read_page(html: str, url: str | None = None) -> dict[str, Any]:
    """The fields of one page as a plain dict (title, text, author, published, lang, url,
    canonical, links, media, videos, site, jsonld)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    meta = _meta(soup)
    objects = list(jsonld_objects(html, soup))
    article = _article_object(objects)
    extracted = _trafilatura(html, url)

    page_url = url or _first(
        _link(soup, "canonical"), meta.get("og:url"), _str(article.get("url")) if article else None)
    site = _first(meta.get("og:site_name"), _name(article.get("publisher")) if article else None,
                  extracted.get("sitename"))

    title = _first(
        _clean(_str(article.get("headline")) or _str(article.get("name"))) if article else None,
        _clean(extracted.get("title")),
        _clean(meta.get("og:title")),
        _clean(meta.get("twitter:title")),
        _clean(soup.title.get_text(" ") if soup.title else None),
        _clean(soup.h1.get_text(" ") if soup.h1 else None),
    )
    title = strip_site_name(title, site)

    body = _first(
        extracted.get("text"),
        _clean(_str(article.get("articleBody")), keep_lines=True) if article else None,
        _clean(meta.get("description") or meta.get("og:description")),
        _clean(soup.body.get_text("\n") if soup.body else soup.get_text("\n"), keep_lines=True),
    )
    if not title:
        title = (body or "").split("\n", 1)[0][:200] or page_url
    if not body:
        body = title

    author = _first(
        _names(article.get("author")) if article else None,
        _clean(extracted.get("author")),
        _clean(meta.get("author") or meta.get("article:author")),
    )
    published = _first(
        parse_time(_str(article.get("datePublished"))) if article else None,
        parse_time(meta.get("article:published_time")),
        parse_time(meta.get("date") or meta.get("pubdate")),
        parse_time(extracted.get("date")),
    )
    lang = normalise_lang(_first(
        (soup.html.get("lang") or soup.html.get("xml:lang")) if soup.html else None,
        _str(article.get("inLanguage")) if article else None,
        meta.get("og:locale"),
        meta.get("content-language"),
    ))

    links, media, videos = [], [], []
    base = page_url or ""
    for a in soup.find_all(["a", "iframe", "video", "source"], limit=2000):
        href = a.get("href") or a.get("src")
        if not href or href.startswith(("#", "javascript:", "mailto:", "data:")):
            continue
        full = _join(base, href)
        ref = video_ref(full)
        if ref:
            videos.append(ref)
        if a.name == "a":
            links.append(full)
        else:
            media.append(full)
    if meta.get("og:image"):
        media.insert(0, _join(base, meta["og:image"]))
    if meta.get("og:video"):
        media.insert(0, _join(base, meta["og:video"]))
        if video_ref(meta["og:video"]):
            videos.insert(0, video_ref(meta["og:video"]))
    return {
        "title": clip(title, 2000),
        "text": clip(body),
        "author": clip(author, 500),
        "published": published,
        "lang": lang,
        "url": page_url,
        "canonical": canonical_url(page_url) if page_url else None,
        "links": _unique(links)[:500],
        "media": _unique(media)[:100],
        "videos": _unique(videos)[:50],
        "site": site,
        "jsonld": objects,
    }


def _trafilatura(html: str, url: str | None) -> dict[str, Any]:
    try:
        from trafilatura import bare_extraction

        doc = bare_extraction(html, url=url, with_metadata=True, include_comments=False,
                              include_tables=False)
    except Exception:  # trafilatura is a best effort; the fallbacks below still give a row
        return {}
    if doc is None:
        return {}
    out = {}
    for key in ("title", "author", "date", "text", "sitename"):
        v = getattr(doc, key, None) if not isinstance(doc, dict) else doc.get(key)
        if isinstance(v, str) and v.strip():
            out[key] = v.strip()
    return out


# --- JSON-LD ------------------------------------------------------------------------------------

def jsonld_objects(html: str, soup: Any = None) -> Iterator[dict[str, Any]]:
    """Every JSON-LD object of a page, flattened: top-level objects, members of lists and of
    ``@graph``. Malformed blocks are read leniently (trailing commas, HTML entities, CDATA, several
    objects in one block) and skipped when unreadable."""
    if soup is None:
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(html, "lxml")
    for script in soup.find_all("script", type=re.compile(r"^\s*application/ld\+json", re.I)):
        raw = script.string if script.string is not None else script.get_text()
        if not raw or not raw.strip():
            continue
        try:
            values = load_json_lenient(raw, what="JSON-LD")
        except ParseError:
            continue
        yield from _flatten(values, 0)


def _flatten(value: Any, depth: int) -> Iterator[dict[str, Any]]:
    if depth > 20:
        return
    if isinstance(value, list):
        for v in value:
            yield from _flatten(v, depth + 1)
    elif isinstance(value, dict):
        graph = value.get("@graph")
        if any(k != "@context" and k != "@graph" for k in value):
            yield value
        if graph is not None:
            yield from _flatten(graph, depth + 1)


def types_of(obj: dict[str, Any]) -> set[str]:
    t = obj.get("@type")
    items = t if isinstance(t, list) else [t]
    return {str(x).rsplit("/", 1)[-1].rsplit(":", 1)[-1] for x in items if x}


_ARTICLE_TYPES = {"NewsArticle", "Article", "ReportageNewsArticle", "BlogPosting", "AnalysisNewsArticle",
                  "OpinionNewsArticle", "BackgroundNewsArticle", "ReviewNewsArticle", "WebPage",
                  "Report", "LiveBlogPosting", "SocialMediaPosting", "VideoObject"}


def _article_object(objects: list[dict[str, Any]]) -> dict[str, Any] | None:
    best, best_rank = None, 99
    order = ["NewsArticle", "ReportageNewsArticle", "AnalysisNewsArticle", "OpinionNewsArticle",
             "BackgroundNewsArticle", "Article", "BlogPosting", "LiveBlogPosting", "Report",
             "SocialMediaPosting", "VideoObject", "WebPage"]
    for obj in objects:
        types = types_of(obj) & _ARTICLE_TYPES
        if not types:
            continue
        if "WebPage" in types and not obj.get("headline"):
            continue
        rank = min(order.index(t) for t in types)
        if rank < best_rank:
            best, best_rank = obj, rank
    return best


# --- small readers ------------------------------------------------------------------------------

def _meta(soup: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in soup.find_all("meta", limit=500):
        key = (m.get("property") or m.get("name") or m.get("http-equiv") or m.get("itemprop") or "")
        key = key.strip().lower()
        value = m.get("content")
        if key and isinstance(value, str) and value.strip() and key not in out:
            out[key] = value.strip()
    return out


def _link(soup: Any, rel: str) -> str | None:
    for link in soup.find_all("link", href=True, limit=200):
        rels = link.get("rel") or []
        if rel in [r.lower() for r in (rels if isinstance(rels, list) else [rels])]:
            return link["href"].strip() or None
    return None


def _str(v: Any) -> str | None:
    if isinstance(v, list):
        v = next((x for x in v if isinstance(x, str)), None)
    if isinstance(v, dict):
        v = v.get("@value") or v.get("name")
    return v if isinstance(v, str) and v.strip() else None


def _name(v: Any) -> str | None:
    if isinstance(v, list):
        v = v[0] if v else None
    if isinstance(v, dict):
        return _str(v.get("name"))
    return _str(v)


def _names(v: Any) -> str | None:
    items = v if isinstance(v, list) else [v]
    names = [_clean(_name(x)) for x in items]
    names = [n for n in names if n]
    return ", ".join(dict.fromkeys(names)) or None


def _clean(s: str | None, keep_lines: bool = False) -> str | None:
    if not s:
        return None
    s = htmlmod.unescape(s)
    if "<" in s and ">" in s:
        s = re.sub(r"<[^<>]*>", " ", s)
    if keep_lines:
        lines = (" ".join(line.split()) for line in s.splitlines())
        s = "\n".join(line for line in lines if line)
    else:
        s = " ".join(s.split())
    return s or None


def _first(*values: Any) -> Any:
    for v in values:
        if v:
            return v
    return None


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


def _join(base: str, href: str) -> str:
    from urllib.parse import urljoin

    try:
        return urljoin(base, href.strip())
    except ValueError:
        return href.strip()


def strip_site_name(title: str | None, site: str | None) -> str | None:
    """``"Headline | Site"`` -> ``"Headline"`` when ``site`` is the page's site name."""
    if not title or not site:
        return title
    low, s = title.casefold(), " ".join(site.split()).casefold()
    for sep in _SEPARATORS:
        suffix = (sep + s).casefold()
        if low.endswith(suffix) and len(title) > len(suffix) + 3:
            return title[: -len(suffix)].rstrip()
    return title


def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 or RFC 2822 time as an aware UTC datetime; None if unreadable."""
    if not value or not isinstance(value, str):
        return None
    v = value.strip()
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00") if v.endswith("Z") else v)
    except ValueError:
        try:
            dt = parsedate_to_datetime(v)
        except (TypeError, ValueError, IndexError):
            m = re.match(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)", v)
            if not m:
                return None
            try:
                dt = datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}")
            except ValueError:
                return None
    if dt is None:
        return None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def normalise_lang(value: str | None) -> str | None:
    if not value or not isinstance(value, str):
        return None
    primary = re.split(r"[-_]", value.strip())[0].lower()
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None
