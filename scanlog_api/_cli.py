"""The `scanlog` command (also `scizoo scanlog`): serve the scan table and its API."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="scanlog: the scan table and API (settings from SCANLOG_* variables).")


@app.callback()
def _main() -> None:
    """scanlog: the live scan table."""


@app.command("serve")
def serve_command(host: str = "127.0.0.1", port: int = 8000,
                  debug: bool = typer.Option(False, help="Show tracebacks.")) -> None:
    """Serve the scan API and table."""
    import uvicorn

    from scizoo.core import clear_failure, configure_logging

    from ._app import create_app
    from ._serve import SHUTDOWN_GRACE_S
    from ._settings import ScanlogSettings
    from ._store import ScanStore

    configure_logging(True, debug=debug)
    with clear_failure(debug):
        settings = ScanlogSettings()
        probe = ScanStore(settings.mongo_uri, settings.database, connect_timeout_s=settings.connect_timeout_s)
        try:
            probe.ping()  # say so now, in one sentence, rather than on every request
        finally:
            probe.close()
    uvicorn.run(create_app(settings), host=host, port=port, timeout_graceful_shutdown=SHUTDOWN_GRACE_S)
