"""Helpers for reading hostile input in bounded memory and time.

Every byte that comes from outside (an HTTP body, a saved response) goes through one of these
before a parser sees it:

* :class:`BoundedDecompressor` inflates gzip/deflate chunk by chunk and stops at a cap, so a
  small bomb never turns into a large buffer.
* :func:`load_json` refuses JSON nested deeper than ``max_depth`` with a :class:`ParseError`
  (instead of a ``RecursionError`` deep in the stack).
* :func:`check_xml` refuses XML whose DTD declares expanding or external entities, before the
  bytes reach a parser with its own rules (feedparser); :func:`parse_xml` parses with lxml,
  entities unresolved, no network, no DTD.
* :func:`decode_text` decodes with the declared charset, then a detected one, then UTF-8 with
  replacement characters; it never raises.
* :func:`clip` bounds a text field.
"""

from __future__ import annotations

import codecs
import json
import re
import zlib
from typing import Any

from connectors.errors import ParseError, TooLargeError

MAX_JSON_DEPTH = 200
MAX_TEXT_CHARS = 200_000


class BoundedDecompressor:
    """Inflate a ``Content-Encoding`` (gzip, x-gzip, deflate, identity) chunk by chunk, raising
    :class:`TooLargeError` as soon as the output passes ``max_bytes``. Memory held at any time is
    one output chunk of at most ``max_bytes + 1`` bytes."""

    def __init__(self, encoding: str | None, max_bytes: int, what: str = "response"):
        self.encodings = [e.strip().lower() for e in (encoding or "").split(",") if e.strip()]
        self.encodings = [e for e in self.encodings if e != "identity"]
        for e in self.encodings:
            if e not in ("gzip", "x-gzip", "deflate"):
                raise ParseError(f"{what}: unsupported Content-Encoding {e!r}")
        if len(self.encodings) > 1:
            raise ParseError(f"{what}: stacked Content-Encoding {encoding!r} is not supported")
        self.mode = self.encodings[0] if self.encodings else None
        self.max_bytes = max_bytes
        self.what = what
        self.total = 0
        self._d: Any = None
        self._first = True

    def _new(self) -> Any:
        return zlib.decompressobj(47 if self.mode in ("gzip", "x-gzip") else 15)

    def _count(self, out: bytes) -> bytes:
        self.total += len(out)
        if self.total > self.max_bytes:
            raise TooLargeError(
                f"{self.what}: decompressed body larger than {self.max_bytes} bytes "
                "(a compression bomb or a very large document); raise max_bytes if it is expected"
            )
        return out

    def feed(self, data: bytes) -> bytes:
        if self.mode is None:
            return self._count(data)
        if self._d is None:
            self._d = self._new()
        parts = []
        while data:
            room = self.max_bytes - self.total + 1
            try:
                out = self._d.decompress(data, room)
            except zlib.error:
                if self._first and self.mode == "deflate":
                    # some servers send raw deflate without the zlib header
                    self._d = zlib.decompressobj(-15)
                    self._first = False
                    continue
                raise ParseError(f"{self.what}: corrupt {self.mode} data") from None
            self._first = False
            parts.append(self._count(out))
            if self._d.unconsumed_tail:
                data = self._d.unconsumed_tail
            elif self._d.eof and self._d.unused_data:
                data = self._d.unused_data  # next gzip member
                self._d = self._new()
            else:
                data = b""
        return b"".join(parts)

    def flush(self) -> bytes:
        if self._d is None:
            return b""
        return self._count(self._d.flush())


def decompress(data: bytes, encoding: str, max_bytes: int, what: str = "data") -> bytes:
    """Inflate a whole buffer with the cap of :class:`BoundedDecompressor`."""
    d = BoundedDecompressor(encoding, max_bytes, what)
    out = [d.feed(data[i:i + 65536]) for i in range(0, len(data), 65536)]
    out.append(d.flush())
    return b"".join(out)


_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)


def json_depth_exceeds(data: bytes | str, max_depth: int) -> bool:
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return False
    depth = 0
    for m in _JSON_TOKENS.finditer(data):
        c = m.group()
        if c in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                return True
        elif c in (b"]", b"}"):
            depth -= 1
    return False


def load_json(data: bytes | str, *, max_depth: int = MAX_JSON_DEPTH, what: str = "JSON") -> Any:
    """``json.loads`` that raises :class:`ParseError` for invalid JSON and for nesting deeper
    than ``max_depth`` (checked before parsing, in linear time)."""
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data)
        if data.startswith(codecs.BOM_UTF8):
            data = data[3:]
    if json_depth_exceeds(data, max_depth):
        raise ParseError(f"{what}: nested deeper than {max_depth} levels; refused")
    try:
        return json.loads(data)
    except RecursionError:
        raise ParseError(f"{what}: nested too deep to read; refused") from None
    except UnicodeDecodeError as exc:
        raise ParseError(f"{what}: not UTF-8 encoded ({exc.reason} at byte {exc.start})") from None
    except ValueError as exc:
        raise ParseError(f"{what}: not valid JSON ({exc})") from None


_ENTITY = re.compile(rb"<!ENTITY\s+(%\s+)?[^\s>]+\s+(SYSTEM|PUBLIC|\"[^\"]*\"|'[^']*')", re.I)
_MAX_ENTITIES = 64


def _prolog_doctype(data: bytes) -> int:
    """Offset of the document's ``<!DOCTYPE`` (it can only stand in the prolog), or -1."""
    pos, n = 0, len(data)
    if data.startswith(codecs.BOM_UTF8):
        pos = 3
    while pos < n:
        while pos < n and data[pos] in b" \t\r\n":
            pos += 1
        if data.startswith(b"<?", pos):
            close = b"?>"
        elif data.startswith(b"<!--", pos):
            close = b"-->"
        else:
            break
        end = data.find(close, pos)
        if end < 0:
            return -1
        pos = end + len(close)
    return pos if data[pos:pos + 9].upper() == b"<!DOCTYPE" else -1


def check_xml(data: bytes, what: str = "XML") -> None:
    """Raise :class:`ParseError` if the document's DTD could expand (entities referring to
    entities, parameter entities) or reach outside (SYSTEM/PUBLIC entities). Plain character
    entities such as ``<!ENTITY nbsp "&#160;">`` and external DTD identifiers (RSS 0.91's
    Netscape DOCTYPE) are allowed: no parser here loads them. UTF-16/32 documents are checked
    after transcoding."""
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) or b"\x00" in data[:4]:
        for enc in ("utf-32", "utf-16", "utf-16-le", "utf-16-be"):
            try:
                data = data.decode(enc).encode("utf-8")
                break
            except UnicodeError:
                continue
    at = _prolog_doctype(data)
    if at < 0:
        return
    start = at + 9
    end = data.find(b"]>", start)
    if end < 0:
        end = data.find(b">", start)
    subset = data[start:end if end >= 0 else len(data)]
    if b"<!ENTITY" not in subset.upper():
        return
    count = 0
    for em in _ENTITY.finditer(subset):
        count += 1
        if em.group(1):
            raise ParseError(f"{what}: declares parameter entities; refused (entity expansion attack?)")
        value = em.group(2)
        if value.upper() in (b"SYSTEM", b"PUBLIC"):
            raise ParseError(f"{what}: declares external entities; refused (XXE attack?)")
        if b"&" in value[1:-1].replace(b"&#", b""):
            raise ParseError(f"{what}: declares entities that expand other entities; refused "
                             "(entity expansion attack)")
    if count != subset.upper().count(b"<!ENTITY") or count > _MAX_ENTITIES:
        raise ParseError(f"{what}: DTD declares entities that cannot be checked; refused")


def parse_xml(data: bytes, what: str = "XML") -> Any:
    """Parse XML with lxml: no entity resolution, no DTD loading, no network, no huge trees.
    Returns the root element; raises :class:`ParseError`."""
    from lxml import etree

    check_xml(data, what)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False, recover=False)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"{what}: not well-formed XML ({exc})") from None


_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_XML_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([\w.:-]+)", re.I)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
         (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def charset_of(content_type: str | None) -> str | None:
    m = _CHARSET.search(content_type or "")
    return m.group(1) if m else None


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_text(data: bytes, declared: str | None = None) -> str:
    """Decode bytes to text; never raises. Order: byte-order mark, ``declared`` charset (from a
    Content-Type header), an in-document ``<?xml encoding>``/``<meta charset>``, UTF-8, a
    detected charset (charset-normalizer), and finally UTF-8 with replacement characters."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return data[len(bom):].decode(enc, "replace")
    head = data[:4096]
    candidates = [declared]
    m = _XML_ENCODING.search(head) or _META_CHARSET.search(head)
    if m:
        candidates.append(m.group(1).decode("ascii", "replace"))
    candidates.append("utf-8")
    for name in candidates:
        enc = _codec(name)
        if enc is None:
            continue
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:200_000]).best()
        if best is not None and best.encoding:
            guess = codecs.lookup(best.encoding).name
            if guess.startswith(("cp125", "iso8859", "latin", "mac-")):
                # single-byte Latin guesses are unreliable on short text; windows-1252 is the
                # usual truth (as browsers assume)
                try:
                    return data.decode("cp1252")
                except UnicodeDecodeError:
                    pass
            return data.decode(best.encoding, "replace")
    except Exception:  # detection is a best effort; replacement below always works
        pass
    return data.decode("utf-8", "replace")


def clip(text: str | None, max_chars: int = MAX_TEXT_CHARS) -> str | None:
    """Bound a text field (a 10 MB single line becomes ``max_chars`` characters)."""
    if text is None or len(text) <= max_chars:
        return text
    return text[:max_chars]


_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_WRAPPERS = re.compile(r"^\s*(?://\s*)?<!\[CDATA\[|(?://\s*)?\]\]>\s*$|^\s*<!--|-->\s*$")


def load_json_lenient(text: str, *, max_depth: int = MAX_JSON_DEPTH, what: str = "JSON") -> list[Any]:
    """Every JSON value in ``text``, tolerating what pages put in ``<script>`` blocks: CDATA and
    comment wrappers, HTML entities, trailing commas, raw control characters in strings and
    several values one after another. Raises :class:`ParseError` if nothing can be read or the
    nesting is deeper than ``max_depth``."""
    import html as _html

    text = _WRAPPERS.sub("", text.strip()).strip()
    if json_depth_exceeds(text, max_depth):
        raise ParseError(f"{what}: nested deeper than {max_depth} levels; refused")
    attempts = [text, _TRAILING_COMMA.sub(r"\1", text)]
    if "&" in text:
        unescaped = _html.unescape(text)
        attempts += [unescaped, _TRAILING_COMMA.sub(r"\1", unescaped)]
    decoder = json.JSONDecoder(strict=False)
    last = None
    for candidate in attempts:
        values, pos, n = [], 0, len(candidate)
        try:
            while pos < n:
                while pos < n and candidate[pos] in " \t\r\n;,":
                    pos += 1
                if pos >= n:
                    break
                value, pos = decoder.raw_decode(candidate, pos)
                values.append(value)
        except RecursionError:
            raise ParseError(f"{what}: nested too deep to read; refused") from None
        except ValueError as exc:
            last = exc
            if values:
                return values
            continue
        if values:
            return values
    raise ParseError(f"{what}: not valid JSON ({last or 'empty'})")
