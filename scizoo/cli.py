"""The umbrella `scizoo` command: the demo, the schemas, and each deployable's own command.

``scizoo scicow ...`` is the same app as ``scicow ...`` (likewise scifly, scanlog,
scifish; ``scizoo fixity ...`` is ``scifix ...``). A deployable whose extra is not installed
here answers with how to install it.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from scizoo.commands import VersionOption

app = typer.Typer(no_args_is_help=True, help="scizoo: scan metadata capture and SciCat ingestion.")
schema_app = typer.Typer(no_args_is_help=True, help="JSON Schemas of the message contract.")
app.add_typer(schema_app, name="schema")
catalogue_app = typer.Typer(no_args_is_help=True, help="The SciCat catalogue in MongoDB.")
app.add_typer(catalogue_app, name="catalogue")


@app.callback()
def _main(version: VersionOption = False) -> None:
    """scizoo: scan metadata capture and SciCat ingestion."""


def _missing(name: str, extra: str, err: ImportError) -> typer.Typer:
    stub = typer.Typer(help=f"{name} (not installed here: pip install 'scizoo[{extra}]')")

    @stub.callback(invoke_without_command=True)
    def _explain() -> None:
        typer.echo(f"error: {name} needs packages not installed here ({err.name}): pip install 'scizoo[{extra}]'",
                   err=True)
        raise typer.Exit(2)

    return stub


try:
    from scicow._cli import app as scicow_app
except ImportError as err:
    scicow_app = _missing("scicow", "scicow", err)
try:
    from scanlog_api._cli import app as scanlog_app
except ImportError as err:
    scanlog_app = _missing("scanlog", "web", err)
try:
    from scifly._cli import app as scifly_app
except ImportError as err:
    scifly_app = _missing("scifly", "scifly", err)
try:
    from scidog._cli import app as scidog_app
except ImportError as err:
    scidog_app = _missing("scidog", "scidog", err)
try:
    from scireduce._cli import app as scireduce_app
except ImportError as err:
    scireduce_app = _missing("scireduce", "reduce", err)
try:
    from scifish._cli import app as scifish_app
except ImportError as err:
    scifish_app = _missing("scifish", "capture", err)
try:
    from scifix._cli import app as scifix_app
except ImportError as err:
    scifix_app = _missing("scifix", "fixity", err)

app.add_typer(scicow_app, name="scicow")
app.add_typer(scanlog_app, name="scanlog")
app.add_typer(scifly_app, name="scifly")
app.add_typer(scifish_app, name="scifish")
app.add_typer(scidog_app, name="scidog")
app.add_typer(scireduce_app, name="scireduce")
app.add_typer(scifix_app, name="fixity")


@app.command()
def demo(
    scans: Annotated[int, typer.Option(min=0, help="Scans to capture before serving.")] = 10,
    serve: Annotated[bool, typer.Option(help="Keep serving the API and scanning until Ctrl-C.")] = True,
    data_dir: Annotated[Path, typer.Option(help="Folder for the store's files, spool and scan files.")] = Path(
        ".demo-data"
    ),
    config: Annotated[Path, typer.Option(help="Beamline configuration.")] = Path("config/beamlines/sim.yaml"),
    port: Annotated[int, typer.Option(help="Port of the scan API.")] = 8000,
    interval: Annotated[float, typer.Option(min=0.5, help="Seconds between scans while serving.")] = 4.0,
    verbose: bool = False,
    debug: bool = typer.Option(False, help="Show tracebacks."),
) -> None:
    """Run the whole pipeline on one machine with embedded services."""
    from rich.console import Console

    from scizoo.core import clear_failure, configure_logging, stacks_on_sigusr1

    from .demo import run_demo

    configure_logging(verbose, debug=debug)
    stacks_on_sigusr1()

    # SIGTERM (a service manager, `timeout`, CI) stops the demo like Ctrl-C: the demo
    # finishes the scan in hand and stops its broker, store and device servers on the way
    # out. An event rather than an exception, so a signal never lands inside a library call.
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    console = Console(stderr=True)
    with clear_failure(debug):
        result = run_demo(data_dir=data_dir.resolve(), config_path=config, scans=scans, serve=serve, port=port,
                          interval_s=interval, console=console, stop=stop)
    typer.echo(
        f"demo: {result.captured} scans captured, {result.in_catalogue} datasets in catalogue, "
        f"{result.reduced} reduced, {result.lost} lost"
    )
    if result.lost:
        raise typer.Exit(1)


@schema_app.command("export")
def schema_export() -> None:
    """Write the JSON Schemas under scizoo/core/schemas (checked in; a test fails on drift)."""
    from scizoo.core import SCHEMA_DIR, schema_documents

    SCHEMA_DIR.mkdir(exist_ok=True)
    for name, text in schema_documents().items():
        (SCHEMA_DIR / name).write_text(text, encoding="utf-8")
        typer.echo(f"wrote {SCHEMA_DIR / name}", err=True)


@catalogue_app.command("migrate")
def catalogue_migrate(
    mongo_uri: Annotated[str, typer.Option(envvar="SCIZOO_MONGO_URI", help="The catalogue's MongoDB.")] = (
        "mongodb://localhost:27017"),
    database: Annotated[str, typer.Option(envvar="SCIZOO_DATABASE", help="The catalogue's database.")] = "scicat",
    debug: bool = typer.Option(False, help="Show tracebacks."),
) -> None:
    """Move documents an older scizoo stored into the shape the SciCat backend reads (every
    service also does this at start; running it again finds nothing to do)."""
    from scizoo.core import clear_failure, configure_logging
    from scizoo.ops.store import migrate_store

    configure_logging(False, debug=debug)
    with clear_failure(debug):
        moved = migrate_store(mongo_uri, database)
    typer.echo("migrate: " + ", ".join(f"{count} {what} rewritten" for what, count in moved.items()))


if __name__ == "__main__":
    app()
