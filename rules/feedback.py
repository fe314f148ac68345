"""Reviewers' verdicts as matching examples: what a :class:`rules.match.Matcher` learns from reviews.

A :class:`Feedback` holds, per claim id, post texts of two kinds:

- ``counter``: posts reviewers marked "not this claim" or "true content". They join the claim's
  ``true_statements`` (:mod:`rules.counter`): a post that matches one of them at least as well
  as the claim is not flagged for it, and its evidence names the closest one.
- ``confirmed``: posts reviewers confirmed as spreading or debunking the claim. They are matched
  as extra fields of the claim (kind ``confirmed post`` in the evidence), so alike posts score
  like the claim's own variants.

The matcher's ``catalogue_version`` (written in every match) is the catalogue's version when the
feedback is empty, and a hash of both otherwise, so stored posts are matched again when reviews
change. Claim ids not in the catalogue (a claim since retired or deleted) are kept but unused.

Build it from a polars frame with :meth:`Feedback.from_frame` (columns ``claim_id``, ``kind`` =
``counter`` | ``confirmed``, ``text``); a bad frame raises :class:`FeedbackError` with one line.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import polars as pl

KINDS = ("counter", "confirmed")


class FeedbackError(ValueError):
    """A feedback frame is malformed (raised by :meth:`Feedback.from_frame`; one line)."""


def _clean(texts: Mapping[str, Iterable[str]] | None) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for cid, ts in sorted((texts or {}).items()):
        kept = tuple(sorted({t.strip() for t in ts if isinstance(t, str) and t.strip()}))
        if kept:
            out[str(cid)] = kept
    return out


@dataclass(frozen=True)
class Feedback:
    """Per-claim counter-examples and confirmed examples (see the module docstring). Texts are
    de-duplicated and sorted, so the same reviews give the same :attr:`version` in any order."""

    counter: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    confirmed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "counter", _clean(self.counter))
        object.__setattr__(self, "confirmed", _clean(self.confirmed))

    def __bool__(self) -> bool:
        return bool(self.counter or self.confirmed)

    @property
    def version(self) -> str:
        """A stable hash of the content ("" when empty)."""
        if not self:
            return ""
        blob = json.dumps({"counter": self.counter, "confirmed": self.confirmed}, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]

    @classmethod
    def from_frame(cls, frame: pl.DataFrame) -> "Feedback":
        """From rows ``claim_id, kind, text`` (kind ``counter`` or ``confirmed``)."""
        missing = [c for c in ("claim_id", "kind", "text") if c not in frame.columns]
        if missing:
            raise FeedbackError(f"feedback frame needs columns claim_id, kind, text (missing {', '.join(missing)})")
        counter: dict[str, list[str]] = {}
        confirmed: dict[str, list[str]] = {}
        for n, (cid, kind, text) in enumerate(frame.select("claim_id", "kind", "text").iter_rows(), 1):
            if kind not in KINDS:
                raise FeedbackError(f"feedback row {n}: kind must be counter or confirmed (got {kind!r})")
            if not isinstance(cid, str) or not cid:
                raise FeedbackError(f"feedback row {n}: claim_id missing")
            if isinstance(text, str) and text.strip():
                (counter if kind == "counter" else confirmed).setdefault(cid, []).append(text)
        return cls(counter=counter, confirmed=confirmed)


def effective_version(catalogue_version: str, feedback: Feedback | None) -> str:
    """The version written into matches: the catalogue's, combined with the feedback's if any."""
    if not feedback:
        return catalogue_version
    return hashlib.sha256(f"{catalogue_version}\n{feedback.version}".encode()).hexdigest()[:16]
