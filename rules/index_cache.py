"""The claim index on disk: built once per catalogue version, loaded by every later run and worker.

Building :class:`rules.index.ClaimIndex` costs seconds for a big catalogue (about 1.5 s of CPU
for 14k claims, 15-50 s for 200k) and most of a process's memory peak; loading it back costs a
fraction of that. :class:`IndexCache` keeps one file per index in a folder::

    cache = IndexCache("~/.cache/claimwatch/index")
    index = cache.load_or_build(claims, version, confirmed=...)

**Key.** A file is named by a hash of the index's ``version`` (the matcher's effective catalogue
version: catalogue content plus reviewers' feedback) and of a *code fingerprint*: the source of
every ``rules`` module, the file format and the versions of Python, numpy, scipy, polars, bm25s
and snowballstemmer. A new catalogue version, new feedback or an upgrade of claimwatch or of
those libraries therefore never reads an old file; old files are removed once more than
``keep`` are in the folder (least recently used first).

**Never trusted if damaged.** A file is ``MAGIC``, a JSON header (key, version, claim count), the
payload (a pickle of the index's attributes without the claims themselves, which come from the
catalogue in hand) and a trailer with the payload's length and SHA-256. Before anything is
unpickled the payload's length and checksum are checked against the trailer; the unpickler then accepts only
the numpy, scipy and ``rules`` classes an index is made of, and the result must name exactly
the claims given. Any failure is one warning naming the file and the reason, and the index is
built again and the file replaced.

**Concurrent runs and workers.** Files are written to a temporary name in the same folder and
renamed into place, so a reader sees a whole file or none; two runs that build the same index
at once both write the same content. Reading needs only the folder: Dask workers that mount it
(deploy/compose.yaml shares one volume) load the file instead of building.

An unusable folder (read-only, full disk) never fails a match: the index is built in memory and
the reason is warned once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import sys
import threading
import time
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Sequence

from rules.catalogue import Claim
from rules.index import ClaimIndex

FORMAT = 1
MAGIC = b"CLAIMWATCH-INDEX\n"
SUFFIX = ".cwidx"
_HEADER_MAX = 1 << 16
_TRAILER = 8 + 32  # payload length, payload SHA-256
_LIBRARIES = ("numpy", "scipy", "polars", "bm25s", "snowballstemmer")

# what an index is made of; the unpickler refuses anything else
_ALLOWED: dict[str, set[str]] = {
    "builtins": {"set", "frozenset", "slice", "complex"},
    "copyreg": {"_reconstructor"},
    "re": {"_compile"},
    "numpy": {"ndarray", "dtype"},
    "numpy.core.multiarray": {"_reconstruct", "scalar"},
    "numpy._core.multiarray": {"_reconstruct", "scalar"},
    "numpy.core.numeric": {"_frombuffer"},
    "numpy._core.numeric": {"_frombuffer"},
    "scipy.sparse._csr": {"csr_matrix", "csr_array"},
    "scipy.sparse._csc": {"csc_matrix", "csc_array"},
    "scipy.sparse._coo": {"coo_matrix", "coo_array"},
    "rules.index": {"ClaimIndex", "Tokens", "TextTable"},
    "rules.duplicates": {"DuplicateGroups"},
    "rules.entities": {"EntityGuard", "EntityGroup", "_Phrases"},
}
_NUMPY_DTYPES = ("numpy.dtypes",)  # numpy >= 1.25 pickles dtypes by their class in numpy.dtypes
_CLAIM_ATTRS = ("claims",)


class CacheFileError(ValueError):
    """A cache file that cannot be used: damaged, of another format, or for other claims."""


def _module_files() -> list[Path]:
    here = Path(__file__).resolve().parent
    return sorted(p for p in here.glob("*.py"))


_fingerprint_lock = threading.Lock()
_fingerprint: str | None = None


def code_fingerprint() -> str:
    """A hash of everything besides the claims that shapes an index (see the module docstring)."""
    global _fingerprint
    with _fingerprint_lock:
        if _fingerprint is None:
            h = hashlib.sha256(f"format {FORMAT}; python {sys.version_info[:2]}".encode())
            for name in _LIBRARIES:
                try:
                    h.update(f"; {name} {metadata.version(name)}".encode())
                except metadata.PackageNotFoundError:
                    h.update(f"; {name} -".encode())
            for path in _module_files():
                h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
            _fingerprint = h.hexdigest()[:16]
        return _fingerprint


def cache_key(version: str) -> str:
    return hashlib.sha256(f"{version}\0{code_fingerprint()}".encode()).hexdigest()[:24]


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if name in _ALLOWED.get(module, ()) or (module in _NUMPY_DTYPES and name.endswith("DType")):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused to load {module}.{name}")


def _matched(claims: Sequence[Claim]) -> list[Claim]:
    return [c for c in claims if c.status != "retired"]


class _HashingWriter:
    def __init__(self, f: Any) -> None:
        self.f, self.sha, self.size = f, hashlib.sha256(), 0

    def write(self, data: Any) -> int:
        self.sha.update(data)
        n = self.f.write(data)
        self.size += n
        return n


def dump_index(index: ClaimIndex, f: Any) -> None:
    """Writes ``index`` (without its claims) in the cache file format, streaming (the payload is
    never held in memory as a whole)."""
    state = {k: v for k, v in vars(index).items() if k not in _CLAIM_ATTRS and not _is_derived(type(index), k)}
    header = json.dumps({"format": FORMAT, "key": cache_key(index.version), "version": index.version,
                         "claims": len(index.claim_ids), "written_at": time.time()}, sort_keys=True).encode()
    f.write(MAGIC)
    f.write(len(header).to_bytes(4, "big"))
    f.write(header)
    out = _HashingWriter(f)
    pickle.Pickler(out, protocol=5).dump(state)
    f.write(out.size.to_bytes(8, "big") + out.sha.digest())


def _is_derived(cls: type, name: str) -> bool:
    """Cached properties (recomputed on first use, and possibly of classes the unpickler refuses)."""
    from functools import cached_property

    return isinstance(getattr(cls, name, None), cached_property)


def load_index(path: Path, claims: Sequence[Claim], version: str) -> ClaimIndex:
    """The index stored at ``path`` for ``claims`` (every status; retired ones are left out as when
    building). Raises :class:`CacheFileError` naming what is wrong; ``FileNotFoundError`` if absent."""
    with open(path, "rb") as f:
        if f.read(len(MAGIC)) != MAGIC:
            raise CacheFileError("not a claimwatch index file")
        size = int.from_bytes(f.read(4), "big")
        if not 0 < size <= _HEADER_MAX:
            raise CacheFileError("damaged header")
        try:
            header = json.loads(f.read(size))
        except ValueError:
            raise CacheFileError("damaged header") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise CacheFileError(f"format {header.get('format') if isinstance(header, dict) else '?'}, expected {FORMAT}")
        if header.get("key") != cache_key(version) or header.get("version") != version:
            raise CacheFileError("written for another catalogue version or claimwatch version")
        start = f.tell()
        end = os.fstat(f.fileno()).st_size - _TRAILER
        if end <= start:
            raise CacheFileError("truncated")
        h = hashlib.sha256()
        left = end - start
        while left > 0:
            chunk = f.read(min(left, 1 << 20))
            if not chunk:
                raise CacheFileError("truncated")
            h.update(chunk)
            left -= len(chunk)
        trailer = f.read(_TRAILER)
        if int.from_bytes(trailer[:8], "big") != end - start or h.digest() != trailer[8:]:
            raise CacheFileError("checksum mismatch (damaged or truncated)")
        f.seek(start)
        try:
            state = _Unpickler(f).load()
        except Exception as exc:  # a refused class, or a payload that does not unpickle
            raise CacheFileError(f"payload does not load ({exc})") from None
    matched = _matched(claims)
    if not isinstance(state, dict) or state.get("claim_ids") != [c.claim_id for c in matched] or state.get("version") != version:
        raise CacheFileError("written for other claims")
    index = ClaimIndex.__new__(ClaimIndex)
    vars(index).update(state)
    index.claims = matched
    return index


class IndexCache:
    """A folder of index files (see the module docstring). ``warn`` receives one line per problem
    (default: :func:`warnings.warn`); ``keep`` is how many files stay in the folder."""

    def __init__(self, folder: str | os.PathLike[str], keep: int = 4,
                 warn: Callable[[str], None] | None = None) -> None:
        self.folder = Path(folder).expanduser()
        self.keep = max(1, int(keep))
        self.warn = warn if warn is not None else (lambda msg: warnings.warn(msg, RuntimeWarning, stacklevel=3))
        self.last: str = ""  # "loaded", "built" or "built (not cached)" after load_or_build
        self._unusable = False

    def path(self, version: str) -> Path:
        return self.folder / f"index-{cache_key(version)}{SUFFIX}"

    def load_or_build(self, claims: Sequence[Claim], version: str, **build: Any) -> ClaimIndex:
        """The index of ``claims`` under ``version`` from its file, or built (and stored) as
        ``ClaimIndex(claims, version, **build)``. ``version`` must cover everything ``build``
        adds (the matcher's effective version covers reviewers' feedback)."""
        path = self.path(version)
        try:
            if self._unusable:
                raise FileNotFoundError(path)
            index = load_index(path, claims, version)
        except FileNotFoundError:
            pass
        except CacheFileError as exc:
            self.warn(f"{path}: unusable claim index cache file ({exc}); building the index again")
        except OSError as exc:
            self._unusable = True
            self.warn(f"{path}: cannot read the claim index cache ({exc.strerror or exc}); "
                      "the index is built in memory by every run until the folder is usable")
        else:
            with contextlib.suppress(OSError):
                os.utime(path)  # recently used: kept when older files are removed
            self.last = "loaded"
            return index
        index = ClaimIndex(claims, version, **build)
        self.last = "built" if self.store(index) else "built (not cached)"
        return index

    def store(self, index: ClaimIndex) -> bool:
        """Writes the index's file (atomically); False, with one warning, if the folder is unusable."""
        if self._unusable:
            return False
        path = self.path(index.version)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                dump_index(index, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            self._unusable = True
            self.warn(f"{self.folder}: cannot write the claim index cache ({exc.strerror or exc}); "
                      "the index is built in memory by every run until the folder is writable")
            return False
        self._prune(path)
        return True

    def _prune(self, keep_path: Path) -> None:
        try:
            files = [(p.stat().st_mtime, p) for p in self.folder.glob(f"index-*{SUFFIX}") if p != keep_path]
        except OSError:
            return
        for _, p in sorted(files, reverse=True)[self.keep - 1:]:
            with contextlib.suppress(OSError):
                p.unlink()
        cutoff = time.time() - 3600
        for p in self.folder.glob(f".index-*{SUFFIX}.*.tmp"):  # left by a killed writer
            with contextlib.suppress(OSError):
                if p.stat().st_mtime < cutoff:
                    p.unlink()
