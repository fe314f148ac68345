"""Telegram public channels through their web preview ``https://t.me/s/<channel>``.

Source options (``kind = "telegram"``):

``channel``    the channel's public username, e.g. ``"somechannel"`` (required; ``@`` and a
               ``t.me/`` prefix are accepted)
``base_url``   default ``https://t.me``
``max_pages``  pages per run (default 3; a page holds about 20 messages)

Only public channels with the web preview enabled can be read. The first page holds the newest
messages; older pages are read with ``?before=<smallest message number>``. The cursor
``{"newest": <message number>}`` stops paging at messages already read.

Rows: ``post_id`` ``telegram:<channel>/<number>``; ``text`` from the message (line breaks kept);
``published_at`` from the ``<time datetime>``; ``views`` ("1.2K" -> 1200); the signed author or
the channel's name as ``author``; ``title`` is ``"Forwarded from <name>"`` for forwarded
messages (the origin's URL goes to ``links``); links in the text and the link preview go to
``links``; photos and video files to ``media_urls``; a message with a video (or a link preview
with one) gets the message's canonical ``t.me`` URL in ``video_ids``, YouTube links their
``youtube:<id>``. ``author_id`` is the channel's username in lower case and ``author_handle``
``@<username>``; ``author_followers`` is the channel's subscriber count when the page carries its
header (``t.me/s/<channel>`` pages do; message fragments do not).

``Source.refetch(post_ids)`` reads ``t.me/s/<channel>?before=<number + 1>`` for the newest message
asked for, which holds it and about twenty older ones, and goes on for messages not yet seen:
views are the only count Telegram shows.
``youtube:<id>``. ``media`` lists what the media step fingerprints: photos (``image``), video
thumbnails and link previews' video thumbnails (``thumbnail``), video files (``video``) and link
previews' pictures (``card``).
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit

from bs4 import BeautifulSoup

from connectors.base import BaseSource, FetchResult
from connectors.common import parse_items, unique
from connectors.errors import ConfigError, ParseError
from connectors.safe import clip, decode_text
from connectors.schema import make_post
from connectors.urls import canonical_url, video_ref

_BAD_ITEM = (KeyError, TypeError, ValueError, AttributeError, IndexError)
_BG_URL = re.compile(r"background-image:\s*url\(['\"]?([^'\")]+)")
_MULT = {"": 1, "K": 1_000, "M": 1_000_000, "B": 1_000_000_000}


def parse_count(text: str | None) -> int | None:
    """``"33.4K"`` -> 33400, ``"1.2M"`` -> 1200000, ``"987"`` -> 987; ``None`` if unreadable."""
    m = re.fullmatch(r"\s*([\d.,]+)\s*([KMB]?)\s*", (text or "").upper())
    if not m:
        return None
    try:
        return int(round(float(m.group(1).replace(",", "")) * _MULT[m.group(2)]))
    except ValueError:
        return None


def _text(node) -> str:
    if node is None:
        return ""
    node = BeautifulSoup(str(node), "html.parser")  # a copy: the page itself is not changed
    for br in node.find_all("br"):
        br.replace_with("\x00")
    lines = [" ".join(line.split()) for line in node.get_text().split("\x00")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _not_inside(tag, *classes) -> bool:
    return not any(p.get("class") and set(classes) & set(p.get("class")) for p in tag.parents)


def message_row(msg, *, source: str = "", base_url: str = "https://t.me") -> dict:
    """One ``posts`` row for a ``div.tgme_widget_message`` element."""
    post = msg["data-post"].strip("/")
    channel, number = post.rsplit("/", 1)
    if not number.isdigit():
        raise ValueError(f"bad message id {post!r}")
    texts = [t for t in msg.select(".tgme_widget_message_text")
             if _not_inside(t, "tgme_widget_message_reply", "tgme_widget_message_link_preview")]
    text_node = texts[0] if texts else None
    links = []
    if text_node is not None:
        for a in text_node.find_all("a", href=True):
            href = a["href"]
            if href.startswith(("http://", "https://")):
                links.append(href)
    preview = msg.select_one("a.tgme_widget_message_link_preview")
    if preview is not None and preview.get("href"):
        links.append(preview["href"])
    title = None
    fwd = msg.select_one(".tgme_widget_message_forwarded_from")
    if fwd is not None:
        name_node = fwd.select_one(".tgme_widget_message_forwarded_from_name") or fwd
        name = " ".join(name_node.get_text().split())
        title = f"Forwarded from {name}" if name else "Forwarded"
        if name_node.get("href"):
            links.append(name_node["href"])
    media, videos, items = [], [], []
    for v in msg.find_all("video", src=True):
        media.append(v["src"])
        items.append((v["src"], "video"))
    for photo in msg.select(".tgme_widget_message_photo_wrap"):
        m = _BG_URL.search(photo.get("style") or "")
        if m:
            media.append(m.group(1))
            items.append((m.group(1), "image"))
    for selector, kind in ((".tgme_widget_message_video_thumb, .tgme_widget_message_roundvideo_thumb, "
                            ".link_preview_video_thumb", "thumbnail"), (".link_preview_image", "card")):
        for node in msg.select(selector):
            m = _BG_URL.search(node.get("style") or "")
            if m:
                items.append((m.group(1), kind))
    msg_url = f"{base_url.rstrip('/')}/{channel}/{number}"
    players = msg.select(".tgme_widget_message_video_player, .tgme_widget_message_roundvideo_player")
    if players or (msg.find("video") is not None and preview is None):
        videos.append(canonical_url(msg_url))
    if preview is not None and preview.select_one(".link_preview_video_player, video"):
        videos.append(canonical_url(preview.get("href")))
    videos += [video_ref(u) for u in links]
    time_node = msg.select_one("a.tgme_widget_message_date time[datetime]") or msg.select_one("time[datetime]")
    published = datetime.fromisoformat(time_node["datetime"]) if time_node is not None else None
    views = msg.select_one(".tgme_widget_message_views")
    author = msg.select_one(".tgme_widget_message_from_author") or msg.select_one(".tgme_widget_message_owner_name")
    return make_post(
        "telegram", f"{channel}/{number}", source=source, url=msg_url,
        canonical_url=canonical_url(msg_url),
        author=" ".join(author.get_text().split()) if author is not None else channel,
        author_id=channel.lower(), author_handle=f"@{channel}",
        published_at=published, title=title, text=clip(_text(text_node)),
        links=unique(canonical_url(u) for u in links), media_urls=unique(media),
        video_ids=unique(videos), media=[(u if not u.startswith("//") else "https:" + u, k) for u, k in items],
        views=parse_count(views.get_text()) if views is not None else None,
    )


def parse_page(data: bytes, *, url: str | None = None, source: str = "",
               base_url: str = "https://t.me") -> tuple[list[dict], int, list[int]]:
    """Rows, items skipped, and every message number on the page (for paging)."""
    where = url or "telegram page"
    head = data[:512].lstrip()
    if head[:1] in (b"{", b"["):
        raise ParseError(f"{where}: got JSON, not a t.me/s/<channel> HTML page")
    soup = BeautifulSoup(decode_text(data), "lxml")
    messages = soup.select("div.tgme_widget_message[data-post]")
    if not messages and soup.select_one(".tgme_channel_history") is None:
        raise ParseError(f"{where}: not a Telegram channel preview page (no messages); check that "
                         "the channel is public and its name is right")
    tails = ((msg.get("data-post") or "").rsplit("/", 1)[-1] for msg in messages)
    numbers = [int(tail) for tail in tails if tail.isdigit()]
    rows, skipped = parse_items(messages, lambda msg: message_row(msg, source=source, base_url=base_url), _BAD_ITEM)
    subscribers = channel_subscribers(soup)
    if subscribers is not None:
        for row in rows:
            row["author_followers"] = subscribers
    return rows, skipped, numbers


def channel_subscribers(soup) -> int | None:
    """The "12.3K subscribers" counter of a channel page's header, or None (message fragments
    and pages without the header)."""
    for counter in soup.select(".tgme_channel_info_counter"):
        kind = counter.select_one(".counter_type")
        value = counter.select_one(".counter_value")
        if kind is not None and value is not None and "subscriber" in kind.get_text().lower():
            return parse_count(value.get_text())
    return None


def parse(data: bytes, *, url: str | None = None, source: str = "") -> list[dict]:
    """A ``t.me/s/<channel>`` page (or saved message fragments) -> ``posts`` rows."""
    return parse_page(data, url=url, source=source)[0]


class Source(BaseSource):
    kind = "telegram"
    OPTIONS: dict[str, type | tuple[type, ...]] = {"channel": str, "base_url": str, "max_pages": int}

    def __init__(self, name, options, client):
        super().__init__(name, options, client)
        channel = str(self.options.get("channel") or "").strip()
        channel = re.sub(r"^(https?://)?(t\.me/)?(s/)?@?", "", channel).strip("/")
        if not re.fullmatch(r"[A-Za-z0-9_]{3,64}", channel):
            raise ConfigError(f"source {name!r}: option 'channel' must be a public channel's "
                              "username, e.g. channel = \"somechannel\"")
        self.channel = channel
        self.base_url = (self.options.get("base_url") or "https://t.me").rstrip("/")
        self.max_pages = max(1, int(self.options.get("max_pages", 3)))

    REFETCH = True

    def refetch(self, post_ids: list[str]) -> FetchResult:
        """Pages ``?before=<number + 1>`` from the newest message asked for down, each holding it
        and about twenty older messages, until every message asked for was seen or ``max_pages``."""
        prefix = f"telegram:{self.channel}/"
        wanted = {int(p[len(prefix):]) for p in post_ids
                  if p.lower().startswith(prefix.lower()) and p[len(prefix):].isdigit()}
        posts, skipped, requests, warnings = [], 0, 0, []
        url = f"{self.base_url}/s/{self.channel}"
        while wanted and requests < self.max_pages:
            top = max(wanted)
            resp = self.client.get(url, params={"before": top + 1})
            requests += 1
            rows, bad, numbers = parse_page(resp.content, url=resp.url, source=self.name)
            skipped += bad
            for row in rows:
                n = int(row["post_id"].rsplit("/", 1)[1])
                if n in wanted:
                    posts.append(row)
            seen = set(numbers)
            low = min(numbers) if numbers else top
            wanted -= {n for n in wanted if n in seen or n >= low}  # at or above the page's oldest: gone
        if wanted:
            warnings.append(f"{self.name}: {len(wanted)} messages not re-read within max_pages={self.max_pages}")
        return FetchResult(posts=posts, cursor={}, skipped=skipped, warnings=warnings, requests=requests)

    def fetch(self, cursor: dict | None) -> FetchResult:
        cursor = dict(cursor or {})
        stop_at = int(cursor.get("newest") or 0)
        url = f"{self.base_url}/s/{self.channel}"
        posts, skipped, requests, ids, warnings = [], 0, 0, set(), []
        newest, before = stop_at, None
        while requests < self.max_pages:
            resp = self.client.get(url, params={"before": before} if before else None)
            requests += 1
            rows, bad, numbers = parse_page(resp.content, url=resp.url, source=self.name)
            skipped += bad
            if urlsplit(resp.url).path.rstrip("/") != f"/s/{self.channel}" and not numbers:
                warnings.append(f"{self.name}: t.me sent {resp.url} instead of the preview; "
                                "the channel may be private or have its preview disabled")
            for row in rows:
                n = int(row["post_id"].rsplit("/", 1)[1])
                if n <= stop_at or row["post_id"] in ids:
                    continue
                ids.add(row["post_id"])
                posts.append(row)
                newest = max(newest, n)
            if not numbers:
                break
            smallest = min(numbers)
            if smallest <= stop_at + 1 or (before is not None and smallest >= before):
                break
            before = smallest
        else:
            if stop_at and before and before > stop_at + 1:
                warnings.append(f"{self.name}: stopped after max_pages={self.max_pages} before reaching "
                                "the messages read last run")
        new_cursor = {**cursor, "newest": newest} if newest else cursor
        return FetchResult(posts=posts, cursor=new_cursor, skipped=skipped, warnings=warnings,
                           requests=requests)
