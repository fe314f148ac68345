"""The posts' 4-gram counts, counted for a whole batch at once, are the per-text counts entry
for entry (same ids, same order, same counts), on varied text, cold and warm caches."""

from pathlib import Path

import numpy as np

from rules.catalogue import load_catalogue
from rules.index import ClaimIndex
from rules.normalise import normalise_series

ROOT = Path(__file__).resolve().parents[2]
POSTS = [
    "Trump promises to get Imran Khan out of jail, share before it is deleted",
    "یہ ویڈیو جعلی ہے، ٹرمپ نے عمران خان کی رہائی کا کوئی وعدہ نہیں کیا",
    "Faisal Masjid pe koi drone hamla nahi hua, ye video May 2024 ki hai 🔥😂",
    "", "the of and the", "x", "khan khan khan trump trump", "zzqqxx unknownword " * 40, "y" * 25000,
]


def test_batch_counts_equal_the_per_text_counts():
    claims = list(load_catalogue(ROOT / "rules" / "claims"))
    norm = [t[:20000] for t in normalise_series(POSTS).to_list()]
    for batch in (norm, norm[::-1], norm[3:5], [""], []):
        cold, warm = ClaimIndex(claims, "v"), ClaimIndex(claims, "v")
        warm.gram_counts(norm)
        for ix in (cold, warm):
            got, want = ix.batch_gram_counts(batch), ix.gram_counts(batch)
            assert got.shape == want.shape
            for a in ("indptr", "indices", "data"):
                np.testing.assert_array_equal(getattr(got, a), getattr(want, a))
