"""The verdict scale: what a fact-checker's rating means for flagging.

Publishers rate claims in their own words ("Pants on Fire!", "Fake (dubbed-over 2017 clip)",
"Mostly False", "Missing context", "Labeled Satire", "Four Pinocchios", "غلط", "भ्रामक"...).
Every claim's ``verdict`` is one term of this scale:

================== =========================================================== =================
verdict            meaning                                                     matches can be
================== =========================================================== =================
``false``          the claim is false, fabricated, a hoax or a scam            flagged
``altered``        the media was edited, doctored, dubbed or generated          flagged
``misleading``     mostly or partly false, distorted, exaggerated              flagged
``missing-context`` real material presented out of context: old footage shared flagged
                   as new, another place, a misattributed quote
``mixture``        part true, part false ("Half True", "Two Pinocchios")       needs_review only
``unproven``       not enough evidence either way ("Unverified", "No evidence") needs_review only
``satire``         satire or parody taken literally                            needs_review only
``mostly-true``    accurate in substance                                       never flagged
``true``           accurate ("True", "Correct", "Geppetto Checkmark")          never flagged
================== =========================================================== =================

Only a claim whose verdict is in :data:`FLAGGABLE` (and whose status is ``active``) can make a
post ``likely_misinformation``; a claim with a :data:`REVIEW_ONLY` verdict or none gives at most
``needs_review``; a post that states a claim rated :data:`TRUE_VERDICTS` is ``no_flag``, and
``claimwatch claims approve`` refuses such a claim.

:func:`verdict_from_rating` reads a publisher's rating text (English, Urdu, Hindi and a few
other languages; qualifiers in brackets count, so "False (audio replaced)" is ``altered``) and
falls back to the numeric ``ratingValue`` against ``bestRating``/``worstRating``. Connectors keep
the publisher's own words; the flows call this to fill ``verdict``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from rules.normalise import normalise

SCALE = ("false", "altered", "misleading", "missing-context", "mixture", "unproven", "satire", "mostly-true", "true")
FLAGGABLE = frozenset({"false", "altered", "misleading", "missing-context"})
REVIEW_ONLY = frozenset({"mixture", "unproven", "satire"})
TRUE_VERDICTS = frozenset({"mostly-true", "true"})

MEANING = {
    "false": "false or fabricated",
    "altered": "edited, doctored or generated media",
    "misleading": "mostly or partly false",
    "missing-context": "real material out of context",
    "mixture": "part true, part false",
    "unproven": "not enough evidence either way",
    "satire": "satire or parody",
    "mostly-true": "mostly true",
    "true": "true",
}


def _clean(rating: str) -> str:
    text = unicodedata.normalize("NFKC", rating).replace("\u093c", "")  # Hindi nukta
    return normalise(text.replace("_", " "))


def _words(*alternatives: str) -> re.Pattern[str]:
    """Whole-word alternatives; plain phrases are normalised like the ratings they meet."""
    alts = [a if re.search(r"[\\?*\[\]]", a) else re.escape(_clean(a)) for a in alternatives]
    return re.compile(r"(?<!\S)(?:" + "|".join(a for a in alts if a) + r")(?!\S)")


# Checked in this order on the normalised rating (lower case, punctuation removed, Roman Urdu
# spellings folded, Hindi nukta dropped); the first that matches wins. Order matters: "mostly
# false" before "false", "half true" / "mostly true" before "true", negated truths before "true",
# manipulation before "false" (so "Fake (dubbed-over clip)" is altered).
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("satire", _words(r"satir\w*", r"parod\w*", r"labeled satire", r"originated as satire", "sarcasm", "humou?r",
                      "joke", "sátira", "satira", "طنز", "طنزیہ", "व्यंग्य", "व्यंग")),
    ("mixture", _words("mixture", "mixed", r"half ?true", "half truth", "partly true", "partially true",
                       "partly correct", "partially correct", "two pinocchios", r"medio verdadero", "à moitié vrai",
                       "جزوی طور پر درست", "جزوی طور پر سچ", "ادھورا سچ", "आधा सच", "अधूरा सच", "आंशिक रूप से सच",
                       "आंशिक रूप से सही")),
    ("mostly-true", _words("mostly true", "mostly correct", "mostly accurate", "largely true", "largely accurate",
                           "one pinocchio", "زیادہ تر درست", "زیادہ تر سچ", "ज्यादातर सच", "ज़्यादातर सच",
                           "अधिकतर सच")),
    ("misleading", _words("mostly false", "largely false", "mostly incorrect", "partly false", "partially false",
                          "partly incorrect", r"mislead\w*", "three pinocchios", r"exaggerat\w*", r"distort\w*",
                          r"cherry ?pick\w*", "spin", r"overstat\w*", "engañoso", "enganoso", "trompeur",
                          "irreführend", "fuorviante", "زیادہ تر غلط", "گمراہ کن", "ज्यादातर गलत", "ज़्यादातर गलत",
                          "भ्रामक", "गुमराह करने वाला", "गुमराह")),
    ("altered", _words(r"altered", r"doctored", r"manipulat\w*", "edited", r"photo ?shopped", r"deep ?fakes?",
                       "digitally", r"spliced", r"morphed", r"dubbed", "dubbed over", "voice over",
                       "audio replaced", "voice replaced", "audio swapped", "ai generated", "generated by ai",
                       "synthetic media", r"retouch\w*", "trucado", "trucada", "adulterado", "montage",
                       "photo montage", "bearbeitet", "ایڈٹ", "ایڈٹ شدہ", "ترمیم شدہ", "ڈب", "ڈب شدہ",
                       "एडिटेड", "संपादित", "छेड़छाड़", "छेडछाड", "डब", "फोटोशॉप")),
    ("missing-context", _words("missing context", "lacks context", "needs context", "lack of context",
                               "out of context", "without context", "decontextuali[sz]ed", "miscaptioned",
                               "misattributed", "misattribution", "wrong attribution", "misrepresented",
                               "outdated", "old video", "old photo", "old image", "old footage", "old clip",
                               "republished", "recycled", "sacado de contexto", "hors contexte", "fora de contexto",
                               "سیاق و سباق", "سیاق و سباق سے ہٹ کر", "پرانی ویڈیو", "پرانی تصویر", "پرانا کلپ",
                               "संदर्भ से बाहर", "संदर्भ से हटकर", "पुराना वीडियो", "पुरानी तस्वीर", "पुरानी फोटो")),
    ("unproven", _words("unproven", "unverified", "unverifiable", "unsupported", "unsubstantiated", "no evidence",
                        "not proven", "unclear", "research in progress", "inconclusive", "legend", "lost legend",
                        "sin evidencia", "non prouvé", "unbelegt", "غیر مصدقہ", "غیر تصدیق شدہ", "ناقابل تصدیق",
                        "अपुष्ट", "असत्यापित")),
    ("false", _words("false", "falsely", "fake", "fakes", "hoax", "pants on fire", r"fabricat\w*", "incorrect",
                     "inaccurate", "wrong", "untrue", "not true", "not correct", "not accurate", "bogus", "scam",
                     "four pinocchios", "bottomless pinocchio", "debunked", "baseless", "falso", "falsa", "faux",
                     "falsch", "غلط", "جعلی", "jaali", "جھوٹ", "جھوٹا", "جھوٹی", "jhoot", "من گھڑت", "بے بنیاد",
                     "نادرست", "گمراہ", "झूठ", "झूठा", "झूठी", "फर्जी", "फेक", "गलत", "असत्य", "बेबुनियाद",
                     "मनगढ़ंत", "मनगढंत")),
    ("true", _words("true", "correct", "accurate", "legit", "correct attribution", "geppetto checkmark",
                    "verdadero", "verdadeiro", "vrai", "wahr", "vero", "درست", "صحیح", "سچ", "sach", "sahi",
                    "सच", "सही", "सत्य")),
]


def verdict_from_rating(rating: str | None, value: Any = None, best: Any = None, worst: Any = None) -> str | None:
    """The :data:`SCALE` term of a publisher's rating, or ``None`` when it is not recognised.

    ``rating`` is the rating's text (ClaimReview ``reviewRating.alternateName``, or ``name``); a
    scale term itself is returned as it is. Without a recognised text, the numeric
    ``ratingValue`` is placed on ``worstRating``..``bestRating`` (default 1..5): the worst is
    ``false``, up to a third of the way ``misleading``, up to two thirds ``mixture``, below the
    best ``mostly-true``, the best ``true``."""
    if isinstance(rating, str) and rating.strip():
        raw = rating.strip().lower()
        if raw in SCALE:
            return raw
        low = _clean(rating)
        for verdict, pattern in _PATTERNS:
            if pattern.search(low):
                return verdict
    try:
        v = float(value)
        b = float(best if best is not None else 5)
        w = float(worst if worst is not None else 1)
    except (TypeError, ValueError):
        return None
    if b == w or not min(w, b) <= v <= max(w, b):
        return None
    f = (v - w) / (b - w)
    if f <= 0:
        return "false"
    if f >= 1:
        return "true"
    if f <= 1 / 3:
        return "misleading"
    if f <= 2 / 3:
        return "mixture"
    return "mostly-true"


def can_flag(verdict: str | None) -> bool:
    """True when a claim with this verdict may make a post ``likely_misinformation``."""
    return verdict in FLAGGABLE


def describe(verdict: str | None) -> str:
    """``'true' (true)`` style text for messages."""
    if verdict is None:
        return "no verdict"
    return f"'{verdict}' ({MEANING.get(verdict, 'not a verdict of the scale')})"
