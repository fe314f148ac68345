"""Stance of each (post, claim) pair, from the learned model (:mod:`rules.stance_model`) over
character n-grams and the cues of :mod:`rules.stance` (or the cues alone with ``stance = "cues"``).

- The whole post (title and text) gives a claim-independent stance and the hedge flag.
- A post longer than :data:`STANCE_WINDOW_WORDS` takes its stance from the words around the
  claim (a podcast whose captions spread the claim under a neutral title spreads it).
- An article of :data:`LONG_POST_WORDS` or more whose debunk cue is not in its lead (title and
  first :data:`LEAD_WORDS` words) only mentions the claim.
- A link to the claim's own fact check, or to any fact-check article, makes it ``debunks``
  (applied with the labels, :mod:`rules.labels`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from rules.normalise import normalise_series
from rules.stance import hedge_expr, post_stance_expr

if TYPE_CHECKING:
    from rules.index import ClaimIndex
    from rules.posts import PostBatch
    from rules.stance_model import StanceModel

LEAD_WORDS = 60
LONG_POST_WORDS = 150
STANCE_WINDOW_WORDS = 60


def post_cues(frame: pl.DataFrame, text: pl.Series, model: "StanceModel | None" = None,
              norm_full: pl.Series | None = None) -> tuple[list[str], list[bool], list[str]]:
    """Stance, hedge and lead stance of each post (``frame`` has ``title`` and ``text``; ``text``
    is the raw text, whose question marks count). ``model``: the learned stance model
    (:mod:`rules.stance_model`); without it the cue lists decide alone. ``norm_full``: the
    normalised title, text and transcript joined by newlines, when already made: a post without
    a transcript reads the same without it (the newline left at its end normalises away)."""
    raw_for_stance = frame.select(
        pl.concat_str([pl.col("title").fill_null(""), pl.col("text").fill_null("")], separator="\n")
    ).to_series()
    if norm_full is not None and "transcript" in frame.columns:
        with_transcript = frame.get_column("transcript").fill_null("") != ""
        if with_transcript.any():
            rows = with_transcript.arg_true()
            norm = norm_full.clone().scatter(rows, normalise_series(raw_for_stance.gather(rows)))
        else:
            norm = norm_full
    else:
        norm = normalise_series(raw_for_stance)
    lead = norm.str.split(" ").list.head(LEAD_WORDS).list.join(" ")
    raw = text.fill_null("")
    frame = pl.DataFrame({"n": norm, "r": raw, "lead": lead})
    common = [post_stance_expr(pl.col("lead"), pl.col("r")).alias("lead_stance"),
              (pl.col("n").str.count_matches(" ") + 1).alias("words")]
    if model is None:
        cues = frame.select(post_stance_expr(pl.col("n"), pl.col("r")).alias("stance"), *common,
                            hedge_expr(pl.col("n")).alias("hedge"))
    else:
        # the model's cue features (hedge among them) read in the same pass as the lead's stance
        got = frame.with_columns(post_stance_expr(pl.col("n"), pl.col("r")).alias("st")).select(
            *model.cue_exprs(pl.col("n"), pl.col("r"), pl.col("st")), *common)
        norm_list, raw_list = norm.to_list(), raw.to_list()
        long_rows = [i for i, w in enumerate(got.get_column("words").to_list()) if w >= LONG_POST_WORDS]
        lead_stance = got.get_column("lead_stance").to_list()
        if long_rows:
            lead_list = lead.to_list()
            for i, st in zip(long_rows, model.predict([lead_list[i] for i in long_rows], [raw_list[i] for i in long_rows])):
                lead_stance[i] = st
        cues = pl.DataFrame({
            "stance": pl.Series(model.predict(norm_list, raw_list, model.cue_matrix(got)), dtype=pl.String),
            "lead_stance": pl.Series(lead_stance, dtype=pl.String), "words": got.get_column("words"),
            "hedge": got.get_column("hedge")})
    cues = cues.with_columns(
        # a long article that calls the claim false only in passing mentions it
        pl.when((pl.col("stance") == "debunks") & (pl.col("lead_stance") != "debunks")
                & (pl.col("words") >= LONG_POST_WORDS))
        .then(pl.lit("mentions")).otherwise(pl.col("stance")).alias("stance")
    )
    return (cues.get_column("stance").to_list(), cues.get_column("hedge").to_list(),
            cues.get_column("lead_stance").to_list())


def pair_stances(index: "ClaimIndex", batch: "PostBatch", pp: np.ndarray, cc: np.ndarray,
                 idx: np.ndarray, model: "StanceModel | None" = None) -> dict[int, str]:
    """Stance of the pairs ``idx`` whose post is long, from the words around the claim; other
    pairs keep the post's stance (not in the result)."""
    posts = pp[idx].tolist()
    n_words = {p: len(batch.norm[p].split()) for p in set(posts)}
    todo = [i for i, p in zip(idx.tolist(), posts) if n_words[p] > STANCE_WINDOW_WORDS]
    if not todo:
        return {}
    windows = [index.window(batch.norm[int(pp[i])], int(cc[i]), STANCE_WINDOW_WORDS) for i in todo]
    if model is not None:
        got = model.predict(windows, windows)
    else:
        got = pl.DataFrame({"n": windows}).select(post_stance_expr(pl.col("n"), pl.col("n"))).to_series().to_list()
    out = {}
    for i, st in zip(todo, got):
        p = int(pp[i])
        if st == "debunks" and batch.lead_stance[p] != "debunks" and n_words[p] >= LONG_POST_WORDS:
            st = "mentions"
        out[i] = st
    return out
