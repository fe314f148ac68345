"""Fact-checkers' ClaimReview markup (kind ``factchecks``): claims to import, not posts.

``parse(data, url=None, source="")`` reads one fact-check page and returns one **claim row** per
schema.org ``ClaimReview`` in its JSON-LD (``<script type="application/ld+json">``; top-level
objects, lists and ``@graph`` members; malformed blocks read leniently: trailing commas, HTML
entities, several objects in one block). A claim row is a plain dict::

    claim_id        "cr-<words of the claim>-<10 hex>": readable words from the claim text,
                    and digits from the review URL (and, when a page has several reviews under
                    one URL, the claim text), so a re-import gives the same id
                    (:func:`claim_id_for`)
    status          "imported" (awaits approval in the catalogue)
    title           the review's headline/name, else the page title, else the claim shortened;
                    "Fact Check:" prefixes and a trailing "- Site" removed (:func:`clean_title`)
    text            claimReviewed
    variants, media_category, required_entities
                    empty: a reviewer adds them before approving
    rating          the publisher's own rating text (reviewRating.alternateName, else name), kept
                    as written: what it means for flagging is the rules' business
                    (``rules.verdicts``); the flows fill the claim's ``verdict`` from it
    rating_value, best_rating, worst_rating
                    reviewRating.ratingValue / bestRating / worstRating as given (numbers or
                    text), or None
    publisher       author/publisher name of the review
    date            datePublished as YYYY-MM-DD, or None
    url             the review URL
    fact_check_urls [url]
    fact_checks     [{publisher, url, date, rating}]  (the catalogue's format)
    known_media     appearance links (itemReviewed.appearance / firstAppearance), canonicalised:
                    "youtube:<id>" for YouTube videos, canonical https URLs otherwise; candidates
                    for a reviewer to confirm
    claim_author    who made the claim (itemReviewed.author.name), or None
    claim_date      when the claim was made (itemReviewed.datePublished), or None
    lang            page language (primary subtag), or None
    source          the configured source name

A page without any ClaimReview gives ``[]``; a document that is not HTML raises
:class:`connectors.errors.ParseError`.

Source options (``[[sources]]`` with ``kind = "factchecks"``):

* ``feed_url`` (required): the fact-checker's RSS/Atom feed.
* ``max_pages`` (default 20): at most this many review pages fetched per run.

``Source.fetch(cursor)`` returns a :class:`FetchResult` whose ``posts`` are claim rows. Cursor:
``{"etag", "last_modified", "seen"}``; ``seen`` holds page URLs already read (a page that failed
to download is not marked, so the next run tries it again).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any

from connectors.base import BaseSource, FetchResult
from connectors.common import conditional_headers
from connectors.errors import ConfigError, ConnectorError, ParseError, RobotsDisallowed
from connectors.urls import canonical_url, video_ref

def parse(data: bytes, *, url: str | None = None, source: str = "") -> list[dict[str, Any]]:
    """One claim row per ClaimReview on the page (see the module docstring)."""
    from connectors import article
    from connectors.safe import decode_text

    if len(data) > article.MAX_HTML_BYTES:
        raise ParseError(f"page of {len(data)} bytes is larger than {article.MAX_HTML_BYTES}; refused")
    text = decode_text(data)
    head = text.lstrip()[:64]
    if not head:
        raise ParseError("empty document; expected a fact-check HTML page")
    if head.startswith(("{", "[")):
        from connectors.safe import load_json_lenient

        objects = list(article._flatten(load_json_lenient(text, what="JSON-LD"), 0))
        page = {"title": None, "lang": None, "url": url}
    else:
        if "<" not in text[:65536]:
            raise ParseError("not an HTML page (no markup found)")
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(text, "lxml")
        objects = list(article.jsonld_objects(text, soup))
        meta_title = soup.find("meta", property="og:title")
        page = {
            "title": article._clean(meta_title.get("content") if meta_title else None)
            or article._clean(soup.title.get_text(" ") if soup.title else None),
            "lang": article.normalise_lang(soup.html.get("lang") if soup.html else None),
            "url": url or article._link(soup, "canonical"),
        }
    reviews = [o for o in objects if "ClaimReview" in article.types_of(o)]
    for o in objects:  # ClaimReview nested as a review of a Claim or inside an article
        for key in ("review", "reviews", "hasPart", "mainEntity"):
            nested = o.get(key)
            for n in (nested if isinstance(nested, list) else [nested]):
                if isinstance(n, dict) and "ClaimReview" in article.types_of(n) and n not in reviews:
                    reviews.append(n)
    rows = []
    for r in reviews:
        row = _review_row(r, page, source)
        if row is not None:
            rows.append(row)
    _assign_ids(rows)
    for row in rows:
        if row.pop("_page_title") and len(rows) > 1:
            row["title"] = _shorten(row["text"])  # one page title cannot name several claims
    return rows


def _review_row(r: dict[str, Any], page: dict[str, Any], source: str) -> dict[str, Any] | None:
    from connectors import article

    claim = article._clean(article._str(r.get("claimReviewed")))
    item = r.get("itemReviewed") if isinstance(r.get("itemReviewed"), dict) else {}
    if not claim:
        claim = article._clean(article._str(item.get("name")) or article._str(item.get("text")))
    if not claim:
        return None
    rating = r.get("reviewRating")
    if isinstance(rating, list):
        rating = next((x for x in rating if isinstance(x, dict)), None)
    rating = rating if isinstance(rating, dict) else {}
    rating_text = article._clean(article._str(rating.get("alternateName")) or article._str(rating.get("name")))
    review_url = article._str(r.get("url")) or page.get("url")
    publisher = article._names(r.get("author")) or article._names(r.get("publisher"))
    published = article.parse_time(article._str(r.get("datePublished")))
    appearances = []
    for key in ("appearance", "firstAppearance"):
        for a in _as_list(item.get(key)):
            link = a if isinstance(a, str) else (article._str(a.get("url")) if isinstance(a, dict) else None)
            if link and re.match(r"^https?://", link.strip(), re.I):
                appearances.append(link.strip())
    known = []
    for link in appearances:
        ref = video_ref(link) or canonical_url(link)
        if ref:
            known.append(ref)
    claim_author = article._names(item.get("author"))
    claim_date = article.parse_time(article._str(item.get("datePublished")))
    own_title = article._clean(article._str(r.get("headline")) or article._str(r.get("name")))
    title = clean_title(own_title or article.strip_site_name(page.get("title"), publisher), publisher) or _shorten(claim)
    date = published.date().isoformat() if published else None
    fact_check = {"publisher": publisher, "url": review_url, "date": date, "rating": rating_text}
    return {
        "claim_id": None,
        "status": "imported",
        "title": title,
        "text": claim,
        "variants": [],
        "media_category": None,
        "required_entities": [],
        "rating": rating_text,
        "rating_value": _scalar(rating.get("ratingValue")),
        "best_rating": _scalar(rating.get("bestRating")),
        "worst_rating": _scalar(rating.get("worstRating")),
        "publisher": publisher,
        "date": date,
        "url": review_url,
        "fact_check_urls": [review_url] if review_url else [],
        "fact_checks": [fact_check] if review_url else [],
        "known_media": list(dict.fromkeys(known)),
        "claim_author": claim_author,
        "claim_date": claim_date.date().isoformat() if claim_date else None,
        "lang": page.get("lang") or article.normalise_lang(article._str(r.get("inLanguage"))),
        "source": source,
        "_page_title": not own_title,
    }


def _scalar(v: Any) -> str | int | float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, str) and v.strip():
        return v.strip()[:40]
    return None


def _shorten(text: str) -> str:
    return text if len(text) <= 120 else text[:117].rstrip() + "..."


def _as_list(v: Any) -> list[Any]:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


_STOP = frozenset("""a an the and or but of to in on at by for with from into as is are was were be been
being this that these those it its his her their our your my he she they we you i not no do does did
has have had will would can could should may might shall than then so if about over after before
says said claim claims shows show showing video photo image viral post posts""".split())
_FACT_CHECK_PREFIX = re.compile(
    r"^\s*(?:fact[\s-]*check(?:ed|ing)?|faktencheck|factcheck|verificaci[oó]n|fact[\s-]*file|"
    r"claim\s*check|fake\s*news\s*alert)\s*[:|\-\u2013\u2014]\s*", re.I)
_SITE_SUFFIX = re.compile(r"^(?P<head>.{12,}?)\s+(?P<sep>[|\-\u2013\u2014])\s+(?P<site>[^|\-\u2013\u2014]{2,40})$")


def clean_title(title: str | None, publisher: str | None = None) -> str | None:
    """A review headline as a claim title: ``"Fact Check: Is an edited clip ...? - News Nation"``
    -> ``"Is an edited clip ...?"``. Drops "Fact Check:"-style prefixes (also "Fact-check |",
    "Verificación:") and a trailing site name after `` | ``, `` - ``, `` – `` or `` — ``: the
    publisher's name, anything after `` | ``, or a short name in title case (at most four
    capitalised words or a domain) after a dash."""
    if not title:
        return title
    out = " ".join(title.split())
    for _ in range(2):  # "Fact Check: FACT CHECK - ..." seen in the wild
        out = _FACT_CHECK_PREFIX.sub("", out, count=1)
    m = _SITE_SUFFIX.match(out)
    if m:
        site = m.group("site").strip()
        words = site.split()
        same = publisher and " ".join(publisher.split()).casefold() == site.casefold()
        short_name = len(words) <= 4 and all(w[:1].isupper() or w[:1].isdigit() for w in words)
        domain = re.fullmatch(r"[\w.-]+\.[a-z]{2,}", site, re.I) is not None
        if same or m.group("sep") == "|" or short_name or domain:
            out = m.group("head").rstrip()
    out = out.strip()
    return out[:1].upper() + out[1:] if out else title


def _slug_words(text: str | None) -> list[str]:
    folded = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().lower()
    folded = re.sub(r"'s\b|'", "", folded)
    return [w for w in re.findall(r"[a-z0-9]+", folded) if w not in _STOP]


def claim_slug(claim_text: str | None, title: str | None = None, review_url: str | None = None,
               max_len: int = 48) -> str:
    """Readable words for a claim id: the claim text's first content words (stop words and
    "fact check" left out, accents folded, at most ``max_len`` characters), else the title's, else
    the review URL's last path segment when it has letters; ``""`` when none gives any."""
    words = _slug_words(claim_text) or _slug_words(clean_title(title))
    if not words and review_url:
        canon = canonical_url(review_url) or ""
        segments = [x for x in canon.split("://", 1)[-1].split("?", 1)[0].split("/")[1:] if x]
        last = re.sub(r"\.(html?|php|aspx?)$", "", segments[-1].lower()) if segments else ""
        if re.search(r"[a-z]{3}", last):
            words = _slug_words(last.replace("-", " ").replace("_", " "))
    slug = ""
    for w in words:
        if len(slug) + len(w) + (1 if slug else 0) > max_len:
            break
        slug = f"{slug}-{w}" if slug else w
    return slug or (words[0][:max_len] if words else "")


def claim_digest(review_url: str | None, claim_text: str, disambiguate: bool = False) -> str:
    """The 10 hex digits that make an imported claim's id unique and stable: SHA-256 of the
    canonical review URL (plus the normalised claim text when one URL carries several reviews,
    or when there is no URL). Ids written by earlier versions end in the same digits."""
    canon = canonical_url(review_url) if review_url else None
    key = canon or ""
    if disambiguate or not canon:
        key += "\n" + " ".join(claim_text.casefold().split())
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:10]


def claim_id_for(review_url: str | None, claim_text: str, disambiguate: bool = False,
                 title: str | None = None) -> str:
    """``cr-<words of the claim>-<10 hex>``, e.g. ``cr-donald-trump-promising-work-release-imran-khan-6f1c2a9b04``.

    The words come from the claim text (:func:`claim_slug`) so an analyst can read them; the
    digits (:func:`claim_digest`) from the review URL, so re-importing a review gives the same id
    and two reviews never share one."""
    digest = claim_digest(review_url, claim_text, disambiguate)
    slug = claim_slug(claim_text, title, review_url)
    return f"cr-{slug}-{digest}" if slug else f"cr-{digest}"


def _assign_ids(rows: list[dict[str, Any]]) -> None:
    counts: dict[str | None, int] = {}
    for r in rows:
        key = canonical_url(r["url"]) if r["url"] else None
        counts[key] = counts.get(key, 0) + 1
    for r in rows:
        key = canonical_url(r["url"]) if r["url"] else None
        r["claim_id"] = claim_id_for(r["url"], r["text"], disambiguate=counts[key] > 1, title=r["title"])


class Source(BaseSource):
    """A fact-checker's feed and its review pages (see the module docstring)."""

    kind = "factchecks"
    OPTIONS: dict[str, type | tuple[type, ...]] = {"feed_url": str, "url": str, "max_pages": int}

    def __init__(self, name: str, options: dict[str, Any], client: Any):
        super().__init__(name, options, client)
        self.feed_url = options.get("feed_url") or options.get("url")
        if not isinstance(self.feed_url, str) or not re.match(r"^https?://", self.feed_url):
            raise ConfigError(f"source {name!r}: feed_url must be the fact-checker's http(s) feed URL, "
                              f"got {self.feed_url!r}")
        self.max_pages = options.get("max_pages", 20)
        if isinstance(self.max_pages, bool) or not isinstance(self.max_pages, int) or self.max_pages < 1:
            raise ConfigError(f"source {name!r}: max_pages must be a whole number >= 1, got {self.max_pages!r}")
        self.max_seen = 2000

    def fetch(self, cursor: dict[str, Any] | None) -> FetchResult:
        from connectors import rss

        cursor = dict(cursor or {})
        headers = conditional_headers(cursor, {
            "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"})
        result = FetchResult(posts=[], cursor=cursor)
        resp = self.client.get(self.feed_url, headers=headers)
        result.requests += 1
        if resp.not_modified:
            return result
        entries, skipped, _ = rss.parse_feed(resp.content, url=resp.url or self.feed_url, source=self.name)
        result.skipped += skipped
        seen = list(cursor.get("seen") or [])
        seen_set = set(seen)
        done: list[str] = []
        pending = [e["url"] for e in entries if e["url"] and canonical_url(e["url"]) not in seen_set]
        claim_ids: set[str] = set()
        for n, link in enumerate(pending):
            if n >= self.max_pages:
                result.warnings.append(f"{self.name}: max_pages={self.max_pages} reached; "
                                       f"{len(pending) - n} pages left for the next run")
                break
            try:
                self.client.check_url(link)
                self.client.check_robots(link)
                page = self.client.get(link, headers={"Accept": "text/html,application/xhtml+xml"})
                result.requests += 1
                rows = parse(page.content, url=page.url or link, source=self.name)
            except ParseError as exc:
                result.skipped += 1
                result.warnings.append(f"{self.name}: {link}: {exc}")
                done.append(canonical_url(link) or link)  # retrying will not help
                continue
            except RobotsDisallowed as exc:
                result.warnings.append(f"{self.name}: page not fetched: {exc}")
                if not exc.temporary:
                    done.append(canonical_url(link) or link)  # the site asks not to: not tried again
                continue
            except ConnectorError as exc:
                result.warnings.append(f"{self.name}: page not fetched: {exc}")
                continue
            except Exception as exc:  # one unreadable page never sinks the batch
                result.skipped += 1
                result.warnings.append(f"{self.name}: {link}: page could not be read ({type(exc).__name__})")
                done.append(canonical_url(link) or link)
                continue
            if not rows:
                result.warnings.append(f"{self.name}: {link}: no ClaimReview markup on the page")
            for row in rows:
                if row["claim_id"] not in claim_ids:
                    claim_ids.add(row["claim_id"])
                    result.posts.append(row)
            done.append(canonical_url(link) or link)
        new_cursor = dict(cursor)
        new_cursor["etag"] = resp.header("etag")
        new_cursor["last_modified"] = resp.header("last-modified")
        if len(done) < len(pending):
            # pages still to read: the next run must not get a 304 for this feed
            new_cursor["etag"] = new_cursor["last_modified"] = None
        new_cursor["seen"] = (done + [s for s in seen if s not in set(done)])[: self.max_seen]
        result.cursor = new_cursor
        return result
