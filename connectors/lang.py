"""Language of a post when the platform gives none: py3langid's bundled model, plus a Roman Urdu
rule the model cannot apply (it has no Roman Urdu class and calls such text Hausa, Swahili or
English).

Codes are ISO 639-1 as the platforms write them (``en``, ``ur``, ``ar``...), and
:data:`ROMAN_URDU` = ``"roman-ur"`` for Urdu written in Latin letters ("Trump ne kaha hai ke
Imran Khan ..."), the spelling the labelled posts in ``tests/rules/data`` use. Hindi written in
Latin letters shares those words and lands there too.

``lang`` is left empty, on purpose, when a post has fewer than :data:`MIN_LETTERS` letters of
text (title, text and transcript together: a bare link, an emoji, a sticker, a poll without a
question) because no detector is right on so little. :func:`detect` says why in its second value.

The model (4.5 MB, LZMA) loads on first use, about 1-3 s once per process; classifying a post
then takes about a quarter of a millisecond.
"""

from __future__ import annotations

import re
import threading
from typing import Iterable

import polars as pl

ROMAN_URDU = "roman-ur"
MIN_LETTERS = 12

# frequent Roman Urdu function words and verbs that English (and the other Latin-script
# languages the desk sees) do not use as words; "main", "me", "to", "the" are left out on purpose
_ROMAN_URDU_WORDS = frozenset("""
hai hain tha thi thay thee ka ki ke ko se ne nahi nahin nai kya kyun kyon kyunke aur ye yeh wo woh
ho hoga hogi hua hui huay kar karo karna karte kartay karta kiya kiye diya dia gaya gya gayi raha
rahe rahi rha hum tum aap ap apna apni apne bhi sirf lekin magar abhi phir jo jab tab kuch koi
bohat bohot bahut wala wali walay wale mera meri mere tera teri unka unki uska uski iska iski yahan
wahan kahan kaha kehna bola bolo dekho dekhain dekhtay hoon hun jaye jayega sakta sakte chahiye
mein gyi hongi hoga jaldi bahar andar sath saath liye liya wapas
""".split())
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_LATIN = re.compile(r"[A-Za-z]")

_lock = threading.Lock()
_identifier = None


def _model():
    global _identifier
    with _lock:
        if _identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            _identifier = LanguageIdentifier.from_model_file(MODEL_FILE)
        return _identifier


def roman_urdu(text: str) -> bool:
    """True when Latin-script ``text`` reads as Roman Urdu: at least two different Roman Urdu
    words, making up at least 15% of its words."""
    words = [w.lower() for w in _WORD.findall(text) if _LATIN.match(w)]
    if len(words) < 3:
        return False
    hits = [w for w in words if w in _ROMAN_URDU_WORDS]
    return len(set(hits)) >= 2 and len(hits) >= 0.15 * len(words)


def detect(text: str | None) -> tuple[str | None, str | None]:
    """``(code, None)`` or ``(None, reason)`` for leaving ``lang`` empty."""
    text = " ".join((text or "").split())
    letters = sum(1 for ch in text if ch.isalpha())
    if letters < MIN_LETTERS:
        return None, f"fewer than {MIN_LETTERS} letters of text"
    latin = len(_LATIN.findall(text))
    if latin >= letters / 2 and roman_urdu(text):
        return ROMAN_URDU, None
    code, _ = _model().classify(text)
    return code, None


def post_text(title: str | None, text: str | None, transcript: str | None) -> str:
    return "\n".join(p for p in (title, text, (transcript or "")[:2000]) if p)


def detect_many(texts: Iterable[str | None]) -> list[str | None]:
    return [detect(t)[0] for t in texts]


def fill_lang(posts: pl.DataFrame) -> pl.DataFrame:
    """``posts`` with ``lang`` detected where it is empty (title, text and the start of the
    transcript read together); a language the platform gave is kept."""
    if posts.is_empty() or "lang" not in posts.columns:
        return posts
    missing = posts["lang"].is_null() | (posts["lang"].str.strip_chars() == "")
    if not missing.any():
        return posts
    cols = [c for c in ("title", "text", "transcript") if c in posts.columns]
    rows = posts.select(cols).to_dicts()
    detected = [detect(post_text(r.get("title"), r.get("text"), r.get("transcript")))[0] if m else None
                for r, m in zip(rows, missing.to_list())]
    return posts.with_columns(
        pl.when(missing).then(pl.Series("lang", detected, dtype=pl.String)).otherwise(pl.col("lang")).alias("lang"))
