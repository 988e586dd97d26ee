"""scifly on real parts: watchdog on a real folder, a real Tango PathFixer, real Kafka."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import h5py
import pytest
import tango

from scifish import Capturer, SpoolingProducer, TangoReader
from scifish.testing import SimDeviceSpec, SimulatedBeamline
from scifly import FileWatcher, SciflyConfig, read_file_metadata
from scizoo.core import BeamlineConfig, ScanMetadata, beamline_topic, file_message_id
from tests.helpers import read_topic, wait_for

pytestmark = pytest.mark.system

PATHFIXER = "fly/pathfixer/1"


@pytest.fixture(scope="module")
def fly_beamline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatedBeamline]:
    root = tmp_path_factory.mktemp("fly")
    devices = [
        SimDeviceSpec("PathFixer", PATHFIXER, {"Proposal": "20240001", "DataPath": str(root / "initial")}),
        SimDeviceSpec("SimTemperature", "fly/temp/1", {}),
    ]
    with SimulatedBeamline(devices) as beamline:
        yield beamline


def _config(**overrides: object) -> SciflyConfig:
    return SciflyConfig.model_validate({
        "quiet_s": 0.6, "poll_s": 0.1, "rescan_s": 30, "grace_s": 1.0,
        "programs": [
            {"name": "SES", "patterns": ["*.txt"], "reader": "ses"},
            {"name": "reopening", "patterns": ["*.log"], "on_close": False},
            {"name": "generic", "patterns": ["*.dat"]},
        ],
        **overrides,
    })


class Lab:
    """A running watcher plus the PathFixer to steer it."""

    def __init__(self, beamline: SimulatedBeamline, kafka, prefix: str, tmp: Path) -> None:
        self.beamline, self.kafka, self.prefix, self.tmp = beamline, kafka, prefix, tmp
        self.pathfixer = tango.DeviceProxy(beamline.addresses[PATHFIXER])
        self.config = BeamlineConfig(
            beamline="fly", pathfixer=PATHFIXER,
            attributes=[{"name": "temperature", "device": "fly/temp/1", "attribute": "temperature", "unit": "K"}],
        )
        self.watcher: FileWatcher | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def point_to(self, proposal: str, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.pathfixer.write_attribute("data_path", str(folder))
        self.pathfixer.write_attribute("proposal", proposal)

    def start(self, config: SciflyConfig | None = None) -> FileWatcher:
        reader = TangoReader(self.beamline.addresses, timeout_s=2.0)
        producer = SpoolingProducer(self.kafka.bootstrap_servers, self.tmp / "spool", send_timeout_s=5.0)
        capturer = Capturer(self.config, reader, producer, self.prefix)
        self.watcher = FileWatcher(config or _config(), capturer, state_file=self.tmp / "state" / "sent.jsonl")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.watcher.run, args=(self._stop,), daemon=True)
        self._thread.start()
        assert self.watcher.ready.wait(20), "the watcher never followed the PathFixer"
        return self.watcher

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(20)
            self._thread = None
            assert self.watcher is not None
            self.watcher.close()

    def messages(self, expected: int) -> list[ScanMetadata]:
        values = read_topic(self.kafka.bootstrap_servers, beamline_topic(self.prefix, "fly"), expected)
        return [ScanMetadata.model_validate_json(v) for v in values]


@pytest.fixture()
def lab(fly_beamline, kafka, prefix, tmp_path) -> Iterator[Lab]:
    lab = Lab(fly_beamline, kafka, prefix, tmp_path)
    lab.point_to("20240001", tmp_path / "p1")
    yield lab
    lab.stop()


def test_a_file_written_slowly_in_chunks_is_captured_once_when_complete(lab: Lab, tmp_path: Path) -> None:
    watcher = lab.start()
    path = tmp_path / "p1" / "slow.dat"
    with path.open("wb") as fh:  # one handle: completion is the close-write
        for _ in range(5):
            fh.write(b"x" * 1000)
            fh.flush()
            time.sleep(0.8)  # longer than quiet_s: only the open handle keeps it from completing
            assert watcher.captured == 0, "captured before the file was closed"
    reopened = tmp_path / "p1" / "reopened.log"
    for _ in range(4):  # reopened for every chunk: only quiet time can tell it is complete
        with reopened.open("ab") as fh:
            fh.write(b"y" * 500)
        time.sleep(0.3)
        assert str(reopened) not in watcher.state.sent, "captured while still being appended to"
    wait_for(lambda: watcher.captured == 2, timeout=20, what="both files")
    by_name = {Path(m.scan.files[0].path).name: m for m in lab.messages(2)}
    assert by_name["slow.dat"].scan.files[0].size == 5000
    assert by_name["reopened.log"].scan.files[0].size == 2000
    assert by_name["slow.dat"].proposal_id == "20240001"
    assert by_name["slow.dat"].message_id == file_message_id("fly", str(path))
    assert by_name["slow.dat"].entries[0].name == "temperature" and by_name["slow.dat"].entries[0].error is None


def test_a_burst_gives_one_message_per_file(lab: Lab, tmp_path: Path) -> None:
    watcher = lab.start()
    folder = tmp_path / "p1" / "burst"
    folder.mkdir()
    for n in range(400):
        (folder / f"f{n:04d}.dat").write_bytes(b"d" * (n + 1))
    (folder / ".hidden.dat").write_bytes(b"ignored")
    (folder / "ignored.bin").write_bytes(b"no rule")
    wait_for(lambda: watcher.captured == 400, timeout=60, what="400 files")
    messages = lab.messages(400)
    assert len(messages) == 400
    assert len({m.message_id for m in messages}) == 400
    assert {m.scan.files[0].size for m in messages} == set(range(1, 401))


def test_a_folder_moved_in_whole_is_captured(lab: Lab, tmp_path: Path) -> None:
    # Its files were closed before the watch saw them: watchdog reports them as created
    # only, and no close-write will ever come.
    watcher = lab.start()
    outside = tmp_path / "outside" / "run7"
    (outside / "sub").mkdir(parents=True)
    for n in range(5):
        (outside / f"m{n}.dat").write_bytes(b"m" * 10)
    (outside / "sub" / "deep.dat").write_bytes(b"d" * 10)
    outside.rename(tmp_path / "p1" / "run7")
    wait_for(lambda: watcher.captured == 6, timeout=10, what="the 6 files of the moved folder")
    assert len(lab.messages(6)) == 6


def test_a_path_switch_mid_burst_misses_nothing(lab: Lab, tmp_path: Path) -> None:
    watcher = lab.start()
    old, new = tmp_path / "p1", tmp_path / "p2"
    for n in range(50):
        (old / f"a{n}.dat").write_bytes(b"a")
    lab.point_to("20240002", new)
    # The old program is still finishing its files while the new proposal starts.
    for n in range(50):
        (new / f"b{n}.dat").write_bytes(b"b")
        if n < 20:
            (old / f"late{n}.dat").write_bytes(b"a")
    wait_for(lambda: watcher.captured == 120, timeout=60, what="all 120 files")
    messages = lab.messages(120)
    assert len(messages) == 120
    proposals = Counter((Path(m.scan.files[0].path).parent.name, m.proposal_id) for m in messages)
    assert proposals == {("p1", "20240001"): 70, ("p2", "20240002"): 50}
    wait_for(lambda: not watcher._retiring, timeout=20, what="the old path to be released")


def test_a_restart_mid_burst_neither_resends_nor_misses(lab: Lab, tmp_path: Path) -> None:
    folder = tmp_path / "p1"
    watcher = lab.start()
    for n in range(100):
        (folder / f"r{n:03d}.dat").write_bytes(b"r")
    wait_for(lambda: watcher.captured >= 100, timeout=30, what="the first 100")
    for n in range(100, 130):
        (folder / f"r{n:03d}.dat").write_bytes(b"r")
    lab.stop()  # the watcher goes down mid-burst...
    for n in range(130, 160):
        (folder / f"r{n:03d}.dat").write_bytes(b"r")  # ...and files keep coming
    restarted = lab.start()
    wait_for(lambda: len(lab.messages(160)) >= 160, timeout=60, what="all 160 files")
    counts = Counter(m.message_id for m in lab.messages(160))
    assert len(counts) == 160
    assert max(counts.values()) == 1, "a file was sent twice"
    assert restarted.captured <= 60


def test_file_readers(tmp_path: Path) -> None:
    ses = tmp_path / "ses.txt"
    ses.write_text("[Info]\nNumber of Regions=1\n[Region 1]\nRegion Name=Fermi edge\nPass Energy=20\n"
                   "Excitation Energy=21.2\n[Data 1]\n1 2\n")
    assert read_file_metadata("ses", ses) == {
        "number_of_regions": 1, "region_name": "Fermi edge", "pass_energy": 20, "excitation_energy": 21.2}
    xy = tmp_path / "spectrum.xy"
    xy.write_text("# Created by: SpecsLab Prodigy\n# Analysis Method: XPS\n# Pass Energy: 50\n#\n1.0 2.0\n"
                  "# Ignored: after data\n")
    assert read_file_metadata("prodigy", xy) == {
        "created_by": "SpecsLab Prodigy", "analysis_method": "XPS", "pass_energy": 50}
    nexus = tmp_path / "scan.nxs"
    with h5py.File(nexus, "w") as fh:
        fh.attrs["NX_class"] = "NXroot"
        entry = fh.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        entry["title"] = "Si 111 map"
        entry["data"] = list(range(10))  # arrays are not metadata
    assert read_file_metadata("hdf5", nexus) == {
        "nx_class": "NXroot", "entry_nx_class": "NXentry", "entry_title": "Si 111 map"}
    broken = tmp_path / "broken.nxs"
    broken.write_bytes(b"not hdf5")
    assert read_file_metadata("hdf5", broken) == {}
