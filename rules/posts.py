"""A batch of posts made ready for matching: normalised text, stance cues and link keys.

Input: a polars frame with ``post_id`` and ``text``; ``title``, ``transcript``, ``links`` and
``video_ids`` are used when present. The text matched is title, text and transcript joined; the
stance cues read title and text only (:mod:`rules.post_stance`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from rules.normalise import URL_PATTERN, canonical_media, normalise_series
from rules.post_stance import post_cues


@dataclass
class PostBatch:
    """One batch of posts, position ``p`` for each post (the frame's row order)."""

    post_id: list[str]
    norm: list[str]  # normalised title + text + transcript
    stance: list[str] = field(default_factory=list)  # claim-independent stance (empty when cues were not read)
    hedge: list[bool] = field(default_factory=list)
    lead_stance: list[str] = field(default_factory=list)  # stance of the lead (title and first words)
    keys: list[frozenset[str] | set[str]] = field(default_factory=list)  # canonical link / video keys

    def __len__(self) -> int:
        return len(self.post_id)


def column(posts: pl.DataFrame, name: str, dtype: pl.DataType) -> pl.Series:
    """The frame's column, or nulls when it has none."""
    if name in posts.columns:
        return posts.get_column(name)
    return pl.Series(name, [None] * posts.height, dtype=dtype)


def prepare(posts: pl.DataFrame, cues: bool = True, links: bool = True, model=None) -> PostBatch:
    """Normalise a batch; ``cues`` reads the stance (with the learned ``model`` when given),
    ``links`` extracts link keys (ranking without known media needs neither)."""
    if "post_id" not in posts.columns or "text" not in posts.columns:
        raise ValueError(f"posts need columns post_id and text (got {', '.join(posts.columns) or 'none'})")
    text = column(posts, "text", pl.String).cast(pl.String)
    title = column(posts, "title", pl.String).cast(pl.String)
    transcript = column(posts, "transcript", pl.String).cast(pl.String)
    frame = pl.DataFrame({"title": title, "text": text, "transcript": transcript})
    full = frame.select(
        pl.concat_str([pl.col("title").fill_null(""), pl.col("text").fill_null(""),
                       pl.col("transcript").fill_null("")], separator="\n").alias("full")
    ).to_series()
    norm = normalise_series(full)
    batch = PostBatch(post_id=posts.get_column("post_id").cast(pl.String).to_list(), norm=norm.to_list())
    if cues:
        batch.stance, batch.hedge, batch.lead_stance = post_cues(frame, text, model, norm_full=norm)
    if cues or links:
        urls = pl.DataFrame({"f": full}).select(pl.col("f").str.extract_all(r"(?i)" + URL_PATTERN)).to_series().to_list()
        batch.keys = _link_keys(posts, urls)
    else:
        batch.keys = [frozenset()] * posts.height
    return batch


def _link_keys(posts: pl.DataFrame, urls: list[list[str] | None]) -> list[set[str]]:
    links = column(posts, "links", pl.List(pl.String)).to_list()
    videos = column(posts, "video_ids", pl.List(pl.String)).to_list()
    keys: list[set[str]] = []
    for u, l, v in zip(urls, links, videos):
        ks = set()
        for x in (u or []) + (l or []) + (v or []):
            if isinstance(x, str):
                k = canonical_media(x.rstrip(".,;:!?…"))
                if k:
                    ks.add(k)
        keys.append(ks)
    return keys
