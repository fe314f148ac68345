"""Entity guards that survive spelling: does a post name each entity a claim is about?

A claim's ``required_entities`` is a list of groups; every group must be named in the post. A
group is either a list of aliases, each of which names the entity on its own, or a mapping::

    - names: [imran khan, عمران خان, bani pti]          # each names the entity on its own
      with_context: [khan, imran, ik, kaptaan, khan sahab]   # only with a context word nearby
      context: [pti, adiala, jail, rihai, release]
      exclude: [imran khan actor]                         # phrases in which no alias counts

A surname or a one-word alias never stands for a person alone ("Khan" is not Imran Khan; Sadiq
Khan is a Khan too): list it under ``with_context`` with the words that place it (the party, the
jail, the release), which must appear within :data:`CONTEXT_WORDS` words of it. The catalogue
loader refuses a one-word alias that is a word of a longer alias of the same group among the
``names`` (``[imran khan, khan]``).

Aliases and posts are compared word by word after :mod:`rules.normalise` (so case, hashtags,
camel case and Urdu letter forms do not matter):

- an alias of several words matches the same number of consecutive post words, or one post word
  that is the alias written without spaces (``#dgispr``, ``imrankhan``);
- two Latin-script words match when equal, or when they have the same transliteration skeleton
  (vowels after the first letter dropped, doubled letters collapsed, ``q``->``k``,
  ``w``->``v``, ``ph``->``f``, ``ck``->``k``) and are alike enough by ``rapidfuzz``
  ``ratio`` (at least 60 for skeletons of four letters or more, 70 for three): ``londn``,
  ``landan`` ~ ``london``; ``muneer`` ~ ``munir``; ``israil`` ~ ``israel``; ``trmp`` ~ ``trump``;
  ``inteqal`` ~ ``intekal``; but ``wafaqi`` is not ``wafat`` and ``minor`` is not ``munir``;
- Urdu-script words match the same way with the long vowels ``ا و ی`` after the first letter
  dropped and noon ghunna read as noon (``خاں`` ~ ``خان``);
- words of seven letters or more also match at one edit (``OSA`` distance 1: a letter added,
  dropped, changed, or two neighbours swapped) when their first letters agree (``hopsital``);
  words of two or three letters match only exactly, and a word is not another plus a final
  vowel (``khana`` is not ``khan``);
- an alias of four letters or more at the end of a longer hashtag or handle counts (``#dgispr``,
  ``#freekhan`` for ``khan``), at its start only before digits (``#trump2024``; ``deadline``,
  ``hospitality`` and ``londonderry`` are other words); a run of single
  letters counts as one word (``I.S.P.R``); Urdu retroflex and dental letters and noon ghunna
  are read alike (``لنڈن`` ~ ``لندن``, ``خاں`` ~ ``خان``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from rules.normalise import normalise_series

CONTEXT_WORDS = 20  # a with_context alias counts when a context word is this close (in words)

_LATIN = re.compile(r"^[a-z0-9]+$")
_VOWELS = set("aeiouy")
_URDU_VOWELS = set("اوی")
# letters that spell the same sound in names written in Urdu: retroflex and dental d/t/r, noon ghunna
_URDU_FOLD = str.maketrans({"ڈ": "د", "ٹ": "ت", "ڑ": "ر", "ں": "ن", "ۂ": "ہ"})


@lru_cache(maxsize=1 << 17)
def skeleton(word: str) -> str:
    """Transliteration skeleton of one normalised word (see the module docstring)."""
    if _LATIN.match(word):
        w = word.replace("ck", "k").replace("q", "k").replace("w", "v")
        out = [w[0]]
        for ch in w[1:]:
            if ch in _VOWELS:
                continue
            if ch != out[-1]:
                out.append(ch)
        return "".join(out)
    w = word.translate(_URDU_FOLD)
    out = [w[0]] if w else []
    for ch in w[1:]:
        if ch in _URDU_VOWELS:
            continue
        if ch != out[-1]:
            out.append(ch)
    return "".join(out)


@lru_cache(maxsize=1 << 18)
def words_match(a: str, b: str) -> bool:
    """Two normalised words name the same thing, spelling aside."""
    if a == b:
        return True
    if min(len(a), len(b)) < 4 or a.isdigit() or b.isdigit():
        return False
    short, long_ = sorted((a, b), key=len)
    if long_[:-1] == short and long_[-1] in _VOWELS:  # another word, not a spelling: khan / khana
        return False
    ka, kb = skeleton(a), skeleton(b)
    if ka == kb and len(ka) >= 3 and fuzz.ratio(a, b) >= (60 if len(ka) >= 4 else 70):
        return True
    return min(len(a), len(b)) >= 7 and a[0] == b[0] and OSA.distance(a, b) <= 1


class _Phrases:
    """A set of aliases (normalised phrases), found in a post by :meth:`find`."""

    def __init__(self, aliases: list[str]) -> None:
        self.phrases = sorted({a.translate(_URDU_FOLD) for a in aliases if a}, key=len, reverse=True)
        self.exact = (re.compile(r"(?<!\S)(?:" + "|".join(map(re.escape, self.phrases)) + r")(?!\S)")
                      if self.phrases else None)
        self.split = [p.split() for p in self.phrases]
        # first word -> phrases starting with it, longest first (the order of self.split)
        self.by_first: dict[str, list[list[str]]] = {}
        for ws in self.split:
            self.by_first.setdefault(ws[0], []).append(ws)
        self.joined = {p.replace(" ", ""): p for p in self.phrases}
        # first word's skeleton -> phrases starting with a word of that skeleton
        self.by_skeleton: dict[str, list[list[str]]] = {}
        self.long_first: list[list[str]] = []
        for ws in self.split:
            self.by_skeleton.setdefault(skeleton(ws[0]), []).append(ws)
            if len(ws[0]) >= 7:
                self.long_first.append(ws)
        self.compound = [j for j in self.joined if len(j) >= 4 and _LATIN.match(j)]
        self.compound_pos = {j: k for k, j in enumerate(self.compound)}
        # a cache: word -> (phrases whose first word it matches by spelling, alias it ends with)
        self._starts: dict[str, tuple[list[list[str]], str | None]] = {}
        self._may: dict[str, bool] = {}  # a cache: word -> it may start an alias (:meth:`_may_start`)

    def __getstate__(self) -> dict:
        state = dict(vars(self))
        state["_starts"] = {}  # caches: never pickled
        state["_may"] = {}
        return state

    def __setstate__(self, state: dict) -> None:
        state.setdefault("_may", {})  # pickled before the cache existed (an index cache file)
        vars(self).update(state)

    def clear_caches(self) -> None:
        """Forget the per-word answers (:mod:`rules.caches`); ``_may`` is replaced, as ever."""
        self._starts.clear()
        self._may = {}

    def _start(self, w: str) -> tuple[list[list[str]], str | None]:
        """Phrases (longest first) whose first word ``w`` matches by spelling, and the alias a
        hashtag or handle ``w`` ends with (:meth:`_compound_in`), computed once per word."""
        got = self._starts.get(w)
        if got is None:
            candidates = self.by_skeleton.get(skeleton(w), [])
            if len(w) >= 7:
                candidates = candidates + self.long_first
            first = [ws for ws in candidates if words_match(w, ws[0])]
            compound = self._compound_in(w) if len(w) >= 6 and _LATIN.match(w) else None
            if len(self._starts) > 200_000:
                self._starts.clear()
            got = self._starts[w] = (first, compound)
        return got

    def _may_start(self, words: list[str], distinct: frozenset[str]) -> list[int]:
        """Positions of the words that may start an alias by spelling or as a hashtag or handle
        (:meth:`find`): an alias written without spaces, or a word :meth:`_start` finds
        something for; each distinct word is judged once (and kept)."""
        known = self._may  # replaced, never cleared, so a word seen here stays judged
        for w in distinct.difference(known):
            candidates, compound = self._start(w)
            known[w] = w in self.joined or bool(candidates) or compound is not None
        if len(known) > 200_000:
            self._may = {}
        if not any(map(known.__getitem__, distinct)):
            return []
        return [i for i, w in enumerate(words) if known[w]]

    def find(self, words: list[str], text: str, distinct: frozenset[str] | None = None
             ) -> tuple[list[tuple[int, int]], str | None]:
        """``(start, number of words)`` of every alias found (exact matches only when there is
        one) and, for a match by spelling, ``"post words~alias"``. ``text``: the words joined by
        spaces; ``distinct``: the set of the words, when already made."""
        if not self.phrases:
            return [], None
        distinct = frozenset(words) if distinct is None else distinct
        # an exact match starts with a whole word that is the first word of an alias
        if self.exact is not None and not distinct.isdisjoint(self.by_first) and self.exact.search(text):
            spans = []
            by_first = self.by_first
            for i in [i for i, w in enumerate(words) if w in by_first]:
                for ws in by_first[words[i]]:
                    if words[i:i + len(ws)] == ws:
                        spans.append((i, len(ws)))
                        break
            return spans or [(0, 1)], None
        spans, how = [], None
        for i in self._may_start(words, distinct):
            w = words[i]
            if w in self.joined:
                spans.append((i, 1))
                how = how or f"{w}~{self.joined[w]}"
                continue
            candidates, compound = self._start(w)
            if not candidates and compound is None:
                continue
            found = False
            for ws in candidates:
                span = words[i:i + len(ws)]
                if len(span) == len(ws) and all(words_match(x, y) for x, y in zip(span[1:], ws[1:])):
                    spans.append((i, len(ws)))
                    how = how or f"{' '.join(span)}~{' '.join(ws)}"
                    found = True
                    break
            if not found and compound is not None:  # an alias inside a hashtag or handle: #londonprotest, #dgispr
                spans.append((i, 1))
                how = how or f"{w}~{self.joined[compound]}"
        return spans, how

    def _compound_in(self, w: str) -> str | None:
        """The first alias of :attr:`compound` (in its order) that ``w`` ends with, or starts
        with before nothing but digits, leaving at least two characters of ``w`` around it.
        Looks up ``w``'s suffixes and prefixes instead of trying every alias."""
        pos = self.compound_pos
        if not pos:
            return None
        hits = [w[-k:] for k in range(4, len(w) - 1) if w[-k:] in pos]
        digits = len(w) - len(w.rstrip("0123456789"))
        hits += [w[:-k] for k in range(2, digits + 1) if len(w) - k >= 4 and w[:-k] in pos]
        return min(hits, key=pos.__getitem__) if hits else None


def _words(text: str) -> list[str]:
    """The post's words for matching names: Urdu letter forms folded, a run of single letters
    read as one word too ("i s p r" -> "ispr", from "I.S.P.R")."""
    words = text.translate(_URDU_FOLD).split()
    out, run = [], []
    for w in words + [""]:
        if len(w) == 1 and w.isalpha():
            run.append(w)
            continue
        if len(run) >= 2:
            out.append("".join(run))
        else:
            out.extend(run)
        run = []
        if w:
            out.append(w)
    return out


@lru_cache(maxsize=4096)
def _post_words(text: str) -> tuple[list[str], str, frozenset[str]]:
    """:func:`_words` of a post, the words joined by spaces and their set, kept for the post's
    next claims (the lists are read, never changed)."""
    words = _words(text)
    return words, " ".join(words), frozenset(words)


@dataclass(frozen=True)
class EntityGroup:
    """One required entity: ``names`` stand alone, ``with_context`` aliases need a ``context``
    word within :data:`CONTEXT_WORDS` words, and no alias counts inside an ``exclude`` phrase
    (another thing with the same word: "Melania Trump", "Bani Israil"). Raw aliases, normalised
    when compiled."""

    names: tuple[str, ...]
    with_context: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


class EntityGuard:
    """The compiled groups of one claim; :meth:`check` tells whether a post names them all."""

    def __init__(self, groups: list[EntityGroup]) -> None:
        self.groups = []
        for g in groups:
            names = _Phrases(_norm(g.names))
            weak = _Phrases(_norm(g.with_context))
            context = _Phrases(_norm(g.context))
            exclude = _Phrases(_norm(g.exclude))
            if names.phrases or weak.phrases:
                self.groups.append((names, weak, context, exclude))

    def clear_caches(self) -> None:
        """Forget every group's per-word answers (:mod:`rules.caches`)."""
        for group in self.groups:
            for phrases in group:
                phrases.clear_caches()

    def check(self, text: str) -> tuple[bool, list[str]]:
        """``(every group named, spellings matched by similarity)`` for a normalised post."""
        ok, fuzzy, _ = self.scan(text)
        return ok, fuzzy

    def scan(self, text: str) -> tuple[bool, list[str], float]:
        """:meth:`check` and the share of the groups the post names (1.0 when all are): a
        debunk that names only Trump is about a Trump claim more than about the ISPR's."""
        words, folded, distinct = _post_words(text)
        named = 0
        fuzzy: list[str] = []
        failed = False
        for g in range(len(self.groups)):
            ok, how = self._named(words, folded, distinct, g)
            named += ok
            failed = failed or not ok
            if not failed:
                fuzzy.extend(how)  # as check() always said: spellings up to the first group not named
        share = named / len(self.groups) if self.groups else 1.0
        return not failed, fuzzy, share

    def named_words(self, text: str) -> set[str]:
        """Every word of the aliases (``names`` and ``with_context``) of each group that ``text``
        names: a true statement naming Faisal Mosque shares "masjid" with the claim as well."""
        words, folded, distinct = _post_words(text)
        out: set[str] = set()
        for g, (names, weak, _, _) in enumerate(self.groups):
            if self._named(words, folded, distinct, g)[0]:
                out.update(w for p in names.split + weak.split for w in p)
        return out

    def _named(self, words: list[str], folded: str, distinct: frozenset[str], g: int) -> tuple[bool, list[str]]:
        fuzzy: list[str] = []
        for names, weak, context, exclude in self.groups[g:g + 1]:
            masked = {i for s, n in exclude.find(words, folded, distinct)[0] for i in range(s, s + n)} if exclude.phrases else set()

            def found(phrases: _Phrases) -> tuple[list[int], str | None]:
                spans, how = phrases.find(words, folded, distinct)
                kept = [s for s, n in spans if not masked.intersection(range(s, s + n))]
                return kept, (how if kept else None)

            starts, how = found(names)
            if starts:
                if how:
                    fuzzy.append(how)
                continue
            starts, how = found(weak)
            if not starts:
                return False, []
            near, how_c = found(context)
            if not any(abs(s - c) <= CONTEXT_WORDS for s in starts for c in near):
                return False, []
            fuzzy.extend(h for h in (how, how_c) if h)
        return True, fuzzy


def _norm(aliases: tuple[str, ...]) -> list[str]:
    return [a for a in normalise_series(list(aliases)).to_list() if a] if aliases else []


def part_name_problem(names: tuple[str, ...]) -> str | None:
    """A one-word alias among ``names`` that is a word of a longer one of them, as a message for
    the catalogue loader (``None`` when there is none)."""
    norm = dict(zip(_norm(names), names)) if names else {}
    longer = [n for n in norm if " " in n]
    for n, raw in norm.items():
        if " " in n:
            continue
        for full in longer:
            if n in full.split():
                return (f"alias '{raw}' is one word of '{norm[full]}': a surname or one-word alias never stands "
                        "for a person alone; list it under with_context with a context list (or drop "
                        f"'{norm[full]}' if '{raw}' alone names this entity)")
    return None
