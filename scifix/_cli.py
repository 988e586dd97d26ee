"""The `scifix` command (also `scizoo fixity`): run the worker, verify datasets' files now."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from scizoo.commands import VersionOption

app = typer.Typer(no_args_is_help=True,
                  help="scifix: checksums of the catalogue's files (settings from SCIFIX_* variables).")
Debug = Annotated[bool, typer.Option(help="Show tracebacks.")]


@app.callback()
def _main(version: VersionOption = False) -> None:
    """scifix: every catalogued file carries its checksum, and is checked again."""


@app.command("run")
def run_command(verbose: bool = True, debug: Debug = False) -> None:
    """Join the consumer group and checksum the files of every ingested dataset."""
    from scizoo.core import run_service

    from ._loop import run_worker
    from ._settings import ScifixSettings

    run_service(lambda stop: run_worker(ScifixSettings(), stop), verbose=verbose, debug=debug)


@app.command("verify")
def verify_command(
    pid: Annotated[str | None, typer.Argument(help="The dataset's pid.")] = None,
    proposal: Annotated[str | None, typer.Option(help="Every dataset of this proposal.")] = None,
    rate: Annotated[int | None, typer.Option(
        help="Bytes per second at most (default SCIFIX_READ_RATE; 0: unbounded).")] = None,
    verbose: bool = False, debug: Debug = False,
) -> None:
    """Read every file of a dataset (or of a proposal's datasets) again and compare its checksum.

    Files without a checksum yet get one. Exit code 1 when any file is changed, gone, outside
    the data roots, unreadable, or its checksum is not the recorded one.
    """
    from pymongo import MongoClient

    from scizoo.core import DATASET_COLLECTION, clear_failure, configure_logging
    from scizoo.ops.store import ping_store

    from ._fixity import Fixity
    from ._rules import PROBLEMS
    from ._settings import ScifixSettings

    if (pid is None) == (proposal is None):
        raise typer.BadParameter("name one dataset pid, or --proposal P")
    configure_logging(verbose, debug=debug)
    with clear_failure(debug):
        settings = ScifixSettings()
        if rate is not None:
            settings = settings.model_copy(update={"read_rate": rate})
        ping_store(settings.mongo_uri.get_secret_value(), settings.connect_timeout_s, service="scifix",
                   setting="SCIFIX_MONGO_URI")
        client: MongoClient[dict[str, Any]] = MongoClient(settings.mongo_uri.get_secret_value(), tz_aware=True)
        try:
            db = client[settings.database]
            pids = [pid] if pid is not None else [
                d["_id"] for d in db[DATASET_COLLECTION].find({"proposalIds": proposal}, {"_id": 1})]
            fixity = Fixity(db, settings)
            fixity.ensure_indexes()
            bad = missing = 0
            for one in pids:
                report = fixity.check(one, recheck=True)
                if report is None:
                    typer.echo(f"{one}: not in the catalogue", err=True)
                    missing += 1
                    continue
                for f in report.files:
                    typer.echo(f"{f.outcome.value:<10} {one} {f.path}" + (f": {f.reason}" if f.reason else ""))
                bad += sum(1 for f in report.files if f.outcome in PROBLEMS)
        finally:
            client.close()
    typer.echo(f"verify: {len(pids)} datasets, {bad} problem files, {missing} not found", err=True)
    if bad or missing or not pids:
        raise typer.Exit(1)
