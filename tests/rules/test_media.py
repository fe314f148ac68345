"""Known media by their pictures: the band index, the two-way frame rule, the catalogue's
fingerprint items and media evidence in matches."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from rules.catalogue import Catalogue, CatalogueError, _claim_from_mapping, add_known_media, load_catalogue
from rules.config import MatchConfig
from rules.match import MEDIA_MATCHES_SCHEMA, Matcher
from rules.media import HashIndex, KnownCopy, KnownMedia, MediaRule, _popcount_rows, known_media_from_claims

rng = np.random.default_rng(3)


def rand_hex(n: int = 1) -> list[str]:
    return [rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex() for _ in range(n)]


def flip(h: str, bits: int) -> str:
    v = int(h, 16)
    for b in rng.choice(256, bits, replace=False):
        v ^= 1 << int(b)
    return f"{v:064x}"


def test_the_band_index_finds_exactly_what_a_full_scan_finds():
    stored = rng.integers(0, 256, (20_000, 32), dtype=np.uint8)
    queries = stored[:40].copy()
    for q in queries[:30]:
        for b in rng.choice(256, int(rng.integers(0, 40)), replace=False):
            q[b // 8] ^= 1 << (7 - b % 8)
    index = HashIndex(stored, 256)
    for d in (8, 31, 40):
        qi, ei, dist = index.search(queries, d)
        full = {(i, int(e)) for i, q in enumerate(queries) for e in np.nonzero(_popcount_rows(stored ^ q) <= d)[0]}
        assert set(zip(qi.tolist(), ei.tolist())) == full
        assert (dist <= d).all()


def media_frame(post: str, hashes: list[str], quality: int = 90) -> pl.DataFrame:
    return pl.DataFrame({"post_id": [post], "media_url": [f"https://x.example/{post}"], "algorithm": ["pdq"],
                         "hashes": [hashes], "frame_times": [[float(i) for i in range(len(hashes))]],
                         "quality": [[quality] * len(hashes)], "status": ["ok"]})


KNOWN = rand_hex(20)  # a 20-second known clip, one frame a second


def known(rule=MediaRule()) -> KnownMedia:
    return KnownMedia([KnownCopy(0, 1, "pdq", "video", tuple(KNOWN), tuple(float(i) for i in range(20)),
                                 (90,) * 20)], ["clip"], rule)


def test_a_thumbnail_matches_when_it_is_close_to_one_frame_of_the_clip():
    got = known().match(media_frame("thumb", [flip(KNOWN[7], 20)]))
    assert got.row(0, named=True)["evidence"] == "1 of 1 frame match known copy 1 (distance <= 20)"
    assert known().match(media_frame("far", [flip(KNOWN[7], 45)])).is_empty()


def test_a_video_must_match_in_both_directions():
    trimmed = [flip(h, 10) for h in KNOWN[5:]]  # the first 5 s cut: 15 of 15 frames, 75% of the clip
    row = known().match(media_frame("trim", trimmed)).row(0, named=True)
    assert row["evidence"].startswith("15 of 15 frames match known copy 1") and row["score_media"] == 100.0
    one_shared = rand_hex(9) + [KNOWN[3]]  # one frame in common (a logo card) is not the same video
    assert known().match(media_frame("other", one_shared)).is_empty()
    excerpt = [flip(h, 5) for h in KNOWN[:4]]  # 4 s of a 20 s clip: under known_share 0.3
    assert known().match(media_frame("short", excerpt)).is_empty()
    assert not known(MediaRule(known_share=0.2)).match(media_frame("short", excerpt)).is_empty()


def test_flat_frames_take_no_part():
    assert known().match(media_frame("flat", [KNOWN[2]], quality=10)).is_empty()


# --- catalogue ---------------------------------------------------------------------------------------

BASE = {"claim_id": "c", "text": "a claim", "verdict": "false", "fact_checks": [{"url": "https://f.example/1"}]}


def claim_with(item) -> None:
    _claim_from_mapping({**BASE, "known_media": ["youtube:dQw4w9WgXcQ", item]}, "c.yaml", strict_id=True,
                        strict_fields=True, default_status="active")


def test_fingerprint_items_load_beside_urls():
    claim = _claim_from_mapping({**BASE, "known_media": ["youtube:dQw4w9WgXcQ", {
        "algorithm": "pdq", "kind": "video", "hashes": KNOWN[:3], "frame_times": [0, 1, 2], "source": "clip.mp4"}]},
        "c.yaml", strict_id=True, strict_fields=True, default_status="active")
    assert claim.known_media == ("youtube:dQw4w9WgXcQ",)
    assert claim.fingerprints[0].hashes == tuple(KNOWN[:3]) and claim.fingerprints[0].quality == (100, 100, 100)


@pytest.mark.parametrize("item, message", [
    ({"algorithm": "pdq", "kind": "image", "hashes": ["abc"]},
     "c.yaml: claim 'c': field 'known_media': item 2: hash 1 'abc' is malformed (3 characters); a pdq hash is 64 hex digits"),
    ({"algorithm": "phash", "kind": "image", "hashes": [KNOWN[0]]},
     "field 'known_media': item 2: hash 1 "),
    ({"algorithm": "pdq", "kind": "image", "hashes": ["z" * 64]}, "is malformed (64 characters)"),
    ({"algorithm": "md5", "kind": "image", "hashes": [KNOWN[0]]}, "algorithm must be one of pdq, phash"),
    ({"algorithm": "pdq", "kind": "video", "hashes": KNOWN[:2], "frame_times": [0]}, "frame_times must be one number"),
    ({"algorithm": "pdq", "kind": "image", "hashes": [KNOWN[0]], "colour": 1}, "unknown key 'colour'"),
])
def test_malformed_fingerprints_are_refused_in_one_line(item, message):
    with pytest.raises(CatalogueError) as err:
        claim_with(item)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_add_known_media_rewrites_only_the_known_media_block(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("# a comment that stays\nclaim_id: c\ntext: a claim\nverdict: \"false\"\nknown_media: []\n"
                 "fact_checks:\n  - url: https://f.example/1  # stays too\n", encoding="utf-8")
    add_known_media(f, "c", ["youtube:dQw4w9WgXcQ", {"algorithm": "pdq", "kind": "image", "hashes": KNOWN[:1]}])
    text = f.read_text()
    assert text.startswith("# a comment that stays\n") and "# stays too" in text
    cat = load_catalogue(f)
    assert cat.get("c").known_media == ("youtube:dQw4w9WgXcQ",) and len(cat.get("c").fingerprints) == 1
    with pytest.raises(CatalogueError, match="field 'known_media': item 3: hash 1"):
        add_known_media(f, "c", [{"algorithm": "pdq", "kind": "image", "hashes": ["00"]}])
    assert load_catalogue(f).get("c").fingerprints  # the bad write left the file as it was


# --- matching ----------------------------------------------------------------------------------------

CLAIM = {"claim_id": "release-clip", "text": "Trump promises to get Imran Khan out of jail",
         "verdict": "altered", "required_entities": [["trump"], ["imran khan"]], "fact_checks": [{"url": "https://f.example/1"}],
         "known_media": [{"algorithm": "pdq", "kind": "video", "hashes": KNOWN, "frame_times": list(range(20))}]}


def test_media_evidence_alone_flags_a_neutral_post_and_a_debunk_stays_a_debunk():
    cat = Catalogue([_claim_from_mapping(CLAIM, "x.yaml", strict_id=True, strict_fields=True, default_status="active")])
    m = Matcher(cat, MatchConfig())
    posts = pl.DataFrame({"post_id": ["neutral", "debunk", "plain"],
                          "title": ["must watch 😱", "FACT CHECK: this Trump clip is fake and edited", "must watch"],
                          "text": ["ویڈیو دیکھیں", "The video is doctored; the audio was dubbed.", "nothing"]})
    media = pl.concat([media_frame("neutral", [flip(KNOWN[4], 12)]), media_frame("debunk", [flip(KNOWN[9], 8)])])
    evidence = known_media_from_claims(cat.claims, MediaRule.from_config(MatchConfig())).match(media)
    assert evidence.columns[:4] == list(MEDIA_MATCHES_SCHEMA)  # the matcher's seam for outside media evidence
    rows = {r["post_id"]: r for r in m.match(posts, media=evidence).iter_rows(named=True)}
    assert rows["neutral"]["label"] == "likely_misinformation" and rows["neutral"]["score_media"] == 100.0
    assert rows["neutral"]["evidence"].startswith("1 of 1 frame match known copy 1 (distance <= 12)")
    assert rows["debunk"]["label"] == "debunk"
    assert "plain" not in rows
    assert m.match(posts).filter(pl.col("label") == "likely_misinformation").is_empty()  # words alone: nothing


def test_the_catalogue_accepts_exactly_the_regions_fingerprints_are_made_of():
    """rules/ validates known_media without importing connectors/: its list of regions must be the
    fingerprints' own, or add-media would write copies the catalogue then refuses."""
    from connectors.fingerprint import REGIONS
    from rules.catalogue import FINGERPRINT_REGIONS

    assert sorted(FINGERPRINT_REGIONS) == sorted(REGIONS)
