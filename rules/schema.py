"""Columns of the ``claims`` and ``matches`` tables (documented for analysts in docs/data.md)."""

import polars as pl

CLAIMS_SCHEMA: dict[str, pl.DataType] = {
    "claim_id": pl.String,
    "text": pl.String,
    "title": pl.String,
    "variants": pl.List(pl.String),
    "verdict": pl.String,
    "media_category": pl.String,
    "required_entities": pl.List(pl.List(pl.String)),
    "known_media": pl.List(pl.String),
    "fact_check_urls": pl.List(pl.String),
    "status": pl.String,  # active, imported (awaiting approval), retired
    "catalogue_version": pl.String,
}

# What rules produce for a batch of posts; flows add run_id and flagged_at.
MATCHES_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String,
    "post_id": pl.String,
    "claim_id": pl.String,
    "score": pl.Float64,  # calibrated 0-100
    "rank": pl.Int32,  # 1 = best claim for this post
    "score_lexical": pl.Float64,  # index (BM25) part, 0-100
    "score_fuzzy": pl.Float64,  # rapidfuzz part, 0-100
    "score_media": pl.Float64,  # 100 when a known video/URL of the claim is linked, else 0
    "entities_ok": pl.Boolean,  # every required entity group appears
    "stance": pl.String,  # spreads, debunks, mentions, unclear
    "label": pl.String,  # likely_misinformation, needs_review, debunk, no_flag
    "evidence": pl.String,
    "catalogue_version": pl.String,
    "flagged_at": pl.Datetime("us", "UTC"),
}
