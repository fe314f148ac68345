"""The ``posts`` row: what every connector yields.

A connector's parser returns plain ``dict`` rows with the keys of :data:`POST_COLUMNS`;
:func:`make_post` fills defaults, derives ``post_id`` and ``content_hash`` and checks types, and
:func:`posts_frame` turns rows into a polars frame with exactly :data:`POSTS_SCHEMA`.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any, Iterable

import polars as pl

from connectors.urls import unsafe_id, web_url

CUE = pl.Struct({"start": pl.Float64, "end": pl.Float64, "text": pl.String})
MEDIA_ITEM = pl.Struct({"url": pl.String, "kind": pl.String})
# what a media URL is: a picture in the post, a still of a video (YouTube thumbnail, a video's
# preview), a link card's picture, a video file, an HLS playlist of a video
MEDIA_KINDS = ("image", "thumbnail", "card", "video", "hls")

POSTS_SCHEMA: dict[str, pl.DataType] = {
    "post_id": pl.String,  # "platform:native_id", stable across runs
    "platform": pl.String,  # rss, article, mastodon, bluesky, reddit, youtube, telegram
    "source": pl.String,  # name of the configured source that produced it
    "url": pl.String,
    "canonical_url": pl.String,
    "author": pl.String,
    # the account behind the post, stable across renames: Bluesky DID, Mastodon "<server>/<account
    # id>", Reddit author fullname (t2_...), YouTube channel id (UC...), Telegram channel username
    "author_id": pl.String,
    "author_handle": pl.String,  # the account's handle: Bluesky handle, Mastodon acct, u/name, @channel
    "author_followers": pl.Int64,  # followers/subscribers of the account when the payload gives them
    "published_at": pl.Datetime("us", "UTC"),
    "fetched_at": pl.Datetime("us", "UTC"),
    "lang": pl.String,
    "title": pl.String,
    "text": pl.String,  # plain text, HTML removed
    "links": pl.List(pl.String),  # links found in the content (cards, embeds, anchors)
    "media_urls": pl.List(pl.String),
    "video_ids": pl.List(pl.String),  # e.g. "youtube:dQw4w9WgXcQ"
    "transcript": pl.String,  # captions text, when the post is a video with captions
    # the caption cues behind ``transcript``: start/end in seconds from the video's start, so a
    # match can point at the moment a claim is spoken; empty list when there are no captions
    "transcript_cues": pl.List(CUE),
    # the pictures and videos the post carries, as URLs with their kind (MEDIA_KINDS); the media
    # step fetches and fingerprints them; not part of content_hash
    "media": pl.List(MEDIA_ITEM),
    "likes": pl.Int64,
    "reposts": pl.Int64,
    "replies": pl.Int64,
    "views": pl.Int64,
    "content_hash": pl.String,
    "run_id": pl.String,
}
POST_COLUMNS = tuple(POSTS_SCHEMA)

_LIST_COLUMNS = ("links", "media_urls", "video_ids")
_URL_LIST_COLUMNS = ("links", "media_urls")
_INT_COLUMNS = ("likes", "reposts", "replies", "views", "author_followers")
_TIME_COLUMNS = ("published_at", "fetched_at")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def content_hash(title: str | None, text: str | None, transcript: str | None) -> str:
    h = hashlib.sha256()
    for part in (title, text, transcript):
        h.update((part or "").encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()[:32]


def _cue(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        start, end, text = value.get("start"), value.get("end"), value.get("text")
    else:
        start, end, text = (getattr(value, k, None) for k in ("start", "end", "text"))
    for name, v in (("start", start), ("end", end)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v < 0:
            raise TypeError(f"transcript_cues: {name} must be seconds (a number >= 0), got {v!r}")
    if not isinstance(text, str):
        raise TypeError(f"transcript_cues: text must be a string, got {type(text).__name__}")
    return {"start": float(start), "end": float(max(start, end)), "text": text}


def _media(items: Any) -> list[dict[str, str]]:
    out, seen = [], set()
    for item in items or []:
        url, kind = (item.get("url"), item.get("kind")) if isinstance(item, dict) else item
        if kind not in MEDIA_KINDS:
            raise TypeError(f"media: kind must be one of {', '.join(MEDIA_KINDS)}, got {kind!r}")
        if isinstance(url, str) and url.startswith(("http://", "https://")) and url not in seen:
            seen.add(url)
            out.append({"url": url, "kind": kind})
    return out


def make_post(platform: str, native_id: str, **fields: Any) -> dict[str, Any]:
    """Build one ``posts`` row. Unknown keys raise ``TypeError`` (a bug in the connector).

    ``media`` takes ``(url, kind)`` pairs or ``{"url", "kind"}`` dicts (kinds: :data:`MEDIA_KINDS`);
    non-HTTP URLs and repeats are dropped.

    ``transcript_cues`` takes cues as dicts or objects with ``start``, ``end`` (seconds) and
    ``text`` (e.g. :class:`connectors.captions.Cue`) and stores plain dicts."""
    unknown = set(fields) - set(POST_COLUMNS)
    if unknown:
        raise TypeError(f"unknown post fields: {sorted(unknown)}")
    if not native_id:
        raise ValueError(f"{platform} post without an id")
    row: dict[str, Any] = {c: None for c in POST_COLUMNS}
    row.update(fields)
    row["platform"] = platform
    if unsafe_id(native_id):  # a javascript:/data:/file: "id" is never stored as one
        native_id = "sha256-" + hashlib.sha256(str(native_id).encode("utf-8", "surrogatepass")).hexdigest()[:24]
    row["post_id"] = f"{platform}:{native_id}"
    for c in _LIST_COLUMNS:
        row[c] = [str(v) for v in (row[c] or []) if v]
    # links are stored only as absolute http(s) URLs (no javascript:, data:, file:...)
    for c in _URL_LIST_COLUMNS:
        row[c] = [u for u in map(web_url, row[c]) if u]
    for c in ("url", "canonical_url"):
        row[c] = web_url(row[c])
    row["transcript_cues"] = [_cue(c) for c in (row["transcript_cues"] or [])]
    row["media"] = _media(row["media"])
    for c in _INT_COLUMNS:
        v = row[c]
        row[c] = int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
    for c in _TIME_COLUMNS:
        v = row[c]
        if v is not None:
            if not isinstance(v, datetime):
                raise TypeError(f"{c} must be a datetime, got {type(v).__name__}")
            row[c] = v.replace(tzinfo=timezone.utc) if v.tzinfo is None else v.astimezone(timezone.utc)
    if row["fetched_at"] is None:
        row["fetched_at"] = utcnow()
    row["content_hash"] = content_hash(row["title"], row["text"], row["transcript"])
    return row


def posts_frame(rows: Iterable[dict[str, Any]]) -> pl.DataFrame:
    """Rows (from :func:`make_post`) as a frame with exactly :data:`POSTS_SCHEMA`."""
    return pl.DataFrame(list(rows), schema=POSTS_SCHEMA)


# One row per observation of a post's reach: every fetch of a post that carries counts, and every
# re-fetch of a recently flagged post (``flows.pipeline.refresh_metrics``).
METRICS_SCHEMA: dict[str, pl.DataType] = {
    "post_id": pl.String,
    "platform": pl.String,
    "source": pl.String,
    "observed_at": pl.Datetime("us", "UTC"),  # when the counts were read (the fetch time)
    "likes": pl.Int64,
    "reposts": pl.Int64,
    "replies": pl.Int64,
    "views": pl.Int64,
    "followers": pl.Int64,  # the author's followers at that time, where the platform gives them
    "how": pl.String,  # "fetch" (the source's normal run) or "refetch" (the by-id re-fetch)
    "run_id": pl.String,
}
METRIC_COUNTS = ("likes", "reposts", "replies", "views", "followers")


def metrics_frame(posts: pl.DataFrame, how: str, run_id: str) -> pl.DataFrame:
    """``post_metrics`` rows for the posts of ``posts`` (a :data:`POSTS_SCHEMA` frame) that carry
    at least one count; one row per ``post_id``."""
    if posts.is_empty():
        return pl.DataFrame(schema=METRICS_SCHEMA)
    frame = posts.select(
        "post_id", "platform", "source", pl.col("fetched_at").alias("observed_at"),
        "likes", "reposts", "replies", "views", pl.col("author_followers").alias("followers"),
        pl.lit(how).alias("how"), pl.lit(run_id).alias("run_id"),
    ).filter(pl.any_horizontal(pl.col(c).is_not_null() for c in METRIC_COUNTS))
    return frame.unique("post_id", keep="first", maintain_order=True).cast(METRICS_SCHEMA)
