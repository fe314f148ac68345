"""Labels of reported pairs and the evidence text that explains them.

============================================================================ =========================
condition (in order)                                                         label
============================================================================ =========================
score < ``review_threshold``, no media / fact-check link, and the post does  ``no_flag``
not name every required entity group of the claim
stance ``debunks`` (a correction too,                                        ``debunk``
:func:`rules.counter.correction_scores`)
stance ``mentions``                                                          ``mentions_label``
stance ``spreads`` and the claim is rated true or mostly true                ``no_flag``
stance ``spreads`` or ``unclear``, the post as close to one of the claim's   ``no_flag``
true statements as to the claim, no media / fact-check link
(:mod:`rules.counter`)
stance ``spreads``, score >= ``flag_threshold`` (``named_flag_threshold``    ``likely_misinformation``
when the post names every required entity group), entities ok (or media
evidence), claim ``active`` with a verdict that can flag
(:mod:`rules.verdicts`), no hedge
otherwise                                                                    ``needs_review``
============================================================================ =========================

At most one row of a post carries a flag (:data:`FLAG_LABELS`): the best-ranked; a lower row that
would get one is ``needs_review``.
"""

from __future__ import annotations

from rules.config import MatchConfig
from rules.index import FIELD_KINDS, STOPWORDS, ClaimIndex

FLAG_LABELS = ("likely_misinformation", "debunk")  # at most one row of a post carries one


def label_of(cfg: MatchConfig, score: float, stance: str, direct_evidence: bool, entities_ok: bool,
             can_flag: bool, hedged: bool, rated_true: bool = False, closer_to_truth: bool = False,
             names_entities: bool = False) -> str:
    """The label of one pair (see the module docstring). ``can_flag``: the claim is active and
    its verdict means false, altered, misleading or out of context; ``rated_true``: its verdict
    is true or mostly true; ``closer_to_truth``: the post matches one of the claim's true
    statements at least as well as the claim; ``names_entities``: the claim has required
    entities and the post names every group of them."""
    if score < cfg.review_threshold and not direct_evidence and not names_entities:
        return "no_flag"
    if stance == "debunks":
        return "debunk"
    if stance == "mentions":
        return cfg.mentions_label
    if stance == "spreads" and rated_true:
        return "no_flag"
    if stance in ("spreads", "unclear") and closer_to_truth and not direct_evidence:
        return "no_flag"
    threshold = cfg.named_flag_threshold if names_entities else cfg.flag_threshold
    if stance == "spreads" and score >= threshold and entities_ok and can_flag and not hedged:
        return "likely_misinformation"
    return "needs_review"


def evidence(index: ClaimIndex, text: str, field: int, media: str | None, fact_check: str | None,
             true_statement: str | None = None, spellings: list[str] | None = None,
             debunk_text: str | None = None) -> str:
    """Why the pair matched (media evidence, a link to the claim's fact check, the claim's words
    found in the post with the kind of field they came from), and, first, why it is not flagged
    when the post is closer to a true statement."""
    parts = []
    if true_statement:
        short = true_statement if len(true_statement) <= 160 else true_statement[:157].rstrip() + "..."
        parts.append(f"closer to true statement: {short}")
    if media:
        parts.append(media)
    if fact_check:
        parts.append(f"links fact check {fact_check}")
    if debunk_text:
        short = debunk_text if len(debunk_text) <= 160 else debunk_text[:157].rstrip() + "..."
        parts.append(f"says what the fact check says: {short}")
    if field >= 0:
        post_words = set(text.split())
        words = [w for w in dict.fromkeys(index.field_text[field].split()) if w in post_words and w not in STOPWORDS]
        kind = FIELD_KINDS[int(index.field_kind[field])]
        if words:
            parts.append(f"words ({kind}): " + " ".join(words[:15]))
    if spellings:
        parts.append("entities spelled " + ", ".join(dict.fromkeys(spellings)))
    return "; ".join(parts)
