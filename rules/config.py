"""Matching thresholds and knobs (the ``[matching]`` table of the sources file)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Mapping


@dataclass(frozen=True)
class MatchConfig:
    """Thresholds of :class:`rules.match.Matcher`; every key of ``[matching]`` is a field here.

    Scores are calibrated 0-100 (a fitted probability that the post is about the claim, x100;
    a link to a known video of the claim scores 100).

    - ``flag_threshold``: at or above, a post that spreads an active claim whose required
      entities all appear is ``likely_misinformation``.
    - ``named_flag_threshold``: the same for a claim that has required entities, which the post
      names all of: the entity groups (Trump, Imran Khan and Israel; Faisal Mosque and an attack)
      are the claim's fingerprint, and a post retelling the claim in its own words shares few of
      the claim's words. Between ``report_floor`` and ``flag_threshold``.
    - ``review_threshold``: at or above, a match is reported as ``needs_review`` (or ``debunk``
      when the post debunks the claim).
    - ``report_floor``: below this score a pair is not written at all, except a known-media
      match; no_flag rows at or above it are kept for analysts (signal below review).
    - ``max_claims_per_post``: matches written per post (best first).
    - ``candidates``: claims taken from the BM25 index per post before fuzzy scoring.
    - ``max_fuzzy_chars``: longest post text (normalised) given to the fuzzy scorers; longer
      posts and transcripts are cut into windows and the best window counts.
    - ``workers``: threads for rapidfuzz (``-1`` = all cores).
    - ``mentions_label``: label of a post that reports on the claim neutrally above the review
      threshold (``needs_review`` or ``no_flag``).
    - ``stance``: ``model`` (the learned stance model over character n-grams and the cue lists,
      :mod:`rules.stance_model`) or ``cues`` (the cue lists alone).
    - ``media_phash_distance``: a post's frame and a known copy's frame whose pHashes (64 bits) are
      within this many bits are the same picture (see :mod:`rules.media`).
    - ``media_distance``: the same for PDQ hashes (256 bits).
    - ``media_min_quality``: frames of lower quality (PDQ's gradient measure: flat, dark) take no part
      in media matching.
    - ``media_query_share``: share of a post video's frames that must match a known copy.
    - ``media_known_share``: share of a known video's seconds those matches must cover.
    """

    flag_threshold: float = 50.0
    named_flag_threshold: float = 20.0
    review_threshold: float = 35.0
    report_floor: float = 20.0
    max_claims_per_post: int = 3
    candidates: int = 40
    max_fuzzy_chars: int = 1500
    workers: int = 1
    mentions_label: str = "no_flag"
    stance: str = "model"
    media_distance: int = 31
    media_phash_distance: int = 6
    media_min_quality: int = 50
    media_query_share: float = 0.5
    media_known_share: float = 0.3

    def __post_init__(self) -> None:
        for name in ("flag_threshold", "named_flag_threshold", "review_threshold", "report_floor"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= 100:
                raise ValueError(f"[matching] {name} must be a number from 0 to 100 (got {v!r})")
        if not self.report_floor <= self.review_threshold <= self.flag_threshold:
            raise ValueError(
                "[matching] needs report_floor <= review_threshold <= flag_threshold "
                f"(got {self.report_floor}, {self.review_threshold}, {self.flag_threshold})"
            )
        if not self.report_floor <= self.named_flag_threshold <= self.flag_threshold:
            raise ValueError(
                "[matching] needs report_floor <= named_flag_threshold <= flag_threshold "
                f"(got {self.report_floor}, {self.named_flag_threshold}, {self.flag_threshold})"
            )
        for name, lo in (("max_claims_per_post", 1), ("candidates", 1), ("max_fuzzy_chars", 50)):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < lo:
                raise ValueError(f"[matching] {name} must be an integer >= {lo} (got {v!r})")
        if not isinstance(self.workers, int) or isinstance(self.workers, bool) or self.workers == 0 or self.workers < -1:
            raise ValueError(f"[matching] workers must be a positive integer or -1 for all cores (got {self.workers!r})")
        if self.stance not in ("model", "cues"):
            raise ValueError(f"[matching] stance must be model or cues (got {self.stance!r})")
        if not isinstance(self.media_distance, int) or isinstance(self.media_distance, bool) or not 0 <= self.media_distance <= 63:
            raise ValueError(f"[matching] media_distance must be an integer from 0 to 63 bits (got {self.media_distance!r})")
        if (not isinstance(self.media_phash_distance, int) or isinstance(self.media_phash_distance, bool)
                or not 0 <= self.media_phash_distance <= 15):
            raise ValueError(f"[matching] media_phash_distance must be an integer from 0 to 15 bits (got {self.media_phash_distance!r})")
        if not isinstance(self.media_min_quality, int) or isinstance(self.media_min_quality, bool) or not 0 <= self.media_min_quality <= 100:
            raise ValueError(f"[matching] media_min_quality must be an integer from 0 to 100 (got {self.media_min_quality!r})")
        for name in ("media_query_share", "media_known_share"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= 1:
                raise ValueError(f"[matching] {name} must be a number from 0 to 1 (got {v!r})")
        if self.mentions_label not in ("needs_review", "no_flag"):
            raise ValueError(f"[matching] mentions_label must be needs_review or no_flag (got {self.mentions_label!r})")

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> "MatchConfig":
        """Build from the ``[matching]`` table; unknown keys and wrong types raise ``ValueError``
        (one line naming the key; an unknown key with the nearest known one)."""
        from rules.validation import ValidationError, first_problem

        if mapping is None:
            return cls()
        if not isinstance(mapping, Mapping):
            raise ValueError(f"[matching] must be a table of settings (got {type(mapping).__name__})")
        model = matching_model()
        try:
            values = model.model_validate(dict(mapping))
        except ValidationError as exc:
            problem = first_problem(exc, model)
            if problem.unknown:
                unknown = sorted({str(e["loc"][0]) for e in exc.errors() if e["type"] == "extra_forbidden"})
                raise ValueError(f"[matching] unknown key(s) {', '.join(unknown)}{problem.did_you_mean}; "
                                 f"known keys: {', '.join(sorted(model.model_fields))}") from None
            try:  # the dataclass's own check says more when it has one (the range of a threshold)
                cls(**{problem.key: problem.value})
            except (ValueError, TypeError) as own:
                if str(own).startswith(f"[matching] {problem.key} "):
                    raise ValueError(str(own)) from None
            raise ValueError(f"[matching] {problem.key} {problem.text}") from None
        return cls(**{k: getattr(values, k) for k in values.model_fields_set})


@cache
def matching_model() -> Any:
    """The pydantic model of the ``[matching]`` table, built from :class:`MatchConfig`'s fields."""
    from rules.validation import model_from_dataclass

    return model_from_dataclass(MatchConfig, name="matching", nullable=False,
                                doc="Thresholds and knobs of the matcher (scores are calibrated 0-100).")
