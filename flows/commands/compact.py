"""``claimwatch compact``: merge each partition's small part files into one.

Every query answers the same before and after. It commits through each table's log like any
writer, so it may run while a run writes (see docs/data.md). Runs also compact a partition on
their own once it holds more than ``[runner] compact_files`` files. The nightly
``compact_dataset`` flow does the same as this command under Prefect.

Exit codes: 0 done, 1 a part file is not Parquet or not of its table, a log or journal names
something that is not a part file (one line naming it; nothing is deleted), or the data dir
cannot be written, 2 a bad option.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("compact")(compact)


def compact(
    data_dir: str = typer.Option("claimwatch-data", "--data-dir",
                                 help="Dataset written by `claimwatch run` (a folder, s3://bucket/prefix or gs://bucket/prefix)."),
    table: Optional[List[str]] = typer.Option(None, "--table", help="Only this table (repeatable). Default: all."),
) -> None:
    """Merge small Parquet files per partition (same rows, fewer files) and remove leftover .tmp files."""
    from flows.store import TABLES, Store, StoreError

    if "://" not in data_dir and not Path(data_dir).is_dir():
        typer.echo(f"claimwatch compact: {data_dir}: no such data dir; pass the --data-dir of `claimwatch run`", err=True)
        raise typer.Exit(2)
    tables = table or list(TABLES)
    for t in tables:
        if t not in TABLES:
            typer.echo(f"claimwatch compact: unknown table {t!r}; use one of: {', '.join(TABLES)}", err=True)
            raise typer.Exit(2)
    try:
        store = Store(data_dir)
        store.check(tables)  # every bad file and a bad journal are refused before anything changes
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
