"""The `scidog` command (also `scizoo scidog`): configurations from the shell, and the server."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from scizoo.commands import VersionOption

if TYPE_CHECKING:
    from ._store import ConfigStore

app = typer.Typer(no_args_is_help=True, help="scidog: capture configurations (settings from SCIDOG_* variables).")
Debug = Annotated[bool, typer.Option(help="Show tracebacks.")]


@contextmanager
def _store(debug: bool) -> Iterator[ConfigStore]:
    """The store from SCIDOG_* settings, checked; a scidog error or an unreachable store is one line."""
    from scizoo.core import clear_failure

    from ._errors import ScidogError
    from ._settings import ScidogSettings
    from ._store import ConfigStore

    with clear_failure(debug):
        settings = ScidogSettings()
        store = ConfigStore(settings.mongo_uri, settings.database, connect_timeout_s=settings.connect_timeout_s)
        store.ping()
        try:
            yield store
        except ScidogError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(1) from err
        finally:
            store.close()


@app.callback()
def _main(version: VersionOption = False) -> None:
    """scidog: what every scan records, per beamline."""


@app.command("list")
def list_command(beamline: str, debug: Debug = False) -> None:
    """The beamline's configurations; * marks the active one."""
    with _store(debug) as store:
        for item in store.summaries(beamline):
            mark = "*" if item["active"] else " "
            typer.echo(f"{mark} {item['name']}  revision {item['revision']}  {item['entries']} entries  "
                       f"{item['description']}")


@app.command("export")
def export_command(beamline: str, name: str, debug: Debug = False) -> None:
    """Print a configuration as YAML."""
    from scizoo.core import dump_beamline_config

    with _store(debug) as store:
        typer.echo(dump_beamline_config(store.get(beamline, name)), nl=False)


@app.command("import")
def import_command(file: Path, activate: bool = False, debug: Debug = False) -> None:
    """Import a YAML configuration: created, or saved as its next revision."""
    from datetime import UTC, datetime

    from scizoo.core import clear_failure, load_beamline_config

    with clear_failure(debug):
        config = load_beamline_config(file, new=True)
    with _store(debug) as store:
        saved = store.import_config(config, getpass.getuser(), datetime.now(UTC))
        if activate:
            store.set_active(saved.beamline, saved.name, getpass.getuser(), datetime.now(UTC))
    typer.echo(f"{saved.beamline}/{saved.name}: revision {saved.revision}{' (active)' if activate else ''}")


@app.command("activate")
def activate_command(beamline: str, name: str, debug: Debug = False) -> None:
    """Make a configuration the beamline's active one."""
    from datetime import UTC, datetime

    with _store(debug) as store:
        store.set_active(beamline, name, getpass.getuser(), datetime.now(UTC))
    typer.echo(f"{beamline}: {name} is active")


@app.command("validate")
def validate_command(file: Path, debug: Debug = False) -> None:
    """Check every device and attribute of a YAML configuration against the Tango database."""
    from scizoo.core import clear_failure, load_beamline_config

    from ._settings import ScidogSettings
    from ._tango import TangoBrowser
    from ._validate import problems

    with clear_failure(debug):
        settings = ScidogSettings()
        config = load_beamline_config(file, new=True)
        browser = TangoBrowser(settings.device_addresses, timeout_s=settings.device_timeout_s,
                               use_database=settings.use_tango_database, tango_host=settings.tango_host,
                               proxy_cache_size=settings.proxy_cache_size)
        found = problems(config, browser)
    for problem in found:
        typer.echo(f"{problem['field']}: {problem['message']}")
    typer.echo(f"{file}: {len(config.attributes)} entries, {len(found)} problem(s)", err=True)
    if found:
        raise typer.Exit(1)


@app.command("serve")
def serve_command(host: str = "127.0.0.1", port: int = 8010, debug: Debug = False) -> None:
    """Serve the API and the editor."""
    import uvicorn

    from scizoo.core import clear_failure, configure_logging, stacks_on_sigusr1

    from ._app import create_app
    from ._settings import ScidogSettings
    from ._store import ConfigStore

    configure_logging(True, debug=debug)
    stacks_on_sigusr1()  # `kill -USR1` writes every thread's stack to the log (docs/deploy.md)
    with clear_failure(debug):
        settings = ScidogSettings()
        probe = ConfigStore(settings.mongo_uri, settings.database, connect_timeout_s=settings.connect_timeout_s)
        try:
            probe.ping()
        finally:
            probe.close()
    uvicorn.run(create_app(settings), host=host, port=port)
