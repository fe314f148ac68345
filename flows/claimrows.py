"""Claim rows from fact-checkers: the connectors' raw rating joined to the rules' verdict scale.

``connectors.claimreview`` keeps the publisher's rating as written (``rating``, ``rating_value``,
``best_rating``, ``worst_rating``); ``rules.verdicts`` says what a rating means. The flows join
them here, so neither package imports the other.
"""

from __future__ import annotations

from typing import Any


def with_verdict(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with ``verdict`` filled from its rating (a verdict already on the scale is kept;
    ``None`` when the rating is not recognised)."""
    from rules.verdicts import SCALE, verdict_from_rating

    given = row.get("verdict")
    if isinstance(given, str) and given.strip().lower() in SCALE:
        verdict = given.strip().lower()
    else:
        verdict = verdict_from_rating(given if isinstance(given, str) else None)
        if verdict is None:
            verdict = verdict_from_rating(row.get("rating"), row.get("rating_value"), row.get("best_rating"),
                                          row.get("worst_rating"))
    return {**row, "verdict": verdict}
