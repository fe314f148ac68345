"""Known media by their pictures: a Hamming-distance index over frame hashes and the rule that
says when a post's picture or video is a copy of a claim's known clip.

The fingerprints come from ``connectors.fingerprint`` through the flows (this module never imports
``connectors``): hex hashes per frame, frame times in seconds and a quality per frame (PDQ's,
0-100).

:class:`HashIndex` is a multi-index over 16-bit bands of the hashes (Norouzi et al., "Fast Search
in Hamming Space with Multi-Index Hashing"). By the pigeonhole principle, two 256-bit hashes
within distance ``d`` agree within ``d // 16`` bits on at least one of their 16 bands, so a query
looks up each band with every key within that radius (137 keys for radius 2, 17 for radius 1) in
sorted arrays (``numpy.searchsorted``) and verifies only the candidates found with a popcount.
No query is compared with every stored hash.

:class:`KnownMedia` holds every fingerprint of the catalogue's claims and decides matches
(:meth:`KnownMedia.match`): a post's medium matches a known copy when

* a **picture** (thumbnail, photo, a single frame) is within ``media_distance`` of any usable
  frame of the copy (a thumbnail is one frame of the clip); or
* a **video** has at least ``media_query_share`` of its usable frames within the distance of a
  frame of the copy, and (when the copy is a video) those matches cover at least
  ``media_known_share`` of the copy's seconds: both directions, so one shared frame (a black
  fade, a logo card) does not make two videos the same, and a copy trimmed at the start or
  end still matches.

Frames whose quality is below ``media_min_quality`` take no part on either side (flat or
near-black frames hash alike whatever they show).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Iterable, Sequence

import numpy as np
import polars as pl

BAND_BITS = 16
ALGORITHM_BITS = {"pdq": 256, "phash": 64}

# what KnownMedia.match returns per (post, claim); its first four columns are the outside media
# evidence rules.match.Matcher.match(posts, media=...) takes (MEDIA_MATCHES_SCHEMA)
MEDIA_EVIDENCE_SCHEMA: dict[str, pl.DataType] = {
    "post_id": pl.String,
    "claim_id": pl.String,
    "score_media": pl.Float64,  # 100 x share of the post medium's usable frames that match
    "evidence": pl.String,  # "12 of 14 frames match known copy 2 (distance <= 31)"
    "media_url": pl.String,
    "copy": pl.Int32,  # 1-based position of the copy among the claim's fingerprints
}


def hex_to_bytes(hashes: Sequence[str], bits: int) -> np.ndarray:
    """``(n, bits/8)`` uint8 array of hex hashes; ValueError for a malformed hash."""
    width = bits // 4
    out = np.zeros((len(hashes), bits // 8), dtype=np.uint8)
    for i, h in enumerate(hashes):
        if not isinstance(h, str) or len(h) != width:
            raise ValueError(f"hash {i + 1}: {h!r} is not {width} hex digits")
        try:
            out[i] = np.frombuffer(bytes.fromhex(h), dtype=np.uint8)
        except ValueError:
            raise ValueError(f"hash {i + 1}: {h!r} is not {width} hex digits") from None
    return out


def _popcount_rows(x: np.ndarray) -> np.ndarray:
    """Bits set per row of a uint8 array."""
    words = x.view(np.uint64) if x.shape[1] % 8 == 0 else x
    return np.bitwise_count(words).sum(axis=1, dtype=np.int64)


def _masks(radius: int) -> np.ndarray:
    out = [0]
    for r in range(1, radius + 1):
        for bits in combinations(range(BAND_BITS), r):
            m = 0
            for b in bits:
                m |= 1 << b
            out.append(m)
    return np.asarray(out, dtype=np.uint16)


class HashIndex:
    """Hashes (``(n, bits/8)`` uint8) searchable within a Hamming distance (module docstring)."""

    def __init__(self, hashes: np.ndarray, bits: int):
        if bits % BAND_BITS:
            raise ValueError(f"hash length {bits} is not a multiple of {BAND_BITS} bits")
        self.bits = bits
        self.hashes = np.ascontiguousarray(hashes, dtype=np.uint8).reshape(-1, bits // 8)
        self.n_bands = bits // BAND_BITS
        bands = self.hashes.view(">u2").astype(np.uint16) if len(self.hashes) else np.zeros((0, self.n_bands), np.uint16)
        self._order = [np.argsort(bands[:, b], kind="stable") for b in range(self.n_bands)]
        self._sorted = [bands[o, b] for b, o in enumerate(self._order)]

    def __len__(self) -> int:
        return len(self.hashes)

    def search(self, queries: np.ndarray, max_distance: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every (query row, stored row, distance) with distance <= ``max_distance``."""
        queries = np.ascontiguousarray(queries, dtype=np.uint8).reshape(-1, self.bits // 8)
        empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
        if not len(self.hashes) or not len(queries):
            return empty
        radius = max_distance // self.n_bands
        if radius > 3:
            raise ValueError(f"distance {max_distance} is too large for a {self.bits}-bit band index "
                             f"(at most {4 * self.n_bands - 1})")
        masks = _masks(radius)
        qb = queries.view(">u2").astype(np.uint16)
        cand = []
        for b in range(self.n_bands):
            keys = (qb[:, b, None] ^ masks[None, :]).ravel()
            lo = np.searchsorted(self._sorted[b], keys, "left")
            hi = np.searchsorted(self._sorted[b], keys, "right")
            counts = hi - lo
            total = int(counts.sum())
            if not total:
                continue
            starts = np.repeat(lo - (np.cumsum(counts) - counts), counts)
            pos = np.arange(total) + starts
            q = np.repeat(np.arange(len(queries)).repeat(len(masks)), counts)
            cand.append(q * len(self.hashes) + self._order[b][pos])
        if not cand:
            return empty
        pairs = np.unique(np.concatenate(cand))
        qi, ei = np.divmod(pairs, len(self.hashes))
        d = _popcount_rows(queries[qi] ^ self.hashes[ei])
        keep = d <= max_distance
        return qi[keep], ei[keep], d[keep]


@dataclass(frozen=True)
class KnownCopy:
    """One fingerprint of a claim's known media (a clip, a thumbnail, a keyframe)."""

    claim: int  # position of the claim in the catalogue
    number: int  # 1-based among the claim's fingerprints
    algorithm: str
    kind: str  # image | video
    hashes: tuple[str, ...]
    frame_times: tuple[float, ...]
    quality: tuple[int, ...]
    source: str = ""


@dataclass(frozen=True)
class MediaRule:
    distance: int = 31  # PDQ bits of 256
    min_quality: int = 50
    query_share: float = 0.5
    known_share: float = 0.3
    phash_distance: int = 6  # pHash bits of 64

    def limit(self, algorithm: str) -> int:
        """Largest Hamming distance at which two hashes of ``algorithm`` are the same picture."""
        return self.phash_distance if algorithm == "phash" else self.distance

    @classmethod
    def from_config(cls, cfg: Any) -> "MediaRule":
        """The rule of a :class:`rules.config.MatchConfig` (its ``media_*`` keys)."""
        return cls(cfg.media_distance, cfg.media_min_quality, cfg.media_query_share, cfg.media_known_share,
                   cfg.media_phash_distance)


class KnownMedia:
    """Every known fingerprint of a catalogue, indexed per hash algorithm."""

    def __init__(self, copies: Iterable[KnownCopy], claim_ids: Sequence[str], rule: MediaRule = MediaRule()):
        self.copies = list(copies)
        self.claim_ids = list(claim_ids)
        self.rule = rule
        self._index: dict[str, HashIndex] = {}
        self._owner: dict[str, np.ndarray] = {}
        self._time: dict[str, np.ndarray] = {}
        self._seconds: list[int] = []
        by_alg: dict[str, list[tuple[int, str, float]]] = {}
        for ci, c in enumerate(self.copies):
            usable = [(h, t) for h, t, q in zip(c.hashes, c.frame_times, c.quality) if q >= rule.min_quality]
            self._seconds.append(max(1, len({int(math.floor(t)) for _, t in usable})))
            by_alg.setdefault(c.algorithm, []).extend((ci, h, t) for h, t in usable)
        for alg, rows in by_alg.items():
            bits = ALGORITHM_BITS[alg]
            self._index[alg] = HashIndex(hex_to_bytes([h for _, h, _ in rows], bits), bits)
            self._owner[alg] = np.asarray([ci for ci, _, _ in rows], dtype=np.int64)
            self._time[alg] = np.asarray([t for _, _, t in rows], dtype=np.float64)

    def __len__(self) -> int:
        return sum(len(i) for i in self._index.values())

    @property
    def frames(self) -> int:
        return len(self)

    def match(self, media: pl.DataFrame) -> pl.DataFrame:
        """Rows of :data:`MEDIA_EVIDENCE_SCHEMA`, one per (post, claim) with a matching medium
        (its best copy). ``media`` has ``post_id``, ``media_url``, ``algorithm``, ``hashes``,
        ``frame_times``, ``quality`` (rows of the ``media`` table; ``status`` other than ``ok``
        is ignored)."""
        out: dict[tuple[str, int], tuple[float, float, str, str, int]] = {}
        if not self._index or media.is_empty():
            return pl.DataFrame(schema=MEDIA_EVIDENCE_SCHEMA)
        if "status" in media.columns:
            media = media.filter(pl.col("status") == "ok")
        rule = self.rule
        for alg, group in media.group_by("algorithm"):
            alg = alg[0]
            index = self._index.get(alg)
            if index is None:
                continue
            cols = ["post_id", "media_url", "hashes", "quality"] + (["frame_times"] if "frame_times" in group.columns else [])
            rows = group.select(cols).to_dicts()
            # hashes of one frame (its regions: the frame, its crops, its mirror image...) share
            # a frame time; the rule counts frames, a frame matching when any of its hashes does
            hashes, owner_row, owner_frame = [], [], []
            frames_of: list[int] = []
            for r, row in enumerate(rows):
                times = row.get("frame_times") or []
                seen: dict[float, int] = {}
                for i, (h, q) in enumerate(zip(row["hashes"] or [], row["quality"] or [])):
                    if q is not None and q >= rule.min_quality and isinstance(h, str):
                        t = times[i] if i < len(times) and times[i] is not None else float(i)
                        hashes.append(h)
                        owner_row.append(r)
                        owner_frame.append(seen.setdefault(t, len(seen)))
                frames_of.append(len(seen))
            if not hashes:
                continue
            try:
                qbytes = hex_to_bytes(hashes, index.bits)
            except ValueError:
                continue
            limit = rule.limit(alg)
            qi, ei, d = index.search(qbytes, limit)
            if not len(qi):
                continue
            q_row = np.asarray(owner_row)[qi]
            q_frame = np.asarray(owner_frame)[qi]
            copy = self._owner[alg][ei]
            pairs: dict[tuple[int, int], list[int]] = {}
            for k, (r, c) in enumerate(zip(q_row.tolist(), copy.tolist())):
                pairs.setdefault((r, c), []).append(k)
            for (r, c), ks in pairs.items():
                kc = self.copies[c]
                n_query = frames_of[r]
                matched_q = len({int(q_frame[k]) for k in ks})
                seconds = len({int(math.floor(self._time[alg][ei[k]])) for k in ks})
                if n_query == 1:
                    ok = matched_q == 1
                else:
                    ok = matched_q / n_query >= rule.query_share and (
                        kc.kind != "video" or seconds / self._seconds[c] >= rule.known_share - 1e-9)
                if not ok:
                    continue
                share = matched_q / n_query
                best_per_frame: dict[int, int] = {}
                for k in ks:
                    q_k = int(q_frame[k])
                    best_per_frame[q_k] = min(best_per_frame.get(q_k, 10 ** 6), int(d[k]))
                worst = max(best_per_frame.values())
                frames = "frame" if n_query == 1 else "frames"
                evidence = (f"{matched_q} of {n_query} {frames} match known copy {kc.number} "
                            f"(distance <= {min(worst, limit)})")
                key = (rows[r]["post_id"], kc.claim)
                best = out.get(key)
                rank = (share, -worst)
                if best is None or rank > (best[0], -best[1]):
                    out[key] = (share, worst, evidence, rows[r]["media_url"], kc.number)
        if not out:
            return pl.DataFrame(schema=MEDIA_EVIDENCE_SCHEMA)
        keys = sorted(out)
        return pl.DataFrame({
            "post_id": [k[0] for k in keys],
            "claim_id": [self.claim_ids[k[1]] for k in keys],
            "score_media": [round(100.0 * out[k][0], 1) for k in keys],
            "evidence": [out[k][2] for k in keys],
            "media_url": [out[k][3] for k in keys],
            "copy": [out[k][4] for k in keys],
        }, schema=MEDIA_EVIDENCE_SCHEMA)


def known_media_from_claims(claims: Sequence[Any], rule: MediaRule = MediaRule()) -> KnownMedia:
    """:class:`KnownMedia` of a catalogue's claims (``Claim.fingerprints``); retired claims left out."""
    copies = []
    for i, c in enumerate(claims):
        if getattr(c, "status", "active") == "retired":
            continue
        for n, f in enumerate(getattr(c, "fingerprints", ()) or (), 1):
            copies.append(KnownCopy(i, n, f.algorithm, f.kind, tuple(f.hashes), tuple(f.frame_times),
                                    tuple(f.quality), f.source))
    return KnownMedia(copies, [c.claim_id for c in claims], rule)
