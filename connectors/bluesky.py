"""Bluesky post search (``app.bsky.feed.searchPosts``).

Source options (``kind = "bluesky"``):

``query``             search text, e.g. ``"Imran Khan Trump"`` (required; Lucene syntax allowed)
``service``           AppView for unauthenticated reads (default ``https://public.api.bsky.app``)
``limit``             posts per page, 1-100 (default 50)
``max_pages``         pages per run (default 3)
``sort``              ``"latest"`` (default) or ``"top"``
``lang``              only posts in this language (optional, e.g. ``"ur"``)
``handle_env``        env var holding an account handle, and
``app_password_env``  env var holding an app password: with both set, a session is opened with
                      ``com.atproto.server.createSession`` on ``auth_service`` (default
                      ``https://bsky.social``) and searches go there with ``Bearer accessJwt``.
                      Neither value is ever logged.

The cursor ``{"since", "newest", "seen"}`` makes the next run ask only for recent posts:
``newest`` is the latest sort time seen (the earlier of ``createdAt`` and ``indexedAt``, which is
what ``since`` and ``until`` filter on), ``since`` is 15 minutes before it so posts indexed late
are not missed, and ``seen`` holds the URIs already delivered (the last 2000) so the overlap
repeats nothing.

When a run (``sort = "latest"``) uses up ``max_pages`` before it gets back to the previous run's
``since``, the posts in between are not lost: the cursor keeps ``"gap": {"since", "until"}`` —
the previous ``since`` and the sort time where this run stopped (plus 1 ms, as ``until`` is
exclusive) — and the result carries a warning. The next run first reads what is new, then
spends its remaining pages on ``q`` with ``since``/``until`` of the gap (the server's own page
``cursor`` is only valid within one search, so the gap is resumed by time, not by page
cursor), moving ``until`` down until the search runs out. If the new posts again fill every
page, the gap is widened to start where this run stopped (posts between the two gaps are
read again; repeats are dropped by ``post_id``). On the first run, and with ``sort = "top"``
(not in time order), older posts beyond ``max_pages`` are simply not read (warning only).

Rows: ``post_id`` is ``bluesky:<at:// uri>``; ``url`` is
``https://bsky.app/profile/<handle>/post/<rkey>`` (the DID when the handle is invalid); links come
from link facets and external embeds; images, videos (HLS playlist) and the media of
record-with-media embeds go to ``media_urls``; YouTube links and Bluesky videos to ``video_ids``;
``media`` lists what the media step fingerprints: image thumbnails (``image``), link-card pictures
(``card``), a video's thumbnail (``thumbnail``) and its HLS playlist (``hls``).
``parse`` also reads ``getPosts`` and ``getAuthorFeed`` responses (reposts are unwrapped).
``author_id`` is the author's DID (stable across handle changes), ``author_handle`` the handle;
search results carry no follower counts. ``Source.refetch(post_ids)`` reads posts again with
``app.bsky.feed.getPosts`` (25 URIs a request) for the reach-over-time snapshots.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from connectors.base import BaseSource, FetchResult
from connectors.common import iso_time, keep_secret, login_from_env, parse_items, refuse_html, unique
from connectors.errors import ConfigError, HTTPStatusError, ParseError
from connectors.safe import clip, load_json
from connectors.schema import make_post
from connectors.urls import canonical_url, video_ref

_BAD_ITEM = (KeyError, TypeError, ValueError, AttributeError, IndexError)
SEARCH = "/xrpc/app.bsky.feed.searchPosts"
GET_POSTS = "/xrpc/app.bsky.feed.getPosts"
CREATE_SESSION = "/xrpc/com.atproto.server.createSession"
SINCE_OVERLAP = timedelta(minutes=15)  # posts indexed late are still found; repeats are dropped
MAX_SEEN = 2000
RESUME_MARGIN = timedelta(milliseconds=1)  # "until" is exclusive: posts at the stop instant are read again


def post_url(uri: str, author: dict | None) -> str | None:
    if not uri.startswith("at://"):
        return None
    parts = uri[5:].split("/")
    if len(parts) != 3 or parts[1] != "app.bsky.feed.post":
        return None
    handle = (author or {}).get("handle")
    who = handle if handle and handle != "handle.invalid" else parts[0]
    return f"https://bsky.app/profile/{who}/post/{parts[2]}"


def _embed_media(embed: dict | None, links: list, media: list, videos: list, items: list | None = None) -> None:
    items = [] if items is None else items
    if not isinstance(embed, dict):
        return
    kind = (embed.get("$type") or "").split("#")[0]
    if kind == "app.bsky.embed.images":
        for img in embed.get("images") or []:
            if isinstance(img, dict) and isinstance(img.get("fullsize"), str):
                media.append(img["fullsize"])
                # the feed thumbnail is the same picture, smaller: cheaper to fingerprint
                items.append((img["thumb"] if isinstance(img.get("thumb"), str) else img["fullsize"], "image"))
    elif kind == "app.bsky.embed.external":
        ext = embed.get("external") or {}
        if ext.get("uri"):
            links.append(ext["uri"])
        if isinstance(ext.get("thumb"), str):
            items.append((ext["thumb"], "card"))
    elif kind == "app.bsky.embed.video":
        playlist = embed.get("playlist")
        if isinstance(embed.get("thumbnail"), str):
            items.append((embed["thumbnail"], "thumbnail"))
        if isinstance(playlist, str):
            media.append(playlist)
            videos.append(canonical_url(playlist))
            items.append((playlist, "hls"))
    elif kind == "app.bsky.embed.recordWithMedia":
        _embed_media(embed.get("media"), links, media, videos, items)


def post_row(post: dict, *, source: str = "") -> dict:
    """One ``posts`` row for a Bluesky PostView."""
    uri = post["uri"]
    record = post.get("record") or {}
    author = post.get("author") or {}
    links, media, videos, items = [], [], [], []
    for facet in record.get("facets") or []:
        for feature in (facet or {}).get("features") or []:
            if (feature or {}).get("$type") == "app.bsky.richtext.facet#link" and feature.get("uri"):
                links.append(feature["uri"])
    view = post.get("embed")
    if view:
        _embed_media(view, links, media, videos, items)
    else:  # no hydrated view: read what the record itself says (blob refs are not URLs)
        embed = record.get("embed") or {}
        if (embed.get("$type") or "").startswith("app.bsky.embed.external"):
            _embed_media({**embed, "external": {**(embed.get("external") or {}), "thumb": None}},
                         links, media, videos, items)
    videos = [video_ref(u) for u in links] + videos
    url = post_url(uri, author)
    langs = record.get("langs") or []
    handle = author.get("handle")
    return make_post(
        "bluesky", uri, source=source, url=url, canonical_url=canonical_url(url),
        author=handle if handle and handle != "handle.invalid" else author.get("did"),
        author_id=author.get("did"), author_handle=handle if handle and handle != "handle.invalid" else None,
        author_followers=author.get("followersCount"),
        published_at=iso_time(record.get("createdAt") or post.get("indexedAt")),
        lang=str(langs[0]).split("-")[0].lower() if langs else None, text=clip(record.get("text") or ""),
        links=unique(canonical_url(u) for u in links), media_urls=unique(media),
        video_ids=unique(videos), media=items, likes=post.get("likeCount"), reposts=post.get("repostCount"),
        replies=post.get("replyCount"),
    )


def _post_views(payload: Any, where: str) -> list:
    if not isinstance(payload, dict):
        raise ParseError(f"{where}: expected a JSON object with 'posts', got {type(payload).__name__}")
    if "error" in payload and "posts" not in payload:
        raise ParseError(f"{where}: server answered with an error: {payload.get('error')}: "
                         f"{payload.get('message', '')}".rstrip(": "))
    if isinstance(payload.get("posts"), list):
        return payload["posts"]
    if isinstance(payload.get("feed"), list):
        return [item.get("post") if isinstance(item, dict) else None for item in payload["feed"]]
    raise ParseError(f"{where}: no 'posts' list in the response (is this a searchPosts answer?)")


def parse_counted(data: bytes, *, url: str | None = None, source: str = "") -> tuple[list[dict], int]:
    where = url or "bluesky response"
    return _rows(_post_views(load_json(data, what=where), where), source)


def _rows(views: list, source: str) -> tuple[list[dict], int]:
    return parse_items(views, lambda view: post_row(view, source=source), _BAD_ITEM, dedupe=True)


def parse(data: bytes, *, url: str | None = None, source: str = "") -> list[dict]:
    """A searchPosts (or getPosts / getAuthorFeed) response -> ``posts`` rows."""
    return parse_counted(data, url=url, source=source)[0]


def _xrpc_error(body: str | None) -> str:
    """``"AuthenticationRequired: Invalid identifier or password"`` from an XRPC error body."""
    try:
        payload = load_json((body or "").encode(), what="error body")
    except ParseError:
        return ""
    if not isinstance(payload, dict):
        return ""
    return ": ".join(str(payload[k]) for k in ("error", "message") if payload.get(k))


def create_session(client: Any, url: str, identifier: str, password: str) -> dict:
    """Open a session with ``com.atproto.server.createSession`` through ``client.post``."""
    try:
        session = client.post(url, json={"identifier": identifier, "password": password}).json()
    except HTTPStatusError as exc:
        said = _xrpc_error(exc.body)
        err = HTTPStatusError(f"{exc}" + (f" ({said})" if said else "")
                              + ("; check the handle and app password" if exc.status_code in (400, 401) else ""),
                              exc.status_code, exc.body)
        raise err from None
    if not isinstance(session, dict):
        raise ParseError(f"{url}: createSession answered {type(session).__name__}, not a session object")
    return session


class Source(BaseSource):
    kind = "bluesky"
    OPTIONS: dict[str, type | tuple[type, ...]] = {
        "query": str, "service": str, "auth_service": str, "limit": int, "max_pages": int, "sort": str,
        "lang": str, "handle_env": str, "app_password_env": str,
    }

    def __init__(self, name, options, client):
        super().__init__(name, options, client)
        self.query = (self.options.get("query") or "").strip()
        if not self.query:
            raise ConfigError(f"source {name!r}: option 'query' is required, e.g. query = \"Imran Khan\"")
        self.service = (self.options.get("service") or "https://public.api.bsky.app").rstrip("/")
        self.auth_service = (self.options.get("auth_service") or "https://bsky.social").rstrip("/")
        self.limit = min(100, max(1, int(self.options.get("limit", 50))))
        self.max_pages = max(1, int(self.options.get("max_pages", 3)))
        self.sort = self.options.get("sort", "latest")
        if self.sort not in ("latest", "top"):
            raise ConfigError(f"source {name!r}: sort must be \"latest\" or \"top\"")

    def _session(self, warnings: list[str]) -> tuple[str, dict[str, str]]:
        login = login_from_env(self, "handle_env", "app_password_env", warnings, "searching without a session")
        if not login:
            return self.service, {}
        handle, password = login
        session = create_session(self.client, self.auth_service + CREATE_SESSION, handle, password)
        token = session.get("accessJwt")
        if not token:
            raise ParseError(f"{self.name}: createSession answered without an accessJwt; "
                             "check the handle and app password")
        keep_secret(self.client, token)
        return self.auth_service, {"Authorization": f"Bearer {token}"}

    def _search(self, base: str, headers: dict[str, str], params: dict[str, Any], budget: int,
                run: dict) -> tuple[int, bool, datetime | None]:
        """Read up to ``budget`` pages of one search; ``(pages, reached_the_end, oldest sort time)``."""
        pages, page_cursor, oldest = 0, None, None
        while pages < budget:
            page = {**params, **({"cursor": page_cursor} if page_cursor else {})}
            try:
                resp = self.client.get(base + SEARCH, params=page, headers=headers)
            except HTTPStatusError as exc:
                if exc.status_code in (401, 403) and not headers:
                    err = HTTPStatusError(f"{exc} (searchPosts may need a session: set handle_env and "
                                          "app_password_env)", exc.status_code, exc.body)
                    raise err from None
                raise
            pages += 1
            refuse_html(resp)
            payload = load_json(resp.content, what=resp.url)
            views = _post_views(payload, resp.url)
            rows, bad = _rows(views, self.name)
            run["skipped"] += bad
            for view in views:
                t = sort_time(view) if isinstance(view, dict) else None
                if t is not None and (oldest is None or t < oldest):
                    oldest = t
            by_uri = {v.get("uri"): v for v in views if isinstance(v, dict)}
            for row in rows:
                uri = row["post_id"].split(":", 1)[1]
                if uri in run["seen_set"]:
                    continue
                run["seen_set"].add(uri)
                run["seen"].append(uri)
                run["posts"].append(row)
                t = sort_time(by_uri.get(uri) or {})
                if t is not None and (run["newest"] is None or t > run["newest"]):
                    run["newest"] = t
            page_cursor = payload.get("cursor")
            if not views or not page_cursor:
                return pages, True, oldest
        return pages, False, oldest

    def fetch(self, cursor: dict | None) -> FetchResult:
        cursor = dict(cursor or {})
        warnings: list[str] = []
        base, headers = self._session(warnings)
        seen = list(cursor.get("seen") or [])
        run = {"posts": [], "skipped": 0, "seen": seen, "seen_set": set(seen),
               "newest": iso_time(cursor.get("newest"))}
        params: dict[str, Any] = {"q": self.query, "limit": self.limit, "sort": self.sort}
        if self.options.get("lang"):
            params["lang"] = self.options["lang"]
        old_since = cursor.get("since")
        timed = self.sort == "latest"  # "top" is not in time order: no gap to resume

        pages, done, oldest = self._search(base, headers, {**params, **({"since": old_since} if old_since else {})},
                                           self.max_pages, run)
        requests = pages
        gap = dict(cursor["gap"]) if timed and isinstance(cursor.get("gap"), dict) and cursor["gap"].get("until") else None
        if gap and requests < self.max_pages:
            g_params = {**params, "until": gap["until"], **({"since": gap["since"]} if gap.get("since") else {})}
            g_pages, g_done, g_oldest = self._search(base, headers, g_params, self.max_pages - requests, run)
            requests += g_pages
            if g_done:
                gap = None
            elif g_oldest is not None:
                gap["until"] = _iso(g_oldest + RESUME_MARGIN)
        if not done:
            if not timed or not old_since:
                warnings.append(f"{self.name}: stopped after max_pages={self.max_pages}; older matching posts "
                                "were not read" + (" (first run)" if not old_since else "")
                                + "; raise max_pages or limit to read further back")
            elif (oldest or run["newest"]) is not None:
                gap = {"since": gap.get("since") if gap else old_since,
                       "until": _iso((oldest or run["newest"]) + RESUME_MARGIN)}
        if gap:
            warnings.append(
                f"{self.name}: stopped after max_pages={self.max_pages} before reaching the posts read last "
                f"run; matching posts from {gap.get('since') or 'the start'} to {gap['until']} are not read "
                "yet. The next run reads on from there; if this warning repeats, raise max_pages (or limit) "
                "or run more often")
        if run["newest"] is not None:
            newest = run["newest"]
            cursor = {"since": _iso(newest - SINCE_OVERLAP), "newest": _iso(newest),
                      "seen": seen[-MAX_SEEN:]}
            if gap:
                cursor["gap"] = gap
        return FetchResult(posts=run["posts"], cursor=cursor, skipped=run["skipped"], warnings=warnings,
                           requests=requests)


    REFETCH = True
    GET_POSTS_BATCH = 25  # app.bsky.feed.getPosts takes at most 25 URIs

    def refetch(self, post_ids: list[str]) -> FetchResult:
        """``app.bsky.feed.getPosts`` for the posts' ``at://`` URIs, 25 per request."""
        warnings: list[str] = []
        uris = [p.split(":", 1)[1] for p in post_ids if p.startswith("bluesky:at://")]
        if not uris:
            return FetchResult(posts=[], cursor={})
        base, headers = self._session(warnings)
        posts, skipped, requests = [], 0, 0
        for i in range(0, len(uris), self.GET_POSTS_BATCH):
            resp = self.client.get(base + GET_POSTS, params={"uris": uris[i:i + self.GET_POSTS_BATCH]}, headers=headers)
            requests += 1
            refuse_html(resp)
            rows, bad = _rows(_post_views(load_json(resp.content, what=resp.url), resp.url), self.name)
            posts += rows
            skipped += bad
        return FetchResult(posts=posts, cursor={}, skipped=skipped, warnings=warnings, requests=requests)


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sort_time(view: dict) -> datetime | None:
    """The instant search filters ``since`` on: the earlier of createdAt and indexedAt."""
    times = []
    for raw in (view.get("indexedAt"), (view.get("record") or {}).get("createdAt")):
        try:
            t = iso_time(raw)
        except (TypeError, ValueError):
            t = None
        if t is not None:
            times.append(t if t.tzinfo else t.replace(tzinfo=timezone.utc))
    return min(times) if times else None
