"""The candidate index: everything the matcher derives from the catalogue alone.

:class:`ClaimIndex` holds, for the claims that are matched (every status but ``retired``):

- each claim's fields (text, title, each variant; reviewers' confirmed posts from
  :class:`rules.feedback.Feedback`) after :mod:`rules.normalise`, with their kind and owner;
- the word terms (stop words dropped, English words Snowball-stemmed) and the compound list
  (``"pnbrock"`` -> ``pnb rock``: two adjacent catalogue words written as one);
- BM25 weights (``bm25s``, Lucene, k1=1.2, b=0.75) over each claim's fields, one sparse
  ``terms x claims`` matrix, and the IDF-weighted binary ``fields x terms`` matrix for coverage;
- the character 4-gram TF-IDF matrix of each claim (ids in sorted order, so float sums are the
  same in every process);
- known media and fact-check URL keys, entity-guard patterns, duplicate groups
  (:mod:`rules.duplicates`) and the tie-break order of claim ids.

It depends only on the catalogue's content (and the feedback given), never on posts: it pickles,
and can be cached keyed by :attr:`ClaimIndex.version`. Query-time word caches grow inside it
(bounded), which changes no result.
"""

from __future__ import annotations

import math
import re
import threading
from array import array
from itertools import chain
from functools import cached_property
from typing import Iterable, Sequence

import bm25s
import numpy as np
import polars as pl
import snowballstemmer
from bm25s.tokenization import Tokenized
from scipy import sparse

from rules.catalogue import Claim
from rules.duplicates import DuplicateGroups
from rules.entities import EntityGuard
from rules.normalise import canonical_media, normalise_series
from rules.verdicts import TRUE_VERDICTS, can_flag

_STOP_RAW = (
    "a an the and or but if then else of to in on at by for with from as into onto about over under "
    "after before between through during is are was were be been being am do does did doing have has had "
    "having i me my we our you your he him his she her it its they them their this that these those there "
    "here what which who whom whose when where why how all any both each few more most other some such no "
    "nor only own same so than too very s t can will just don should now would could also via rt amp "
    "ka ki ke ko se ne hai hain mein par pe aur yeh woh wo bhi tha thi thay the ho hota hoti kar kiya "
    "liye lye jo ab to ki tou na "
    "کا کی کے کو سے نے ہے ہیں میں پر اور یہ وہ بھی تھا تھی تھے ہو کر کیا لیے جو اب تو نہ"
)
STOPWORDS = frozenset(normalise_series(_STOP_RAW.split()).to_list()) - {""}
COMPOUNDS = True

# kinds of claim field
TEXT, TITLE, VARIANT, CONFIRMED = 0, 1, 2, 3
FIELD_KINDS = ("text", "title", "variant", "confirmed post")

_ENGLISH = snowballstemmer.stemmer("english")
_STEM_LOCK = threading.Lock()  # snowball stemmers keep state while stemming


def _stem(tok: str) -> str:
    if tok.isascii() and tok.isalpha():
        with _STEM_LOCK:
            return _ENGLISH.stemWord(tok)
    return tok


class Tokens:
    """Words -> index terms: stop words dropped, English stemmed, compounds split."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self._stem: dict[str, str | None] = {}
        # "pnbrock" -> terms of "pnb rock": two adjacent catalogue words written as one
        # (lower-case hashtags and handles); consulted for words outside the vocabulary only
        self.compounds: dict[str, tuple[str, ...]] = {}

    def clear_caches(self) -> None:
        """Forget the stems of the words seen (:mod:`rules.caches`)."""
        self._stem.clear()

    def learn_compounds(self, texts: list[str]) -> None:
        words = {w for t in texts for w in t.split()}
        found: dict[str, tuple[str, ...]] = {}
        for t in texts:
            ws = t.split()
            for a, b in zip(ws, ws[1:]):
                key = a + b
                if len(key) < 6 or key in words or key in found or a in STOPWORDS or b in STOPWORDS:
                    continue
                parts = tuple(self.terms(a + " " + b))
                if len(parts) == 2:
                    found[key] = parts
        self.compounds = found

    def terms(self, norm: str) -> list[str]:
        out = []
        cache = self._stem
        compounds = self.compounds
        for w in norm.split():
            s = cache.get(w, "\0")
            if s == "\0":
                s = None if (w in STOPWORDS or (len(w) < 2 and not w.isdigit())) else _stem(w)
                if len(cache) < 2_000_000:
                    cache[w] = s
            if s is not None:
                if compounds and s not in self.vocab and w in compounds:
                    out.extend(compounds[w])
                else:
                    out.append(s)
        return out

    def ids(self, norm: str, grow: bool) -> list[int]:
        v = self.vocab
        if grow:
            return [v.setdefault(t, len(v)) for t in self.terms(norm)]
        return [i for i in (v.get(t) for t in self.terms(norm)) if i is not None]


def binary_matrix(rows: list[list[int]], width: int) -> sparse.csr_matrix:
    """A 0/1 ``len(rows) x width`` matrix with a 1 at every id of each row."""
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    flat = np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=int(lengths.sum()))
    keys = np.unique(np.repeat(np.arange(len(rows), dtype=np.int64), lengths) * max(width, 1) + flat)
    r, indices = np.divmod(keys, max(width, 1))
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=len(rows)), out=indptr[1:])
    return sparse.csr_matrix((np.ones(len(indices), dtype=np.float32), indices.astype(np.int32), indptr),
                             shape=(len(rows), width))


def _bm25_weights(docs: list[list[int]], vocab_size: int, n: int) -> sparse.csr_matrix:
    if n == 0:
        return sparse.csr_matrix((vocab_size, 0))
    vocab = {str(i): i for i in range(vocab_size)}
    retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    retriever.index(Tokenized(ids=[d or [] for d in docs], vocab=vocab), show_progress=False,
                    create_empty_token=False)
    s = retriever.scores
    indptr = np.asarray(s["indptr"], dtype=np.int64)
    rows = len(indptr) - 1
    w = sparse.csr_matrix((np.asarray(s["data"], dtype=np.float64), np.asarray(s["indices"]), indptr),
                          shape=(rows, n))
    if rows < vocab_size:
        w = sparse.vstack([w, sparse.csr_matrix((vocab_size - rows, n))]).tocsr()
    return w[:vocab_size]


def _fields(claims: Sequence[Claim], confirmed: dict[str, Sequence[str]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Normalised fields of the claims (empty ones and repeats within a claim dropped), their
    kinds and owners (claim positions, in order)."""
    raw_fields: list[str] = []
    kinds = array("b")
    owner = array("q")
    for i, c in enumerate(claims):
        for kind, f in claim_fields(c, confirmed.get(c.claim_id, ())):
            if f:
                raw_fields.append(f)
                kinds.append(kind)
                owner.append(i)
    norm = normalise_series(raw_fields).to_list() if raw_fields else []
    del raw_fields
    keep = array("q")
    seen: set[tuple[int, str]] = set()
    last = -1
    for j, t in enumerate(norm):
        if owner[j] != last:  # repeats are looked for within one claim's fields
            seen.clear()
            last = owner[j]
        if t and t not in seen:
            seen.add(t)
            keep.append(j)
    kept = np.frombuffer(keep, dtype=np.int64) if len(keep) else np.zeros(0, dtype=np.int64)
    text = [norm[j] for j in keep]
    return (text, np.frombuffer(kinds, dtype=np.int8)[kept].copy(),
            np.frombuffer(owner, dtype=np.int64)[kept].copy())


def _claim_docs(field_ids: list[list[int]], field_start: np.ndarray) -> list[list[int]]:
    """Each claim's term ids: its fields' ids in order."""
    return [list(chain.from_iterable(field_ids[field_start[i]:field_start[i + 1]])) for i in range(len(field_start) - 1)]


def _document_frequency(fields_terms: sparse.csr_matrix, field_start: np.ndarray) -> np.ndarray:
    """Per term, the number of claims with it in any field (``fields_terms``: 0/1 fields x terms)."""
    n_fields = fields_terms.shape[0]
    owner = np.repeat(np.arange(len(field_start) - 1), np.diff(field_start))
    per_claim = sparse.csr_matrix((np.ones(n_fields, dtype=np.float32), (owner, np.arange(n_fields))),
                                  shape=(len(field_start) - 1, n_fields)) @ fields_terms
    return np.bincount(per_claim.indices, minlength=fields_terms.shape[1]).astype(np.float64)


def claim_fields(claim: Claim, extra: Sequence[str] = ()) -> list[tuple[int, str]]:
    """``(kind, raw text)`` of every field of a claim used for matching, in order."""
    return [(TEXT, claim.text), (TITLE, claim.title)] + [(VARIANT, v) for v in claim.variants] + [
        (CONFIRMED, t) for t in extra]


class ClaimIndex:
    """Candidate index over the matched claims (see the module docstring).

    ``confirmed`` maps a claim id to extra texts matched as fields of that claim (posts
    reviewers confirmed); ``counter`` to extra counter-statements (posts reviewers found not to
    be the claim or true), added to the claim's ``true_statements``; ids not among ``claims``
    are ignored. ``version`` is the key under which
    the index may be cached: the effective catalogue version of the matcher.
    """

    def __init__(self, claims: Sequence[Claim], version: str,
                 confirmed: dict[str, Sequence[str]] | None = None,
                 counter: dict[str, Sequence[str]] | None = None) -> None:
        claims = [c for c in claims if c.status != "retired"]
        self.version = version
        self.claims = claims
        self.claim_ids = [c.claim_id for c in claims]
        self.numeric_ids = all(cid.isdigit() for cid in self.claim_ids)
        self.active = np.array([c.status == "active" for c in claims], dtype=bool)
        # only an active claim whose verdict means false, altered, misleading or out of context flags
        self.can_flag = self.active & np.array([can_flag(c.verdict) for c in claims], dtype=bool)
        self.rated_true = np.array([c.verdict in TRUE_VERDICTS for c in claims], dtype=bool)
        n = len(claims)
        confirmed = confirmed or {}

        # every temporary of the build is local to a helper, so none outlives its step (a 200k
        # catalogue's build peaked at 1.7 GB when they all lived to the end)
        self.field_text, self.field_kind, field_owner = _fields(claims, confirmed)
        self.field_sorted = [" ".join(sorted(t.split())) for t in self.field_text]
        self.field_start = np.searchsorted(field_owner, np.arange(n + 1)).astype(np.int64)
        del field_owner
        self.duplicates = DuplicateGroups([self._representation(i) for i in range(n)])

        self.tokens = Tokens()
        field_ids = [self.tokens.ids(t, grow=True) for t in self.field_text]
        if COMPOUNDS:
            self.tokens.learn_compounds(self.field_text)
        vocab_size = max(len(self.tokens.vocab), 1)
        self.bm25 = _bm25_weights(_claim_docs(field_ids, self.field_start), vocab_size, n)  # terms x claims
        self.bm25_self = np.asarray(self.bm25.sum(axis=0)).ravel() + 1e-9
        fields_terms = binary_matrix(field_ids, vocab_size)
        del field_ids
        df = _document_frequency(fields_terms, self.field_start)
        self.idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
        self.unknown_idf = math.log(1.0 + (n + 0.5) / 0.5)
        self.field_terms = fields_terms.multiply(self.idf[None, :]).tocsr().astype(np.float32)
        del fields_terms
        self._gram_vocab: dict[str, int] = {}
        self._gram_cache: dict[str, list[int]] = {}
        counts = self.gram_counts((" ".join(self.field_text[self.field_start[i]:self.field_start[i + 1]]) for i in range(n)),
                                  grow=True, rows=n)
        gdf = np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.float64)
        self._gram_idf = np.log((n + 1) / (gdf + 1)) + 1.0
        self.grams = self.tfidf(counts, in_place=True)  # claims x 4-grams, rows of unit length
        del counts
        self.field_terms_total = np.asarray(self.field_terms.sum(axis=1)).ravel() + 1e-9
        self.typical_idf = float(np.median(self.idf[df > 0])) if (df > 0).any() else 1.0

        self.media: dict[str, list[int]] = {}
        self.fact_checks: dict[str, list[int]] = {}
        for i, c in enumerate(claims):
            for key in c.known_media:
                self.media.setdefault(key, []).append(i)
            for u in c.fact_check_urls:
                key = canonical_media(u)
                if key:
                    self.fact_checks.setdefault(key, []).append(i)
        counters = [list(c.true_statements) + list((counter or {}).get(c.claim_id, ())) for c in claims]
        self.counters = TextTable(self, counters)
        # what a debunk of the claim may say instead of restating it: its debunk variants, the true
        # statements, and the sentences of the debunk note (where the footage is really from)
        self.debunk_texts = TextTable(self, [list(c.debunk_variants) + ts + _sentences(c.debunk_note)
                                             for ts, c in zip(counters, claims)])
        # how a debunk of the claim puts it, alone (rules.counter.correction_scores)
        self.debunk_variants = TextTable(self, [list(c.debunk_variants) for c in claims])
        self.entities: list[EntityGuard | None] = []
        for c in claims:
            guard = EntityGuard(c.entity_groups) if c.required_entities else None
            self.entities.append(guard if guard is not None and guard.groups else None)

    def __len__(self) -> int:
        return len(self.claim_ids)

    def clear_caches(self) -> None:
        """Forget the per-word results of the posts seen: stems, 4-gram ids, the entity guards'
        answers (:mod:`rules.caches`)."""
        self.tokens.clear_caches()
        self._gram_cache.clear()
        for guard in self.entities:
            if guard is not None:
                guard.clear_caches()

    def _representation(self, i: int) -> str:
        """The claim's fields (kind and words without stop words) as one string: equal exactly
        when the fields are (words hold no whitespace, and \\x1e, \\x1f are whitespace)."""
        a, b = self.field_start[i], self.field_start[i + 1]
        return "\x1e".join(f"{int(self.field_kind[j])}\x1f" + " ".join(w for w in self.field_text[j].split() if w not in STOPWORDS)
                            for j in range(a, b))

    # ------------------------------------------------------------ 4-grams

    def _grams(self, word: str, grow: bool) -> list[int]:
        ids = self._gram_cache.get(word)
        if ids is None:
            w = f"#{word}#"
            grams = sorted({w[i:i + 4] for i in range(max(1, len(w) - 3))})  # sorted: same ids, same float sums in every process
            v = self._gram_vocab
            ids = [v.setdefault(g, len(v)) for g in grams] if grow else [v[g] for g in grams if g in v]
            if len(self._gram_cache) < 1_000_000:
                self._gram_cache[word] = ids
        return ids

    def gram_counts(self, texts: Iterable[str], grow: bool = False, rows: int | None = None) -> sparse.csr_matrix:
        """Character 4-gram counts of normalised texts (``grow`` only while building; ``rows``:
        the number of texts when ``texts`` is an iterator)."""
        cols = array("i")
        indptr = array("q", [0])
        cache = self._gram_cache
        for t in texts:
            for w in t.split():
                ids = cache.get(w)
                if ids is None:
                    if w in STOPWORDS:
                        continue
                    ids = self._grams(w, grow)
                cols.extend(ids)
            indptr.append(len(cols))
        n = len(indptr) - 1
        if rows is not None and rows != n:
            raise ValueError(f"gram_counts: {n} texts, expected {rows}")
        width = max(len(self._gram_vocab), 1)
        indices = np.frombuffer(cols, dtype=np.int32) if len(cols) else np.zeros(0, dtype=np.int32)
        m = sparse.csr_matrix((np.ones(len(indices)), indices, np.frombuffer(indptr, dtype=np.int64)),
                              shape=(n, width))
        m.sum_duplicates()  # sorted ids, repeated grams counted
        return m

    def tfidf(self, counts: sparse.csr_matrix, in_place: bool = False) -> sparse.csr_matrix:
        """Sublinear TF-IDF rows of unit length (float32) from :meth:`gram_counts` (``in_place``:
        ``counts`` may be overwritten, which saves a copy of a big catalogue's matrix).

        Computed as ``(1 + log count) * idf`` per entry, each row divided by its L2 norm (+1e-9),
        in float64, then rounded to float32; row by row, so entries, order and bits are those of
        scipy's ``diags(1 / norms) @ m``."""
        m = counts if in_place else counts.copy()
        data = m.data
        np.log(data, out=data)
        data += 1.0
        step = 1 << 22  # entries per chunk: bounded temporaries
        for a in range(0, len(data), step):
            data[a:a + step] *= self._gram_idf[m.indices[a:a + step]]
        indptr = m.indptr
        sums = np.zeros(m.shape[0])
        nonempty = np.flatnonzero(np.diff(indptr))
        step = 1 << 14  # rows per chunk
        for a in range(0, len(nonempty), step):
            rws = nonempty[a:a + step]
            lo, hi = indptr[rws[0]], indptr[rws[-1] + 1]
            chunk = data[lo:hi]
            sums[rws] = np.add.reduceat(chunk * chunk, indptr[rws] - lo)
        scale = 1.0 / (np.sqrt(sums) + 1e-9)
        out = np.empty(len(data), dtype=np.float32)
        for a in range(0, m.shape[0], step):
            lo, hi = indptr[a], indptr[min(a + step, m.shape[0])]
            lengths = np.diff(indptr[a:min(a + step, m.shape[0]) + 1])
            out[lo:hi] = data[lo:hi] * np.repeat(scale[a:a + len(lengths)], lengths)
        return sparse.csr_matrix((out, m.indices, indptr), shape=m.shape)

    def post_grams(self, norm: list[str]) -> sparse.csr_matrix:
        """4-gram TF-IDF rows of normalised posts (the first 20,000 characters)."""
        return self.tfidf(self.batch_gram_counts([t[:20000] for t in norm]))

    def batch_gram_counts(self, texts: list[str]) -> sparse.csr_matrix:
        """:meth:`gram_counts` of many texts (``grow=False``), with each distinct word's 4-grams
        looked up once: texts x words times words x 4-grams. The same matrix, entry for entry."""
        split = [t.split() for t in texts]
        flat = list(chain.from_iterable(split))
        width = max(len(self._gram_vocab), 1)
        if not flat:
            return sparse.csr_matrix((len(texts), width))
        cache = self._gram_cache
        words = list(dict.fromkeys(flat))
        per_word = list(map(cache.get, words))
        for k, ids in enumerate(per_word):
            if ids is None:
                per_word[k] = [] if words[k] in STOPWORDS else self._grams(words[k], False)
        lengths = np.fromiter(map(len, per_word), dtype=np.int64, count=len(per_word))
        w_indptr = np.zeros(len(words) + 1, dtype=np.int64)
        np.cumsum(lengths, out=w_indptr[1:])
        w_indices = np.fromiter(chain.from_iterable(per_word), dtype=np.int32, count=int(w_indptr[-1]))
        word_grams = sparse.csr_matrix((np.ones(len(w_indices)), w_indices, w_indptr), shape=(len(words), width))
        pos = {w: k for k, w in enumerate(words)}
        tokens = np.fromiter(map(pos.__getitem__, flat), dtype=np.int64, count=len(flat))
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum([len(ws) for ws in split], out=indptr[1:])
        text_words = sparse.csr_matrix((np.ones(len(tokens)), tokens, indptr), shape=(len(texts), len(words)))
        m = (text_words @ word_grams).tocsr()
        m.sum_duplicates()  # sorted ids
        m.eliminate_zeros()
        return m

    # ------------------------------------------------------------ per claim

    def entities_ok(self, text: str, claim: int) -> bool:
        """Every ``required_entities`` group of the claim is named in ``text`` (normalised;
        spelling variants count, a surname only next to its context; :mod:`rules.entities`)."""
        guard = self.entities[claim]
        return guard is None or guard.check(text)[0]

    def entity_spellings(self, text: str, claim: int) -> list[str]:
        """The post's spellings that named the claim's entities by similarity, ``"londn~london"``."""
        guard = self.entities[claim]
        return [] if guard is None else guard.check(text)[1]

    def claim_words(self, claim: int) -> set[str]:
        a, b = self.field_start[claim], self.field_start[claim + 1]
        return set(" ".join(self.field_text[a:b]).split()) - STOPWORDS

    def window(self, norm: str, claim: int, width: int) -> str:
        """The ``width`` words of ``norm`` holding most of the claim's words."""
        words = norm.split()
        if len(words) <= width:
            return norm
        vocab = self.claim_words(claim)
        hits = np.fromiter((w in vocab for w in words), dtype=np.int32, count=len(words))
        csum = np.concatenate([[0], np.cumsum(hits)])
        start = int(np.argmax(csum[width:] - csum[:-width]))
        inside = np.flatnonzero(hits[start:start + width])
        if len(inside):  # centre the claim's words in the window
            centre = start + (int(inside[0]) + int(inside[-1])) // 2
            start = max(0, min(len(words) - width, centre - width // 2))
        return " ".join(words[start:start + width])

    # ------------------------------------------------------------ order of claims

    @cached_property
    def tiebreak(self) -> np.ndarray:
        """Per claim, a key that orders equal scores: the id as an integer when every id is a
        number, else the id's position in sorted order (higher first)."""
        if self.numeric_ids:
            return np.array([int(x) for x in self.claim_ids], dtype=np.int64)
        order = np.argsort(np.array(self.claim_ids, dtype=object), kind="stable")
        pos = np.empty(len(order), dtype=np.int64)
        pos[order] = np.arange(len(order))
        return pos

    @cached_property
    def claim_id_series(self) -> pl.Series:
        return pl.Series("claim_id", self.claim_ids, dtype=pl.String)

    @cached_property
    def field_sorted_array(self) -> np.ndarray:
        return np.array(self.field_sorted, dtype=object)


def _sentences(text: str | None) -> list[str]:
    return [t.strip() for t in re.split(r"(?<=[.!?;])\s+", text or "") if len(t.split()) >= 4]


class TextTable:
    """Per claim, texts that are not the claim but are compared with a post the same way: the
    counter-statements (``true_statements`` and reviewers' counter-examples) and the debunk texts
    (those plus the debunk note's sentences). Normalised, with IDF-weighted term vectors over the
    claims' vocabulary extended by their own words (a word found in no claim weighs like an
    unknown word). They take no part in candidates or ranking; :mod:`rules.counter` scores a
    post against them."""

    def __init__(self, index: ClaimIndex, statements: list[list[str]]) -> None:
        raw: list[str] = []
        owner: list[int] = []
        for i, ts in enumerate(statements):
            for t in ts:
                if t and t.strip():
                    raw.append(t.strip())
                    owner.append(i)
        norm = normalise_series(raw).to_list() if raw else []
        keep = [j for j, t in enumerate(norm) if t]
        self.raw = [raw[j] for j in keep]
        self.text = [norm[j] for j in keep]
        self.sorted = [" ".join(sorted(t.split())) for t in self.text]
        own = np.array([owner[j] for j in keep], dtype=np.int64)
        self.start = np.searchsorted(own, np.arange(len(index) + 1)).astype(np.int64)
        self.vocab: dict[str, int] = dict(index.tokens.vocab) if self.text else {}
        ids = [[self.vocab.setdefault(t, len(self.vocab)) for t in index.tokens.terms(x)] for x in self.text]
        self.idf = np.concatenate([index.idf, np.full(max(0, len(self.vocab) - len(index.idf)), index.unknown_idf)])
        width = max(len(self.vocab), 1)
        if self.text:
            self.terms = binary_matrix(ids, width).multiply(self.idf[None, :width]).tocsr().astype(np.float32)
        else:
            self.terms = sparse.csr_matrix((0, width), dtype=np.float32)
        self.terms_total = np.asarray(self.terms.sum(axis=1)).ravel() + 1e-9

    def __len__(self) -> int:
        return len(self.text)

    def of(self, claim: int) -> range:
        return range(int(self.start[claim]), int(self.start[claim + 1]))

    def has(self, cc: np.ndarray) -> np.ndarray:
        """Per claim position in ``cc``: whether the claim has any counter-statement."""
        return self.start[cc + 1] > self.start[cc]

    def post_ids(self, tokens: Tokens, norm: str) -> list[int]:
        v = self.vocab
        return [v[t] for t in tokens.terms(norm) if t in v]


class OwnFields:
    """The claims' own fields (title, text, variants) seen as a :class:`TextTable`, so a text that
    is not a post as the batch holds it (one script's words of a code-mixed post) is scored against
    them exactly as a post is (:func:`rules.counter.text_scores`). A view: nothing is copied."""

    def __init__(self, index: "ClaimIndex") -> None:
        self.start = index.field_start
        self.text = index.field_text
        self.sorted = index.field_sorted
        self.raw = index.field_text
        self.terms = index.field_terms
        self.terms_total = index.field_terms_total
        self.vocab = index.tokens.vocab

    __len__ = TextTable.__len__
    has = TextTable.has
    post_ids = TextTable.post_ids
