"""The `scireduce` command (also `scizoo scireduce`): run a worker, list jobs, list pipelines, reproduce a result."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from scizoo.commands import VersionOption

app = typer.Typer(no_args_is_help=True, help="scireduce: reduction workers (settings from SCIREDUCE_* variables).")
Debug = Annotated[bool, typer.Option(help="Show tracebacks.")]


@app.callback()
def _main(version: VersionOption = False) -> None:
    """scireduce: finished scans -> derived datasets."""


@app.command("run")
def run_command(verbose: bool = True, debug: Debug = False) -> None:
    """Join the consumer group and reduce what the rules match."""
    from scizoo.core import run_service

    from ._loop import run_worker
    from ._settings import ScireduceSettings

    run_service(lambda stop: run_worker(ScireduceSettings(), stop), verbose=verbose, debug=debug)


@app.command("jobs")
def jobs_command(state: Annotated[str, typer.Option(help="Only jobs in this state.")] = "",
                 limit: int = 50, debug: Debug = False) -> None:
    """The newest jobs: state, attempt, dataset, rule, and the derived dataset or the error."""
    from pymongo import DESCENDING, MongoClient

    from scizoo.core import JOB_COLLECTION, clear_failure
    from scizoo.ops.store import ping_store

    from ._settings import ScireduceSettings

    with clear_failure(debug):
        settings = ScireduceSettings()
        ping_store(settings.mongo_uri.get_secret_value(), 10.0, service="scireduce", setting="SCIREDUCE_MONGO_URI")
        client: MongoClient[dict[str, Any]] = MongoClient(settings.mongo_uri.get_secret_value())
        try:
            query = {"state": state} if state else {}
            for job in client[settings.database][JOB_COLLECTION].find(query).sort("updatedAt", DESCENDING).limit(limit):
                outcome = job.get("derived") or str(job.get("log", "")).strip().splitlines()[-1:] or [""]
                typer.echo(f"{job['state']:<9} #{job.get('attempt', 0)} {job['datasetId']} {job['rule']}: "
                           f"{outcome if isinstance(outcome, str) else outcome[0]}")
        finally:
            client.close()


def _params(pairs: list[str]) -> dict[str, dict[str, Any]]:
    """``step.key=value`` pairs (value read as JSON when it is JSON, else as text)."""
    import json

    out: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        step, dot, name = key.partition(".")
        if not sep or not dot or not step or not name:
            raise typer.BadParameter(f"{pair!r}: write step.key=value, e.g. bin.bins=5")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        out.setdefault(step, {})[name] = value
    return out


def _reducer() -> Any:
    from pymongo import MongoClient

    from scizoo.core import REDUCTION_RULES_COLLECTION
    from scizoo.ops.store import ping_store

    from ._loop import Reducer
    from ._rules import StoredRules
    from ._settings import ScireduceSettings

    settings = ScireduceSettings()
    ping_store(settings.mongo_uri.get_secret_value(), 10.0, service="scireduce", setting="SCIREDUCE_MONGO_URI")
    client: MongoClient[dict[str, Any]] = MongoClient(settings.mongo_uri.get_secret_value(), tz_aware=True)
    rules = StoredRules(client[settings.database][REDUCTION_RULES_COLLECTION], settings.rules_file)
    rules.seed()
    return client, Reducer(client[settings.database], rules.current(), settings)


@app.command("rerun")
def rerun_command(pid: str, rule: str,
                  param: Annotated[list[str] | None, typer.Option(help="step.key=value; repeat for more.")] = None,
                  debug: Debug = False) -> None:
    """Run a rule on a dataset again, with changed parameters: a new derived dataset, the old one kept."""
    from scizoo.core import JobState, clear_failure

    with clear_failure(debug):
        client, reducer = _reducer()
        try:
            job = reducer.rerun(pid, rule, _params(param or []))
        except (LookupError, ValueError) as err:
            raise typer.BadParameter(str(err)) from None
        finally:
            from ._runner import close_runner

            close_runner(reducer.runner)
            client.close()
        typer.echo(f"{job['state']} {job['_id']}: {job.get('derived') or str(job.get('log', '')).strip()[-300:]}")
        if job["state"] != JobState.SUCCEEDED:
            raise typer.Exit(1)


@app.command("cancel")
def cancel_command(job_id: str, debug: Debug = False) -> None:
    """Cancel a job that is not running (queued or failed): it is never run again."""
    from scizoo.core import clear_failure

    with clear_failure(debug):
        client, reducer = _reducer()
        try:
            job = reducer.cancel(job_id)
        except (LookupError, ValueError) as err:
            raise typer.BadParameter(str(err)) from None
        finally:
            client.close()
        typer.echo(f"cancelled {job['_id']}")


@app.command("rules")
def rules_command(action: Annotated[str, typer.Argument(help="export (to stdout, YAML) or import (from FILE).")],
                  file: Annotated[Path | None, typer.Argument(help="The YAML file to import.")] = None,
                  debug: Debug = False) -> None:
    """The reduction rules in use (the store's; the scan table's API edits them too): export or import as YAML."""
    import yaml

    from scizoo.core import clear_failure

    from ._rules import load_rules

    with clear_failure(debug):
        client, reducer = _reducer()
        try:
            if action == "export":
                typer.echo(yaml.safe_dump(reducer.rules.model_dump(), sort_keys=False), nl=False)
            elif action == "import" and file is not None:
                from scizoo.core import REDUCTION_RULES_COLLECTION

                from ._rules import StoredRules

                settings = reducer.settings
                book = StoredRules(client[settings.database][REDUCTION_RULES_COLLECTION], settings.rules_file)
                revision = book.replace(load_rules(file), by=f"scireduce rules import {file}")
                typer.echo(f"reduction rules at revision {revision}")
            else:
                raise typer.BadParameter("write 'rules export' or 'rules import FILE'")
        finally:
            client.close()


@app.command("reproduce")
def reproduce_command(
    file: Annotated[Path, typer.Argument(help="A derived NeXus file (profile.nxs) a job wrote.", exists=True,
                                         dir_okay=False)],
    atol: Annotated[float, typer.Option(min=0, help="Absolute tolerance (0: the same numbers, bit for bit).")] = 0.0,
    rtol: Annotated[float, typer.Option(min=0, help="Relative tolerance.")] = 0.0,
    python: Annotated[str, typer.Option(help="Run in this interpreter (default: this one).")] = "",
    timeout: Annotated[float, typer.Option(min=1, help="Seconds the run may take.")] = 600.0,
    module_pipelines: Annotated[bool, typer.Option(help="Allow a pipeline the file names by module path "
                                                        "(importing it runs its code).")] = False,
    debug: Debug = False,
) -> None:
    """Run a derived file's recipe again and check the numbers are the same: exit 0 "identical",
    1 naming each array that differs, 2 when it cannot be run (no recipe, an input changed)."""
    from scizoo.core import clear_failure

    from ._reproduce import ReproduceError, reproduce

    with clear_failure(debug):
        try:
            done = reproduce(file, atol=atol, rtol=rtol, python=python, timeout_s=timeout,
                             module_pipelines=module_pipelines)
        except ReproduceError as err:
            typer.echo(f"not reproduced: {err}", err=True)
            raise typer.Exit(2) from None
        for note in done.notes:
            typer.echo(f"note: {note}", err=True)
        if done.identical:
            typer.echo(f"identical: {file} ({', '.join(done.arrays)}; atol {atol:g}, rtol {rtol:g})")
            return
        typer.echo(f"different: {file}")
        for name, why in done.different.items():
            typer.echo(f"  {name}: {why}")
        raise typer.Exit(1)


@app.command("pipelines")
def pipelines_command() -> None:
    """The registered pipelines (entry-point group scizoo.pipelines) and their steps."""
    from ._registry import pipelines

    for name, pipeline in sorted(pipelines().items()):
        steps = ", ".join(f"{s.name} {s.version}" for s in pipeline.steps)
        typer.echo(f"{name} {pipeline.version}: {steps}  ({pipeline.description})")
