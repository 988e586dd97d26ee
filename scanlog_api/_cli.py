"""The `scanlog` command (also `scizoo scanlog`): serve the scan table and its API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scizoo.commands import VersionOption

app = typer.Typer(no_args_is_help=True, help="scanlog: the scan table and API (settings from SCANLOG_* variables).")


@app.callback()
def _main(version: VersionOption = False) -> None:
    """scanlog: the live scan table."""


@app.command("serve")
def serve_command(host: str = "127.0.0.1", port: int = 8000,
                  debug: bool = typer.Option(False, help="Show tracebacks.")) -> None:
    """Serve the scan API and table."""
    import uvicorn

    from scizoo.core import clear_failure, configure_logging, stacks_on_sigusr1

    from ._app import create_app
    from ._serve import SHUTDOWN_GRACE_S
    from ._settings import ScanlogSettings
    from ._store import ScanStore

    configure_logging(True, debug=debug)
    stacks_on_sigusr1()  # `kill -USR1` writes every thread's stack to the log (docs/deploy.md)
    with clear_failure(debug):
        settings = ScanlogSettings()
        probe = ScanStore(settings.mongo_uri, settings.database, connect_timeout_s=settings.connect_timeout_s)
        try:
            probe.ping()  # say so now, in one sentence, rather than on every request
        finally:
            probe.close()
    uvicorn.run(create_app(settings), host=host, port=port, timeout_graceful_shutdown=SHUTDOWN_GRACE_S)


@app.command("publish")
def publish_command(
    file: Annotated[Path, typer.Argument(help="YAML: title, abstract, creators, publisher, publication_year, "
                                              "dataset_pids, ... (the publication form's fields).")],
    group: Annotated[str, typer.Option(help="The owner group the datasets belong to (you act as its member).")],
    register: Annotated[bool, typer.Option(help="Register the DOI with DataCite right away.")] = True,
    debug: bool = typer.Option(False, help="Show tracebacks."),
) -> None:
    """Publish a list of datasets with its metadata, for scripts (settings from SCANLOG_*)."""
    import getpass
    from datetime import UTC, datetime

    import yaml

    from scizoo.core import clear_failure
    from scizoo.web import TokenUser

    from ._app import create_app
    from ._errors import ScanlogError
    from ._publish import validate_form
    from ._settings import ScanlogSettings

    with clear_failure(debug):
        settings = ScanlogSettings()
        try:
            form = validate_form(yaml.safe_load(file.read_text(encoding="utf-8")))
        except (OSError, yaml.YAMLError) as err:
            typer.echo(f"error: cannot read {file}: {err}", err=True)
            raise typer.Exit(2) from err
        except ScanlogError as err:
            typer.echo(f"error: {file}: {err}", err=True)
            raise typer.Exit(2) from err
        from ._services import Services

        app = create_app(settings)
        state = app.state
        assert isinstance(state, Services)
        state.store.ping()
        publisher = state.publisher
        assert publisher is not None  # an app over the catalogue publishes
        user = TokenUser(user=getpass.getuser(), groups=[group])
        try:
            made = publisher.create(form, user, datetime.now(UTC))
            typer.echo(f"{made['doi']}: created ({len(form.dataset_pids)} datasets)")
            if register:
                done = publisher.register(made["doi"], user, datetime.now(UTC))
                typer.echo(f"{done['doi']}: {done['status']}, {done['landingPage']}")
        except ScanlogError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(1) from err
        finally:
            state.store.close()


@app.command("release")
def release_command(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be released; change nothing.")] = False,
    policy_years: Annotated[int | None, typer.Option(
        min=1, max=100, help="With --dry-run: preview a policy of this many years (default: SCANLOG_RELEASE_POLICY_YEARS).",
    )] = None,
    debug: bool = typer.Option(False, help="Show tracebacks."),
) -> None:
    """One round of the release job: datasets whose embargo ended, and those the facility's policy
    releases. One line per dataset on stdout (pid, reason, source, due); what is held on stderr.
    For a CronJob, or by hand (the service runs it itself every SCANLOG_RELEASE_EVERY_S)."""
    from datetime import UTC, datetime

    from scizoo.core import clear_failure, configure_logging

    from ._app import create_app
    from ._services import Services
    from ._settings import ScanlogSettings

    if policy_years is not None and not dry_run:
        typer.echo("error: --policy-years previews a policy (with --dry-run); the real run follows "
                   "SCANLOG_RELEASE_POLICY_YEARS", err=True)
        raise typer.Exit(2)
    configure_logging(True, debug=debug)
    with clear_failure(debug):
        state = create_app(ScanlogSettings()).state
        assert isinstance(state, Services)
        try:
            state.store.ping()
            assert state.publisher is not None  # an app over the catalogue publishes
            plan = state.publisher.releaser.run(datetime.now(UTC), dry_run=dry_run, policy_years=policy_years)
        finally:
            state.store.close()
    for release in plan.releases:
        typer.echo(f"{release.pid}\t{release.reason}\t{release.source}\t{release.due.isoformat()}")
    for held in plan.held:
        typer.echo(f"held: {held.what}: {held.why}", err=True)
    typer.echo(f"{'would release' if dry_run else 'released'} {len(plan.releases)} dataset(s)", err=True)
