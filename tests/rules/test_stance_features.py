"""The stance model's n-gram features, counted for a whole batch at once, equal the plain
per-text definition (char_wb n-grams, and words and word pairs; sublinear TF-IDF, rows of unit
length) on varied text."""

import math
import pickle

import numpy as np
import pytest
from scipy import sparse

from rules.normalise import normalise_series
from rules.stance_model import char_ngrams, default_model, word_ngrams

TEXTS = [
    "BREAKING: Trump promises to get Imran Khan out of jail, share before it's deleted!",
    "یہ ویڈیو جعلی ہے، ٹرمپ نے عمران خان کی رہائی کا کوئی وعدہ نہیں کیا",
    "Faisal Masjid pe koi drone hamla nahi hua, ye video May 2024 ki hai",
    "Trump wali video AI se bani hai 🔥🔥😂 #FreeImranKhan @PTIofficial",
    "kya ye video sach hai? Faisal Masjid pe sach mein hamla hua? ؟",
    "", "   ", "🔥🔥🔥", None, "a", "aa aa aa aa", "x y z", "zzzzqqqxxjj", "12 345 6789",
    "London mein PTI ka jalsa, لندن میں بڑا احتجاج, huge crowd outside Downing Street",
    " ".join(["khan trump release video court hearing"] * 30),
    "x" * 3000 + " short words " + "ب" * 70, "a" * 64 + " " + "a" * 65,
]


def per_text(model, norm, grams=char_ngrams, vocabulary=None, idf=None):
    """The definition, one text and one n-gram at a time (``grams`` of each text looked up in
    ``vocabulary`` and weighted by ``idf``: the character n-grams by default)."""
    vocabulary = model.vocabulary if vocabulary is None else vocabulary
    idf = model.idf if idf is None else idf
    rows, cols, vals = [], [], []
    for r, text in enumerate(norm):
        counts = {}
        for g in grams(text):
            j = vocabulary.get(g)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        if not counts:
            continue
        idx = np.array(list(counts), dtype=np.int64)
        w = (1.0 + np.log(np.array(list(counts.values()), dtype=np.float64))) * idf[idx]
        w /= math.sqrt(float(w @ w))
        rows += [r] * len(idx)
        cols += idx.tolist()
        vals += w.tolist()
    return sparse.csr_matrix((vals, (rows, cols)), shape=(len(norm), len(idf))).toarray()


@pytest.mark.parametrize("texts", [TEXTS, TEXTS[::-1], TEXTS[5:9], [""], []])
def test_batch_features_equal_the_per_text_definition(texts):
    model = default_model()
    norm = normalise_series(texts).to_list() if texts else []
    got = model.gram_features(norm).toarray()
    assert got.shape == (len(norm), len(model.idf))
    np.testing.assert_allclose(got, per_text(model, norm), rtol=0, atol=1e-12)
    # unit rows, or empty for a text without a known n-gram
    n = np.linalg.norm(got, axis=1)
    assert np.all((np.abs(n - 1) < 1e-9) | (n == 0))
    assert n.tolist().count(0) == sum(1 for t in norm if not any(g in model.vocabulary for g in char_ngrams(t)))


@pytest.mark.parametrize("texts", [TEXTS, TEXTS[::-1], TEXTS[5:9], [""], []])
def test_word_and_word_pair_features_equal_the_per_text_definition(texts):
    model = default_model()
    norm = normalise_series(texts).to_list() if texts else []
    got = model.word_features(norm).toarray()
    assert got.shape == (len(norm), len(model.word_idf))
    want = per_text(model, norm, word_ngrams, model.word_vocabulary, model.word_idf)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert word_ngrams("koi aag nahi") == ["koi", "aag", "nahi", "koi aag", "aag nahi"]
    if texts is TEXTS:  # the varied texts do reach the word vocabulary, pairs included
        pairs = [j for g, j in model.word_vocabulary.items() if " " in g]
        assert got[:, pairs].any() and got.any(axis=1).sum() >= 5


def test_the_same_text_gives_the_same_row_in_any_batch_and_the_cache_is_not_pickled():
    model = default_model()
    norm = normalise_series(TEXTS).to_list()
    alone = [model.gram_features([t]).toarray()[0] for t in norm]
    together = model.gram_features(norm).toarray()
    np.testing.assert_allclose(together, np.array(alone), rtol=0, atol=1e-12)
    assert model._word_cache  # filled by the calls above
    copy = pickle.loads(pickle.dumps(model))
    assert copy._word_cache == {}
    np.testing.assert_array_equal(copy.gram_features(norm).toarray(), together)
    assert copy.predict(norm, TEXTS) == model.predict(norm, TEXTS)



def test_the_stance_of_posts_with_and_without_transcripts_reuses_the_matched_text_alike():
    import polars as pl

    from rules.post_stance import post_cues
    from rules.posts import prepare

    n = len(TEXTS)
    posts = pl.DataFrame({
        "post_id": [str(i) for i in range(n)],
        "title": [None if i % 3 else "Breaking — Imran Khan (@PTI)" for i in range(n)],
        "text": TEXTS,
        "transcript": [None if i % 2 else ("" if i % 4 == 0 else "yeh video jaali hai, AI se bani hai") for i in range(n)],
    }, schema={"post_id": pl.String, "title": pl.String, "text": pl.String, "transcript": pl.String})
    none = posts.with_columns(pl.lit(None, dtype=pl.String).alias("transcript"))
    for frame in (posts, none):
        for model in (default_model(), None):
            batch = prepare(frame, model=model)
            # the stance text (title and text) normalised on its own
            alone = post_cues(frame.select("title", "text", "transcript"), frame.get_column("text"), model)
            assert (batch.stance, batch.hedge, batch.lead_stance) == alone
