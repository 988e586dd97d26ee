"""The `scizoo` command: demo, scicow, scanlog and schema sub-commands."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, help="scizoo: scan metadata capture and SciCat ingestion.")
scicow_app = typer.Typer(no_args_is_help=True, help="The ingestion consumer.")
scanlog_app = typer.Typer(no_args_is_help=True, help="The scan API and web table.")
schema_app = typer.Typer(no_args_is_help=True, help="JSON Schemas of the message contract.")
scifly_app = typer.Typer(no_args_is_help=True, help="The file watcher.")
app.add_typer(scifly_app, name="scifly")
app.add_typer(scicow_app, name="scicow")
app.add_typer(scanlog_app, name="scanlog")
app.add_typer(schema_app, name="schema")

SCHEMA_DIR = Path(__file__).parent / "schemas"


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # kafka-python reports every refused connection at WARNING/ERROR; our own code says what matters.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)


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
) -> None:
    """Run the whole pipeline on one machine with embedded services."""
    from rich.console import Console

    from ._demo import run_demo
    from ._errors import ScizooError

    _logging(verbose)
    # SIGTERM (a service manager, `timeout`, CI) stops the demo like Ctrl-C: its broker,
    # store and device servers are stopped on the way out.
    import signal

    def _interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)
    console = Console(stderr=True)
    try:
        result = run_demo(
            data_dir=data_dir.resolve(),
            config_path=config,
            scans=scans,
            serve=serve,
            port=port,
            interval_s=interval,
            console=console,
        )
    except ScizooError as err:
        console.print(f"[red]demo failed:[/] {err}")
        raise typer.Exit(2) from err
    typer.echo(
        f"demo: {result.captured} scans captured, {result.in_catalogue} datasets in catalogue, {result.lost} lost"
    )
    if result.lost:
        raise typer.Exit(1)


def _until_stopped(service: Callable[[threading.Event], None]) -> None:
    """Run a long-lived service until SIGTERM or Ctrl-C; either lets it finish its batch and close."""
    import signal

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        service(stop)
    except KeyboardInterrupt:
        stop.set()


@scicow_app.command("run")
def scicow_run(verbose: bool = True) -> None:
    """Consume every beamline topic into the catalogue (settings from SCICOW_* variables)."""
    from scicow import ScicowSettings, run

    _logging(verbose)
    settings = ScicowSettings()
    _until_stopped(lambda stop: run(settings, stop))


@scifly_app.command("run")
def scifly_run(verbose: bool = True) -> None:
    """Follow the PathFixer and capture completed files (settings from SCIFLY_* variables)."""
    from scifly import SciflySettings, run_watcher

    _logging(verbose)
    settings = SciflySettings()
    _until_stopped(lambda stop: run_watcher(settings, stop))


@scicow_app.command("redrive")
def scicow_redrive() -> None:
    """Retry every quarantined scan whose proposal is now known."""
    from kafka import KafkaProducer
    from pymongo import MongoClient

    from scicow import ScicowSettings, make_ingestor

    _logging(False)
    settings = ScicowSettings()
    client: MongoClient = MongoClient(settings.mongo_uri.get_secret_value(), tz_aware=True)
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    try:
        result = make_ingestor(settings, client[settings.database], producer).redrive_quarantine()
    finally:
        producer.close(timeout=5)
        client.close()
    typer.echo(f"redrive: {len(result.ingested)} ingested, {len(result.dead_letters)} dead letters")


@scanlog_app.command("serve")
def scanlog_serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the scan API (settings from SCANLOG_* variables)."""
    import uvicorn

    from scanlog_api import ScanlogSettings, create_app
    from scanlog_api._serve import SHUTDOWN_GRACE_S

    uvicorn.run(create_app(ScanlogSettings()), host=host, port=port, timeout_graceful_shutdown=SHUTDOWN_GRACE_S)


def schema_documents() -> dict[str, str]:
    """file name -> JSON Schema text, for every message model."""
    import json

    from ._messages import MESSAGE_MODELS

    return {
        f"{name}.schema.json": json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n"
        for name, model in MESSAGE_MODELS.items()
    }


@schema_app.command("export")
def schema_export() -> None:
    """Write the JSON Schemas under scizoo/schemas (checked in; a test fails on drift)."""
    SCHEMA_DIR.mkdir(exist_ok=True)
    for name, text in schema_documents().items():
        (SCHEMA_DIR / name).write_text(text, encoding="utf-8")
        typer.echo(f"wrote {SCHEMA_DIR / name}", err=True)


if __name__ == "__main__":
    app()
