"""``claimwatch schema sources|catalogue``: the JSON Schema of a sources file or of a claim file.

Editors use it to complete keys and flag mistakes as you type (taplo / Even Better TOML for the
sources file, yaml-language-server for claim files; see docs/schema/README.md). It is generated
from the models that validate the files when claimwatch loads them.

Exit codes: 0 written, 2 an unknown schema name or an output file that cannot be written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)


def schema(
    name: str = typer.Argument(..., metavar="sources|catalogue",
                               help="sources: the sources file (TOML). catalogue: one claim file (YAML)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the schema to this file instead of printing it."),
) -> None:
    """Print the JSON Schema of a sources file or of a claim file, for editors."""
    from flows.schemas import render, schema_of

    try:
        text = render(schema_of(name))
    except ValueError as exc:
        typer.echo(f"claimwatch schema: {exc}", err=True)
        raise typer.Exit(2)
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        typer.echo(f"claimwatch schema: {out}: cannot write ({exc.strerror or exc}); pick a writable file", err=True)
        raise typer.Exit(2)
    typer.echo(f"wrote {out}")
