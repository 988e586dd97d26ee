"""The `scifish` command (also `scizoo scifish`): capture one scan by hand."""

from __future__ import annotations

from typing import Annotated

import typer

from scizoo.commands import VersionOption

app = typer.Typer(no_args_is_help=True, help="scifish: capture (settings from SCIFISH_* variables).")


@app.callback()
def _main(version: VersionOption = False) -> None:
    """scifish: Tango -> scan message -> Kafka."""


@app.command("capture")
def capture_command(
    title: Annotated[str, typer.Option(help="Title of the scan.")] = "manual capture",
    scan_id: Annotated[str, typer.Option(help="Scan id; default: the time of the capture.")] = "",
    debug: bool = typer.Option(False, help="Show tracebacks."),
) -> None:
    """Read the beamline's configured attributes now and send them as one scan (source "manual")."""
    import uuid
    from datetime import UTC, datetime

    from scizoo.core import ScanBlock, clear_failure, configure_logging, load_beamline_config, manual_message_id

    from ._capture import ScanRequest, open_capturer
    from ._settings import ScifishSettings
    from ._spool import DEAD_LETTER_FILE

    configure_logging(False, debug=debug)
    with clear_failure(debug):
        settings = ScifishSettings()
        config = load_beamline_config(settings.config_file)
        now = datetime.now(UTC)
        scan = ScanBlock(id=scan_id or now.strftime("%Y%m%dT%H%M%S"), title=title, start=now, end=now)
        capturer = open_capturer(settings, config)
        try:
            sent = capturer.capture_one(ScanRequest(scan, manual_message_id(config.beamline, uuid.uuid4())),
                                        source="manual", now=now)
        finally:
            capturer.close()
    errors = sum(1 for e in sent.message.entries if e.error)
    typer.echo(f"scan {scan.id} of proposal {sent.message.proposal_id}: {sent.outcome} "
               f"({len(sent.message.entries)} entries, {errors} unreadable)")
    if sent.outcome == "spooled":
        typer.echo(f"Kafka did not take it; it waits in {settings.spool_dir} for the next capture to send it.",
                   err=True)
    elif sent.outcome == "refused":
        typer.echo(f"error: Kafka refused it for good; it is kept in {settings.spool_dir / DEAD_LETTER_FILE}",
                   err=True)
        raise typer.Exit(1)
