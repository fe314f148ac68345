"""Caption files (WebVTT, SRT, SBV) -> transcript text with cue times.

:func:`parse_cues` returns the cues (start and end in seconds, plain text) so evidence can point
at the moment a claim is spoken; :func:`parse` returns one ``posts`` row (platform
``captions``) whose ``transcript`` is the joined cue text and ``transcript_cues`` the cues, for
``claimwatch parse captions FILE``; its ``post_id`` comes from the file's URL or name (or, when
neither is given, a digest of the file), so every file gives its own row.
:func:`transcript` joins cues the way the YouTube connector stores them.

Handled: a UTF-8 BOM, ``STYLE``/``NOTE``/``REGION`` blocks and ``Kind:``/``Language:`` headers,
cue identifiers and settings, tags (``<c.color>``, ``<v Speaker>``, ``<b>``, inline
``<00:00:01.000>`` timestamps), HTML entities, yt-dlp/YouTube auto-caption files whose cues
repeat the previous cue's line (the repeats are dropped), SBV and SRT timings, hours omitted
(``00:16.500``). A block without a timing line is skipped and counted. Empty files and files
that are none of the three formats raise :class:`connectors.errors.ParseError`.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass

from connectors.errors import ParseError
from connectors.schema import make_post


@dataclass(frozen=True)
class Cue:
    start: float  # seconds
    end: float
    text: str


_TS = r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})"
_ARROW = re.compile(rf"^\s*{_TS}\s*-->\s*{_TS}")
_SBV = re.compile(rf"^\s*{_TS},{_TS}\s*$")
_TAG = re.compile(r"<[^>]*>")
_HEADER_KEY = re.compile(r"^[A-Za-z-]+:\s")


def _seconds(h, m, s, frac) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(frac.ljust(3, "0")) / 1000


def _clean(line: str) -> str:
    return " ".join(html.unescape(_TAG.sub("", line)).split())


def _decode(data: bytes | str) -> str:
    if isinstance(data, bytes):
        if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
            text = data.decode("utf-16")
        else:
            text = data.decode("utf-8-sig", errors="replace")
    else:
        text = data
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def detect_format(text: str, name: str | None = None) -> str:
    """``"vtt"``, ``"srt"`` or ``"sbv"`` for caption text (the file name breaks ties)."""
    head = text.lstrip()
    if head.startswith("WEBVTT"):
        return "vtt"
    lines = head.split("\n", 40)[:40]
    if any(_SBV.match(line) for line in lines):
        return "sbv"
    arrows = [line for line in lines if _ARROW.match(line)]
    if arrows:
        dotted = all("." in line.split("-->")[0] and "," not in line.split("-->")[0] for line in arrows)
        if (name or "").lower().endswith(".vtt") or dotted:
            raise ParseError(f"{name or 'captions'}: WebVTT cues without the 'WEBVTT' header line; "
                             "add the header (or use SRT's comma milliseconds)")
        return "srt"
    where = name or "captions"
    raise ParseError(f"{where}: not a WebVTT, SRT or SBV caption file (no cue timing line found)")


def _blocks(text: str) -> list[list[str]]:
    blocks, cur = [], []
    for line in text.split("\n"):
        if line.strip():
            cur.append(line.rstrip())
        elif cur:
            blocks.append(cur)
            cur = []
    if cur:
        blocks.append(cur)
    return blocks


def _parse_blocks(blocks: list[list[str]], fmt: str) -> tuple[list[Cue], int]:
    cues, skipped = [], 0
    timing = _SBV if fmt == "sbv" else _ARROW
    for block in blocks:
        idx = next((i for i, line in enumerate(block[:3]) if timing.match(line)), None)
        if idx is None:
            skipped += 1
            continue
        # a block may hold several cues when blank lines are missing (yt-dlp output)
        i = idx
        while i < len(block):
            m = timing.match(block[i])
            j = i + 1
            while j < len(block) and not timing.match(block[j]):
                j += 1
            start, end = _seconds(*m.groups()[:4]), _seconds(*m.groups()[4:])
            body = block[i + 1: j]
            if fmt == "srt" and body and j < len(block) and body[-1].strip().isdigit():
                body = body[:-1]  # the next cue's number
            text_lines = [c for c in (_clean(line) for line in body) if c]
            cues.append(Cue(start, max(start, end), "\n".join(text_lines)))
            i = j
    return cues, skipped


def _dedupe_rolling(cues: list[Cue]) -> list[Cue]:
    """Drop lines that repeat the previous cue's lines (YouTube auto-captions roll lines up)."""
    out, previous = [], []
    for cue in cues:
        lines = cue.text.split("\n") if cue.text else []
        fresh = [line for line in lines if line not in previous]
        previous = lines
        if fresh:
            out.append(Cue(cue.start, cue.end, "\n".join(fresh)))
    return out


def parse_cues_counted(data: bytes | str, *, name: str | None = None) -> tuple[list[Cue], int]:
    """Cues plus the number of blocks skipped because they had no timing line."""
    text = _decode(data)
    if not text.strip():
        raise ParseError(f"{name or 'captions'}: empty caption file")
    fmt = detect_format(text, name)
    blocks = _blocks(text)
    if fmt == "vtt":
        body = []
        first = blocks[0]
        arrow_at = next((i for i, line in enumerate(first) if _ARROW.match(line)), None)
        blocks[0] = first[max(arrow_at - 1, 1):] if arrow_at is not None else []
        for block in (b for b in blocks if b):
            first = block[0].strip()
            if first.startswith(("NOTE", "STYLE", "REGION")) and not _ARROW.match(first):
                continue
            if not any(_ARROW.match(line) for line in block) and all(
                _HEADER_KEY.match(line) or line.startswith(("::cue", "}", "##")) for line in block
            ):
                continue
            body.append(block)
        blocks = body
    elif fmt == "srt":
        blocks = [b[1:] if b[0].strip().isdigit() and len(b) > 1 else b for b in blocks]
    cues, skipped = _parse_blocks(blocks, fmt)
    if not cues:
        raise ParseError(f"{name or 'captions'}: no cues with a timing line found")
    return _dedupe_rolling([c for c in cues if c.text]), skipped


def parse_cues(data: bytes | str, *, name: str | None = None) -> list[Cue]:
    """The cues of a WebVTT, SRT or SBV file, tags removed and rolling repeats dropped."""
    return parse_cues_counted(data, name=name)[0]


def transcript(cues: list[Cue]) -> str:
    """The cues' text joined with spaces, one line per cue."""
    return "\n".join(c.text.replace("\n", " ") for c in cues)


def parse(data: bytes, *, url: str | None = None, source: str = "", name: str | None = None) -> list[dict]:
    """One ``captions`` row whose ``transcript`` is the text of every cue and ``transcript_cues``
    the cues themselves (seconds).

    ``post_id`` is ``captions:<url>`` when the file's URL is known, else ``captions:<name>`` (the
    file's name), else ``captions:sha256:<digest of the file>``, so different files never share
    a row."""
    cues = parse_cues(data, name=url or name)
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    native = url or name or f"sha256:{hashlib.sha256(raw).hexdigest()[:32]}"
    return [make_post("captions", native, source=source, url=url, canonical_url=url,
                      transcript=transcript(cues), transcript_cues=cues)]
