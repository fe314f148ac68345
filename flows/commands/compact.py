"""``claimwatch compact``: merge each partition's small part files into one.

Every query answers the same before and after; it holds the data dir's write lock, so it never
interleaves with a run's writes. The nightly ``compact_dataset`` flow does the same under Prefect.

Exit codes: 0 done, 1 a part file is not Parquet (one line naming it) or the data dir cannot be
written, 2 a bad option.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("compact")(compact)


def compact(
    data_dir: Path = typer.Option(Path("claimwatch-data"), "--data-dir", help="Dataset written by `claimwatch run`."),
    table: Optional[List[str]] = typer.Option(None, "--table", help="Only this table (repeatable). Default: all."),
) -> None:
    """Merge small Parquet files per partition (same rows, fewer files) and remove leftover .tmp files."""
    from flows.store import TABLES, Store, StoreError

    if not data_dir.is_dir():
        typer.echo(f"claimwatch compact: {data_dir}: no such data dir; pass the --data-dir of `claimwatch run`", err=True)
        raise typer.Exit(2)
    tables = table or list(TABLES)
    for t in tables:
        if t not in TABLES:
            typer.echo(f"claimwatch compact: unknown table {t!r}; use one of: {', '.join(TABLES)}", err=True)
            raise typer.Exit(2)
    store = Store(data_dir)
    try:
        merged = {t: store.compact(t) for t in tables}
        removed = store.remove_tmp()
    except (StoreError, OSError) as exc:
        typer.echo(f"claimwatch compact: {exc}", err=True)
        raise typer.Exit(1)
    n = 0
    for t, parts in merged.items():
        for part, files, rows in parts:
            typer.echo(f"{t}/{part}: {files} files -> 1 ({rows} rows)")
            n += 1
    if removed:
        typer.echo(f"removed {removed} leftover .tmp files")
    if not n:
        typer.echo("nothing to compact (every partition has at most one file)")
