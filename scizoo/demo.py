"""`scizoo demo`: the whole pipeline on one machine, on embedded services.

Broker (tansu), store (SecantusDB), simulated Tango beamline, a user office, scicow and
the scan API, with scans captured through scifish exactly as at a beamline.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr
from rich.console import Console

from scizoo.core import (
    DATASET_COLLECTION,
    PROPOSAL_COLLECTION,
    BeamlineConfig,
    ScanBlock,
    dataset_pid,
    load_beamline_config,
)
from scizoo.testing import DataCiteStandIn, EmbeddedKafka, EmbeddedMongo, UserOffice
from scizoo.testing.beamline import DemoBeamline
from scizoo.web import TokenUser

if TYPE_CHECKING:
    from scifish import Capturer

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
    # What SciCat's Proposal schema requires besides (src/proposals/schemas/proposal.schema.ts).
    "isPublished": False,
    "createdBy": "scizoo demo",
    "updatedBy": "scizoo demo",
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
    reduced: int = 0
    #: Scans captured as a series (among ``captured``), reduced together into one stitched curve.
    series: int = 0

    @property
    def lost(self) -> int:
        return self.captured - self.in_catalogue


class _Pipeline:
    """The embedded services, scicow and (optionally) the API, started in order and stopped in reverse."""

    def __init__(self, stack: ExitStack, config: BeamlineConfig, data_dir: Path, console: Console) -> None:
        self.stack, self.config, self.data_dir, self.console = stack, config, data_dir, console
        self.stop = threading.Event()

    def start_stores(self) -> None:
        from pymongo import MongoClient

        logs = self.data_dir / "logs"
        with self.console.status("starting the embedded broker and store…"):
            self.kafka = self.stack.enter_context(EmbeddedKafka(log_path=logs / "tansu.log"))
            self.mongo = self.stack.enter_context(EmbeddedMongo(self.data_dir / "store", log_path=logs / "secantus.log"))
        self.console.print(f"[green]✓[/] Kafka-compatible broker (tansu) on {self.kafka.bootstrap_servers}")
        self.console.print(f"[green]✓[/] MongoDB-compatible store (SecantusDB) on 127.0.0.1:{self.mongo.port}, "
                           f"files in {self.mongo.data_dir}")
        self.office = self.stack.enter_context(UserOffice(USER_OFFICE_PROPOSALS, token=USER_OFFICE_TOKEN))
        client: MongoClient[dict[str, Any]] = MongoClient(self.mongo.uri, tz_aware=True)
        self.stack.callback(client.close)
        self.db = client["scicat"]
        self.db[PROPOSAL_COLLECTION].replace_one({"_id": CATALOGUE_PROPOSAL["_id"]}, CATALOGUE_PROPOSAL, upsert=True)
        self.console.print(f"[green]✓[/] user office on {self.office.url}; proposal 20240001 in the catalogue")

    def start_beamline(self) -> None:
        from scifish.testing import SimulatedBeamline, demo_devices

        devices = SimulatedBeamline(demo_devices("20240001", str(self.data_dir / "raw" / "20240001" / "raw")))
        with self.console.status("starting the simulated Tango beamline…"):
            self.devices = self.stack.enter_context(devices)
        self.console.print(f"[green]✓[/] simulated beamline: {len(self.devices.addresses)} Tango devices")

    def start_scicow(self) -> None:
        from scicow import ScicowSettings
        from scicow import run as run_scicow

        settings = ScicowSettings(
            kafka_bootstrap=self.kafka.bootstrap_servers, mongo_uri=self.mongo.uri, user_office_url=self.office.url,
            user_office_token=USER_OFFICE_TOKEN, pid_prefix=PID_PREFIX, facility=self.config.facility,
            staff_groups={self.config.beamline: self.config.staff_group},
            max_poll_interval_ms=5000, session_timeout_ms=6000, heartbeat_interval_ms=1000, quarantine_retry_s=5.0,
        )
        self.topic_prefix = settings.topic_prefix
        self.background("scicow", run_scicow, settings)
        self.console.print("[green]✓[/] scicow consuming scizoo.* into the catalogue")

    def background(self, name: str, run: Callable[[Any, threading.Event], None], settings: Any) -> None:
        """A service's loop in a thread, stopped and joined on the way out. The stop is set right
        before the join (callbacks run last-in first): registered once, after the first service,
        the later services' joins ran before it and each waited out its 15 s (the demo took 46 s to
        stop)."""
        thread = threading.Thread(target=run, args=(settings, self.stop), name=name, daemon=True)
        thread.start()
        self.stack.callback(thread.join, 15)
        self.stack.callback(self.stop.set)

    def start_reduction(self) -> None:
        """A reduction worker (scireduce) on the "ingested" events, with config/reduction/rules.yaml."""
        from scireduce import ScireduceSettings, run_worker

        settings = ScireduceSettings(
            kafka_bootstrap=self.kafka.bootstrap_servers, mongo_uri=self.mongo.uri, topic_prefix=self.topic_prefix,
            rules_file=Path("config/reduction/rules.yaml"), work_dir=self.data_dir / "reduce", pid_prefix=PID_PREFIX,
            max_poll_interval_ms=120_000, session_timeout_ms=6000, heartbeat_interval_ms=1000)
        self.background("scireduce", run_worker, settings)
        self.console.print("[green]✓[/] reduction worker (pipeline 'profile' on every finished sim scan)")

    def start_fixity(self) -> None:
        """A fixity worker (scifix) on the "ingested" events: every file's checksum, read within the data roots."""
        from scifix import ScifixSettings
        from scifix import run_worker as run_fixity

        settings = ScifixSettings(
            kafka_bootstrap=self.kafka.bootstrap_servers, mongo_uri=self.mongo.uri, topic_prefix=self.topic_prefix,
            data_roots=self.data_roots(), max_poll_interval_ms=120_000, session_timeout_ms=6000,
            heartbeat_interval_ms=1000)
        self.background("scifix", run_fixity, settings)
        self.console.print("[green]✓[/] fixity worker (a blake2b checksum of every catalogued file, off the scan's path)")

    def data_roots(self) -> list[Path]:
        """Where the demo's files are: the beamline's scans and the reductions' results."""
        return [self.data_dir / "raw", self.data_dir / "reduce"]

    def start_api(self, port: int) -> str:
        from scanlog_api import ScanlogServer, ScanlogSettings

        datacite = self.stack.enter_context(DataCiteStandIn("DEMO.SCIZOO", "demo-datacite"))
        self.console.print(f"[green]✓[/] DataCite stand-in on {datacite.url} (DOIs under 10.5072, the test prefix)")
        settings = ScanlogSettings(
            mongo_uri=self.mongo.uri, tokens={k: TokenUser.model_validate(v) for k, v in DEMO_TOKENS.items()},
            staff_comment_groups={self.config.beamline: self.config.staff_group},
            # The beamline's staff change its reduction rules on the rules page (administrators all).
            rule_staff_groups={self.config.beamline: self.config.staff_group},
            doi_prefix="10.5072", public_url=f"http://127.0.0.1:{port}", datacite_url=datacite.url,
            datacite_username="DEMO.SCIZOO", datacite_password="demo-datacite",  # noqa: S106 - a stand-in's
            publisher=self.config.facility or "scizoo", data_roots=[str(p) for p in self.data_roots()],
            # A facility's JupyterHub (none here: the link shows where it would go), and the release
            # job's round (embargoes end within one).
            notebook_url_pattern="https://jupyter.example.org/hub/user-redirect/lab/tree{path}",
            release_every_s=10.0,
        )
        server = self.stack.enter_context(ScanlogServer(settings, port=port, mounts={"/scidog": self._scidog()}))
        self.console.print(f"[green]✓[/] live scan table on {server.url}/#token=demo-20240001 (API docs: /docs)")
        self.console.print(f"[green]✓[/] configuration editor (scidog) on {server.url}/scidog/#token=demo-staff")
        return server.url

    def _scidog(self) -> Any:
        from scidog import ScidogSettings
        from scidog import create_app as create_scidog

        settings = ScidogSettings(
            mongo_uri=self.mongo.uri, tango_host=self.tango.tango_host, device_addresses=self.devices.addresses,
            staff_groups={self.config.beamline: self.config.staff_group},
            tokens={k: TokenUser.model_validate(v) for k, v in DEMO_TOKENS.items()},
        )
        app = create_scidog(settings)
        self.stack.callback(app.state.store.close)  # a mounted app's lifespan does not run
        return app

    def start_configuration(self) -> None:
        """The beamline's configuration in scidog's store (from the YAML file the first time),
        and a follower of its active one: the demo's captures use what the editor sets."""
        from scidog import ConfigStore
        from scifish import ActiveConfig
        from scifish.testing import TangoDatabase, demo_devices

        with self.console.status("starting a Tango database with the beamline's devices…"):
            self.tango = self.stack.enter_context(TangoDatabase(self.data_dir / "tango"))
            self.tango.register([spec.name for spec in demo_devices("", "")], "Sim", "Sim/demo")
        store = ConfigStore(SecretStr(self.mongo.uri), "scicat")
        self.stack.callback(store.close)
        if not store.summaries(self.config.beamline):
            store.create(self.config, "demo", datetime.now(UTC), change="imported from the demo's YAML")
        self.active = ActiveConfig(self.mongo.uri, "scicat", self.config.beamline, self.data_dir / "active-config.json")
        self.stack.callback(self.active.close)
        self.active.start()
        current = self.active.current()
        self.console.print(f"[green]✓[/] Tango database on {self.tango.tango_host}; {current.beamline} captures with "
                           f"configuration {current.name!r} revision {current.revision} (scidog)")

    def capturer(self) -> Capturer:
        from scifish import Capturer, SpoolingProducer, TangoReader

        reader = TangoReader(self.devices.addresses, timeout_s=1.0)
        producer = SpoolingProducer(self.kafka.bootstrap_servers, self.data_dir / "spool")
        capturer = Capturer(self.config, reader, producer, self.topic_prefix)
        self.stack.callback(capturer.close)
        return capturer


class _Scans:
    """Runs scans on the simulated beamline and captures each through scifish, as at a beamline."""

    def __init__(self, pipeline: _Pipeline) -> None:
        self.beamline = DemoBeamline(pipeline.config, pipeline.devices.addresses, pipeline.data_dir / "raw")
        self.capturer = pipeline.capturer()
        self.datasets = pipeline.db[DATASET_COLLECTION]
        self.active = pipeline.active
        self.captured: list[str] = []
        self.spooled = 0
        self.in_series = 0

    def one(self, index: int) -> None:
        proposal = "20240001" if index % 2 == 0 else "20240002"
        path = self.beamline.set_proposal(proposal)
        self._capture(*self.beamline.run_scan(path, datetime.now(UTC)))

    def series(self, number: int, segments: int = 4) -> None:
        """A reflectivity series of proposal 20240001: ``segments`` scans, one stitched curve."""
        path = self.beamline.set_proposal("20240001")
        self.beamline.start_series(number)
        try:
            for segment in range(segments):
                self._capture(*self.beamline.run_segment(path, datetime.now(UTC), number, segment))
                self.in_series += 1
        finally:
            self.beamline.end_series()

    def _capture(self, message_id: str, block: ScanBlock) -> None:
        from scifish import ScanRequest

        self.capturer.config = self.active.current()  # whatever the editor made active, from memory
        sent = self.capturer.capture_one(ScanRequest(block, message_id), source="manual", now=datetime.now(UTC))
        self.captured.append(message_id)
        self.spooled += sent.outcome == "spooled"

    def in_catalogue(self) -> int:
        pids = [dataset_pid(m, PID_PREFIX) for m in self.captured]
        return self.datasets.count_documents({"_id": {"$in": pids}})

    def reduced(self) -> int:
        """How many captured scans are an input of a derived dataset (a series' scans of one)."""
        pids = [dataset_pid(m, PID_PREFIX) for m in self.captured]
        inputs = self.datasets.distinct("inputDatasets", {"type": "derived", "inputDatasets": {"$in": pids}})
        return len(set(inputs) & set(pids))

    def result(self) -> DemoResult:
        return DemoResult(len(self.captured), self.in_catalogue(), self.spooled, self.reduced(), self.in_series)

    def first(self, count: int, console: Console, wait_s: float, stop: threading.Event) -> None:
        """Capture ``count`` scans and a series of 4 (reduced together), then wait (up to ``wait_s``)
        until all are in the catalogue and reduced."""
        from rich.progress import Progress

        with Progress(console=console, transient=False) as progress:
            task = progress.add_task("capturing scans", total=count)
            for i in range(count):
                if stop.is_set():
                    break
                self.one(i)
                progress.advance(task)
            if not stop.is_set():
                self.series(1)
            ingest = progress.add_task("ingested into the catalogue", total=len(self.captured))
            self.wait_ingested(wait_s, stop, lambda found: progress.update(ingest, completed=found))
        series = [dataset_pid(m, PID_PREFIX) for m in self.captured[len(self.captured) - self.in_series:]]
        stitched = self.datasets.find_one({"type": "derived", "inputDatasets": {"$all": series}}) if series else None
        if stitched is not None:
            console.print(f"[green]✓[/] a reflectivity series of {len(series)} scans stitched into one curve: "
                          f"{stitched['_id']} (rule sim-reflectivity, pipeline 'stitch')")
        self.show_fixity(console, stop)

    def show_fixity(self, console: Console, stop: threading.Event, wait_s: float = 60.0) -> None:
        """How many captured scans the fixity worker has checked (it works beside the reductions)."""
        from scifix import FIXITY_COLLECTION

        pids = [dataset_pid(m, PID_PREFIX) for m in self.captured]
        checks = self.datasets.database[FIXITY_COLLECTION]
        deadline = time.monotonic() + wait_s
        while (checked := checks.count_documents({"_id": {"$in": pids}})) < len(pids) and time.monotonic() < deadline:
            if stop.wait(0.2):
                break
        ok = checks.count_documents({"_id": {"$in": pids}, "state": "ok"})
        console.print(f"[green]✓[/] fixity: {checked} of {len(pids)} scans' files checksummed (blake2b), {ok} as "
                      "captured; see the datablocks' chk, and a download's manifest")

    def wait_ingested(self, wait_s: float, stop: threading.Event,
                      report: Callable[[int], object] = lambda _: None) -> None:
        """Wait (up to ``wait_s``, or until ``stop``) until every captured scan is in the catalogue."""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and not stop.is_set():
            found = self.in_catalogue()
            report(found)
            if found >= len(self.captured) and self.reduced() >= len(self.captured):
                break
            stop.wait(0.2)


def run_demo(
    *,
    data_dir: Path,
    config_path: Path,
    scans: int,
    serve: bool,
    port: int,
    interval_s: float,
    console: Console,
    stop: threading.Event | None = None,
    wait_s: float = 120.0,
) -> DemoResult:
    """Run the pipeline; capture ``scans`` scans; optionally keep serving and scanning until ``stop``."""
    stop = stop or threading.Event()
    config = load_beamline_config(config_path)
    data_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        pipeline = _Pipeline(stack, config, data_dir, console)
        pipeline.start_stores()
        pipeline.start_beamline()
        pipeline.start_configuration()
        pipeline.start_scicow()
        pipeline.start_reduction()
        pipeline.start_fixity()
        url = pipeline.start_api(port) if serve else ""
        runs = _Scans(pipeline)
        runs.first(scans, console, wait_s, stop)
        result = runs.result()
        if serve and not stop.is_set():
            ada = [dataset_pid(m, PID_PREFIX) for i, m in enumerate(runs.captured[:scans]) if i % 2 == 0][:2]
            if ada:
                _publish_embargoed(console, url, ada)
            _show_urls(console, url, interval_s, data_dir)
            for i in itertools.count(scans):
                if stop.wait(interval_s):
                    break
                runs.one(i)
            # Scans taken while serving count too; give the last one a moment to land.
            stop.clear()
            runs.wait_ingested(10.0, stop)
            result = runs.result()
        return result
    raise AssertionError("unreachable")  # pragma: no cover - the with block always returns


def _publish_embargoed(console: Console, url: str, pids: list[str], minutes: float = 2.0) -> None:
    """Publish two of proposal 20240001's scans as their owner, with an embargo: the DOI and its
    landing page are public at once, the datasets (their files) when the embargo ends."""
    import requests

    ada = {"Authorization": "Bearer demo-20240001"}
    until = datetime.now(UTC) + timedelta(minutes=minutes)
    body = {"title": "Pt(111) under operando conditions", "abstract": "Scans of the scizoo demo, under an embargo.",
            "creators": [{"name": "Lovelace, Ada"}], "publisher": "scizoo demo", "publication_year": until.year,
            "dataset_pids": pids, "embargo_until": until.isoformat()}
    try:
        made = requests.post(f"{url}/api/publications", json=body, headers=ada, timeout=30)
        made.raise_for_status()
        doi = made.json()["doi"]
        requests.post(f"{url}/api/publications/{doi}/register", headers=ada, timeout=60).raise_for_status()
    except (requests.RequestException, KeyError, ValueError) as err:
        console.print(f"[red]✗[/] the demo's embargoed publication was not made: {err}")
        return
    console.print(f"[green]✓[/] published with an embargo: DOI {doi}, landing page {url}/doi/{doi} (public now); "
                  f"its datasets ({len(pids)}) and their files public from {until:%H:%M:%S} UTC")


def _show_urls(console: Console, url: str, interval_s: float, data_dir: Path) -> None:
    # Soft-wrapped: a URL longer than the terminal stays one line to copy (rich would break it).
    def say(text: str = "") -> None:
        console.print(text, soft_wrap=True)

    say()
    say("[bold]Open the scan table:[/]")
    say(f"  {url}/#token=demo-staff      (beamline staff: every scan)")
    say(f"  {url}/#token=demo-20240001   (a user of proposal 20240001)")
    say(f"  {url}/scidog/#token=demo-staff   (beamline staff: what every scan records)")
    say(f"  {url}/?where=photon_energy:between:7.115:7.145:keV&where=shutter:eq:open#token=demo-staff")
    say("      (scans found by what was measured, in the unit you think in: the energy is stored in eV,")
    say("       7100-7160 eV; this keeps 7120-7140 eV with the shutter open, about one scan in seven;")
    say("       'Conditions' adds more, 'Facets' counts the selection, 'Views' saves it for you or your group)")
    say("  Publish: select scans as their owner, 'Add to cart', 'Cart', 'Publish with a DOI';")
    say(f"  landing pages at {url}/doi/<doi>, harvesting at {url}/oai?verb=ListRecords&metadataPrefix=oai_dc")
    say("  Download: select scans, 'Download files' (one zip with a manifest of sizes and checksums), or")
    say(f"    curl -OJ -H 'Authorization: Bearer demo-staff' '{url}/api/downloads/datasets.zip?pid=<pid>'")
    say(f"  {url}/rules#token=demo-staff   (reduction rules: edit, dry run, history with diffs, pipelines)")
    say(f"  PaNOSC search API over published data: {url}/panosc-api/Datasets (and /Documents, /Instruments),")
    panosc = ('{"include":[{"relation":"parameters","scope":{"where":{"and":[{"name":"photon_energy"},'
              '{"value":{"between":[7.1,7.2]}},{"unit":"keV"}]}}}]}')
    say(f"    e.g. curl -G {url}/panosc-api/Datasets --data-urlencode 'filter={panosc}'")
    technique = '{"include":[{"relation":"techniques","scope":{"where":{"name":"x-ray absorption spectroscopy"}}}]}'
    say(f"    by technique (sim.yaml names XAS, PaNET): ... --data-urlencode 'filter={technique}'")
    made = next(iter(sorted((data_dir / "reduce" / "out").glob("*/profile.nxs"))), None)
    if made is not None:
        say(f"  Reproduce a reduction from its file alone: scireduce reproduce {made}")
    say(f"  API docs: {url}/docs")
    say(f"A new scan every {interval_s:g} s. Ctrl-C stops the demo; the store's files stay in {data_dir}.")
