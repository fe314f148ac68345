"""The ``claimwatch`` command line itself: --version, and help texts that describe flags as flags."""

from __future__ import annotations

from importlib.metadata import version

import pytest
from typer.testing import CliRunner

from flows.cli import app

COMMANDS = sorted(app.registered_commands and [c.name or c.callback.__name__ for c in app.registered_commands])
GROUPS = sorted(g.name for g in app.registered_groups if g.name)


def test_version_prints_the_installed_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"claimwatch {version('claimwatch')}"


@pytest.mark.parametrize("argv", [[], *[[c] for c in COMMANDS + GROUPS]], ids=lambda a: " ".join(a) or "claimwatch")
def test_help_shows_flags_without_a_value_type(argv):
    result = CliRunner().invoke(app, [*argv, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    assert "--help" in result.stdout and "<bool>" not in result.stdout
