"""``claimwatch``: the command line. Sub-commands live in ``flows/commands/`` and import their
heavy dependencies (Prefect, matching) only when they run, so ``--help`` and ``parse`` start fast."""

from __future__ import annotations

import importlib
import sys

import typer

def _plain_flags() -> None:
    """typer 0.29 prints every boolean flag as ``--demo <bool>`` (``--help <bool>`` too), as if it
    took a value; a flag takes none, so its help shows no type."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich

    def display_type_rich(self, ctx):  # type: ignore[no-untyped-def]
        if self.is_flag and self.metavar is None:
            return None
        return shown(self, ctx)

    TyperOption.display_type_rich = display_type_rich


_plain_flags()

def _option_aliases(name: str) -> str:
    """``--claims-dir`` is ``--claims`` in every command (the name the deployments' ``claims_dir``
    parameter and earlier versions use)."""
    return "claims" if name == "claims-dir" else name


app = typer.Typer(
    name="claimwatch",
    help="Watch news and social video posts for claims fact-checkers have debunked, and flag the posts that spread them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"token_normalize_func": _option_aliases},
)

def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"claimwatch {version('claimwatch')}")
        except PackageNotFoundError:  # run from a checkout that was never installed
            typer.echo("claimwatch (not installed)")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print claimwatch's version and exit.")) -> None:
    """Watch news and social video posts for claims fact-checkers have debunked, and flag the posts that spread them."""


COMMAND_MODULES = ("run", "match", "label", "parse", "claims", "review", "report", "compact", "serve", "init",
                   "schema")

for _name in COMMAND_MODULES:
    try:
        _mod = importlib.import_module(f"flows.commands.{_name}")
    except ModuleNotFoundError as exc:  # a command module not written yet
        if exc.name != f"flows.commands.{_name}":
            raise
        continue
    _mod.register(app)


def main() -> None:
    from flows.matching import limit_malloc_arenas

    limit_malloc_arenas()  # before any thread allocates: memory freed between match rounds goes back
    try:
        app()
    except KeyboardInterrupt:
        print("claimwatch: interrupted", file=sys.stderr)
        raise SystemExit(130)


if __name__ == "__main__":
    main()
