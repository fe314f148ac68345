"""Match posts against the claim catalogue: index -> fuzzy scores -> guards -> stance -> label.

For a batch of posts (a polars frame with ``post_id`` and ``text``; ``title``, ``transcript``,
``links`` and ``video_ids`` are used when present):

1. every post and claim field (text, title, each variant) goes through one normalisation
   (:mod:`rules.normalise`, :mod:`rules.posts`);
2. a BM25 index (:mod:`rules.index`) gives each post its ``candidates`` best claims
   (:mod:`rules.features`);
3. a ranking model (:mod:`rules.scoring`) orders the candidates from cheap features;
   :meth:`Matcher.rank` reports it;
4. for the pairs that may be reported, rapidfuzz scores every field of the claim and a second,
   class-balanced logistic model gives the calibrated 0-100 ``score`` of :meth:`Matcher.match`;
   direct media evidence (a link to or embed of a known video of the claim, or an outside media
   match passed as ``media``) scores at least its ``score_media`` on that evidence alone;
5. entity guards, stance (:mod:`rules.post_stance`) and the thresholds of
   :class:`~rules.config.MatchConfig` give the label (:mod:`rules.labels`).

Claims with an identical matching representation (duplicates, :meth:`Matcher.duplicate_groups`,
:mod:`rules.duplicates`) rank first in catalogue order, later copies right below;
:meth:`Matcher.rank` gives every post rows, ranking a post without a BM25 candidate by character
4-gram similarity.

What :meth:`Matcher.match` writes: for each post, its best ``max_claims_per_post`` claims whose
score is at least ``report_floor`` (or that it links by media evidence or fact-check URL). Rows
between ``report_floor`` and ``review_threshold`` carry label ``no_flag``: weak signal kept for
analysts; posts with nothing above the floor get no row.

Modules, each depending only on those above it: ``normalise``, ``stance`` (cue lists),
``catalogue``, ``config``, ``schema``, ``feedback`` -> ``duplicates`` -> ``index`` ->
``post_stance`` -> ``posts`` -> ``features`` -> ``scoring`` -> ``counter`` -> ``labels`` -> ``match``.
"""

from __future__ import annotations

import re
import sys
import time
from typing import Any, Callable

import numpy as np
import polars as pl

from rules.catalogue import Catalogue
from rules.config import MatchConfig
from rules.counter import ADDS_MARGIN, CORRECTION_MARGIN, claim_adds, correction_scores, counter_scores, debunk_scores, text_scores
from rules.duplicates import DUPLICATE_STEP  # noqa: F401  (re-exported)
from rules.features import CALIBRATION_FEATURES, FEATURES, MediaMatches, Scorer  # noqa: F401
from rules.feedback import Feedback, effective_version
from rules.index import STOPWORDS, ClaimIndex, OwnFields  # noqa: F401
from rules.index_cache import IndexCache
from rules.labels import FLAG_LABELS, evidence, label_of
from rules.post_stance import pair_stances
from rules.posts import PostBatch, prepare
from rules.schema import MATCHES_SCHEMA
from rules.scoring import DEFAULT_CALIBRATION, DEFAULT_MODEL, RANKED_SCHEMA, LabelModel, RankingModel  # noqa: F401
from rules.scoring import fallback, order, ranked
from rules.stance import is_fact_check_url
from rules.stance_model import default_model

__all__ = ["Matcher", "MatchConfig", "MEDIA_MATCHES_SCHEMA"]

ENTITY_BONUS = 1000.0  # ordering only: direct evidence, then rows whose entity guards hold, come first
MIXED_SCRIPT_WORDS = 6  # a code-mixed post is also scored on each script's words when both have this many
_ARABIC_SCRIPT = re.compile(r"[\u0600-\u06ff]")
DEBUNK_CANDIDATES = 10  # a debunking post's best claims by ranking score that are scored against debunk texts

# outside media evidence for match()/rank() (e.g. perceptual-hash matches of images and video)
MEDIA_MATCHES_SCHEMA: dict[str, pl.DataType] = {
    "post_id": pl.String, "claim_id": pl.String, "score_media": pl.Float64, "evidence": pl.String,
}


class Matcher:
    """Ranks and labels posts against a :class:`~rules.catalogue.Catalogue`.

    Build once, reuse over many batches; the object pickles (for Dask workers). ``retired``
    claims are left out; ``imported`` claims are matched but never flagged
    ``likely_misinformation``. ``feedback`` (:class:`rules.feedback.Feedback`) adds reviewers'
    confirmed posts as fields of their claims and their counter-examples to the claims'
    ``true_statements``; :attr:`catalogue_version` then changes with it.
    ``index_cache`` (:class:`rules.index_cache.IndexCache`) loads the claim index from disk when
    this catalogue version (with this feedback) was indexed before, and stores it otherwise.
    """

    def __init__(self, catalogue: Catalogue, config: MatchConfig | None = None,
                 model: dict[str, Any] | None = None, calibration: dict[str, Any] | None = None,
                 feedback: Feedback | None = None, index_cache: IndexCache | None = None) -> None:
        self.config = config or MatchConfig()
        self.feedback = feedback or Feedback()
        self.catalogue_version = effective_version(catalogue.version, self.feedback)
        self.ranking_model = RankingModel(model)
        self.label_model = LabelModel(calibration)
        build = {"confirmed": dict(self.feedback.confirmed), "counter": dict(self.feedback.counter)}
        if index_cache is None:
            self.index = ClaimIndex(list(catalogue), self.catalogue_version, **build)
        else:  # loaded from its file when this catalogue version was indexed before
            self.index = index_cache.load_or_build(list(catalogue), self.catalogue_version, **build)
        self.scorer = Scorer(self.index, self.config.candidates, self.config.max_fuzzy_chars, self.config.workers)
        self.stance_model = default_model() if self.config.stance == "model" else None
        self.claim_ids = self.index.claim_ids
        self._claim_pos = {cid: i for i, cid in enumerate(self.claim_ids)}

    def duplicate_groups(self) -> dict[str, str]:
        """Claims whose matching representation is identical, as ``claim_id -> canonical claim_id``.

        The representation is what the ranking features see: every field (text, title, each
        variant) after :mod:`rules.normalise` with stop words removed. The canonical claim is the
        first of its group in catalogue order (file order of a JSONL catalogue; sorted file order
        of a folder) and maps to itself; claims without a duplicate are left out. Retired claims
        are not matched and not grouped.
        """
        return self.index.duplicates.canonical(self.claim_ids)

    # ------------------------------------------------------------ public API

    def clear_caches(self) -> None:
        """Forget the per-word results of the posts seen, the index's and the stance model's
        (:mod:`rules.caches`); no answer changes."""
        self.index.clear_caches()
        if self.stance_model is not None:
            self.stance_model.clear_caches()

    def rank(self, posts: pl.DataFrame, top_k: int = 10, batch_size: int = 2000,
             progress: Callable[[int, int], None] | None = None,
             media: pl.DataFrame | None = None) -> pl.DataFrame:
        """Up to ``top_k`` claims for every post (a row for every post): columns
        ``post_id, claim_id, score, rank`` (1 = best; ties broken by the higher claim id, as
        integers when every id is a number; duplicate claims first in catalogue order, see
        :meth:`duplicate_groups`). A post without a BM25 candidate (empty, emoji only, words
        outside the vocabulary) gets ``top_k`` rows (or the whole catalogue) ranked by the
        character 4-gram cosine (0-1, low) instead. ``media``: see :meth:`match`."""
        if not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k must be a positive integer (got {top_k!r})")
        media_rows = self._media_rows(media)
        parts = []
        for _, batch in self._batches(posts, batch_size, progress):
            prep = prepare(batch, cues=False, links=bool(self.index.media))
            feats = self.scorer.pairs(prep, self._media_for(prep, media_rows))
            score = self.ranking_model(feats)
            pp, cc = feats["post"], feats["claim"]
            score = np.where(feats["media"], np.maximum(score, feats["media_score"]), score)
            missing = np.setdiff1d(np.arange(len(prep)), pp)
            if len(missing) and len(self.claim_ids):
                fp, fc, fs = fallback(self.index, [prep.norm[i] for i in missing.tolist()], top_k)
                pp = np.concatenate([pp, missing[fp]])
                cc = np.concatenate([cc, fc])
                score = np.concatenate([score, fs])
            score = self.index.duplicates.order(pp, cc, score)
            parts.append(ranked(self.index, prep.post_id, pp, cc, score, top_k))
        if not parts:
            return pl.DataFrame(schema=RANKED_SCHEMA)
        return pl.concat(parts)

    def match(self, posts: pl.DataFrame, batch_size: int = 2000,
              progress: Callable[[int, int], None] | None = None,
              media: pl.DataFrame | None = None) -> pl.DataFrame:
        """Scored, guarded and labelled matches with exactly :data:`rules.schema.MATCHES_SCHEMA`
        (``run_id`` and ``flagged_at`` null; see the module docstring for which rows appear).

        ``media``: outside media evidence, rows of :data:`MEDIA_MATCHES_SCHEMA`
        (``post_id, claim_id, score_media`` 0-100, ``evidence`` text), e.g. perceptual-hash
        matches of a post's images or video against a claim's known media. Each row is direct
        evidence, exactly like a link to a known video of the claim: the pair is scored and
        reported whatever its text says (score at least ``score_media``, ``score_media`` and the
        evidence text in the row, ranked before pairs without direct evidence), and the label
        still follows the post's stance: a debunk that shows the clip is a ``debunk``. Rows for
        posts not in ``posts`` or claims not matched (unknown, retired) are ignored."""
        media_rows = self._media_rows(media)
        parts = [self._match_batch(b, media_rows) for _, b in self._batches(posts, batch_size, progress)]
        parts = [p for p in parts if p.height]
        if not parts:
            return pl.DataFrame(schema=MATCHES_SCHEMA)
        return pl.concat(parts)

    # ------------------------------------------------------------ media evidence

    def _media_rows(self, media: pl.DataFrame | None) -> dict[str, list[tuple[int, float, str]]]:
        """``post_id -> [(claim position, score_media, evidence)]`` from a media matches frame."""
        if media is None or media.height == 0:
            return {}
        missing = [c for c in ("post_id", "claim_id", "score_media") if c not in media.columns]
        if missing:
            raise ValueError("media matches need columns post_id, claim_id, score_media, evidence "
                             f"(missing {', '.join(missing)})")
        ev = media.get_column("evidence").cast(pl.String) if "evidence" in media.columns else pl.Series([None] * media.height)
        out: dict[str, list[tuple[int, float, str]]] = {}
        for pid, cid, s, e in zip(media.get_column("post_id").cast(pl.String), media.get_column("claim_id").cast(pl.String),
                                  media.get_column("score_media"), ev):
            try:
                s = float(s)
            except (TypeError, ValueError):
                s = float("nan")
            if not 0.0 <= s <= 100.0:
                raise ValueError(f"media matches: score_media of post {pid!r}, claim {cid!r} must be 0-100 (got {s!r})")
            c = self._claim_pos.get(cid)
            if c is not None and pid is not None:
                out.setdefault(pid, []).append((c, s, e or f"media match {s:g}"))
        return out

    @staticmethod
    def _media_for(prep: PostBatch, rows: dict[str, list[tuple[int, float, str]]]) -> MediaMatches | None:
        if not rows:
            return None
        found: MediaMatches = {}
        for p, pid in enumerate(prep.post_id):
            for c, s, e in rows.get(pid, ()):
                old = found.get((p, c))
                found[(p, c)] = (s, e) if old is None else (max(old[0], s), f"{old[1]}; {e}")
        return found

    # ------------------------------------------------------------ labels

    def _batches(self, posts: pl.DataFrame, size: int, progress: Callable[[int, int], None] | None):
        total = posts.height
        for start in range(0, total, size):
            yield start, posts.slice(start, size)
            if progress:
                progress(min(start + size, total), total)

    def _fact_check_links(self, prep: PostBatch, pp: np.ndarray, cc: np.ndarray) -> tuple[np.ndarray, dict[int, str]]:
        fc_link = np.zeros(len(pp), dtype=bool)
        fc_key: dict[int, str] = {}
        if self.index.fact_checks:
            for i, (p, c) in enumerate(zip(pp.tolist(), cc.tolist())):
                for k in sorted(prep.keys[p]):
                    if c in self.index.fact_checks.get(k, ()):
                        fc_link[i] = True
                        fc_key[i] = k
        return fc_link, fc_key

    def _mixed_script_scores(self, norm: list[str], feats: dict[str, Any], sel: np.ndarray,
                             cal: np.ndarray) -> np.ndarray:
        """``cal`` (the label model's scores of the pairs ``sel``) where a code-mixed post scores
        better on one script's words alone: "عمران خان ہسپتال میں ہیں ... sar pe gehri chot hai"
        is scored on its Urdu-script words against the claim's Urdu variant and on its Latin words
        against the others, as well as whole, and keeps the best. Only posts with at least
        :data:`MIXED_SCRIPT_WORDS` words in each script: a short part ("یہ ویڈیو دیکھیں") fits
        any claim."""
        parts = {}
        for p in np.unique(feats["post"][sel]).tolist():
            arabic, latin = [], []
            for w in norm[p].split():
                (arabic if _ARABIC_SCRIPT.search(w) else latin).append(w)
            if len(arabic) >= MIXED_SCRIPT_WORDS and len(latin) >= MIXED_SCRIPT_WORDS:
                parts[p] = (" ".join(arabic), " ".join(latin))
        if not parts:
            return cal
        mixed = np.isin(feats["post"][sel], list(parts))
        pp, cc = feats["post"][sel][mixed], feats["claim"][sel][mixed]
        out = cal.copy()
        for k in (0, 1):
            one_script = list(norm)
            for p, texts in parts.items():
                one_script[p] = texts[k]
            scores, _ = text_scores(self.scorer, self.label_model, one_script, pp, cc, OwnFields(self.index))
            out[mixed] = np.maximum(out[mixed], scores)
        return out

    def _match_batch(self, posts: pl.DataFrame, media_rows: dict[str, list[tuple[int, float, str]]]) -> pl.DataFrame:
        cfg, ix = self.config, self.index
        prep = prepare(posts, model=self.stance_model)
        feats = self.scorer.pairs(prep, self._media_for(prep, media_rows))
        pp, cc = feats["post"], feats["claim"]
        if len(pp) == 0:
            return pl.DataFrame(schema=MATCHES_SCHEMA)
        media = feats["media"]
        fc_link, fc_key = self._fact_check_links(prep, pp, cc)
        o, rnk = order(ix, pp, cc, ix.duplicates.order(pp, cc, self.ranking_model(feats)))
        chosen = (rnk <= cfg.max_claims_per_post) | media[o] | fc_link[o]
        # a post that debunks may say what really happened instead of restating the claim: its
        # candidates are also scored against the claim's debunk texts (rules.counter)
        debunking = np.array([st == "debunks" for st in prep.stance], dtype=bool)
        dscore = np.full(len(pp), -1.0)
        dtext: dict[int, str] = {}
        if len(ix.debunk_texts) and debunking.any():
            cand = o[debunking[pp[o]] & (rnk <= DEBUNK_CANDIDATES)]
            ds, dt = debunk_scores(self.scorer, self.label_model, prep.norm, pp[cand], cc[cand])
            dscore[cand] = ds
            dtext = {int(i): t for i, t in zip(cand.tolist(), dt) if t is not None}
            o_d, rnk_d = order(ix, pp, cc, dscore)
            chosen |= np.isin(o, o_d[(rnk_d <= cfg.max_claims_per_post) & (dscore[o_d] >= 0)])
        sel = np.sort(o[chosen])
        lab = self.scorer.label_features(prep.norm, feats, sel)
        cal = self.label_model(lab)
        cal = self._mixed_script_scores(prep.norm, feats, sel, cal)
        direct = np.where(media[sel], np.maximum(cal, feats["media_score"][sel]), cal)
        checks = [ix.entities[c].scan(prep.norm[p]) if ix.entities[c] is not None else (True, [], 1.0)
                  for p, c in zip(pp[sel].tolist(), cc[sel].tolist())]
        ents_sel = np.array([ok for ok, _, _ in checks], dtype=bool)
        share_sel = np.array([sh for _, _, sh in checks], dtype=np.float64)
        direct = np.where(debunking[pp[sel]], np.maximum(direct, dscore[sel]), direct)
        score_sel = ix.duplicates.order(pp[sel], cc[sel], direct)
        pos_in_sel = {int(i): k for k, i in enumerate(sel.tolist())}
        # direct evidence (media, a link to the claim's fact check) first, then claims whose
        # required entities the post names (all of them, then the larger share), then the score
        evidence_sel = media[sel] | fc_link[sel]
        order2, rank2 = order(ix, pp[sel], cc[sel], score_sel + ENTITY_BONUS * (ents_sel + 0.5 * share_sel + 2.0 * evidence_sel))
        keep = (rank2 <= cfg.max_claims_per_post) & (
            (score_sel[order2] >= cfg.report_floor) | media[sel][order2] | fc_link[sel][order2])
        idx = sel[order2[keep]]
        rank = rank2[keep]
        score = np.zeros(len(pp))
        score[sel] = score_sel
        fuzzy = np.zeros(len(pp))
        fuzzy[sel] = lab["tsr"]
        pair_stance = pair_stances(ix, prep, pp, cc, idx, self.stance_model)
        # counter-evidence: the post against the claim's true statements, as against the claim
        counter = np.full(len(pp), -np.inf)
        closest: dict[int, str] = {}
        if len(ix.counters):
            c_score, c_text = counter_scores(self.scorer, self.label_model, prep.norm, pp[idx], cc[idx])
            counter[idx] = c_score
            closest = {int(i): t for i, t in zip(idx.tolist(), c_text) if t is not None}
        claim_score = np.zeros(len(pp))
        claim_score[sel] = cal
        claim_logit = np.zeros(len(pp))
        claim_logit[sel] = self.label_model.logit(lab)
        # a post as close to the true event as to the claim, and closer still to how a debunk puts
        # it, corrects the claim without a verdict word (rules.counter.correction_scores)
        correction: dict[int, str] = {}
        if len(ix.debunk_variants) and len(idx):
            unsure = np.array([prep.stance[p] in ("spreads", "unclear") for p in pp[idx].tolist()], dtype=bool)
            cand = idx[unsure & (counter[idx] >= claim_logit[idx])]
            if len(cand):
                k_score, k_text = correction_scores(self.scorer, self.label_model, prep.norm, pp[cand], cc[cand])
                correction = {int(i): t for i, s, t in zip(cand.tolist(), k_score.tolist(), k_text)
                              if t is not None and s >= claim_logit[i] + CORRECTION_MARGIN}
        flagged: set[int] = set()
        links_fact_check: dict[int, bool] = {}  # post -> it links to a fact-check article
        rows: dict[str, list[Any]] = {k: [] for k in MATCHES_SCHEMA}
        for i, r in zip(idx.tolist(), rank.tolist()):
            p, c = int(pp[i]), int(cc[i])
            text = prep.norm[p]
            ents = bool(ents_sel[pos_in_sel[i]])
            stance = pair_stance.get(i, prep.stance[p])
            if p not in links_fact_check:
                links_fact_check[p] = any(is_fact_check_url(k) for k in prep.keys[p])
            if fc_link[i] or links_fact_check[p]:
                stance = "debunks"
            corrects = correction.get(i) if stance in ("spreads", "unclear") else None
            if corrects:
                stance = "debunks"
            s = float(score[i])
            # the entity guard keeps word matches about other people from flagging; a post showing
            # the claim's own clip (media evidence) needs no names: a neutral title names nobody
            closer = bool(counter[i] >= claim_logit[i])
            if (closer and stance == "spreads" and counter[i] - claim_logit[i] < ADDS_MARGIN
                    and claim_adds(ix, text, c, closest.get(i))):
                closer = False  # the post says what the claim adds to the true event
            label = label_of(cfg, s, stance, bool(media[i] or fc_link[i]), ents or bool(media[i]), bool(ix.can_flag[c]), prep.hedge[p],
                             bool(ix.rated_true[c]), closer, names_entities=ents and ix.entities[c] is not None)
            truth = closest.get(i) if (closer and label == "no_flag" and stance in ("spreads", "unclear")
                                       and not (media[i] or fc_link[i])) else None
            # what the post says of the fact check: the correction it makes, else the closest debunk text
            by_debunk = ((corrects or (dtext.get(i) if dscore[i] > claim_score[i] else None))
                         if label == "debunk" else None)
            if label in FLAG_LABELS:
                # one claim per post carries a flag: the best-ranked; the others are left for review
                if p in flagged:
                    label = "needs_review"
                flagged.add(p)
            rows["post_id"].append(prep.post_id[p])
            rows["claim_id"].append(self.claim_ids[c])
            rows["score"].append(s)
            rows["rank"].append(r)
            rows["score_lexical"].append(round(float(feats["bm25_norm"][i]) * 100, 2))
            rows["score_fuzzy"].append(round(float(fuzzy[i]) * 100, 2))
            rows["score_media"].append(float(feats["media_score"][i]))
            rows["entities_ok"].append(ents)
            rows["stance"].append(stance)
            rows["label"].append(label)
            rows["evidence"].append(evidence(ix, text, int(feats["best_field"][i]),
                                             feats["media_evidence"].get((p, c)), fc_key.get(i), truth,
                                             checks[pos_in_sel[i]][1], by_debunk))
            rows["catalogue_version"].append(self.catalogue_version)
            rows["run_id"].append(None)
            rows["flagged_at"].append(None)
        return pl.DataFrame(rows, schema=MATCHES_SCHEMA)


def progress_printer(label: str) -> Callable[[int, int], None]:
    """A progress callback that writes ``label: done/total (rate/s)`` to stderr."""
    t0 = time.perf_counter()

    def report(done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - t0, 1e-9)
        print(f"\r{label}: {done}/{total} posts ({rate:,.0f}/s)", end="\n" if done >= total else "",
              file=sys.stderr, flush=True)

    return report
