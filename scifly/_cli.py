"""The `scifly` command (also `scizoo scifly`): follow the PathFixer and capture completed files."""

from __future__ import annotations

import typer

from scizoo.commands import VersionOption

app = typer.Typer(no_args_is_help=True, help="scifly: the file watcher (settings from SCIFLY_* variables).")


@app.callback()
def _main(version: VersionOption = False) -> None:
    """scifly: completed files -> scan messages."""


@app.command("run")
def run_command(verbose: bool = True, debug: bool = typer.Option(False, help="Show tracebacks.")) -> None:
    """Follow the PathFixer and capture completed files."""
    from scizoo.core import run_service

    from . import SciflySettings, run_watcher

    run_service(lambda stop: run_watcher(SciflySettings(), stop), verbose=verbose, debug=debug)
