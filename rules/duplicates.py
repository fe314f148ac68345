"""Duplicate claims: claims whose matching representation is identical.

The representation is what the ranking features see: every field (text, title, each variant)
after :mod:`rules.normalise` with stop words removed. The first claim of a group in catalogue
order is its canonical claim. When a post has any member of a group among its candidates, every
member is scored (:meth:`DuplicateGroups.expand`); all take the group's best score, the first
keeps it and each later copy gets :data:`DUPLICATE_STEP` less per position, or less when another
claim of the post scores closer below, so a copy never passes a claim outside its group
(:meth:`DuplicateGroups.order`).
"""

from __future__ import annotations

from typing import Hashable, Sequence

import numpy as np

DUPLICATE_STEP = 1e-3  # a later copy of a duplicate claim scores this much less per position below the first


class DuplicateGroups:
    """Groups of claims (positions ``0..n-1``) with equal representations."""

    def __init__(self, representations: Sequence[Hashable]) -> None:
        n = len(representations)
        first: dict[Hashable, int] = {}
        members: dict[int, list[int]] = {}
        for i, key in enumerate(representations):
            head = first.setdefault(key, i)
            if head != i:
                members.setdefault(head, [head]).append(i)
        self.group = np.full(n, -1, dtype=np.int64)
        self.position = np.zeros(n, dtype=np.int64)
        self.members: list[np.ndarray] = []
        for g, ids in enumerate(members.values()):
            self.members.append(np.asarray(ids, dtype=np.int64))
            self.group[ids] = g
            self.position[ids] = np.arange(len(ids))

    def canonical(self, claim_ids: Sequence[str]) -> dict[str, str]:
        """``claim_id -> canonical claim_id`` for every claim that has a copy."""
        return {claim_ids[int(c)]: claim_ids[int(m[0])] for m in self.members for c in m}

    def expand(self, pp: np.ndarray, cc: np.ndarray, bm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Adds every copy of a candidate's duplicate group to the post's candidates (same BM25)."""
        if not self.members or len(pp) == 0:
            return pp, cc, bm
        m = self.group[cc] >= 0
        if not m.any():
            return pp, cc, bm
        have = set(zip(pp[m].tolist(), cc[m].tolist()))
        ep, ec, eb = [], [], []
        for p, c, b in zip(pp[m].tolist(), cc[m].tolist(), bm[m].tolist()):
            for o in self.members[self.group[c]].tolist():
                if (p, o) not in have:
                    have.add((p, o))
                    ep.append(p)
                    ec.append(o)
                    eb.append(b)
        if not ep:
            return pp, cc, bm
        return (np.concatenate([pp, np.asarray(ep, dtype=np.int64)]), np.concatenate([cc, np.asarray(ec, dtype=np.int64)]),
                np.concatenate([bm, np.asarray(eb, dtype=np.float64)]))

    def order(self, pp: np.ndarray, cc: np.ndarray, score: np.ndarray) -> np.ndarray:
        """Every copy in a duplicate group takes the group's best score for the post, less a step
        per position after the first in catalogue order: DUPLICATE_STEP, or less when another claim
        of the post scores closer below, so a copy never passes a claim outside its group."""
        if not self.members or len(pp) == 0:
            return score
        g = self.group[cc]
        m = g >= 0
        if not m.any():
            return score
        key = pp[m] * len(self.members) + g[m]
        uniq, inv = np.unique(key, return_inverse=True)
        best = np.full(len(uniq), -np.inf)
        np.maximum.at(best, inv, score[m])
        # rows of each post by falling score; for every (post, group): the first row below the
        # group's best score that is not a copy of the group (gap 0 when there is none)
        n = len(pp)
        order = np.lexsort((-score, pp))
        ps, ss, gs = pp[order], score[order], g[order]
        pos = np.empty(n, dtype=np.int64)
        pos[order] = np.arange(n)
        same_post = ps[1:] == ps[:-1]
        idx = np.arange(n)

        def run_end(cont: np.ndarray) -> np.ndarray:
            ends = np.flatnonzero(np.r_[~cont, True])
            return ends[np.searchsorted(ends, idx)]

        tie_end = run_end(same_post & (ss[1:] == ss[:-1]))
        group_end = run_end(same_post & (gs[1:] == gs[:-1]))
        post_end = run_end(same_post)
        rows_m = np.flatnonzero(m)
        at_best = score[m] == best[inv]
        rep = np.empty(len(uniq), dtype=np.int64)
        rep[inv[at_best]] = pos[rows_m[at_best]]
        grp = uniq % len(self.members)
        j = tie_end[rep] + 1
        hi = post_end[rep] + 1
        inside = j < hi
        jc = np.minimum(j, n - 1)
        j = np.where(inside & (gs[jc] == grp), group_end[jc] + 1, j)
        jc = np.minimum(j, n - 1)
        gap = np.where(j < hi, best - ss[jc], best)
        sizes = np.array([len(x) for x in self.members], dtype=np.float64)
        step = np.minimum(DUPLICATE_STEP, np.maximum(gap, 0.0) / sizes[grp])
        out = score.astype(np.float64, copy=True)
        out[m] = best[inv] - step[inv] * self.position[cc[m]]
        return out
