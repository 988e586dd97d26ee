"""The `scicow` command (also `scizoo scicow`): run the consumer, re-drive the quarantine."""

from __future__ import annotations

import typer

from scizoo.commands import VersionOption

app = typer.Typer(no_args_is_help=True, help="scicow: the ingestion consumer (settings from SCICOW_* variables).")


@app.callback()
def _main(version: VersionOption = False) -> None:
    """scicow: Kafka -> SciCat catalogue."""


@app.command("run")
def run_command(verbose: bool = True, debug: bool = typer.Option(False, help="Show tracebacks.")) -> None:
    """Consume every beamline topic into the catalogue."""
    from scizoo.core import run_service

    from ._consumer import run
    from ._settings import ScicowSettings

    run_service(lambda stop: run(ScicowSettings(), stop), verbose=verbose, debug=debug)


@app.command("redrive")
def redrive_command(debug: bool = typer.Option(False, help="Show tracebacks.")) -> None:
    """Retry every quarantined scan whose proposal is now known."""
    from scizoo.core import clear_failure, configure_logging

    from ._consumer import redrive
    from ._settings import ScicowSettings

    configure_logging(False, debug=debug)
    with clear_failure(debug):
        result = redrive(ScicowSettings())
    typer.echo(f"redrive: {len(result.ingested)} ingested, {len(result.dead_letters)} dead letters")
