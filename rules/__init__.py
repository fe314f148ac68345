"""Claim catalogue and matching: normalise, index, score, guard, stance, label.

This package never imports Prefect or ``connectors``; it works on polars frames.
"""
