"""One text normalisation for claims and posts, so both sides of a match see the same words.

:func:`normalise_series` is the vectorised form (polars string expressions); :func:`normalise`
applies the same steps to one string. Steps, in order: Unicode NFKC; the tweet tail
``— Name (@handle) Month D, YYYY`` reduced to the author's name; URLs and ``pic.twitter.com``
links removed; ``@handle`` and ``#tag`` marks dropped (the word stays); camel case split
(``#FreeImranKhan`` -> ``free imran khan``); emoji removed; lower case (with ``ß`` -> ``ss``);
Arabic-script variants folded to the Urdu forms (Arabic yeh/alef maksura -> ``ی``, Arabic kaf ->
``ک``, heh -> ``ہ``, alef variants -> ``ا``, hamza carriers, Arabic-Indic digits);
harakat/diacritics and tatweel removed; punctuation to spaces; common Roman Urdu spellings folded
to one form (:data:`ROMAN_URDU_VARIANTS`); white space collapsed.

URLs are not lost: :func:`extract_urls` returns them, and :func:`canonical_media` turns a URL
into the key used for known media (``youtube:<11-char id>`` for every YouTube form, otherwise
``https://host/path?query`` without ``www.``/``m.``, tracking parameters or fragment, query
parameters sorted).
"""

from __future__ import annotations

import ipaddress
import functools
import re
from urllib.parse import parse_qsl, urlencode, urlsplit

import polars as pl

URL_PATTERN = (
    r"https?://\[[0-9a-f:.]+\](?::\d+)?(?:[/?#][^\s<>\"'\)\]]*)?"  # an IPv6 host keeps its brackets
    r"|(?:https?://|www\.)[^\s<>\"'\)\]]+"
    r"|pic\.twitter\.com/\w+"
    r"|\b(?:youtu\.be|(?:m\.)?youtube\.com|t\.co|bit\.ly|fb\.watch)/[^\s<>\"'\)\]]+"
)
_URL_RE = re.compile(URL_PATTERN, re.IGNORECASE)

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
# "— Name (@handle) January 6, 2020" at the end of an embedded tweet.
TWEET_TAIL_PATTERN = r"(?i)\s*[—–-]{1,2}\s*([^—–\n]{0,100}?)\(@\w{1,30}\)\s*(?:" + _MONTH + r"\s+\d{1,2},?\s+\d{4})?\s*$"

EMOJI_PATTERN = (
    r"[\x{1F000}-\x{1FAFF}\x{2600}-\x{27BF}\x{2B00}-\x{2BFF}\x{2300}-\x{23FF}"
    r"\x{FE00}-\x{FE0F}\x{200B}-\x{200F}\x{2060}-\x{206F}\x{20E3}\x{E0000}-\x{E007F}\x{1F1E6}-\x{1F1FF}]"
)

# Arabic-script letters folded to the forms Urdu writers use.
ARABIC_FOLD = {
    "\u064a": "\u06cc",  # ARABIC YEH -> FARSI YEH
    "\u0649": "\u06cc",  # ALEF MAKSURA
    "\u06d0": "\u06cc",
    "\u0626": "\u06cc",  # YEH WITH HAMZA
    "\u06d3": "\u06d2",  # YEH BARREE WITH HAMZA -> YEH BARREE
    "\u0643": "\u06a9",  # ARABIC KAF -> KEHEH
    "\u0647": "\u06c1",  # HEH -> HEH GOAL
    "\u06c0": "\u06c1",
    "\u06c2": "\u06c1",
    "\u0629": "\u06c1",  # TEH MARBUTA
    "\u0623": "\u0627",  # alef variants -> ALEF
    "\u0625": "\u0627",
    "\u0622": "\u0627",
    "\u0671": "\u0627",
    "\u0672": "\u0627",
    "\u0673": "\u0627",
    "\u0624": "\u0648",  # WAW WITH HAMZA
    "\u06c6": "\u0648",
    "\u0640": "",  # TATWEEL
    "\u06d4": " ",  # URDU FULL STOP
    "\u060c": " ",  # ARABIC COMMA
    "\u061b": " ",
    "\u061f": " ",  # ARABIC QUESTION MARK
    "\u066a": " ",
    "\u066b": ".",
    "\u066c": ",",
    "ß": "ss",
    "ς": "σ",
}
for _i in range(10):
    ARABIC_FOLD[chr(0x0660 + _i)] = str(_i)
    ARABIC_FOLD[chr(0x06F0 + _i)] = str(_i)

# harakat, Quranic marks, superscript alef, other Arabic combining marks
DIACRITICS_PATTERN = r"[\x{0610}-\x{061A}\x{064B}-\x{065F}\x{0670}\x{06D6}-\x{06DC}\x{06DF}-\x{06E8}\x{06EA}-\x{06ED}]"

# canonical form: spellings found in Roman Urdu posts
ROMAN_URDU_VARIANTS: dict[str, tuple[str, ...]] = {
    "khan": ("kahn", "khaan"),
    "imran": ("imraan", "imrann", "imrn"),
    "rihai": ("rehai", "rihayi", "rehayi", "rihaai", "rehaai", "rihaee", "rehaee", "rihaie", "rehaie"),
    "jhoot": ("jhoota", "jhuta", "jhoota", "jhooti", "jhoti", "jhuti", "jhooth", "jhoth", "jhut", "jhute",
              "jhootay", "jhoote", "jhootey", "jhoothi", "jhootha", "jhutha", "jhuthi", "jhooto"),
    "kaha": ("kha", "kahaa", "kahha"),
    "video": ("vedio", "vidio", "vdo", "videoo", "vidoe", "viedo", "vedeo", "wedio", "vido"),
    "nahi": ("nahin", "nhi", "nahee", "nahii", "nahein"),
    "hai": ("hy", "hae", "haii", "hain", "hein"),
    "yeh": ("ye", "yah", "yahh", "iye"),
    "kya": ("kia", "kyaa"),
    "sach": ("sachh", "sachch", "sch", "sachi", "sachai", "sachaai"),
    "jaali": ("jali", "jaly", "jaaly", "jaalee"),
    "galat": ("ghalat", "galt", "ghalt", "ghalath", "galath"),
    "jail": ("jel", "jeil", "jaill", "jayl"),
    "wada": ("waada", "vada", "vaada", "waadah", "wadah", "waday", "waaday"),
    "karenge": ("karengay", "karain", "krenge", "karega", "karegi", "krega"),
    "pakistan": ("pakistaan", "pakstan"),
    "khabar": ("khabr", "khbr"),
    "sahi": ("sahee", "sehi"),
    "fake": ("fek", "faik", "feik", "fakee"),
    "edit": ("edt",),
    "trump": ("trmp", "trumpp"),
    "dekho": ("dekhain", "dekhen", "dekhein", "dekhiye", "dekhiay", "dekhyn", "dkho"),
    "banayi": ("banai", "banaee", "bnai", "banaai", "banaya", "bnaya", "banaaya"),
    "gayi": ("gai", "gaye", "gayee", "gaee", "gya", "gaya", "gae"),
    "aur": ("orr", "aor"),
    "azaad": ("azad", "aazad", "aazaad", "azaaad"),
    "riha": ("rehaa", "rihaa", "reha", "rehha"),
    "karwaenge": ("karwayenge", "karwayein ge", "karwaein", "karwaega", "karwayega", "karwaunga", "karwaonga",
                  "karwaoonga", "karwaoon", "karwaun", "karaonga", "karaunga", "krwaunga", "krwaonga", "krwaenge"),
    "awaz": ("awaaz", "aawaz", "awaaj", "awaj"),
    "purani": ("puraani", "purrani", "puraney"),
    "purana": ("puraana", "purrana"),
    "afwah": ("afwa", "afwaah", "afwahen", "afwahein", "afwaahen", "afwahon", "afwaho", "afvah"),
    "tardeed": ("tardid", "tardeid", "tardeedd"),
    "haqeeqat": ("haqiqat", "haqeekat", "haqikat", "haqeeqt", "haqiqt"),
    "chhurwa": ("chhuda", "chhura", "chuda", "chura", "chhudwa", "chhurwaa", "churwa", "chudwa", "chhudaa"),
}
_VARIANT_TO_CANON = {v: k for k, vs in ROMAN_URDU_VARIANTS.items() for v in vs if v != k}


_VARIANT_PATTERNS = [f" {v} " for v in _VARIANT_TO_CANON]
_VARIANT_REPLACEMENTS = [f" {k} " for k in _VARIANT_TO_CANON.values()]


def _fold_variants(expr: pl.Expr) -> pl.Expr:
    # One Aho-Corasick pass: with every word wrapped in its own pair of spaces, " variant "
    # matches whole words only, adjacent words included.
    spaced = pl.concat_str([pl.lit("  "), expr.str.replace_all(" ", "  ", literal=True), pl.lit("  ")])
    folded = spaced.str.replace_many(_VARIANT_PATTERNS, _VARIANT_REPLACEMENTS)
    return folded.str.replace_all(r"\s+", " ").str.strip_chars()


def normalise_expr(expr: pl.Expr) -> pl.Expr:
    """The normalisation as a polars expression over a string column (nulls become "")."""
    e = expr.fill_null("").str.normalize("NFKC")
    e = e.str.replace(TWEET_TAIL_PATTERN, " ${1}")
    e = e.str.replace_all(r"(?i)" + URL_PATTERN, " ")
    e = e.str.replace_all(r"@(\w+)", " ${1}")
    e = e.str.replace_all(r"([\p{Ll}\d])(\p{Lu})", "${1} ${2}")
    e = e.str.replace_all(r"(\p{Lu})(\p{Lu}\p{Ll})", "${1} ${2}")
    e = e.str.replace_all(EMOJI_PATTERN, " ")
    e = e.str.to_lowercase().str.replace_many(ARABIC_FOLD)
    e = e.str.replace_all(DIACRITICS_PATTERN, "")
    e = e.str.replace_all(r"[^\p{L}\p{M}\p{N}]+", " ")
    e = e.str.strip_chars()
    return _fold_variants(e)


def normalise_series(texts: pl.Series | list[str | None]) -> pl.Series:
    """Normalise many strings at once (returns a String series, nulls as "")."""
    s = texts if isinstance(texts, pl.Series) else pl.Series("text", list(texts), dtype=pl.String)
    return pl.DataFrame({"t": s.cast(pl.String)}).select(normalise_expr(pl.col("t"))).to_series()


def normalise(text: str | None) -> str:
    """Normalise one string (same result as :func:`normalise_series`)."""
    return normalise_series([text])[0]


def fold_token(token: str) -> str:
    return _VARIANT_TO_CANON.get(token, token)


def extract_urls(text: str | None) -> list[str]:
    """URLs found in ``text`` (with ``http(s)://``, ``www.``, ``pic.twitter.com`` or short-link hosts)."""
    if not text:
        return []
    return [m.group(0).rstrip(".,;:!?…") for m in _URL_RE.finditer(text)]


_YT_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_YT_HOSTS = {"youtube.com", "youtube-nocookie.com", "music.youtube.com", "youtu.be", "gaming.youtube.com"}
TRACKING_PARAMS = {
    "fbclid", "gclid", "dclid", "msclkid", "igshid", "igsh", "si", "feature", "ref", "ref_src", "ref_url",
    "s", "t", "mc_cid", "mc_eid", "spm", "share", "app", "utm", "_ga", "cmpid", "ocid", "sr_share", "rcm",
    "mibextid", "__cft__", "__tn__", "smid", "smtyp", "cid", "taid", "ito", "ab_channel",
    # also dropped by the connectors before links are stored, so a catalogue URL carrying them
    # must lose them too to meet the stored link
    "yclid", "gbraid", "wbraid", "mkt_tok", "_hsenc", "_hsmla", "s_cid", "share_id", "pp",
}


def youtube_id(url: str) -> str | None:
    """The 11-character YouTube video id of any YouTube URL form, else ``None``."""
    u = url.strip()
    if u.lower().startswith("youtube:"):
        vid = u.split(":", 1)[1]
        return vid if _YT_ID.match(vid) else None
    if "://" not in u:
        u = "https://" + u
    try:
        parts = urlsplit(u)
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    for prefix in ("www.", "m."):
        if host.startswith(prefix):
            host = host[len(prefix):]
    if host not in _YT_HOSTS:
        return None
    path = [p for p in parts.path.split("/") if p]
    candidate = None
    if host == "youtu.be":
        candidate = path[0] if path else None
    elif path[:1] == ["watch"] or not path:
        candidate = dict(parse_qsl(parts.query)).get("v")
    elif len(path) >= 2 and path[0] in {"shorts", "embed", "v", "live", "e"}:
        candidate = path[1]
    elif path[:1] == ["attribution_link"]:
        inner = dict(parse_qsl(parts.query)).get("u", "")
        return youtube_id("https://youtube.com" + inner) if inner else None
    if candidate and _YT_ID.match(candidate):
        return candidate
    return None


@functools.lru_cache(maxsize=65536)
def canonical_media(url: str | None) -> str | None:
    """Canonical key of a media URL: ``youtube:<id>`` for YouTube, else a canonical ``https`` URL.

    Returns ``None`` when ``url`` is not a usable URL.
    """
    if not url or not url.strip():
        return None
    url = url.strip()
    vid = youtube_id(url)
    if vid:
        return f"youtube:{vid}"
    if url.lower().startswith("youtube:"):
        return None
    if "://" not in url:
        url = "https://" + url
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        port = parts.port
    except ValueError:
        return None
    if ":" in host:  # an IPv6 literal: urlsplit drops its brackets, a URL (and the key) needs them
        try:
            host = f"[{ipaddress.IPv6Address(host.split('%')[0]).compressed}]"
        except ValueError:
            return None
    elif "." not in host:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not host:
        return None
    for prefix in ("www.", "m.", "mobile."):
        if host.startswith(prefix):
            host = host[len(prefix):]
    if port and port not in (80, 443):
        host = f"{host}:{port}"
    path = re.sub(r"/{2,}", "/", parts.path or "/")
    if len(path) > 1:
        path = path.rstrip("/")
    query = sorted(  # sorted as the connectors store links, so parameter order never decides a match
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_") and k.lower() not in TRACKING_PARAMS
    )
    q = urlencode(query)
    return f"https://{host}{path}" + (f"?{q}" if q else "")
