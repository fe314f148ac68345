"""Language detection (connectors.lang): py3langid plus the Roman Urdu rule, on labelled posts and
on every real payload in ../shared/data/payloads."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest

from connectors import lang
from connectors.errors import ParseError
from connectors.schema import posts_frame
from tests.connectors.support import payloads_dir

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("text", "code"), [
    ("Trump ne khud kaha hai ke Imran Khan mera dost hai aur main usay jail se nikalunga", "roman-ur"),
    ("Amreeki sadar Trump: main Imran Khan ko jaldi jail se bahar laaunga. Pinned comment mein full video", "roman-ur"),
    ("ٹرمپ نے عمران خان کی رہائی کا وعدہ کیا", "ur"),
    ("The video of Trump promising to free Imran Khan was edited, fact-checkers say", "en"),
    ("Die Regierung hat am Montag ein neues Gesetz beschlossen, das mein Leben ändert", "de"),
    ("El video de Trump sobre Imran Khan fue editado según los verificadores", "es"),
])
def test_detect_names_the_language_and_roman_urdu(text, code):
    assert lang.detect(text) == (code, None)


@pytest.mark.parametrize("text", ["", None, "🔥🔥🔥", "https://t.co/x", "ok lol"])
def test_too_little_text_is_left_empty_with_a_reason(text):
    assert lang.detect(text) == (None, f"fewer than {lang.MIN_LETTERS} letters of text")


def test_fill_lang_keeps_the_platforms_language_and_fills_the_rest():
    from connectors.schema import make_post

    rows = [make_post("reddit", "t3_a", text="Trump ne kaha hai ke Imran Khan ko rihai milegi aur yeh sach hai"),
            make_post("bluesky", "at://x/1", text="This is written in English, says the platform", lang="ur"),
            make_post("telegram", "ch/1", text="🔥")]
    out = lang.fill_lang(posts_frame(rows))
    assert out["lang"].to_list() == ["roman-ur", "ur", None]


def test_labelled_posts_get_their_labelled_language():
    path = ROOT / "tests" / "rules" / "data" / "labelled_posts.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r.get("lang")]
    pairs = collections.Counter((r["lang"], lang.detect(lang.post_text(r.get("title"), r.get("text"), None))[0])
                                for r in rows)
    right = sum(n for (want, got), n in pairs.items() if want == got)
    print(f"labelled posts: {right}/{len(rows)} detected as labelled; {dict(pairs)}")
    assert right >= 0.97 * len(rows)


def _payload_rows(root: Path):
    """(file, rows) for every real social payload a connector reads. The 43 feeds and 39 article
    pages are checked the same way where their tests already parse them (test_rss, test_article)."""
    from connectors import bluesky, captions, mastodon, reddit, telegram, youtube

    readers = [
        ("mastodon/**/*.json", mastodon.parse), ("bluesky/*.json", bluesky.parse), ("reddit/*.json", reddit.parse),
        ("youtube/videos/*.json", youtube.parse_api), ("youtube/search/*.json", youtube.parse_api),
        ("youtube/*.xml", youtube.parse_feed), ("telegram/*.html", telegram.parse), ("captions/*", captions.parse),
    ]
    for pattern, parse in readers:
        for f in sorted(root.glob(pattern)):
            try:
                rows = parse(f.read_bytes(), url=None) if parse is not captions.parse else parse(f.read_bytes(), name=f.name)
            except ParseError:
                continue  # error answers, records that are not posts, broken caption files
            if rows:
                yield f, rows


def test_every_real_payload_with_text_gets_a_language_or_a_reason():
    root = payloads_dir()
    seen = collections.Counter()
    for f, rows in _payload_rows(root):
        frame = lang.fill_lang(posts_frame(rows))
        for row in frame.iter_rows(named=True):
            platform = row["platform"]
            text = lang.post_text(row["title"], row["text"], row["transcript"])
            given = next((r["lang"] for r in rows if r["post_id"] == row["post_id"]), None)
            if row["lang"]:
                seen[(platform, "given" if given else "detected")] += 1
                continue
            reason = lang.detect(text)[1]
            assert reason, f"{f.relative_to(root)}: {row['post_id']} has text but no lang"
            seen[(platform, "empty: " + reason)] += 1
    print("lang over the real payloads:", dict(sorted(seen.items())))
    for platform in ("reddit", "telegram", "youtube"):
        assert seen[(platform, "detected")] > 0
