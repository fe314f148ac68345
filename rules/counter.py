"""Counter-evidence: is a post closer to a true statement than to the false claim?

Each claim may list ``true_statements`` (what really happened, who really said what; see
:mod:`rules.catalogue`), and reviewers' counter-examples join them (:mod:`rules.feedback`). For
every reported pair whose claim has any, the post is scored against them with the label model
and the same features as against the claim's own fields (each feature's best over the
statements, as over the claim's fields). When that score is at least the claim's, the post is
not flagged (:mod:`rules.labels`), and the evidence names the closest statement. A post that
debunks is also scored against the claim's debunk texts (debunk variants, true statements, the
debunk note's sentences), so "the video is from May 2024" finds the claim it debunks.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from rapidfuzz import fuzz

from rules.features import CALIBRATION_FEATURES, SHRINK_TERMS, Scorer
from rules.index import TextTable, binary_matrix
from rules.normalise import normalise_series
from rules.scoring import LabelModel


def counter_scores(scorer: Scorer, model: LabelModel, norm: list[str], pp: np.ndarray,
                   cc: np.ndarray) -> tuple[np.ndarray, list[str | None]]:
    """Per pair: the label model's logit of the post against the claim's counter-statements
    (-inf when the claim has none) and the closest statement as the curator wrote it. Logits,
    so two near-certain matches still compare."""
    return text_scores(scorer, model, norm, pp, cc, scorer.index.counters, logit=True)


def debunk_scores(scorer: Scorer, model: LabelModel, norm: list[str], pp: np.ndarray,
                  cc: np.ndarray) -> tuple[np.ndarray, list[str | None]]:
    """Per pair: the post's score against what a debunk of the claim may say instead of
    restating it (true statements, the debunk note's sentences), and the closest of them."""
    return text_scores(scorer, model, norm, pp, cc, scorer.index.debunk_texts)


def correction_scores(scorer: Scorer, model: LabelModel, norm: list[str], pp: np.ndarray,
                      cc: np.ndarray) -> tuple[np.ndarray, list[str | None]]:
    """Per pair: the label model's logit of the post against the claim's debunk variants (how a
    debunk puts it: "the crowd is in Brescia, not London"; -inf when the claim has none) and the
    closest variant. A post read as spreading or unsure that is as close to the true event as to
    the claim and closer still, by :data:`CORRECTION_MARGIN`, to a debunk variant corrects the
    claim without a verdict word ("Ye London nahi, Italy ka Brescia hai"): it debunks
    (:mod:`rules.match`)."""
    return text_scores(scorer, model, norm, pp, cc, scorer.index.debunk_variants, logit=True)


# a word the claim adds to the true event (claim_adds) overrules the closest true statement only
# when the post is within this logit of the claim: a news report far closer to "Grenell called for
# Khan's release" than to the claim keeps its true reading although it says "president-elect
# Donald Trump" (docs/matching.md)
ADDS_MARGIN = 1.0

# how much closer (label-model logit) to a debunk variant than to the claim a post must be to
# count as a correction; chosen on the train part with each claim held out (docs/matching.md)
CORRECTION_MARGIN = 1.0


def text_scores(scorer: Scorer, model: LabelModel, norm: list[str], pp: np.ndarray, cc: np.ndarray,
                cs: TextTable, logit: bool = False) -> tuple[np.ndarray, list[str | None]]:
    """Per pair: the label model's score (or ``logit``) of the post against the claim's texts in
    ``cs`` (each feature's best over the texts; -1, or -inf, when the claim has none) and the
    closest text."""
    ix = scorer.index
    score = np.full(len(pp), -np.inf if logit else -1.0)
    closest: list[str | None] = [None] * len(pp)
    if not len(cs) or not len(pp):
        return score, closest
    sel = np.flatnonzero(cs.has(cc))
    if not len(sel):
        return score, closest
    sp, sc = pp[sel], cc[sel]
    fields = scorer.field_pairs(sp, sc, start=cs.start)
    ff = fields["ff"].tolist()
    posts = scorer.post_texts(norm, fields, sort_tokens=False)
    sorted_posts = scorer.post_texts(norm, fields, sort_tokens=True)
    texts = [cs.text[f] for f in ff]
    per_field = {
        "tsr": scorer.cpdist(fuzz.token_set_ratio, posts, texts),
        "ratio": scorer.cpdist(fuzz.ratio, posts, texts),
        "partial": scorer.cpdist(fuzz.partial_ratio, texts, posts),
        "tsort": scorer.cpdist(fuzz.ratio, sorted_posts, [cs.sorted[f] for f in ff]),
    }
    # coverage, weighted as for the claim's fields; the post's total as the ranking features count it
    post_rows = {p: r for r, p in enumerate(sorted(set(sp.tolist())))}
    ext_ids, totals, n_terms = [], [], []
    for p in post_rows:
        terms = ix.tokens.terms(norm[p])
        known = {ix.tokens.vocab[t] for t in terms if t in ix.tokens.vocab}
        distinct = len(set(terms))
        totals.append(float(ix.idf[list(known)].sum()) + (distinct - len(known)) * ix.unknown_idf + 1e-9)
        n_terms.append(distinct)
        ext_ids.append(cs.post_ids(ix.tokens, norm[p]))
    rows = np.array([post_rows[p] for p in fields["fp"].tolist()], dtype=np.int64)
    qb = binary_matrix(ext_ids, cs.terms.shape[1])
    overlap = np.asarray(qb[rows].multiply(cs.terms[fields["ff"]]).sum(axis=1)).ravel()
    prior = SHRINK_TERMS * ix.typical_idf
    per_field["cov_claim_s"] = overlap / (cs.terms_total[fields["ff"]] + prior)
    per_field["cov_post_s"] = overlap / (np.asarray(totals)[rows] + prior)
    per_field["post_terms"] = np.log1p(np.asarray(n_terms, dtype=np.float64))[rows]

    pair_feats = {k: scorer.per_pair_max(fields, v) for k, v in per_field.items()}
    score[sel] = model.logit(pair_feats) if logit else model(pair_feats)
    field_score = model({k: per_field[k] for k in CALIBRATION_FEATURES})
    order = np.lexsort((-field_score, fields["pair"]))
    first = np.r_[True, fields["pair"][order][1:] != fields["pair"][order][:-1]]
    for pair, f in zip(fields["pair"][order][first].tolist(), fields["ff"][order][first].tolist()):
        closest[int(sel[pair])] = cs.raw[f]
    return score, closest


# light verbs and auxiliaries of Urdu and Roman Urdu (not in the index's stop words): they carry no
# content, so they never count as something a post adds to the true event
_LIGHT_RAW = (
    "diya di diye dena de deta deti dete liya li liye lena le leta gaya gayi gai gaye gae gye jana ja jata "
    "jati jate raha rahi rahe hua hui huye hue howa gya kiye kia karna karta karti karte karega karenge "
    "hoga hogi honge wala wali wale waly "
    "دیا دی دیے دینا دے دیتا لیا لی لیے لینا لے گیا گئی گئے گیے جانا جا جاتا جاتی جاتے رہا رہی رہے ہوا ہوئی ہوئے "
    "کیے کرنا کرتا کرتی کرتے کرے گا گی گے ہوگا ہوگی والا والی والے"
)
LIGHT_WORDS = frozenset(normalise_series(_LIGHT_RAW.split()).to_list()) - {""}


def claim_adds(index, norm_post: str, claim: int, statement: str | None) -> list[str]:
    """Words of the post found in the claim's own fields but in none of its true statements
    (nor in ``statement``, the closest one): what the post says that the claim adds to the true
    event ("a huge crowd" against "a small protest", "an Indian drone" against "a roadside
    fire"). Only words at least as rare across the catalogue as a typical claim word count, so
    "video" or "says" never do."""
    tok = index.tokens
    post = set(tok.terms(" ".join(w for w in norm_post.split() if w not in LIGHT_WORDS)))
    if not post:
        return []
    own, true = _claim_terms(index, claim)
    if statement:
        true = true | _statement_terms(index, claim, statement)
    floor = index.typical_idf
    out = []
    for t in sorted((post & own) - true):
        j = tok.vocab.get(t)
        if j is not None and j < len(index.idf) and index.idf[j] >= floor:
            out.append(t)
    return out


@lru_cache(maxsize=4096)
def _claim_terms(index, claim: int) -> tuple[frozenset[str], frozenset[str]]:
    """The terms of a claim's own fields and of its true statements (cached per index and claim)."""
    tok = index.tokens
    a, b = int(index.field_start[claim]), int(index.field_start[claim + 1])
    own = frozenset(tok.terms(" ".join(index.field_text[a:b])))
    cs = index.counters
    true = frozenset(t for f in cs.of(claim) for t in tok.terms(cs.text[f]))
    return own, true


@lru_cache(maxsize=4096)
def _statement_terms(index, claim: int, statement: str) -> frozenset[str]:
    """The terms of a true statement, with every alias of the claim's entity groups it names (the
    names the true event shares with the claim are not what the claim adds)."""
    norm = " ".join(normalise_series([statement]).to_list())
    guard = index.entities[claim]
    shared = " ".join(sorted(guard.named_words(norm))) if guard is not None else ""
    return frozenset(index.tokens.terms(norm + " " + shared))
