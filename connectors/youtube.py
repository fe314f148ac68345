"""YouTube: channel Atom feeds (no key) and Data API v3 search.

Source options (``kind = "youtube"``), one of:

``channel_id``    ``"UC..."``: the channel's feed ``{feed_url}?channel_id=<id>`` (the newest 15
                  videos; ``feed_url`` defaults to ``https://www.youtube.com/feeds/videos.xml``).
                  The feed is fetched with ``If-None-Match``/``If-Modified-Since``; videos seen
                  in the previous run are not repeated.
``query``         search text -> ``{base_url}/search`` (``part=snippet, type=video, order=date,
                  publishedAfter`` from the cursor, ``pageToken``), then ``{base_url}/videos``
                  (``part=snippet,statistics``) for full descriptions and counts.
                  ``api_key_env`` names the env var holding the API key (required for ``query``;
                  never logged). ``base_url`` defaults to
                  ``https://www.googleapis.com/youtube/v3``; ``limit`` is ``maxResults`` (default
                  50), ``max_pages`` search pages per run (default 1: each costs 100 quota units).
``captions_url``  optional template with ``{video_id}``, e.g.
                  ``"https://captions.example.org/{video_id}.vtt"``: fetched for every new video
                  and parsed by :mod:`connectors.captions` into ``transcript``. A 404 means the
                  video has no captions; other failures become warnings.

An API refusal (quota used up, key invalid or restricted, API not enabled) raises
:class:`HTTPStatusError` whose message names the API's ``error.errors[].reason`` (read from the
error body the HTTP client keeps) and what to do about it.

``parse_feed`` reads a channel feed, ``parse_api`` a ``videos.list`` or ``search.list`` answer.
Rows: ``post_id`` ``youtube:<video id>``, ``video_ids`` starts with ``youtube:<video id>`` (YouTube
links in the description follow), ``text`` is the description, views/likes/comments counts.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from connectors import captions as captions_mod
from connectors.base import BaseSource, FetchResult
from connectors.common import (conditional_headers, env_values, iso_time, keep_secret, parse_items,
                               refuse_html, unique)
from connectors.errors import ConfigError, ConnectorError, HTTPStatusError, ParseError
from connectors.safe import clip, load_json, parse_xml
from connectors.schema import content_hash, make_post
from connectors.urls import canonical_url, video_ref

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "yt": "http://www.youtube.com/xml/schemas/2015",
    "media": "http://search.yahoo.com/mrss/",
}
_BAD_ITEM = (KeyError, TypeError, ValueError, AttributeError)
_URL = re.compile(r"https?://[^\s<>\"')\]]+")
_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
API_ERRORS = {
    "quotaExceeded": "the API key's daily quota is used up; wait for the reset (midnight Pacific) "
                     "or lower max_pages",
    "keyInvalid": "the API key is not valid; check the env var named by api_key_env",
    "keyExpired": "the API key has expired; create a new one",
    "accessNotConfigured": "YouTube Data API v3 is not enabled for the key's project",
    "forbidden": "the key may not make this request (access forbidden)",
    "invalidParameter": "a request parameter is wrong",
    "rateLimitExceeded": "too many requests in a short time; run less often",
    "userRateLimitExceeded": "too many requests in a short time; run less often",
    "dailyLimitExceeded": "the project's daily limit is used up; wait for the reset",
    "ipRefererBlocked": "the key is restricted to other IP addresses or referrers; check its restrictions",
}
_REASON = re.compile(r'"reason"\s*:\s*"([A-Za-z_]+)"')
_MESSAGE = re.compile(r'"message"\s*:\s*"((?:[^"\\]|\\.)*)')
# the reason named by the message, for bodies cut off before "errors" (the message comes first)
_MESSAGE_REASONS = [
    (re.compile(r"exceeded your\W+(?:\w+\W+){0,8}quota", re.I), "quotaExceeded"),
    (re.compile(r"API key not valid", re.I), "keyInvalid"),
    (re.compile(r"API key expired", re.I), "keyExpired"),
    (re.compile(r"has not been used in project|API has not been used|it is disabled", re.I), "accessNotConfigured"),
]
_TAG = re.compile(r"<[^>]*>")


def cue_rows(cues: list) -> list[dict]:
    """Cues as ``transcript_cues`` values (``{"start", "end", "text"}``, seconds)."""
    return [{"start": c.start, "end": c.end, "text": c.text} for c in cues]


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _lang(value: Any) -> str | None:
    return str(value).split("-")[0].lower() if value else None


def _thumbnail(thumbs: Any) -> list[tuple[str, str]]:
    """The thumbnail to fingerprint from a ``snippet.thumbnails`` object: ``medium`` (320x180, no
    letterbox bars) first. Only i.ytimg.com stills: never the player or the video itself."""
    if not isinstance(thumbs, dict):
        return []
    for size in ("medium", "high", "standard", "default", "maxres"):
        t = thumbs.get(size)
        if isinstance(t, dict) and isinstance(t.get("url"), str):
            return [(t["url"], "thumbnail")]
    return []


def _video_row(vid: str, *, source: str, title, description, author, published, lang=None,
               views=None, likes=None, comments=None, channel_id=None, media=None) -> dict:
    if not vid or not _ID.match(vid):
        raise ValueError(f"not a YouTube video id: {vid!r}")
    url = f"https://www.youtube.com/watch?v={vid}"
    links = _URL.findall(description or "")
    return make_post(
        "youtube", vid, source=source, url=url, canonical_url=canonical_url(url), author=author,
        author_id=channel_id or None,
        published_at=iso_time(published), lang=lang, title=clip(title), text=clip(description or ""),
        links=unique(canonical_url(u) for u in links),
        video_ids=unique([f"youtube:{vid}"] + [video_ref(u) for u in links]),
        views=views, likes=likes, replies=comments, media=media,
    )


def parse_feed_counted(data: bytes, *, url: str | None = None, source: str = "") -> tuple[list[dict], int]:
    where = url or "youtube feed"
    root = parse_xml(data.lstrip(), what=where)  # some saved feeds start with a blank line
    if root.tag != f"{{{NS['atom']}}}feed":
        raise ParseError(f"{where}: not an Atom feed (root element {root.tag!r}); "
                         "use https://www.youtube.com/feeds/videos.xml?channel_id=UC...")
    return parse_items(root.findall("atom:entry", NS), lambda entry: _entry_row(entry, source), _BAD_ITEM)


def _entry_row(entry, source: str) -> dict:
    vid = entry.findtext("yt:videoId", namespaces=NS) or ""
    group = entry.find("media:group", NS)
    description = group.findtext("media:description", namespaces=NS) if group is not None else None
    stats = entry.find(".//media:statistics", NS)
    thumb = group.find("media:thumbnail", NS) if group is not None else None
    return _video_row(
        vid.strip(), source=source, title=entry.findtext("atom:title", namespaces=NS),
        description=description,
        author=entry.findtext("atom:author/atom:name", namespaces=NS),
        published=entry.findtext("atom:published", namespaces=NS),
        views=_int(stats.get("views")) if stats is not None else None,
        channel_id=(entry.findtext("yt:channelId", namespaces=NS) or "").strip() or None,
        media=[(thumb.get("url"), "thumbnail")] if thumb is not None and thumb.get("url") else None,
    )


def parse_feed(data: bytes, *, url: str | None = None, source: str = "") -> list[dict]:
    """A channel's Atom feed (``/feeds/videos.xml?channel_id=``) -> ``posts`` rows."""
    return parse_feed_counted(data, url=url, source=source)[0]


def api_error_message(payload: dict) -> str:
    err = payload.get("error") or {}
    if not isinstance(err, dict):
        return str(err)
    reasons = [e.get("reason") for e in err.get("errors") or [] if isinstance(e, dict)]
    hint = next((API_ERRORS[r] for r in reasons if r in API_ERRORS), "")
    head = f"YouTube API error {err.get('code', '')} {', '.join(r for r in reasons if r)}".strip()
    return f"{head}: {hint or err.get('message', 'no message')}"


def error_reasons(body: str | None) -> tuple[list[str], str | None]:
    """The ``error.errors[].reason`` values and ``error.message`` of a Data API error body. A body
    cut off before its ``errors`` list still gives the reasons it shows, or the reason its
    message names (``"...exceeded your quota"`` -> ``quotaExceeded``)."""
    if not body:
        return [], None
    reasons: list = []
    message = None
    try:
        payload = load_json(body.encode("utf-8"), what="error body")
    except ParseError:
        reasons = _REASON.findall(body)
        found = _MESSAGE.search(body)
        if found:
            try:
                message = load_json(f'"{found.group(1)}"'.encode("utf-8"), what="error message")
            except ParseError:  # cut inside an escape
                message = found.group(1)
    else:
        err = payload.get("error") if isinstance(payload, dict) else None
        if not isinstance(err, dict):
            return [], None
        reasons = [e.get("reason") for e in err.get("errors") or [] if isinstance(e, dict)]
        message = err.get("message") if isinstance(err.get("message"), str) else None
    reasons = [r for r in dict.fromkeys(reasons) if isinstance(r, str) and r]
    if not reasons and message:
        reasons = [name for pattern, name in _MESSAGE_REASONS if pattern.search(message)][:1]
    return reasons, message


def parse_api_counted(data: bytes, *, url: str | None = None, source: str = "") -> tuple[list[dict], int]:
    where = url or "youtube API response"
    payload = load_json(data, what=where)
    if not isinstance(payload, dict):
        raise ParseError(f"{where}: expected a JSON object, got {type(payload).__name__}")
    if "error" in payload:
        raise ParseError(f"{where}: {api_error_message(payload)}")
    if not isinstance(payload.get("items"), list):
        raise ParseError(f"{where}: no 'items' list; expected a videos.list or search.list answer")
    videos = (item for item in payload["items"] if not _other_kind(item))
    return parse_items(videos, lambda item: _item_row(item, source), _BAD_ITEM)


def _other_kind(item: Any) -> bool:
    """A channel or playlist in search results: left out, not counted as skipped."""
    ident = item.get("id") if isinstance(item, dict) else None
    return isinstance(ident, dict) and ident.get("kind") not in (None, "youtube#video")


def _item_row(item: dict, source: str) -> dict:
    ident = item["id"]
    vid = ident["videoId"] if isinstance(ident, dict) else ident
    sn = item.get("snippet") or {}
    st = item.get("statistics") or {}
    return _video_row(
        vid, source=source, title=sn.get("title"), description=sn.get("description"),
        author=sn.get("channelTitle"), published=sn.get("publishedAt"),
        lang=_lang(sn.get("defaultAudioLanguage") or sn.get("defaultLanguage")),
        views=_int(st.get("viewCount")), likes=_int(st.get("likeCount")),
        comments=_int(st.get("commentCount")), channel_id=sn.get("channelId"),
        media=_thumbnail(sn.get("thumbnails")),
    )


def parse_api(data: bytes, *, url: str | None = None, source: str = "") -> list[dict]:
    """A Data API v3 ``videos.list`` (or ``search.list``) answer -> ``posts`` rows."""
    return parse_api_counted(data, url=url, source=source)[0]


parse = parse_api


class Source(BaseSource):
    kind = "youtube"
    OPTIONS: dict[str, type | tuple[type, ...]] = {
        "channel_id": str, "feed_url": str, "query": str, "api_key_env": str, "base_url": str,
        "limit": int, "max_pages": int, "captions_url": str,
    }

    def __init__(self, name, options, client):
        super().__init__(name, options, client)
        self.channel_id = (self.options.get("channel_id") or "").strip()
        self.query = (self.options.get("query") or "").strip()
        if bool(self.channel_id) == bool(self.query):
            raise ConfigError(f"source {name!r}: set exactly one of 'channel_id' (feed, no key) "
                              "or 'query' (Data API, needs api_key_env)")
        self.base_url = (self.options.get("base_url") or "https://www.googleapis.com/youtube/v3").rstrip("/")
        self.feed_url = self.options.get("feed_url") or "https://www.youtube.com/feeds/videos.xml"
        self.limit = min(50, max(1, int(self.options.get("limit", 50))))
        self.max_pages = max(1, int(self.options.get("max_pages", 1)))
        self.captions_url = self.options.get("captions_url")
        if self.captions_url and "{video_id}" not in self.captions_url:
            raise ConfigError(f"source {name!r}: captions_url must contain {{video_id}}")
        if self.query and not self.options.get("api_key_env"):
            raise ConfigError(f"source {name!r}: a query needs a YouTube Data API key; set api_key_env "
                              "to the name of the environment variable that holds it")

    def required_env(self) -> dict[str, str]:
        if self.query:
            return {self.options["api_key_env"]: "the YouTube Data API key named by api_key_env"}
        return {}

    def _key(self) -> str:
        env = self.options.get("api_key_env")
        [key] = env_values(env)
        if not key:
            raise ConfigError(f"source {self.name!r}: a query needs a YouTube Data API key; set "
                              f"api_key_env and the environment variable it names"
                              + (f" ({env} is not set)" if env else ""))
        keep_secret(self.client, key)
        return key

    def _get_api(self, path: str, params: dict) -> tuple[list[dict], int, dict]:
        try:
            resp = self.client.get(f"{self.base_url}/{path}", params=params)
        except HTTPStatusError as exc:
            reasons, message = error_reasons(exc.body)
            if reasons:
                hints = [API_ERRORS[r] for r in reasons if r in API_ERRORS]
                if not hints and message:
                    hints = [" ".join(_TAG.sub("", message).split())[:200]]
                said = f"YouTube says {', '.join(reasons)}" + (f": {'; '.join(hints)}" if hints else "")
            elif exc.status_code in (400, 403):
                said = ("YouTube answers 403 for quotaExceeded, keyInvalid and API-not-enabled; check the "
                        "key and the quota")
            else:
                raise
            err = HTTPStatusError(f"{exc} ({said})", exc.status_code, exc.body)
            raise err from None
        refuse_html(resp)
        rows, bad = parse_api_counted(resp.content, url=resp.url, source=self.name)
        return rows, bad, load_json(resp.content, what=resp.url)

    def _fetch_feed(self, cursor: dict) -> FetchResult:
        resp = self.client.get(self.feed_url, params={"channel_id": self.channel_id},
                               headers=conditional_headers(cursor))
        if resp.not_modified:
            return FetchResult(posts=[], cursor=cursor, requests=1)
        refuse_html(resp, "an Atom feed")
        rows, skipped = parse_feed_counted(resp.content, url=resp.url, source=self.name)
        seen = set(cursor.get("seen") or [])
        new = [r for r in rows if r["post_id"] not in seen]
        out = {"seen": sorted(r["post_id"] for r in rows)}
        for name, key in (("etag", "etag"), ("last-modified", "last_modified")):
            value = resp.header(name) if hasattr(resp, "header") else None
            if value:
                out[key] = value
        return FetchResult(posts=new, cursor=out, skipped=skipped, requests=1)

    def _fetch_search(self, cursor: dict) -> FetchResult:
        key = self._key()
        seen = set(cursor.get("seen") or [])
        params = {"part": "snippet", "type": "video", "q": self.query, "order": "date",
                  "maxResults": self.limit, "key": key}
        if cursor.get("published_after"):
            params["publishedAfter"] = cursor["published_after"]
        found, skipped, requests, token, warnings = [], 0, 0, None, []
        while requests < self.max_pages:
            rows, bad, payload = self._get_api("search", {**params, **({"pageToken": token} if token else {})})
            requests += 1
            skipped += bad
            found += [r for r in rows if r["post_id"] not in seen
                      and r["post_id"] not in {f["post_id"] for f in found}]
            token = payload.get("nextPageToken")
            if not token or not rows:
                break
        if token:
            warnings.append(f"{self.name}: more results than max_pages={self.max_pages} pages")
        by_id = {r["post_id"]: r for r in found}
        ids = [pid.split(":", 1)[1] for pid in by_id]
        for i in range(0, len(ids), 50):
            rows, bad, _ = self._get_api("videos", {"part": "snippet,statistics",
                                                    "id": ",".join(ids[i:i + 50]), "key": key})
            requests += 1
            skipped += bad
            for r in rows:
                if r["post_id"] in by_id:
                    by_id[r["post_id"]] = r
        posts = list(by_id.values())
        stamps = [r["published_at"] for r in posts if r["published_at"]]
        new_cursor = dict(cursor)
        if stamps:
            newest = max(stamps)
            new_cursor = {"published_after": newest.isoformat().replace("+00:00", "Z"),
                          "seen": sorted(r["post_id"] for r in posts if r["published_at"] == newest)}
        return FetchResult(posts=posts, cursor=new_cursor, skipped=skipped, warnings=warnings,
                           requests=requests)

    def _add_captions(self, result: FetchResult) -> None:
        for row in result.posts:
            vid = row["post_id"].split(":", 1)[1]
            url = self.captions_url.format(video_id=quote(vid, safe=""))
            try:
                resp = self.client.get(url)
                result.requests += 1
                cues = captions_mod.parse_cues(resp.content, name=url)
            except HTTPStatusError as exc:
                result.requests += 1
                if exc.status_code != 404:
                    result.warnings.append(f"{self.name}: captions for {vid}: {exc}")
                continue
            except ConnectorError as exc:
                result.warnings.append(f"{self.name}: captions for {vid}: {exc}")
                continue
            row["transcript"] = captions_mod.transcript(cues)
            row["transcript_cues"] = cue_rows(cues)
            row["content_hash"] = content_hash(row["title"], row["text"], row["transcript"])

    REFETCH = True

    def refetch(self, post_ids: list[str]) -> FetchResult:
        """Query sources: ``videos.list`` (``snippet,statistics``, 50 ids a request, 1 quota unit
        each). Channel sources have no key: the channel's feed is read again and the videos asked
        for that are still in it (its latest 15) come back with their view counts."""
        ids = [p.split(":", 1)[1] for p in post_ids if p.startswith("youtube:")]
        if not ids:
            return FetchResult(posts=[], cursor={})
        if self.channel_id:
            resp = self.client.get(self.feed_url, params={"channel_id": self.channel_id})
            refuse_html(resp, "an Atom feed")
            rows, skipped = parse_feed_counted(resp.content, url=resp.url, source=self.name)
            wanted = set(ids)
            return FetchResult(posts=[r for r in rows if r["post_id"].split(":", 1)[1] in wanted], cursor={},
                               skipped=skipped, requests=1)
        key = self._key()
        posts, skipped, requests = [], 0, 0
        for i in range(0, len(ids), 50):
            rows, bad, _ = self._get_api("videos", {"part": "snippet,statistics", "id": ",".join(ids[i:i + 50]), "key": key})
            requests += 1
            posts += rows
            skipped += bad
        return FetchResult(posts=posts, cursor={}, skipped=skipped, requests=requests)

    def fetch(self, cursor: dict | None) -> FetchResult:
        cursor = dict(cursor or {})
        result = self._fetch_feed(cursor) if self.channel_id else self._fetch_search(cursor)
        if self.captions_url and result.posts:
            self._add_captions(result)
        return result
