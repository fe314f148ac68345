"""``claimwatch``: the command line. Sub-commands live in ``flows/commands/`` and import their
heavy dependencies (Prefect, matching) only when they run, so ``--help`` and ``parse`` start fast."""

from __future__ import annotations

import importlib
import sys

import typer

app = typer.Typer(
    name="claimwatch",
    help="Watch news and social video posts for claims fact-checkers have debunked, and flag the posts that spread them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMAND_MODULES = ("run", "match", "label", "parse", "claims", "review", "report", "compact", "serve")

for _name in COMMAND_MODULES:
    try:
        _mod = importlib.import_module(f"flows.commands.{_name}")
    except ModuleNotFoundError as exc:  # a command module not written yet
        if exc.name != f"flows.commands.{_name}":
            raise
        continue
    _mod.register(app)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        print("claimwatch: interrupted", file=sys.stderr)
        raise SystemExit(130)


if __name__ == "__main__":
    main()
