"""``claimwatch init [DIR]``: a claim catalogue of your own, outside the installed package."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("init")(init)


def init(
    folder: Optional[Path] = typer.Argument(None, metavar="DIR", help="Folder to set up (default: $CLAIMWATCH_HOME if set, else the current folder)."),
) -> None:
    """Copy the shipped claim catalogue to DIR/claims, a folder you can edit, and say what to set.

    With CLAIMWATCH_HOME=DIR every command (run, serve, match, eval, claims) reads DIR/claims;
    `claims import`, `approve` and `retire` write there. An existing DIR/claims is never
    overwritten. Exit codes: 0 done; 1 the folder cannot be written; 2 DIR/claims exists already
    or DIR is a file.
    """
    from flows.home import HomeError, home, init_home

    target = folder or home() or Path(".")
    try:
        dest, n = init_home(target)
    except HomeError as exc:
        typer.echo(f"claimwatch init: {exc}", err=True)
        raise typer.Exit(2 if "exists already" in str(exc) or "is a file" in str(exc) else 1)
    where = dest.parent.resolve()
    typer.echo(f"claimwatch init: copied {n} catalogue files to {dest}")
    if home() is None or home().resolve() != where:
        typer.echo(f"set CLAIMWATCH_HOME so every command uses it:\n  export CLAIMWATCH_HOME={where}"
                   f"\n(or pass --claims {dest} to each command)")
    else:
        typer.echo(f"CLAIMWATCH_HOME={os.environ.get('CLAIMWATCH_HOME')} already points there")
