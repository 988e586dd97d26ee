"""`scizoo demo`: the whole pipeline on one machine, on embedded services.

Broker (tansu), store (SecantusDB), simulated Tango beamline, a user office, scicow and
the scan API, with scans captured through scifish exactly as at a beamline.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console

from . import (
    DATASET_COLLECTION,
    PROPOSAL_COLLECTION,
    BeamlineConfig,
    DataFile,
    EmbeddedKafka,
    EmbeddedMongo,
    ScanBlock,
    dataset_pid,
)
from ._useroffice import UserOffice

logger = logging.getLogger(__name__)

PID_PREFIX = "20.500.12345"
USER_OFFICE_TOKEN = "demo-user-office-token"  # noqa: S105 - a local demo service's token
#: Proposal in the catalogue from the start.
CATALOGUE_PROPOSAL = {
    "_id": "20240001",
    "proposalId": "20240001",
    "title": "Oxidation of Pt(111) under operando conditions",
    "email": "ada@example.org",
    "pi_email": "ada@example.org",
    "pi_firstname": "Ada",
    "pi_lastname": "Lovelace",
    "ownerGroup": "20240001",
    "accessGroups": [],
}
#: Proposal only the user office knows: scicow fetches it over HTTP.
USER_OFFICE_PROPOSALS = {
    "20240002": {
        "proposalId": "20240002",
        "title": "Magnetic domains in thin films",
        "email": "emmy@example.org",
        "pi_email": "emmy@example.org",
        "pi_firstname": "Emmy",
        "pi_lastname": "Noether",
        "ownerGroup": "20240002",
        "accessGroups": [],
    }
}
DEMO_TOKENS = {
    "demo-staff": {"user": "staff", "groups": ["sim-staff"]},
    "demo-20240001": {"user": "ada", "groups": ["20240001"]},
    "demo-20240002": {"user": "emmy", "groups": ["20240002"]},
}


@dataclass
class DemoResult:
    captured: int
    in_catalogue: int
    spooled: int

    @property
    def lost(self) -> int:
        return self.captured - self.in_catalogue


class _Beamline:
    """Drives the simulated beamline: moves motors, switches proposal, writes scan files."""

    def __init__(self, config: BeamlineConfig, addresses: dict[str, str], data_root: Path) -> None:
        import tango

        self._tango = tango
        self.config = config
        self.addresses = addresses
        self.data_root = data_root
        self._serial = 0
        self._proxies: dict[str, object] = {}

    def _proxy(self, name: str):  # noqa: ANN202 - tango.DeviceProxy
        # One proxy per device for the whole demo: making one costs a round trip.
        if name not in self._proxies:
            self._proxies[name] = self._tango.DeviceProxy(self.addresses[name])
        return self._proxies[name]

    def set_proposal(self, proposal: str) -> Path:
        path = self.data_root / proposal / "raw"
        path.mkdir(parents=True, exist_ok=True)
        fixer = self._proxy(self.config.pathfixer)
        fixer.write_attribute("proposal", proposal)
        fixer.write_attribute("data_path", str(path))
        return path

    def run_scan(self, path: Path, now: datetime) -> tuple[str, ScanBlock]:
        self._serial += 1
        n = self._serial
        self._proxy("sim/motor/x").write_attribute("position", 1.0 + 0.25 * n)
        self._proxy("sim/shutter/1").write_attribute("state_code", 4 if n % 3 else 1)
        self._proxy("sim/energy/1").write_attribute("energy", 7100.0 + 10 * (n % 7))
        points = 11 + n % 5
        scan_file = path / f"scan_{n:05d}.dat"
        scan_file.write_text("".join(f"{i}\t{i * 0.1:.3f}\t{1000 + i}\n" for i in range(points)))
        stat = scan_file.stat()
        start = now - timedelta(seconds=points * 0.2)
        block = ScanBlock(
            id=str(n),
            title=f"ascan mot01 0 10 {points - 1} 0.2",
            start=start,
            end=now,
            status="finished",
            points=points,
            files=[DataFile(path=str(scan_file), size=stat.st_size, time=now)],
        )
        return str(uuid.uuid4()), block


def run_demo(
    *,
    data_dir: Path,
    config_path: Path,
    scans: int,
    serve: bool,
    port: int,
    interval_s: float,
    console: Console,
    wait_s: float = 120.0,
) -> DemoResult:
    """Run the pipeline; capture ``scans`` scans; optionally keep serving and scanning."""
    from pymongo import MongoClient

    from scicow import ScicowSettings
    from scicow import run as run_scicow
    from scifish import SpoolingProducer, TangoReader, capture
    from scifish._sim import SimulatedBeamline, demo_devices

    from ._config import load_beamline_config

    config = load_beamline_config(config_path)
    data_dir.mkdir(parents=True, exist_ok=True)
    logs = data_dir / "logs"
    stop = threading.Event()
    captured: list[str] = []
    spooled = 0
    with console.status("starting the embedded broker and store…"):
        kafka = EmbeddedKafka(log_path=logs / "tansu.log")
        kafka.start()
        mongo = EmbeddedMongo(data_dir / "store", log_path=logs / "secantus.log")
        mongo.start()
    console.print(f"[green]✓[/] Kafka-compatible broker (tansu) on {kafka.bootstrap_servers}")
    console.print(f"[green]✓[/] MongoDB-compatible store (SecantusDB) on 127.0.0.1:{mongo.port}, files in {mongo.data_dir}")
    office = UserOffice(USER_OFFICE_PROPOSALS, token=USER_OFFICE_TOKEN).start()
    client: MongoClient = MongoClient(mongo.uri, tz_aware=True)
    db = client["scicat"]
    db[PROPOSAL_COLLECTION].replace_one({"_id": CATALOGUE_PROPOSAL["_id"]}, CATALOGUE_PROPOSAL, upsert=True)
    console.print(f"[green]✓[/] user office on {office.url}; proposal 20240001 in the catalogue")
    beamline_proc = SimulatedBeamline(demo_devices("20240001", str(data_dir / "raw" / "20240001" / "raw")))
    with console.status("starting the simulated Tango beamline…"):
        beamline_proc.start()
    console.print(f"[green]✓[/] simulated beamline: {len(beamline_proc.addresses)} Tango devices")
    settings = ScicowSettings(
        kafka_bootstrap=kafka.bootstrap_servers,
        mongo_uri=mongo.uri,
        user_office_url=office.url,
        user_office_token=USER_OFFICE_TOKEN,
        pid_prefix=PID_PREFIX,
        facility=config.facility,
        staff_groups={config.beamline: config.staff_group},
        max_poll_interval_ms=5000,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        quarantine_retry_s=5.0,
    )
    consumer = threading.Thread(target=run_scicow, args=(settings, stop), name="scicow", daemon=True)
    consumer.start()
    console.print("[green]✓[/] scicow consuming scizoo.* into the catalogue")
    server = None
    if serve:
        server = _start_api(mongo.uri, port)
        console.print(f"[green]✓[/] live scan table on {server.url}/?token=demo-20240001 (API docs: /docs)")
    reader = TangoReader(beamline_proc.addresses, timeout_s=1.0)
    producer = SpoolingProducer(kafka.bootstrap_servers, data_dir / "spool")
    beamline = _Beamline(config, beamline_proc.addresses, data_dir / "raw")
    datasets = db[DATASET_COLLECTION]

    def one_scan(index: int) -> None:
        nonlocal spooled
        proposal = "20240001" if index % 2 == 0 else "20240002"
        path = beamline.set_proposal(proposal)
        message_id, block = beamline.run_scan(path, datetime.now(UTC))
        _, outcome = capture(
            config,
            reader,
            producer,
            topic_prefix=settings.topic_prefix,
            message_id=message_id,
            source="manual",
            scan=block,
            now=datetime.now(UTC),
        )
        captured.append(message_id)
        spooled += outcome == "spooled"

    def in_catalogue() -> int:
        pids = [dataset_pid(m, PID_PREFIX) for m in captured]
        return datasets.count_documents({"_id": {"$in": pids}})

    try:
        from rich.progress import Progress

        with Progress(console=console, transient=False) as progress:
            task = progress.add_task("capturing scans", total=scans)
            for i in range(scans):
                one_scan(i)
                progress.advance(task)
            ingest = progress.add_task("ingested into the catalogue", total=scans)
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline:
                found = in_catalogue()
                progress.update(ingest, completed=found)
                if found >= len(captured):
                    break
                time.sleep(0.2)
        result = DemoResult(len(captured), in_catalogue(), spooled)
        if serve:
            console.print()
            console.print("[bold]Open the scan table:[/]")
            assert server is not None
            console.print(f"  {server.url}/?token=demo-staff      (beamline staff: every scan)")
            console.print(f"  {server.url}/?token=demo-20240001   (a user of proposal 20240001)")
            console.print(f"  API docs: {server.url}/docs")
            console.print(f"A new scan every {interval_s:g} s. Ctrl-C stops the demo; the store's files stay in {data_dir}.")
            i = scans
            while True:
                time.sleep(interval_s)
                one_scan(i)
                i += 1
        return result
    except KeyboardInterrupt:
        return DemoResult(len(captured), in_catalogue(), spooled)
    finally:
        stop.set()
        consumer.join(timeout=15)
        if server is not None:
            server.stop()
        producer.close()
        reader.close()
        beamline_proc.stop()
        office.stop()
        client.close()
        mongo.stop()
        kafka.stop()


def _start_api(mongo_uri: str, port: int):  # noqa: ANN202 - scanlog_api.ScanlogServer
    from scanlog_api import ScanlogServer, ScanlogSettings, TokenUser

    settings = ScanlogSettings(
        mongo_uri=mongo_uri, tokens={k: TokenUser.model_validate(v) for k, v in DEMO_TOKENS.items()}
    )
    return ScanlogServer(settings, port=port).start()
