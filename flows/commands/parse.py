"""``claimwatch parse KIND FILE [FILE ...]``: saved responses -> normalised rows as JSONL."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any, List, Optional

import typer

MAX_FILE_BYTES = 50 * 1024 * 1024
KIND_HELP = ("rss, article, mastodon, bluesky, reddit, youtube-feed, youtube-api, telegram, captions, "
             "claimreview")


def register(app: typer.Typer) -> None:
    app.command("parse", no_args_is_help=True)(parse)


def parse(
    kind: str = typer.Argument(..., help=f"What the files are: {KIND_HELP}."),
    files: List[Path] = typer.Argument(..., help="Saved responses (a .gz file is inflated, capped)."),
    url: Optional[str] = typer.Option(None, help="The URL the files were fetched from (resolves relative links)."),
    source: str = typer.Option("", help="Source name to put in each row."),
) -> None:
    """Print the normalised rows of saved responses as JSON lines, each with its `source_file`.

    `article` gives one row per page (title and main text), `claimreview` one row per ClaimReview.
    A file that cannot be parsed gets one line on stderr and the others are still parsed; the exit
    status is 1 if any file failed, 2 for a usage error."""
    raise typer.Exit(run(kind, [str(f) for f in files], url=url, source=source))


def run(kind: str, files: list[str], *, url: str | None = None, source: str = "",
        out: Any = None, err: Any = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        parser = _parser(kind)
    except _UsageError as exc:
        print(f"claimwatch parse: {exc}", file=err)
        return 2
    failed = 0
    for name in files:
        try:
            data = read_input(name)
            rows = _call(parser, data, url=url, source=source, name=name)
        except Exception as exc:  # every failure is one line naming the file; never a traceback
            failed += 1
            print(f"{name}: {_describe(exc)}", file=err)
            continue
        lines = []
        for row in rows:
            record = dict(row)
            record["source_file"] = name
            lines.append(json.dumps(record, ensure_ascii=False, default=_json_default))
        if lines:
            out.write("\n".join(lines) + "\n")
    out.flush()
    return 1 if failed else 0


class _UsageError(Exception):
    pass


def _parser(kind: str):
    from connectors.errors import ConfigError
    from connectors.registry import PARSERS, parser_for

    try:
        return parser_for(kind)
    except ConfigError as exc:
        raise _UsageError(f"{exc}") from None
    except (ImportError, AttributeError) as exc:
        raise _UsageError(f"the {kind!r} parser is not available in this installation ({exc}); "
                          f"kinds: {', '.join(PARSERS)}") from None


def _call(parser, data: bytes, *, url: str | None, source: str, name: str | None = None) -> list[dict]:
    import inspect

    try:
        params = inspect.signature(parser).parameters
    except (TypeError, ValueError):
        params = {}
    kwargs = {}
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    if "url" in params or takes_any:
        kwargs["url"] = url
    if "source" in params or takes_any:
        kwargs["source"] = source
    if "name" in params:  # parsers that derive ids from the file name (captions)
        kwargs["name"] = name
    rows = parser(data, **kwargs)
    if isinstance(rows, tuple):  # parsers that also return a count or a cursor
        rows = rows[0]
    if isinstance(rows, dict):
        rows = [rows]
    rows = list(rows or [])
    if getattr(parser, "__module__", "") == "connectors.claimreview":
        from flows.claimrows import with_verdict

        rows = [with_verdict(r) for r in rows]  # the rating's meaning on the rules' scale
    return rows


def read_input(name: str) -> bytes:
    from connectors.errors import ParseError

    path = Path(name)
    if path.is_dir():
        raise ParseError("is a folder; give the files inside it")
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ParseError("no such file") from None
    except OSError as exc:
        raise ParseError(f"cannot read ({exc.strerror or exc})") from None
    if len(data) > MAX_FILE_BYTES:
        raise ParseError(f"larger than {MAX_FILE_BYTES} bytes; split it or parse a smaller sample")
    if data[:2] == b"\x1f\x8b":
        from connectors.safe import decompress

        data = decompress(data, "gzip", MAX_FILE_BYTES, what="gzip file")
    return data


def _describe(exc: BaseException) -> str:
    from connectors.errors import ConnectorError

    if isinstance(exc, ConnectorError):
        return str(exc) or type(exc).__name__
    if isinstance(exc, RecursionError):
        return "nested too deep to read"
    if isinstance(exc, MemoryError):
        return "too large to parse in memory"
    return f"could not be parsed ({type(exc).__name__}: {exc})"


def _json_default(v: Any) -> Any:
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if isinstance(v, (set, frozenset, tuple)):
        return list(v)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)
