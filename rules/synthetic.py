"""Deterministic synthetic catalogues for benchmarks and scale tests (not for production)."""

from __future__ import annotations

import numpy as np

from rules.catalogue import Catalogue, Claim


def synthetic_catalogue(base: Catalogue, n: int, seed: int = 7) -> Catalogue:
    """``n`` claims made by recombining the words of ``base`` claims: each synthetic claim takes the
    first half of one real claim's words and the second half of another's (and so for titles)."""
    texts = [c.text.split() for c in base] or [["empty"]]
    titles = [(c.title or c.text).split() for c in base] or [["empty"]]
    rng = np.random.default_rng(seed)
    a = rng.integers(0, len(texts), n)
    b = rng.integers(0, len(texts), n)
    claims = []
    for i in range(n):
        ta, tb = texts[a[i]], texts[b[i]]
        text = " ".join(ta[: max(1, len(ta) // 2)] + tb[len(tb) // 2:])
        ha, hb = titles[b[i]], titles[a[i]]
        title = " ".join(ha[: max(1, len(ha) // 2)] + hb[len(hb) // 2:])
        claims.append(Claim(claim_id=f"syn-{i}", text=text, title=title, status="imported"))
    return Catalogue(claims)
