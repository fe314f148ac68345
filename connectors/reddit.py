"""Reddit subreddit listings and search.

Source options (``kind = "reddit"``):

``subreddit``     e.g. ``"pakistan"`` -> ``/r/pakistan/new.json``
``search``        query; with ``subreddit`` -> ``/r/<sub>/search.json?q=&restrict_sr=1&sort=new``,
                  without -> ``/search.json?q=&sort=new`` (one of the two is required)
``limit``         posts per page, up to 100 (default 100)
``max_pages``     pages per run (default 3), following ``after``
``base_url``      default ``https://www.reddit.com``
``client_id_env`` / ``client_secret_env``  env vars with an app's credentials (optional): a token
                  is fetched from ``token_url`` (default
                  ``https://www.reddit.com/api/v1/access_token``, client-credentials grant) and
                  requests go to ``oauth_base_url`` (default ``https://oauth.reddit.com``).
                  Credentials and tokens are never logged.

Reddit asks for a descriptive ``User-Agent``; it comes from ``[settings] user_agent``.

The cursor ``{"newest": <fullname>, "newest_utc": <created_utc>, "seen": [...]}`` makes the next
run stop paging once it reaches posts it has seen.

When a run uses up ``max_pages`` before it gets back to those posts, the cursor does not jump
over the unread ones: it keeps ``"gap": {"after": <fullname of the last post read>,
"until_utc", "until_seen"}`` (the previous stop point) and the result carries a warning. The
next run first reads what is new at the top, then spends its remaining pages going on from
``after`` until it reaches ``until_utc``/``until_seen``. If the new posts again fill every page,
the gap is widened to start where this run stopped (the posts between are read again; repeats
are dropped by ``post_id``). What can still be lost: Reddit serves only about the newest 1000
posts of a listing, and ``after`` needs the post it names to be still listed; a gap that falls
below the 1000 or whose anchor was removed ends the listing early, and the posts between that
point and the previous stop point are not read (a warning says so). The first run reads the
newest ``max_pages`` pages only.

Rows: ``post_id`` is ``reddit:<fullname>`` (``t3_...``); ``text`` is the selftext (or a
comment's body); the linked URL and URLs in the selftext go to ``links``; YouTube links (also
from ``secure_media`` oEmbed iframes) become ``youtube:<id>``, Reddit-hosted videos
(``is_video``) their canonical ``v.redd.it`` URL in ``video_ids`` and their playable URL in
``media_urls`` (with image posts and gallery items); ``score`` -> likes, ``num_comments`` -> replies.
``author_id`` is the author's fullname (``author_fullname``, ``t2_...``), or ``u/<name>`` in
listings that lack it (older API answers; Reddit user names cannot be changed, so both are
stable), and ``author_handle`` ``u/<name>``; listings carry no follower counts. ``Source.refetch(post_ids)``
reads posts again with ``/api/info.json?id=<fullnames>`` (100 a request).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from bs4 import BeautifulSoup

from connectors.base import BaseSource, FetchResult
from connectors.common import keep_secret, login_from_env, parse_items, refuse_html, unique
from connectors.errors import ConfigError, HTTPStatusError, ParseError
from connectors.safe import clip, load_json
from connectors.schema import make_post
from connectors.urls import canonical_url, video_ref

_BAD_ITEM = (KeyError, TypeError, ValueError, AttributeError, OverflowError, OSError)
_URL = re.compile(r"https?://[^\s<>\"')\]]+")
_GONE = {"[deleted]", "[removed]"}


def _oembed_links(media: Any) -> list[str]:
    if not isinstance(media, dict):
        return []
    oembed = media.get("oembed") or {}
    out = []
    if oembed.get("url"):
        out.append(oembed["url"])
    html = oembed.get("html")
    if html:
        iframe = BeautifulSoup(html, "html.parser").find("iframe")
        if iframe and iframe.get("src") and video_ref(iframe["src"]):
            out.append(iframe["src"])
    return out


def _reddit_video(media: Any) -> str | None:
    if isinstance(media, dict) and isinstance(media.get("reddit_video"), dict):
        rv = media["reddit_video"]
        return rv.get("fallback_url") or rv.get("hls_url") or rv.get("dash_url")
    return None


def thing_row(thing: dict, *, source: str = "", base_url: str = "https://www.reddit.com") -> dict:
    """One ``posts`` row for a listing child (``t3`` link or ``t1`` comment)."""
    d = thing["data"]
    name = d.get("name") or f"{thing.get('kind', 't3')}_{d['id']}"
    permalink = d.get("permalink")
    url = base_url.rstrip("/") + permalink if permalink else None
    text = d.get("selftext") if "selftext" in d else d.get("body")
    text = None if text in _GONE else text
    links = []
    target = d.get("url_overridden_by_dest") or d.get("url")
    if target and not d.get("is_self") and canonical_url(target) != canonical_url(url):
        links.append(target)
    links += _URL.findall(text or "")
    parents = d.get("crosspost_parent_list") or []
    medias = [d.get("secure_media"), d.get("media")] + [
        p.get(k) for p in parents if isinstance(p, dict) for k in ("secure_media", "media")]
    for m in medias:
        links += _oembed_links(m)
    media_urls, videos = [], [video_ref(u) for u in links]
    for m in medias:
        playable = _reddit_video(m)
        if playable:
            media_urls.append(playable)
            break
    if d.get("is_video") or "v.redd.it" in (target or ""):
        ref = target if target and "v.redd.it" in target else (media_urls[0] if media_urls else None)
        videos.append(canonical_url(ref))
    if d.get("post_hint") == "image" and target:
        media_urls.append(target)
    for item in (d.get("media_metadata") or {}).values():  # galleries
        source_img = item.get("s") if isinstance(item, dict) else None
        if isinstance(source_img, dict) and (source_img.get("u") or source_img.get("mp4") or source_img.get("gif")):
            media_urls.append(source_img.get("u") or source_img.get("mp4") or source_img.get("gif"))
    created = d.get("created_utc")
    author = d.get("author")
    return make_post(
        "reddit", name, source=source, url=url, canonical_url=canonical_url(url),
        author=None if author in _GONE else author,
        author_id=(d.get("author_fullname") or (f"u/{author}" if author else None)) if author not in _GONE else None,
        author_handle=f"u/{author}" if author and author not in _GONE else None,
        published_at=datetime.fromtimestamp(float(created), timezone.utc) if created is not None else None,
        title=clip(d.get("title")), text=clip(text),
        links=unique(canonical_url(u) for u in links), media_urls=unique(media_urls),
        video_ids=unique(videos), likes=d.get("score"), replies=d.get("num_comments"),
    )


def _children(payload: Any, where: str) -> tuple[list, str | None]:
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        payload = payload[0]  # a comments page: [post listing, comment listing]
    if not isinstance(payload, dict):
        raise ParseError(f"{where}: expected a Reddit Listing object, got {type(payload).__name__}")
    if "error" in payload and "data" not in payload:
        raise ParseError(f"{where}: Reddit answered with an error: {payload.get('error')} "
                         f"{payload.get('message', '')}".rstrip())
    data = payload.get("data")
    if payload.get("kind") != "Listing" or not isinstance(data, dict) or not isinstance(data.get("children"), list):
        raise ParseError(f"{where}: not a Reddit Listing (no data.children); is this a .json listing URL?")
    return data["children"], data.get("after")


def parse_counted(data: bytes, *, url: str | None = None, source: str = "",
                  base_url: str = "https://www.reddit.com") -> tuple[list[dict], int, str | None]:
    where = url or "reddit response"
    children, after = _children(load_json(data, what=where), where)
    things = (c for c in children if not (isinstance(c, dict) and c.get("kind") == "more"))
    rows, skipped = parse_items(things, lambda thing: thing_row(thing, source=source, base_url=base_url), _BAD_ITEM)
    return rows, skipped, after


def parse(data: bytes, *, url: str | None = None, source: str = "") -> list[dict]:
    """A Reddit Listing (``/new.json``, ``/search.json``) -> ``posts`` rows."""
    return parse_counted(data, url=url, source=source)[0]


def _post_token(client: Any, url: str, client_id: str, secret: str) -> str:
    """An application-only OAuth token (client-credentials grant) through ``client.post``."""
    try:
        payload = client.post(url, data={"grant_type": "client_credentials"}, auth=(client_id, secret)).json()
    except HTTPStatusError as exc:
        if exc.status_code not in (400, 401, 403):
            raise
        err = HTTPStatusError(f"{exc}; check the Reddit app's client id and secret (a \"script\" or "
                              "\"web app\" app)", exc.status_code, exc.body)
        raise err from None
    token = payload.get("access_token") if isinstance(payload, dict) else None
    if not token:
        said = payload.get("error", "unknown error") if isinstance(payload, dict) else type(payload).__name__
        raise ParseError(f"{url}: no access_token in the answer ({said}); "
                         "check the Reddit app's client id and secret")
    return token


class Source(BaseSource):
    kind = "reddit"
    OPTIONS: dict[str, type | tuple[type, ...]] = {
        "subreddit": str, "search": str, "limit": int, "max_pages": int, "base_url": str,
        "client_id_env": str, "client_secret_env": str, "token_url": str, "oauth_base_url": str,
    }

    def __init__(self, name, options, client):
        super().__init__(name, options, client)
        self.subreddit = (self.options.get("subreddit") or "").strip().removeprefix("r/").strip("/")
        self.search = (self.options.get("search") or "").strip()
        if not (self.subreddit or self.search):
            raise ConfigError(f"source {name!r}: set 'subreddit' (e.g. \"pakistan\") and/or 'search'")
        self.base_url = (self.options.get("base_url") or "https://www.reddit.com").rstrip("/")
        self.limit = min(100, max(1, int(self.options.get("limit", 100))))
        self.max_pages = max(1, int(self.options.get("max_pages", 3)))

    def _endpoint(self, base: str) -> tuple[str, dict[str, Any]]:
        params: dict[str, Any] = {"limit": self.limit, "raw_json": 1}
        if self.subreddit and self.search:
            return (f"{base}/r/{quote(self.subreddit)}/search.json",
                    {**params, "q": self.search, "restrict_sr": 1, "sort": "new"})
        if self.search:
            return f"{base}/search.json", {**params, "q": self.search, "sort": "new"}
        return f"{base}/r/{quote(self.subreddit)}/new.json", params

    def _auth(self, warnings: list[str]) -> tuple[str, dict[str, str]]:
        login = login_from_env(self, "client_id_env", "client_secret_env", warnings, "reading without OAuth")
        if not login:
            return self.base_url, {}
        cid, secret = login
        token = _post_token(self.client, self.options.get("token_url") or
                            "https://www.reddit.com/api/v1/access_token", cid, secret)
        keep_secret(self.client, token)
        base = (self.options.get("oauth_base_url") or "https://oauth.reddit.com").rstrip("/")
        return base, {"Authorization": f"Bearer {token}"}

    def _read(self, url: str, params: dict[str, Any], headers: dict[str, str], after: str | None,
              stop_utc: float | None, stop_names: set[str], budget: int, run: dict) -> tuple[int, str, str | None]:
        """Page down the listing from ``after`` until a post at or below the stop point.
        Returns ``(pages, how, after)``, ``how`` being "reached" (got to the stop point),
        "end" (the listing ran out first) or "budget" (``after`` is where to go on)."""
        pages = 0
        while pages < budget:
            resp = self.client.get(url, params={**params, **({"after": after} if after else {})},
                                   headers=headers)
            pages += 1
            refuse_html(resp)
            rows, bad, after = parse_counted(resp.content, url=resp.url, source=self.name,
                                             base_url="https://www.reddit.com")
            run["skipped"] += bad
            reached = False
            for row in rows:
                name = row["post_id"].split(":", 1)[1]
                t = row["published_at"].timestamp() if row["published_at"] else None
                if name in stop_names or (stop_utc is not None and t is not None and t < stop_utc):
                    reached = True
                    continue
                if name in run["ids"]:
                    continue
                run["ids"].add(name)
                run["posts"].append(row)
                if t is not None:
                    if run["newest_utc"] is None or t > run["newest_utc"]:
                        run["newest_utc"], run["newest_names"] = t, {name}
                    elif t == run["newest_utc"]:
                        run["newest_names"].add(name)
            if reached:
                return pages, "reached", None
            if not after or not rows:
                return pages, "end", None
        return pages, "budget", after

    REFETCH = True

    def refetch(self, post_ids: list[str]) -> FetchResult:
        """``/api/info.json?id=t3_a,t3_b,...`` (100 fullnames a request) for the snapshots."""
        names = [p.split(":", 1)[1] for p in post_ids if p.startswith("reddit:")]
        if not names:
            return FetchResult(posts=[], cursor={})
        warnings: list[str] = []
        base, headers = self._auth(warnings)
        posts, skipped, requests = [], 0, 0
        for i in range(0, len(names), 100):
            resp = self.client.get(f"{base}/api/info.json", params={"id": ",".join(names[i:i + 100]), "raw_json": 1},
                                   headers=headers)
            requests += 1
            refuse_html(resp)
            rows, bad, _ = parse_counted(resp.content, url=resp.url, source=self.name)
            posts += rows
            skipped += bad
        return FetchResult(posts=posts, cursor={}, skipped=skipped, warnings=warnings, requests=requests)

    def fetch(self, cursor: dict | None) -> FetchResult:
        cursor = dict(cursor or {})
        warnings: list[str] = []
        base, headers = self._auth(warnings)
        url, params = self._endpoint(base)
        stop_utc = cursor.get("newest_utc")
        stop_names = set(cursor.get("seen") or []) | ({cursor["newest"]} if cursor.get("newest") else set())
        run = {"posts": [], "skipped": 0, "ids": set(), "newest_utc": stop_utc,
               "newest_names": set(cursor.get("seen") or [])}
        requests, how, after = self._read(url, params, headers, None, stop_utc, stop_names, self.max_pages, run)

        gap = cursor.get("gap") if isinstance(cursor.get("gap"), dict) and cursor["gap"].get("after") else None
        if gap and requests < self.max_pages:
            pages, g_how, g_after = self._read(url, params, headers, gap["after"], gap.get("until_utc"),
                                               set(gap.get("until_seen") or []), self.max_pages - requests, run)
            requests += pages
            if g_how == "budget":
                gap = {**gap, "after": g_after}
            else:
                if g_how == "end":
                    warnings.append(
                        f"{self.name}: the listing ended before reaching the posts read earlier; posts older "
                        "than that (Reddit lists only about the newest 1000, and a removed post cannot be "
                        "resumed from) were not read and are lost. Raise max_pages or run more often")
                gap = None
        if how == "budget" and stop_utc is not None:
            gap = ({"after": after, "until_utc": gap.get("until_utc"), "until_seen": gap.get("until_seen") or []}
                   if gap else {"after": after, "until_utc": stop_utc, "until_seen": sorted(stop_names)})
        if gap:
            warnings.append(
                f"{self.name}: stopped after max_pages={self.max_pages} before reaching the posts read last "
                f"run; the posts in between are not read yet. The next run reads on from {gap['after']}; if "
                "this warning repeats, raise max_pages or run more often (Reddit lists only about the "
                "newest 1000 posts, so a gap that falls out of the listing is lost)")
        if run["newest_utc"] is not None:
            names = run["newest_names"]
            cursor = {"newest": sorted(names)[-1] if names else cursor.get("newest"),
                      "newest_utc": run["newest_utc"], "seen": sorted(names)}
            if gap:
                cursor["gap"] = gap
        return FetchResult(posts=run["posts"], cursor=cursor, skipped=run["skipped"], warnings=warnings,
                           requests=requests)
