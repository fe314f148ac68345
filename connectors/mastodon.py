"""Mastodon hashtag and public timelines of any instance.

Source options (``kind = "mastodon"``):

``instance``   base URL of the server, e.g. ``"https://mastodon.social"`` (required)
``hashtag``    tag without ``#`` -> ``/api/v1/timelines/tag/<hashtag>``; or
``timeline``   ``"public"`` (federated) or ``"local"`` -> ``/api/v1/timelines/public``
``limit``      statuses per page (default 40, the server's maximum)
``max_pages``  pages per run (default 5)
``token_env``  name of an environment variable holding an access token (optional; sent as
               ``Authorization: Bearer``, never logged). Some servers require it for timelines.

Paging follows the ``Link`` header. The first run reads the newest page and then older pages
(``rel="next"``, ``max_id``); the cursor ``{"min_id": <newest status id>}`` makes later runs
read only newer statuses (``min_id``, then ``rel="prev"`` towards the present), without gaps.

Rows: a reblog is unwrapped (the original status is the post); ``post_id`` is
``mastodon:<host of the status uri>/<last part of the uri>`` so the same status seen through two
instances is one post. Content HTML becomes text; links in the content (not mentions or
hashtags) and the preview card's URL go to ``links``; media attachments go to ``media_urls``;
YouTube links become ``youtube:<id>`` and video attachments their canonical URL in
``video_ids``; favourites/reblogs/replies counts fill likes/reposts/replies. The account gives
``author_handle`` (``acct`` with its server, e.g. ``someone@mastodon.social``), ``author_id``
(``<server asked>/<account id>``: account ids are per server) and ``author_followers``
(``followers_count``).

``Source.refetch(post_ids)`` reads each status again with ``GET /api/v1/statuses/:id`` on the
server in its ``post_id`` (the status's home server, whose id is the last part of its URI), for
the reach-over-time snapshots.
``video_ids``; favourites/reblogs/replies counts fill likes/reposts/replies. ``media`` lists what the
media step fingerprints: an image's ``preview_url`` (``image``), a video's or GIF's preview still
(``thumbnail``) and file (``video``), the preview card's picture (``card``); audio is left out.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

from bs4 import BeautifulSoup

from connectors.base import BaseSource, FetchResult
from connectors.common import env_values, iso_time, keep_secret, parse_items, refuse_html, unique
from connectors.errors import ConfigError, ConnectorError, HTTPStatusError, ParseError
from connectors.safe import clip, load_json
from connectors.schema import make_post
from connectors.urls import canonical_url, video_ref

_BAD_ITEM = (KeyError, TypeError, ValueError, AttributeError)


def _load_json(data: bytes, where: str) -> Any:
    try:
        return load_json(data, what=where)
    except ParseError as exc:
        if b"//" in data[:4096] and "not valid JSON" in str(exc):
            raise ParseError(f"{exc} (documentation examples with // comments are not JSON)") from None
        raise


def html_text_and_links(content: str | None) -> tuple[str, list[str]]:
    """Plain text of a status's HTML and the URLs it links to (mentions and hashtags left out)."""
    if not content:
        return "", []
    soup = BeautifulSoup(content, "html.parser")
    links = []
    for a in soup.find_all("a", href=True):
        classes = a.get("class") or []
        if "mention" in classes or "hashtag" in classes or a.get("rel") == ["tag"]:
            continue
        links.append(a["href"])
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for p in soup.find_all("p"):
        p.append("\n\n")
    text = re.sub(r"\n{3,}", "\n\n", soup.get_text()).strip()
    return text, links


def native_id(status: dict, fallback_host: str = "") -> str:
    uri = status.get("uri") or ""
    parts = urlsplit(uri)
    tail = parts.path.rstrip("/").rsplit("/", 1)[-1] if parts.path else ""
    if parts.netloc and tail:
        return f"{parts.netloc}/{tail}"
    if status.get("id") and fallback_host:
        return f"{fallback_host}/{status['id']}"
    raise ValueError("status without uri or id")


def _author(account: dict | None) -> str | None:
    if not isinstance(account, dict):
        return None
    acct = account.get("acct") or account.get("username")
    if not acct:
        return None
    if "@" not in acct and account.get("url"):
        host = urlsplit(account["url"]).netloc
        if host:
            acct = f"{acct}@{host}"
    return acct


def status_row(status: dict, *, source: str = "", fallback_host: str = "") -> dict:
    """One ``posts`` row for a Mastodon status (reblogs unwrapped)."""
    orig = status.get("reblog") or status
    text, links = html_text_and_links(orig.get("content"))
    card = orig.get("card") or {}
    if card.get("url"):
        links.append(card["url"])
    media, videos, items = [], [], []
    for att in orig.get("media_attachments") or []:
        if not isinstance(att, dict):
            continue
        u = att.get("url") or att.get("remote_url")
        if not u:
            continue
        media.append(u)
        if att.get("type") == "video":
            videos.append(canonical_url(u))
        preview = att.get("preview_url") if isinstance(att.get("preview_url"), str) else None
        if att.get("type") == "image":
            items.append((preview or u, "image"))  # the server's small copy is enough to fingerprint
        elif att.get("type") in ("video", "gifv"):
            if preview:
                items.append((preview, "thumbnail"))
            items.append((u, "video"))
    if isinstance(card.get("image"), str):
        items.append((card["image"], "card"))
    videos += [video_ref(u) for u in links]
    if card.get("type") == "video" and card.get("url") and not video_ref(card["url"]):
        videos.append(canonical_url(card["url"]))
    url = orig.get("url") or orig.get("uri")
    account = orig.get("account") if isinstance(orig.get("account"), dict) else {}
    acct_id = account.get("id")
    return make_post(
        "mastodon", native_id(orig, fallback_host),
        source=source, url=url, canonical_url=canonical_url(url),
        author=_author(account), author_handle=_author(account),
        author_id=(f"{fallback_host}/{acct_id}" if fallback_host else str(acct_id)) if acct_id else None,
        author_followers=account.get("followers_count"), published_at=iso_time(orig.get("created_at")),
        lang=orig.get("language"), title=clip(orig.get("spoiler_text") or None), text=clip(text),
        links=unique(canonical_url(u) for u in links), media_urls=unique(media),
        video_ids=unique(videos), media=items, likes=orig.get("favourites_count"),
        reposts=orig.get("reblogs_count"), replies=orig.get("replies_count"),
    )


def parse_counted(data: bytes, *, url: str | None = None, source: str = "") -> tuple[list[dict], int]:
    where = url or "mastodon response"
    return _rows(_statuses(_load_json(data, where), where), url, source)


def _statuses(payload: Any, where: str) -> list:
    if isinstance(payload, dict) and "error" in payload:
        raise ParseError(f"{where}: server answered with an error: {payload['error']}")
    if isinstance(payload, dict) and "id" in payload and "content" in payload:
        return [payload]  # a single status
    if not isinstance(payload, list):
        raise ParseError(f"{where}: expected a JSON array of statuses, got {type(payload).__name__}")
    return payload


def _rows(statuses: list, url: str | None, source: str) -> tuple[list[dict], int]:
    host = urlsplit(url).netloc if url else ""
    return parse_items(statuses, lambda item: status_row(item, source=source, fallback_host=host), _BAD_ITEM,
                       dedupe=True)


def parse(data: bytes, *, url: str | None = None, source: str = "") -> list[dict]:
    """Statuses of a timeline response (a JSON array, or one status) -> ``posts`` rows."""
    return parse_counted(data, url=url, source=source)[0]


def parse_link_header(value: str | None) -> dict[str, str]:
    """``{"next": url, "prev": url}`` from an RFC 8288 ``Link`` header."""
    out = {}
    for part in (value or "").split(","):
        m = re.match(r'\s*<([^>]*)>\s*;(.*)', part)
        if not m:
            continue
        rel = re.search(r'rel\s*=\s*"?([^";]+)"?', m.group(2))
        if rel:
            for name in rel.group(1).split():
                out[name] = m.group(1)
    return out


def header(headers, name: str) -> str | None:
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return None


def id_key(status_id: Any) -> tuple[int, str]:
    s = str(status_id)
    return (len(s), s) if s.isdigit() else (0, s)


class Source(BaseSource):
    kind = "mastodon"
    OPTIONS: dict[str, type | tuple[type, ...]] = {
        "instance": str, "hashtag": str, "timeline": str, "limit": int, "max_pages": int, "token_env": str,
    }

    def __init__(self, name, options, client):
        super().__init__(name, options, client)
        instance = (self.options.get("instance") or "").rstrip("/")
        if not instance.startswith(("http://", "https://")):
            raise ConfigError(f"source {name!r}: option 'instance' must be a server URL such as "
                              "\"https://mastodon.social\"")
        self.instance = instance
        tag = (self.options.get("hashtag") or "").lstrip("#")
        timeline = self.options.get("timeline")
        if tag:
            self.endpoint = f"{instance}/api/v1/timelines/tag/{quote(tag, safe='')}"
            self.base_params: dict[str, Any] = {}
        elif timeline in ("public", "local"):
            self.endpoint = f"{instance}/api/v1/timelines/public"
            self.base_params = {"local": "true"} if timeline == "local" else {}
        else:
            raise ConfigError(f"source {name!r}: set 'hashtag' (e.g. \"ImranKhan\") or "
                              "timeline = \"public\" or \"local\"")
        self.limit = int(self.options.get("limit", 40))
        self.max_pages = max(1, int(self.options.get("max_pages", 5)))

    def _headers(self, warnings: list[str]) -> dict[str, str]:
        env = self.options.get("token_env")
        if not env:
            return {}
        [token] = env_values(env)
        if not token:
            warnings.append(f"{self.name}: environment variable {env} is not set; reading without a token")
            return {}
        keep_secret(self.client, token)
        return {"Authorization": f"Bearer {token}"}

    REFETCH = True

    def refetch(self, post_ids: list[str]) -> FetchResult:
        """``GET /api/v1/statuses/:id`` on each status's home server (the token only goes to the
        configured instance; other servers are read without it, public statuses need none)."""
        warnings: list[str] = []
        headers = self._headers(warnings)
        own = urlsplit(self.instance).netloc
        posts, skipped, requests = [], 0, 0
        for pid in post_ids:
            host, _, tail = pid.removeprefix("mastodon:").partition("/")
            if not pid.startswith("mastodon:") or not host or not tail.isdigit():
                warnings.append(f"{self.name}: {pid}: not a Mastodon status id; not re-read")
                continue
            base = self.instance if host == own else f"https://{host}"
            url = f"{base}/api/v1/statuses/{tail}"
            try:
                if host != own:
                    self.client.check_url(url)
                resp = self.client.get(url, headers=headers if host == own else None)
            except HTTPStatusError as exc:
                requests += 1
                if exc.status_code in (404, 410):
                    continue  # deleted: nothing to record
                warnings.append(f"{self.name}: {pid}: {exc}")
                continue
            except ConnectorError as exc:
                warnings.append(f"{self.name}: {pid}: {exc}")
                continue
            requests += 1
            refuse_html(resp)
            rows, bad = _rows(_statuses(_load_json(resp.content, resp.url), resp.url), resp.url, self.name)
            posts += rows
            skipped += bad
        return FetchResult(posts=posts, cursor={}, skipped=skipped, warnings=warnings, requests=requests)

    def fetch(self, cursor: dict | None) -> FetchResult:
        cursor = dict(cursor or {})
        warnings: list[str] = []
        headers = self._headers(warnings)
        since = cursor.get("min_id")
        params = {**self.base_params, "limit": self.limit}
        direction = "next"
        if since:
            params["min_id"] = since
            direction = "prev"
        posts, skipped, requests, seen_urls, seen_ids = [], 0, 0, set(), set()
        newest = since
        url: str | None = self.endpoint
        while url and requests < self.max_pages:
            resp = self.client.get(url, params=params, headers=headers)
            requests += 1
            refuse_html(resp)
            seen_urls.add(resp.url)
            statuses = _statuses(_load_json(resp.content, resp.url), resp.url)
            rows, bad = _rows(statuses, resp.url, self.name)
            skipped += bad
            ids = [s.get("id") for s in statuses if isinstance(s, dict) and s.get("id")]
            for sid in ids:
                if newest is None or id_key(sid) > id_key(newest):
                    newest = str(sid)
            for row in rows:
                if row["post_id"] not in seen_ids:
                    seen_ids.add(row["post_id"])
                    posts.append(row)
            if not ids:
                break
            nxt = parse_link_header(header(resp.headers, "link")).get(direction)
            if nxt and urlsplit(nxt).netloc != urlsplit(self.instance).netloc:
                warnings.append(f"{self.name}: not following a Link to another host ({urlsplit(nxt).netloc})")
                nxt = None
            if nxt in seen_urls:
                nxt = None
            url, params = nxt, None
        if url and requests >= self.max_pages:
            rest = ("newer statuses are read on the next run" if since else
                    "older statuses of this first run are not read")
            warnings.append(f"{self.name}: stopped after max_pages={self.max_pages}; {rest}")
        new_cursor = {**cursor, "min_id": newest} if newest else cursor
        return FetchResult(posts=posts, cursor=new_cursor, skipped=skipped, warnings=warnings,
                           requests=requests)
