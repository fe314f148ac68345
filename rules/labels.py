"""Labels of reported pairs and the evidence text that explains them.

=========================================================================== ==========================
condition (in order)                                                        label
=========================================================================== ==========================
score < ``review_threshold`` and no media / fact-check link                  ``no_flag``
stance ``debunks``                                                          ``debunk``
stance ``mentions``                                                         ``mentions_label``
stance ``spreads``, score >= ``flag_threshold``, entities ok (or media      ``likely_misinformation``
evidence), claim ``active``, no hedge
otherwise                                                                   ``needs_review``
=========================================================================== ==========================

At most one row of a post carries a flag (:data:`FLAG_LABELS`): the best-ranked; a lower row that
would get one is ``needs_review``.
"""

from __future__ import annotations

from rules.config import MatchConfig
from rules.index import FIELD_KINDS, STOPWORDS, ClaimIndex

FLAG_LABELS = ("likely_misinformation", "debunk")  # at most one row of a post carries one


def label_of(cfg: MatchConfig, score: float, stance: str, direct_evidence: bool, entities_ok: bool,
             active: bool, hedged: bool) -> str:
    """The label of one pair (see the module docstring)."""
    if score < cfg.review_threshold and not direct_evidence:
        return "no_flag"
    if stance == "debunks":
        return "debunk"
    if stance == "mentions":
        return cfg.mentions_label
    if stance == "spreads" and score >= cfg.flag_threshold and entities_ok and active and not hedged:
        return "likely_misinformation"
    return "needs_review"


def evidence(index: ClaimIndex, text: str, field: int, media: str | None, fact_check: str | None) -> str:
    """Why the pair matched: media evidence, a link to the claim's fact check, the claim's words
    found in the post (with the kind of field they came from)."""
    parts = []
    if media:
        parts.append(media)
    if fact_check:
        parts.append(f"links fact check {fact_check}")
    if field >= 0:
        post_words = set(text.split())
        words = [w for w in dict.fromkeys(index.field_text[field].split()) if w in post_words and w not in STOPWORDS]
        kind = FIELD_KINDS[int(index.field_kind[field])]
        if words:
            parts.append(f"words ({kind}): " + " ".join(words[:15]))
    return "; ".join(parts)
