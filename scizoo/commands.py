"""What every scizoo command shares: ``--version``.

One option, declared once, that each typer app's callback takes as a parameter, so the seven
commands (scizoo, scicow, scifly, scanlog, scidog, scireduce, scifish) answer alike. Only
typer and the package's version here: a beamline machine's command imports nothing else.
"""

from __future__ import annotations

from typing import Annotated

import typer

from scizoo import __version__


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"scizoo {__version__}")
        raise typer.Exit()


#: A callback's parameter: ``def _main(version: VersionOption = False) -> None``.
VersionOption = Annotated[bool, typer.Option(
    "--version", callback=_show_version, is_eager=True, help="Show scizoo's version and exit.")]
