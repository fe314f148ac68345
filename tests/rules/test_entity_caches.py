"""The entity guards' per-word caches change no answer: a guard that has seen many posts
answers each post as a fresh guard does, and so does a pickled one (the claim index cache)."""

import pickle
from pathlib import Path

from rules.catalogue import load_catalogue
from rules.entities import EntityGuard
from rules.normalise import normalise_series

ROOT = Path(__file__).resolve().parents[2]

POSTS = [
    "Trump promises to get Imran Khan out of Adiala jail, share before it is deleted",
    "Sadiq Khan hits back after Trump calls him a terrible mayor",
    "khan sahab ki rihai ka waqt aa gaya, PTI workers ready",
    "#FreeImranKhan #dgispr londn mein bara jalsa, I.S.P.R ne kaha",
    "عمران خان کی رہائی کا وعدہ، ٹرمپ نے کہا",
    "trmp ne kaha imrankhan mera dost hai", "muneer israil wafat intekal hopsital",
    "", "khan", "imran imran imran khan khan", "Melania Trump and Bani Israil",
]


def test_a_guard_with_warm_caches_answers_as_a_fresh_one():
    groups = [c.entity_groups for c in load_catalogue(ROOT / "rules" / "claims") if c.required_entities]
    assert groups
    norm = normalise_series(POSTS * 2).to_list()
    for g in groups:
        warm = EntityGuard(g)
        seen = [warm.check(t) for t in norm]
        fresh = [EntityGuard(g).check(t) for t in norm]
        assert seen == fresh
        copy = pickle.loads(pickle.dumps(warm))
        assert all(not p._starts and not p._may for grp in copy.groups for p in grp)
        assert [copy.check(t) for t in norm] == fresh
    assert any(EntityGuard(g).check(t)[0] for g in groups for t in norm)
    assert any(EntityGuard(g).check(t)[1] for g in groups for t in norm)  # a spelling matched by similarity
