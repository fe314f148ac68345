"""Claim catalogue and matching: normalise, index, score, guard, stance, label.

This package never imports Prefect or ``connectors``; it works on polars frames.
:func:`clear_caches` empties the matcher's per-word caches (:mod:`rules.caches`).
"""

from rules.caches import clear_caches

__all__ = ["clear_caches"]
