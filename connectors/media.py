"""The media step: fetch the pictures and videos posts carry (``posts.media``) and fingerprint them.

:func:`fingerprint_media` takes ``(post_id, source, [{"url", "kind"}, ...])`` items and returns
rows of :data:`MEDIA_SCHEMA` plus, per source, how many media were fingerprinted, how many were
skipped (budget or item cap) and one line per medium that failed. It is bounded on every side
(:class:`MediaSettings`, the ``[media]`` table of the sources file):

* **Addresses**: every URL is checked with :meth:`connectors.http.HttpClient.check_url` (no
  private, loopback or link-local address unless ``allow_private_links``), and fetched through
  the hardened client (timeouts, retries, redirects checked hop by hop).
* **Bytes**: pictures are cut off at ``max_image_bytes``, videos at ``max_video_bytes`` (a
  declared ``Content-Length`` over the cap fails before anything is read).
* **Type**: the declared ``Content-Type`` must fit the medium (``image/*`` for pictures,
  ``video/*`` for videos, an HLS type for playlists; ``application/octet-stream`` is accepted) and
  the bytes themselves must be a picture or video of a supported format.
* **Decoding**: a picture's pixel count is checked from its header before it is decoded
  (``max_pixels``, against decompression bombs); videos are decoded up to ``max_video_seconds``
  and ``max_decoded_frames`` (a file of a million tiny frames stops there).
* **Time**: the step stops starting new media once ``time_budget_s`` has passed (pictures go
  first, videos after), and no more than ``max_items`` media are fetched per run; what is left is
  counted as skipped. A video's download and decoding get at most what remains of the budget.
* YouTube is only ever read through its thumbnails: the connectors never list the player or the
  video, and this step fetches only what ``posts.media`` lists.

Nothing here raises for one bad medium: each failure becomes a row with ``status = "error"`` and
one line in the source's problems.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urljoin

import polars as pl

from connectors.errors import ConfigError, ConnectorError, ParseError, TooLargeError
from connectors.fingerprint import (ALGORITHMS, Fingerprint, Limits, image_fingerprint, sniff,
                                    video_fingerprint)

MEDIA_SCHEMA: dict[str, pl.DataType] = {
    "post_id": pl.String,
    "media_url": pl.String,
    "kind": pl.String,  # image, thumbnail, card, video, hls (posts.media)
    "status": pl.String,  # ok, error
    "error": pl.String,
    "algorithm": pl.String,  # pdq, phash
    "hashes": pl.List(pl.String),  # hex, one per kept frame
    "frame_times": pl.List(pl.Float64),  # seconds from the start (0 for a picture)
    "quality": pl.List(pl.Int32),  # quality 0-100 per hash (PDQ's gradient measure)
    "regions": pl.List(pl.String),  # region of the frame per hash: full, band, mirror, band-mirror
    "width": pl.Int32,
    "height": pl.Int32,
    "duration_s": pl.Float64,
    "frames_decoded": pl.Int64,
    "truncated": pl.Boolean,  # a duration or frame cap was reached: the hashes cover the start only
    "bytes": pl.Int64,
    "content_type": pl.String,
    "sha256": pl.String,
    "fetched_at": pl.Datetime("us", "UTC"),
    "run_id": pl.String,
}
STILL_KINDS = ("image", "thumbnail", "card")
VIDEO_KINDS = ("video", "hls")
_HLS_TYPES = ("application/vnd.apple.mpegurl", "application/x-mpegurl", "audio/mpegurl", "audio/x-mpegurl")
_ANY_TYPES = ("application/octet-stream", "binary/octet-stream", "")


@dataclass(frozen=True)
class MediaSettings:
    """The ``[media]`` table of the sources file."""

    enabled: bool = True
    algorithm: str = "phash"
    kinds: tuple[str, ...] = STILL_KINDS + VIDEO_KINDS  # which posts.media kinds are fetched
    max_items: int = 300  # media fetched per run
    time_budget_s: float = 120.0  # seconds the step may take per run
    max_image_bytes: int = 8 * 1024 * 1024
    max_video_bytes: int = 60 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_video_seconds: float = 300.0
    max_decoded_frames: int = 20_000
    max_hls_segments: int = 60
    fps: float = 1.0

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ConfigError(f"[media] algorithm must be one of {', '.join(ALGORITHMS)} (got {self.algorithm!r})")
        bad = [k for k in self.kinds if k not in STILL_KINDS + VIDEO_KINDS]
        if bad:
            raise ConfigError(f"[media] kinds: unknown kind {bad[0]!r}; use {', '.join(STILL_KINDS + VIDEO_KINDS)}")
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v <= 0:
                raise ConfigError(f"[media] {f.name} must be positive (got {v!r})")

    @property
    def limits(self) -> Limits:
        return Limits(max_pixels=self.max_pixels, max_video_seconds=self.max_video_seconds,
                      max_decoded_frames=self.max_decoded_frames, fps=self.fps)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None, where: str = "[media]") -> "MediaSettings":
        """Build from the ``[media]`` table; unknown keys and wrong types raise :class:`ConfigError`."""
        kw: dict[str, Any] = {}
        known = {f.name: f for f in fields(cls)}
        for key, value in (mapping or {}).items():
            if key not in known:
                raise ConfigError(f"{where}: unknown option {key!r}; use one of: {', '.join(known)}")
            default = known[key].default
            ok = (isinstance(value, bool) if isinstance(default, bool) else
                  isinstance(value, list) and all(isinstance(x, str) for x in value) if isinstance(default, tuple) else
                  isinstance(value, int) and not isinstance(value, bool) if isinstance(default, int) else
                  isinstance(value, (int, float)) and not isinstance(value, bool) if isinstance(default, float) else
                  isinstance(value, str))
            if not ok:
                shown = list(default) if isinstance(default, tuple) else default
                raise ConfigError(f"{where}: option {key!r} = {value!r} has the wrong type; write it like {shown!r}")
            kw[key] = tuple(value) if isinstance(default, tuple) else float(value) if isinstance(default, float) else value
        try:
            return cls(**kw)
        except ConfigError as exc:
            raise ConfigError(str(exc).replace("[media]", where, 1)) from None


@dataclass
class SourceMedia:
    """What the step did for one source's posts."""

    fingerprinted: int = 0
    skipped: int = 0
    failed: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class MediaResult:
    rows: list[dict[str, Any]]
    sources: dict[str, SourceMedia]
    seconds: float = 0.0

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.rows, schema=MEDIA_SCHEMA) if self.rows else pl.DataFrame(schema=MEDIA_SCHEMA)


# ------------------------------------------------------------------------------ HLS


def parse_m3u8(text: str, base: str) -> tuple[list[tuple[int, str]], list[tuple[float, str]], str | None]:
    """``(variants [(bandwidth, url)], segments [(seconds, url)], init segment url)`` of a playlist."""
    variants, segments, init = [], [], None
    lines = [ln.strip() for ln in text.splitlines()]
    if not lines or not lines[0].startswith("#EXTM3U"):
        raise ParseError(f"{base}: not an HLS playlist (no #EXTM3U)")
    pending_bw: int | None = None
    pending_len: float | None = None
    for ln in lines[1:]:
        if ln.startswith("#EXT-X-STREAM-INF:"):
            bw = 0
            for part in ln.split(":", 1)[1].split(","):
                if part.strip().upper().startswith("BANDWIDTH="):
                    try:
                        bw = int(part.split("=", 1)[1])
                    except ValueError:
                        pass
            pending_bw = bw
        elif ln.startswith("#EXTINF:"):
            try:
                pending_len = float(ln.split(":", 1)[1].split(",")[0])
            except ValueError:
                pending_len = 0.0
        elif ln.startswith("#EXT-X-MAP:") and 'URI="' in ln:
            init = urljoin(base, ln.split('URI="', 1)[1].split('"', 1)[0])
        elif ln and not ln.startswith("#"):
            url = urljoin(base, ln)
            if pending_bw is not None:
                variants.append((pending_bw, url))
                pending_bw = None
            else:
                segments.append((pending_len or 0.0, url))
                pending_len = None
    return variants, segments, init


# ------------------------------------------------------------------------------ the step


class _Budget:
    def __init__(self, seconds: float, clock: Callable[[], float]):
        self.clock = clock
        self.deadline = clock() + seconds

    def left(self) -> float:
        return self.deadline - self.clock()


def _check_type(resp: Any, url: str, allowed: tuple[str, ...], expected: str) -> None:
    ctype = resp.content_type
    if ctype in _ANY_TYPES or ctype.startswith(allowed):
        return
    raise ParseError(f"{url}: wrong content type {ctype!r}; expected {expected}")


def _get(client: Any, url: str) -> Any:
    client.check_url(url)
    return client.get(url)


def _still(client: Any, url: str, settings: MediaSettings) -> tuple[Fingerprint, Any]:
    resp = _get(client, url)
    _check_type(resp, url, ("image/",), "a picture (image/*)")
    if sniff(resp.content) != "image":
        raise ParseError(f"{url}: the body is not a JPEG, PNG, WebP, GIF or BMP picture")
    return image_fingerprint(resp.content, what=url, algorithm=settings.algorithm, limits=settings.limits), resp


def _video(client: Any, url: str, settings: MediaSettings, budget: _Budget) -> tuple[Fingerprint, Any]:
    resp = _get(client, url)
    _check_type(resp, url, ("video/",), "a video (video/*)")
    if sniff(resp.content) != "video":
        raise ParseError(f"{url}: the body is not an MP4, WebM or MPEG-TS video")
    return video_fingerprint(resp.content, what=url, algorithm=settings.algorithm, limits=settings.limits,
                             deadline=budget.clock() + max(1.0, budget.left())), resp


def _hls(client: Any, small: Any, url: str, settings: MediaSettings, budget: _Budget) -> tuple[Fingerprint, Any]:
    resp = _get(small, url)
    _check_type(resp, url, _HLS_TYPES + ("text/plain",), "an HLS playlist")
    variants, segments, init = parse_m3u8(resp.text, resp.url)
    if variants:  # a master playlist: the smallest rendition is plenty for 1 frame a second
        variant = min(variants)[1]
        resp = _get(small, variant)
        _check_type(resp, variant, _HLS_TYPES + ("text/plain",), "an HLS playlist")
        _, segments, init = parse_m3u8(resp.text, resp.url)
    if not segments:
        raise ParseError(f"{url}: HLS playlist without segments")
    parts, total, seconds = [], 0, 0.0
    if init:
        parts.append(_get(client, init).content)
        total += len(parts[-1])
    for n, (length, seg) in enumerate(segments):
        if n >= settings.max_hls_segments or seconds >= settings.max_video_seconds or budget.left() <= 0:
            break
        body = _get(client, seg).content
        total += len(body)
        if total > settings.max_video_bytes:
            raise TooLargeError(f"{url}: HLS segments larger than {settings.max_video_bytes:,} bytes in all")
        parts.append(body)
        seconds += length
    data = b"".join(parts)
    return video_fingerprint(data, what=url, algorithm=settings.algorithm, limits=settings.limits,
                             deadline=budget.clock() + max(1.0, budget.left())), resp


def fingerprint_media(items: Iterable[tuple[str, str, list[dict[str, Any]] | None]],
                      client_factory: Callable[[int, float], Any],
                      settings: MediaSettings, *, run_id: str | None = None,
                      clock: Callable[[], float] = time.monotonic) -> MediaResult:
    """Fetch and fingerprint the media of ``items`` (``(post_id, source, posts.media)``).

    ``client_factory(max_bytes, seconds)`` returns a :class:`connectors.http.HttpClient` (or a
    stand-in) whose byte cap is ``max_bytes`` and whose time limit for one response is at most
    ``seconds`` (what is left of the budget, so the last fetch cannot run far past it); the flows
    build it from the run's ``[settings]`` (and the replay transport in the demo)."""
    t0 = clock()
    budget = _Budget(settings.time_budget_s, clock)
    sources: dict[str, SourceMedia] = {}
    todo: list[tuple[int, str, str, str, str]] = []
    for post_id, source, media in items:
        sources.setdefault(source, SourceMedia())
        for item in media or []:
            kind, url = item.get("kind"), item.get("url")
            if kind in settings.kinds and isinstance(url, str):
                todo.append((0 if kind in STILL_KINDS else 1, post_id, source, url, kind))
    todo.sort(key=lambda t: t[0])  # pictures first: cheap and most of the evidence
    rows: list[dict[str, Any]] = []
    done: dict[tuple[str, str], dict[str, Any]] = {}
    started = 0
    clients: dict[tuple[int, int], Any] = {}

    def client(cap: int) -> Any:
        # one client per byte cap while the budget is ample; near its end, fresh clients whose time
        # limit is what is left (in steps of 5 s, so a few are made at most)
        left = max(1.0, budget.left())
        key = (cap, 0 if left > settings.time_budget_s / 2 else math.ceil(left / 5))
        if key not in clients:
            clients[key] = client_factory(cap, settings.time_budget_s if not key[1] else 5.0 * key[1])
        return clients[key]

    try:
        for _, post_id, source, url, kind in todo:
            stats = sources[source]
            cached = done.get((url, kind))
            if cached is not None:  # the same medium in another post of this run
                rows.append({**cached, "post_id": post_id})
                stats.fingerprinted += cached["status"] == "ok"
                continue
            if started >= settings.max_items or budget.left() <= 0:
                stats.skipped += 1
                continue
            started += 1
            row: dict[str, Any] = {"post_id": post_id, "media_url": url, "kind": kind, "algorithm": settings.algorithm,
                                   "run_id": run_id, "fetched_at": datetime.now(timezone.utc)}
            try:
                if kind in STILL_KINDS:
                    fp, resp = _still(client(settings.max_image_bytes), url, settings)
                elif kind == "video":
                    fp, resp = _video(client(settings.max_video_bytes), url, settings, budget)
                else:
                    fp, resp = _hls(client(settings.max_video_bytes), client(1024 * 1024), url, settings, budget)
            except ConnectorError as exc:
                row.update(status="error", error=_line(exc))
            except Exception as exc:  # a decoder's own failure must not stop the run
                row.update(status="error", error=f"{url}: {type(exc).__name__}: {_line(exc)}")
            else:
                row.update(status="ok", error=None, hashes=fp.hashes, frame_times=fp.frame_times, quality=fp.quality,
                           regions=fp.regions,
                           width=fp.width, height=fp.height, duration_s=fp.duration_s,
                           frames_decoded=fp.frames_decoded, truncated=fp.truncated, bytes=len(resp.content),
                           content_type=resp.content_type or None, sha256=fp.sha256)
            if row["status"] == "ok":
                stats.fingerprinted += 1
                if fp.note:  # a capped or damaged video: fingerprinted from its start, and said so
                    stats.problems.append(f"media {kind} of {post_id}: {fp.note}")
            else:
                stats.failed += 1
                stats.problems.append(f"media {kind} of {post_id}: {row['error']}")
            done[(url, kind)] = row
            rows.append(row)
    finally:
        for c in clients.values():
            close = getattr(c, "close", None)
            if close:
                close()
    return MediaResult(rows, sources, seconds=clock() - t0)


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def settings_for(http_settings: Any, max_bytes: int, total_timeout: float | None = None) -> Any:
    """A copy of the client settings with another byte cap (and total time limit)."""
    changes: dict[str, Any] = {"max_bytes": max_bytes, "max_decompressed_bytes": max_bytes}
    if total_timeout is not None:
        changes["total_timeout"] = total_timeout
    return dataclasses.replace(http_settings, **changes)
