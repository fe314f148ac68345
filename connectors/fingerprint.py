"""Perceptual fingerprints of pictures and videos (no network: bytes or files in, hashes out).

* :func:`image_fingerprint` - one still (a thumbnail, a photo, a keyframe): PDQ (256 bits, Meta's
  photo hash, via ``pdqhash``) by default, or 64-bit pHash (``imagehash``).
* :func:`video_fingerprint` - frames sampled at ``fps`` (about 1 per second) with PyAV, each
  hashed like an image; consecutive frames that hash within ``dedupe_distance`` of the last kept
  one are dropped, so a still shot gives one frame (in the spirit of Meta's vPDQ).
* :func:`fingerprint_bytes` / :func:`fingerprint_file` - pick image or video from the bytes
  themselves (magic numbers), never from a name or a declared type alone.

Every frame goes through the same preparation before hashing, on the catalogue side and on the
post side: converted to RGB, dark borders trimmed (black letterbox and pillarbox bars), scaled so its longer side is at most :data:`WORK_SIDE` pixels.

Caps (:class:`Limits`) make hostile input cheap to refuse: the decoded pixel count of a picture
is checked from its header before decoding (a decompression-bomb PNG is refused without being
decoded), only a few still formats are decoded at all, a video's container must be MP4/MOV,
Matroska/WebM or MPEG-TS (forced, so FFmpeg never follows a playlist or reference to another
file), and decoding stops at ``max_video_seconds`` of video, ``max_decoded_frames`` frames or
``deadline`` (a ``time.monotonic()`` value). Problems raise :class:`connectors.errors.ParseError`
(cannot be read) or :class:`connectors.errors.TooLargeError` (over a cap), each one line naming
the input.
"""

from __future__ import annotations

import hashlib
import io
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from connectors.errors import ParseError, TooLargeError

ALGORITHMS = {"pdq": 256, "phash": 64}  # name -> bits
DEFAULT_ALGORITHM = "phash"  # the benchmark's choice (docs/matching.md)

# regions of a prepared frame that get a hash of their own. The crops are shares cut off
# (top, bottom, left, right): a re-upload cropped like one of them meets its hash.
CROPS: dict[str, tuple[float, float, float, float]] = {
    "c5": (0.05, 0.05, 0.05, 0.05),  # 5% off every side (a 1.1x zoom)
    "c10": (0.10, 0.10, 0.10, 0.10),  # 10% off every side
    "tl10": (0.10, 0.0, 0.10, 0.0),  # 10% off the top and the left
    "tr10": (0.10, 0.0, 0.0, 0.10),
    "bl10": (0.0, 0.10, 0.10, 0.0),
    "br10": (0.0, 0.10, 0.0, 0.10),
    "tl5": (0.05, 0.0, 0.05, 0.0),  # 5% off the top and the left
    "tr5": (0.05, 0.0, 0.0, 0.05),
    "bl5": (0.0, 0.05, 0.05, 0.0),
    "br5": (0.0, 0.05, 0.0, 0.05),
}
# full: the frame without dark bars; band: also without a band of one colour carrying text along an
# edge (a caption band, phone bars), when there is one; mirror: flipped left to right
REGIONS = ("full", "band", "mirror", "band-mirror", *CROPS)
# a post's medium: the frame as posted, its captions and bars taken off, and mirrored
QUERY_REGIONS = ("full", "band", "mirror", "band-mirror")
# a catalogue copy: the frame and its crops, so a cropped re-upload meets one of them
KNOWN_REGIONS = ("full", "band", *CROPS)
WORK_SIDE = 256  # frames are scaled so the longer side is at most this before hashing
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
VIDEO_CONTAINERS = {"mp4": "mp4", "matroska": "matroska", "mpegts": "mpegts"}
_BORDER_RANGE = 24  # a row or column whose luma spans less than this (2nd-98th pct) is flat
_BORDER_DARK = 48  # ... and stays darker than this is a bar (a white wall at the edge is content)
_MAX_TRIM = 0.35  # never trim more than this share of a side
_BAND_TOLERANCE = 20  # luma within this of a band's colour counts as the band
_BAND_RARE = 0.15  # a row with less of the band's colour than this is picture, not a line of text


@dataclass(frozen=True)
class Limits:
    """Caps applied while decoding (see the module docstring)."""

    max_pixels: int = 40_000_000  # width x height of one still or one video frame
    max_video_seconds: float = 600.0  # video decoded from the start up to this time
    max_decoded_frames: int = 40_000  # frames decoded (not only sampled) per video
    max_frame_rate: float = 240.0  # a stream declaring more frames per second is refused
    fps: float = 1.0  # frames sampled per second of video
    dedupe_distance: int = 8  # consecutive samples this close (in PDQ bits of 256; scaled for pHash) count once
    threads: int = 1  # decoder threads per video
    regions: tuple[str, ...] = QUERY_REGIONS  # hashed per frame (see REGIONS)


# a curator's copy in the catalogue: every frame up to 30 per second (near-identical neighbours
# dropped), so a post sampled at 1 frame per second meets a catalogue frame whatever its phase
CATALOGUE_LIMITS = Limits(fps=30.0, dedupe_distance=4, max_video_seconds=1800.0, max_decoded_frames=120_000,
                          regions=KNOWN_REGIONS)


@dataclass
class Fingerprint:
    """Hashes of one picture or video. ``hashes[i]`` is hex (``bits/4`` digits) of region
    ``regions[i]`` (:data:`REGIONS`) of the frame at ``frame_times[i]`` seconds (0 for a still),
    with quality ``quality[i]`` (0-100, PDQ's gradient measure: flat frames score low). Hashes
    with the same frame time belong to one frame."""

    kind: str  # image | video
    algorithm: str
    hashes: list[str] = field(default_factory=list)
    frame_times: list[float] = field(default_factory=list)
    quality: list[int] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    frames_decoded: int = 0
    truncated: bool = False  # stopped at a duration/frame cap; the hashes cover the start only
    note: str | None = None  # why it was truncated, one line
    sha256: str | None = None


def check_algorithm(algorithm: str) -> str:
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown hash algorithm {algorithm!r}; use one of: {', '.join(ALGORITHMS)}")
    return algorithm


def hex_bits(algorithm: str) -> int:
    """Hex digits of one hash of ``algorithm``."""
    return ALGORITHMS[check_algorithm(algorithm)] // 4


# ------------------------------------------------------------------------------ preparing frames


def luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma of an RGB uint8 array as uint8 (integer arithmetic, as Pillow's "L")."""
    if rgb.ndim == 2:
        return rgb
    r, g, b = (rgb[..., i].astype(np.uint16) for i in range(3))
    return ((r * 77 + g * 150 + b * 29 + 128) >> 8).astype(np.uint8)


def _dark_lines(lines: np.ndarray) -> np.ndarray:
    """Which rows of a uint8 luma array are a dark bar: at most 2% of the row at or above
    :data:`_BORDER_DARK`, and the rest within :data:`_BORDER_RANGE` of each other (a dark but
    textured row, a night scene, is content)."""
    n = lines.shape[1]
    bright = (lines >= _BORDER_DARK).sum(axis=1) <= n * 0.02
    lo = lines.min(axis=1).astype(np.int16)
    # the 98th percentile without sorting: the share of pixels above min + range
    spread_ok = (lines.astype(np.int16) > lo[:, None] + _BORDER_RANGE).sum(axis=1) <= n * 0.04
    return bright & spread_ok


def _edge_run(mask: np.ndarray) -> int:
    return int(np.argmin(mask)) if not mask.all() else len(mask)


def border_box(lum: np.ndarray) -> tuple[int, int, int, int]:
    """``(top, bottom, left, right)`` of the picture inside flat dark bars (letterbox, pillarbox,
    a plain dark frame) of a uint8 luma array; the whole array when there are none."""
    h, w = lum.shape[:2]
    if h < 8 or w < 8:
        return 0, h, 0, w
    # every other pixel along a line is plenty to tell a bar from content; every line is looked at
    rows, cols = _dark_lines(lum[:, ::2]), _dark_lines(lum.T[:, ::2])
    if rows.all() or cols.all():
        return 0, h, 0, w  # a flat picture: nothing to trim against
    limit_h, limit_w = int(h * _MAX_TRIM), int(w * _MAX_TRIM)
    top, bottom = min(_edge_run(rows), limit_h), min(_edge_run(rows[::-1]), limit_h)
    left, right = min(_edge_run(cols), limit_w), min(_edge_run(cols[::-1]), limit_w)
    # a thin line of flat pixels is content, not a bar
    top = top if top >= max(2, h // 50) else 0
    bottom = bottom if bottom >= max(2, h // 50) else 0
    left = left if left >= max(2, w // 50) else 0
    right = right if right >= max(2, w // 50) else 0
    return top, h - bottom, left, w - right


def trim_borders(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` without flat dark bars along its edges (letterbox, pillarbox, a plain frame)."""
    t, b, l, r = border_box(luma(rgb))
    return rgb[t:b, l:r]


def _band_edge(lum: np.ndarray) -> int:
    """Rows from the top edge of ``lum`` that form a band of one colour carrying marks (a caption
    band with its text, a phone's status bar, a bar with a watermark over it): the edge row is
    nearly all one colour, and the band goes on, through rows of text and thin lines, until
    three rows in a row in which that colour is rare (the picture). 0 when there is no such
    band, it is thinner than 3 rows and 1/40 of the height, or it would take over a third."""
    h = lum.shape[0]
    if h < 16:
        return 0
    ref = int(np.median(lum[0]))
    share = (np.abs(lum.astype(np.int16) - ref) <= _BAND_TOLERANCE).mean(axis=1)
    if share[0] < 0.9:
        return 0
    low = np.convolve(share < _BAND_RARE, np.ones(3, dtype=np.int32), "valid") >= 3
    n = int(np.argmax(low)) if low.any() else h
    if n > int(h * _MAX_TRIM):
        return 0  # that colour goes on too far: the picture's own (a sky, a wall), not a band
    if n < max(3, h // 40) or share[:n].mean() < 0.6:
        return 0
    return n


def band_box(lum: np.ndarray) -> tuple[int, int, int, int]:
    """``(top, bottom, left, right)`` inside bands of one colour with sparse marks along any
    edge (see :func:`_band_edge`); the whole array when there are none."""
    h, w = lum.shape[:2]
    top, bottom = _band_edge(lum), _band_edge(lum[::-1])
    left, right = _band_edge(lum.T), _band_edge(lum.T[::-1])
    if h - top - bottom < 16 or w - left - right < 16:
        return 0, h, 0, w
    return top, h - bottom, left, w - right


def work_size(width: int, height: int, side: int = WORK_SIDE) -> tuple[int, int]:
    scale = min(1.0, side / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _to_rgb(img: Any) -> Any:
    from PIL import Image

    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        base = Image.new("RGB", img.size, (255, 255, 255))
        base.paste(img, mask=img.getchannel("A"))
        return base
    return img.convert("RGB")


def prepare_image(img: Any) -> np.ndarray:
    """A Pillow image as the RGB array that gets hashed (dark bars trimmed, scaled down)."""
    from PIL import Image

    img = _to_rgb(img)
    w, h = img.size
    if min(w, h) >= 4 * WORK_SIDE:  # cheap first step for big pictures
        img = img.reduce(max(1, min(w, h) // WORK_SIDE // 2))
    t, b, l, r = border_box(np.asarray(img.convert("L")))
    if (t, b, l, r) != (0, img.height, 0, img.width):
        img = img.crop((l, t, r, b))
    tw, th = work_size(img.width, img.height)
    if (tw, th) != img.size:
        img = img.resize((tw, th), Image.BILINEAR, reducing_gap=2.0)
    return np.ascontiguousarray(np.asarray(img))


def prepare_array(rgb: np.ndarray) -> np.ndarray:
    """An RGB frame (already near :data:`WORK_SIDE`) as the array that gets hashed."""
    from PIL import Image

    arr = trim_borders(rgb)
    h, w = arr.shape[:2]
    tw, th = work_size(w, h)
    if (tw, th) != (w, h):
        arr = np.asarray(Image.fromarray(arr).resize((tw, th), Image.BILINEAR))
    return np.ascontiguousarray(arr)


def _debanded(lum: np.ndarray) -> tuple[int, int, int, int] | None:
    """The box ``(top, bottom, left, right)`` of a prepared frame's luma without bands of one
    colour with marks along its edges and, once those are off, without the dark bars they hid (a
    caption band over a pillarboxed frame); None when there is nothing to take off."""
    top, left = 0, 0
    bottom, right = lum.shape[:2]
    for find in (band_box, border_box, band_box, border_box):
        t, b, l, r = find(lum[top:bottom, left:right])
        if find is border_box and (t, b, l, r) == (0, bottom - top, 0, right - left):
            break  # no dark bars were behind the bands: the picture's own edges stay as they are
        top, bottom, left, right = top + t, top + b, left + l, left + r
    if (top, bottom, left, right) == (0, lum.shape[0], 0, lum.shape[1]):
        return None
    return top, bottom, left, right


def region_boxes(lum: np.ndarray, regions: Iterable[str]) -> list[tuple[str, tuple[int, int, int, int], bool]]:
    """``(name, (top, bottom, left, right), mirrored)`` of each named region (:data:`REGIONS`) of a
    prepared frame given its luma. ``band`` and ``band-mirror`` are left out when the frame has no
    band (they would repeat ``full``), crops when they would be under 16 pixels."""
    h, w = lum.shape[:2]
    out: list[tuple[str, tuple[int, int, int, int], bool]] = []
    band: tuple[int, int, int, int] | None | bool = False
    for name in regions:
        if name in ("full", "mirror"):
            box = (0, h, 0, w)
        elif name in ("band", "band-mirror"):
            if band is False:
                band = _debanded(lum)
            if band is None:
                continue
            box = band  # type: ignore[assignment]
        elif name in CROPS:
            t, b, l, r = CROPS[name]
            box = (round(h * t), h - round(h * b), round(w * l), w - round(w * r))
        else:
            raise ValueError(f"unknown region {name!r}; use one of: {', '.join(REGIONS)}")
        if name in ("full", "mirror") or min(box[1] - box[0], box[3] - box[2]) >= 16:
            out.append((name, box, name.endswith("mirror")))
    return out


def regions_of(base: np.ndarray, regions: Iterable[str]) -> list[tuple[str, np.ndarray]]:
    """The named regions of a prepared RGB frame as arrays (see :func:`region_boxes`)."""
    out = []
    for name, (t, b, l, r), mirrored in region_boxes(luma(base), regions):
        arr = base[t:b, l:r]
        out.append((name, np.ascontiguousarray(arr[:, ::-1] if mirrored else arr)))
    return out


# ------------------------------------------------------------------------------ hashing


def _bits_to_hex(bits: np.ndarray) -> str:
    return np.packbits(np.asarray(bits, dtype=np.uint8).ravel()).tobytes().hex()


def _quality64(small: np.ndarray) -> int:
    grad = (np.abs(np.diff(small, axis=0)) * 100 / 255).astype(np.int32).sum()
    grad += (np.abs(np.diff(small, axis=1)) * 100 / 255).astype(np.int32).sum()
    return int(min(100, grad // 90))


def quality_of(lum: Any) -> int:
    """PDQ's quality measure (0-100) of a Pillow luma image: the mean absolute gradient of its
    64x64 reduction, scaled as Meta's pdqhashing does (flat and near-black frames score low)."""
    from PIL import Image

    return _quality64(np.asarray(lum.resize((64, 64), Image.BOX), dtype=np.float32))


def _phash(lum: Any) -> str:
    import imagehash

    return _bits_to_hex(imagehash.phash(lum).hash.ravel())


def hash_array(rgb: np.ndarray, algorithm: str = DEFAULT_ALGORITHM) -> tuple[str, int]:
    """``(hex hash, quality 0-100)`` of a prepared RGB array (the whole array)."""
    return frame_hashes(rgb, algorithm, ("full",))[0][1:]  # type: ignore[return-value]


def frame_hashes(base: np.ndarray, algorithm: str, regions: Iterable[str]) -> list[tuple[str, str, int]]:
    """``(region, hex hash, quality)`` of each region of a prepared RGB frame (:func:`region_boxes`).

    pHash works on one luma image of the frame: each region is cut out and reduced to 64x64 in one
    Pillow step (``resize(box=...)``, a box filter), which imagehash then reduces to its 32x32 DCT
    input, and PDQ's quality is measured on the same 64x64; mirrored regions are flipped at 64x64."""
    from PIL import Image

    if algorithm == "pdq":
        import pdqhash

        out = []
        for name, arr in regions_of(base, regions):
            bits, quality = pdqhash.compute(arr)
            out.append((name, _bits_to_hex(bits), int(quality)))
        return out
    if algorithm != "phash":
        raise ValueError(f"unknown hash algorithm {algorithm!r}; use one of: {', '.join(ALGORITHMS)}")
    lum_img = Image.fromarray(np.ascontiguousarray(base)).convert("L")
    lum = np.asarray(lum_img)
    out = []
    for name, (t, b, l, r), mirrored in region_boxes(lum, regions):
        small = lum_img.resize((64, 64), Image.BOX, box=(l, t, r, b))
        if mirrored:
            small = small.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        out.append((name, _phash(small), _quality64(np.asarray(small, dtype=np.float32))))
    return out


def distance(a: str, b: str) -> int:
    """Hamming distance of two hex hashes of the same length."""
    if len(a) != len(b):
        raise ValueError(f"hashes of different lengths ({len(a)} and {len(b)} hex digits)")
    return (int(a, 16) ^ int(b, 16)).bit_count()


# ------------------------------------------------------------------------------ sniffing


def sniff(data: bytes) -> str | None:
    """``"image"``, ``"video"``, ``"hls"`` or None from the first bytes."""
    head = data[:64]
    if head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM")):
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image"
    if head.lstrip().startswith(b"#EXTM3U"):
        return "hls"
    if video_container(data) is not None:
        return "video"
    return None


def video_container(data: bytes) -> str | None:
    """The FFmpeg demuxer to force for ``data`` (MP4/MOV, Matroska/WebM, MPEG-TS) or None."""
    if len(data) >= 12 and data[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return "mp4"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if len(data) >= 188 * 3 and data[0] == 0x47 and data[188] == 0x47 and data[376] == 0x47:
        return "mpegts"
    return None


# ------------------------------------------------------------------------------ stills


def image_fingerprint(data: bytes, *, what: str = "image", algorithm: str = DEFAULT_ALGORITHM,
                      limits: Limits = Limits()) -> Fingerprint:
    """The fingerprint of one still (JPEG, PNG, WebP, GIF's first frame, BMP)."""
    from PIL import Image, UnidentifiedImageError

    check_algorithm(algorithm)
    try:
        img = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
    except UnidentifiedImageError:
        raise ParseError(f"{what}: not a JPEG, PNG, WebP, GIF or BMP picture") from None
    except Image.DecompressionBombError:
        raise TooLargeError(f"{what}: declares more than {2 * (Image.MAX_IMAGE_PIXELS or 0):,} pixels, over the cap "
                            "(a decompression bomb); refused without decoding") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ParseError(f"{what}: unreadable picture ({exc})") from None
    w, h = img.size
    if w * h > limits.max_pixels:
        raise TooLargeError(f"{what}: {w}x{h} = {w * h:,} pixels is over the cap of {limits.max_pixels:,} "
                            "(a decompression bomb or a very large picture); refused without decoding")
    if w < 1 or h < 1:
        raise ParseError(f"{what}: picture of size {w}x{h}")
    try:
        if img.format == "JPEG":
            img.draft("RGB", (WORK_SIDE * 2, WORK_SIDE * 2))  # decode at a reduced scale
        img.seek(0)
        img.load()
        arr = prepare_image(img)
    except Image.DecompressionBombError as exc:
        raise TooLargeError(f"{what}: {exc}; refused") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ParseError(f"{what}: picture cannot be decoded ({exc}); truncated or corrupt") from None
    hashed = frame_hashes(arr, algorithm, limits.regions)
    if not hashed:
        raise ParseError(f"{what}: picture of {w}x{h} is too small to fingerprint")
    return Fingerprint("image", algorithm, [h for _, h, _ in hashed], [0.0] * len(hashed), [q for _, _, q in hashed],
                       [r for r, _, _ in hashed], width=w, height=h, sha256=hashlib.sha256(data).hexdigest())


# ------------------------------------------------------------------------------ videos


def _frame_iter(container: Any, stream: Any) -> Iterable[Any]:
    for packet in container.demux(stream):
        yield from packet.decode()


def video_fingerprint(source: bytes | str | Path, *, what: str = "video", algorithm: str = DEFAULT_ALGORITHM,
                      limits: Limits = Limits(), deadline: float | None = None) -> Fingerprint:
    """Frames sampled at ``limits.fps`` from a video (bytes or a local file), hashed and
    de-duplicated. Stops at the caps (``truncated`` is then set) or raises at ``deadline``."""
    import av

    check_algorithm(algorithm)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        fmt = video_container(data)
        if fmt is None:
            raise ParseError(f"{what}: not an MP4/MOV, WebM/Matroska or MPEG-TS video")
        sha = hashlib.sha256(data).hexdigest()
        handle: Any = io.BytesIO(data)
    else:
        path = Path(source)
        with open(path, "rb") as fh:
            head = fh.read(1024)
        fmt = video_container(head)
        if fmt is None:
            raise ParseError(f"{what}: not an MP4/MOV, WebM/Matroska or MPEG-TS video")
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        sha = h.hexdigest()
        handle = str(path)
    try:
        container = av.open(handle, format=VIDEO_CONTAINERS[fmt], mode="r",
                            options={"enable_drefs": "0"}, metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise ParseError(f"{what}: video cannot be opened ({_av_reason(exc)}); truncated or corrupt") from None
    try:
        return _decode(container, what, algorithm, limits, deadline, sha)
    finally:
        container.close()


def _av_reason(exc: BaseException) -> str:
    return (getattr(exc, "strerror", None) or str(exc) or type(exc).__name__).strip().splitlines()[0][:120]


def _decode(container: Any, what: str, algorithm: str, limits: Limits, deadline: float | None,
            sha: str) -> Fingerprint:
    import av

    if not container.streams.video:
        raise ParseError(f"{what}: no video stream in the file")
    stream = container.streams.video[0]
    ctx = stream.codec_context
    w, h = ctx.width or 0, ctx.height or 0
    if w * h > limits.max_pixels:
        raise TooLargeError(f"{what}: video frames of {w}x{h} are over the cap of {limits.max_pixels:,} pixels; refused")
    rate = float(stream.average_rate or stream.guessed_rate or 0) if (stream.average_rate or stream.guessed_rate) else 0.0
    if rate > limits.max_frame_rate:
        raise TooLargeError(f"{what}: declares {rate:,.0f} frames per second (cap {limits.max_frame_rate:g}); "
                            "refused (a flood of tiny frames?)")
    ctx.thread_count = max(1, limits.threads)
    if limits.threads > 1:
        ctx.thread_type = "AUTO"
    fp = Fingerprint("video", algorithm, width=w or None, height=h or None, sha256=sha)
    step = 1.0 / limits.fps
    next_t = 0.0
    last_hash: int | None = None
    decoded = 0
    last_t = 0.0
    tw, th = work_size(w or WORK_SIDE, h or WORK_SIDE, side=WORK_SIDE + WORK_SIDE // 4)
    dedupe = limits.dedupe_distance * ALGORITHMS[algorithm] // 256  # given in PDQ bits (of 256)
    try:
        for frame in _frame_iter(container, stream):
            decoded += 1
            if decoded > limits.max_decoded_frames:
                fp.truncated = True
                fp.note = (f"{what}: stopped at the cap of {limits.max_decoded_frames:,} decoded frames "
                           f"({last_t:,.1f} s in); only that start is fingerprinted")
                break
            if deadline is not None and decoded % 16 == 0 and time.monotonic() > deadline:
                raise TooLargeError(f"{what}: decoding ran out of its time budget after {decoded} frames; "
                                    "raise [media] time_budget_s or lower max_video_seconds")
            t = float(frame.time) if frame.time is not None else (decoded - 1) / (rate or 25.0)
            if t > limits.max_video_seconds:
                fp.truncated = True
                fp.note = (f"{what}: stopped at the cap of {limits.max_video_seconds:g} s of video "
                           f"({decoded - 1:,} frames decoded); only that start is fingerprinted")
                break
            last_t = max(last_t, t)
            if t + 1e-6 < next_t:
                continue
            next_t = (math.floor(t / step) + 1) * step
            fw, fh = frame.width, frame.height
            if fw * fh > limits.max_pixels:
                raise TooLargeError(f"{what}: a frame of {fw}x{fh} is over the cap of {limits.max_pixels:,} pixels")
            if (fw, fh) != (w, h) or not fw:
                tw, th = work_size(fw or WORK_SIDE, fh or WORK_SIDE, side=WORK_SIDE + WORK_SIDE // 4)
            rgb = frame.to_ndarray(format="rgb24", width=tw, height=th)
            hashed = frame_hashes(prepare_array(rgb), algorithm, limits.regions)
            if not hashed:
                continue
            value = int(hashed[0][1], 16)  # the first region (full) stands for the frame
            if last_hash is not None and (value ^ last_hash).bit_count() <= dedupe:
                continue
            last_hash = value
            for region, hexhash, quality in hashed:
                fp.regions.append(region)
                fp.hashes.append(hexhash)
                fp.frame_times.append(round(t, 3))
                fp.quality.append(quality)
    except av.error.FFmpegError as exc:
        if not fp.hashes:
            raise ParseError(f"{what}: video cannot be decoded ({_av_reason(exc)}); truncated or corrupt") from None
        fp.truncated = True  # a cut-off file: keep the frames read before the damage
        fp.note = f"{what}: video damaged after {last_t:,.1f} s ({_av_reason(exc)}); only the start is fingerprinted"
    fp.frames_decoded = decoded
    if not fp.hashes:
        raise ParseError(f"{what}: no video frame could be decoded; truncated or corrupt")
    fp.duration_s = round(last_t, 3)
    return fp


# ------------------------------------------------------------------------------ either


def fingerprint_bytes(data: bytes, *, what: str = "media", algorithm: str = DEFAULT_ALGORITHM,
                      limits: Limits = Limits(), deadline: float | None = None) -> Fingerprint:
    """Image or video fingerprint of ``data``, by its magic numbers."""
    kind = sniff(data)
    if kind == "image":
        return image_fingerprint(data, what=what, algorithm=algorithm, limits=limits)
    if kind == "video":
        return video_fingerprint(data, what=what, algorithm=algorithm, limits=limits, deadline=deadline)
    if kind == "hls":
        raise ParseError(f"{what}: an HLS playlist, not a media file; give the video file or a URL")
    raise ParseError(f"{what}: neither a picture (JPEG, PNG, WebP, GIF, BMP) nor a video (MP4, WebM, MPEG-TS)")


def fingerprint_file(path: str | Path, *, algorithm: str = DEFAULT_ALGORITHM, limits: Limits = Limits(),
                     max_image_bytes: int = 50 * 1024 * 1024) -> Fingerprint:
    """Fingerprint of a local picture or video file (a curator's copy of a clip)."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            head = fh.read(1024)
    except OSError as exc:
        raise ParseError(f"{p}: cannot read ({exc.strerror or exc})") from None
    kind = sniff(head)
    if kind == "video":
        return video_fingerprint(p, what=str(p), algorithm=algorithm, limits=limits)
    if kind == "image":
        if p.stat().st_size > max_image_bytes:
            raise TooLargeError(f"{p}: picture file over {max_image_bytes:,} bytes")
        return image_fingerprint(p.read_bytes(), what=str(p), algorithm=algorithm, limits=limits)
    return fingerprint_bytes(head, what=str(p), algorithm=algorithm, limits=limits)
