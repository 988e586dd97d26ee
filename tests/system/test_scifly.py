"""scifly on real parts: watchdog on a real folder, a real Tango PathFixer, real Kafka."""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest
import tango

from scifish import Capturer, SpoolingProducer, TangoReader
from scifish.testing import SimDeviceSpec, SimulatedBeamline
from scifly import DataPathRules, FileWatcher, SciflyConfig, read_file_metadata
from scizoo.core import BeamlineConfig, ScanMetadata, beamline_topic, file_message_id
from tests.helpers import read_topic, wait_for

pytestmark = pytest.mark.system

PATHFIXER = "fly/pathfixer/1"
P1, P2 = "20240001", "20240002"


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
            {"name": "NeXus", "patterns": ["*.h5", "*.nxs"], "reader": "hdf5"},
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
        #: The data root; proposals' folders are where the default layout puts them: fly/<proposal>.
        self.data = tmp / "data"
        self.p1, self.p2 = self.data / "fly" / P1, self.data / "fly" / P2
        self.watcher: FileWatcher | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def point_to(self, proposal: str, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.pathfixer.write_attribute("data_path", str(folder))
        self.pathfixer.write_attribute("proposal", proposal)

    def build(self, config: SciflyConfig | None = None, clock: Callable[[], float] = time.monotonic) -> FileWatcher:
        """A watcher that is not running: the test ticks it (or :meth:`start` runs it)."""
        reader = TangoReader(self.beamline.addresses, timeout_s=2.0)
        producer = SpoolingProducer(self.kafka.bootstrap_servers, self.tmp / "spool", send_timeout_s=5.0)
        capturer = Capturer(self.config, reader, producer, self.prefix)
        self.watcher = FileWatcher(config or _config(), capturer, state_file=self.state_file, clock=clock,
                                   paths=DataPathRules(roots=[str(self.data)]))
        return self.watcher

    @property
    def state_file(self) -> Path:
        return self.tmp / "state" / "sent.jsonl"

    def start(self, config: SciflyConfig | None = None) -> FileWatcher:
        watcher = self.build(config)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=watcher.run, args=(self._stop,), daemon=True)
        self._thread.start()
        assert watcher.ready.wait(20), "the watcher never followed the PathFixer"
        return watcher

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(20)
            self._thread = None
        if self.watcher is not None:
            self.watcher.close()
            self.watcher = None

    def raw_messages(self, expected: int) -> list[bytes]:
        return read_topic(self.kafka.bootstrap_servers, beamline_topic(self.prefix, "fly"), expected)

    def messages(self, expected: int) -> list[ScanMetadata]:
        return [ScanMetadata.model_validate_json(v) for v in self.raw_messages(expected)]

    def still_captures(self, folder: Path, total: int, name: str = "later.dat") -> list[ScanMetadata]:
        """Write a plain file, see it captured, and return all ``total`` messages of the topic.

        Shows the watcher is alive and not stalled by what came before.
        """
        assert self.alive, "the watcher thread died"
        assert self.watcher is not None
        before = self.watcher.captured
        (folder / name).write_bytes(b"after")
        wait_for(lambda: self.watcher is not None and self.watcher.captured > before, timeout=20,
                 what=f"{name}, written after the rest")
        messages = self.messages(total)
        assert [m.scan.files[0].path for m in messages].count(str(folder / name)) == 1
        return messages


@pytest.fixture()
def lab(fly_beamline, kafka, prefix, tmp_path) -> Iterator[Lab]:
    lab = Lab(fly_beamline, kafka, prefix, tmp_path)
    lab.point_to(P1, lab.p1)
    yield lab
    lab.stop()


def test_a_file_written_slowly_in_chunks_is_captured_once_when_complete(lab: Lab, tmp_path: Path) -> None:
    watcher = lab.start()
    path = lab.p1 / "slow.dat"
    with path.open("wb") as fh:  # one handle: completion is the close-write
        for _ in range(5):
            fh.write(b"x" * 1000)
            fh.flush()
            time.sleep(0.8)  # longer than quiet_s: only the open handle keeps it from completing
            assert watcher.captured == 0, "captured before the file was closed"
    reopened = lab.p1 / "reopened.log"
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
    folder = lab.p1 / "burst"
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
    outside.rename(lab.p1 / "run7")
    wait_for(lambda: watcher.captured == 6, timeout=10, what="the 6 files of the moved folder")
    assert len(lab.messages(6)) == 6


def test_a_path_switch_mid_burst_misses_nothing(lab: Lab, tmp_path: Path) -> None:
    watcher = lab.start()
    old, new = lab.p1, lab.p2
    for n in range(50):
        (old / f"a{n}.dat").write_bytes(b"a")
    lab.point_to(P2, new)
    # The old program is still finishing its files while the new proposal starts.
    for n in range(50):
        (new / f"b{n}.dat").write_bytes(b"b")
        if n < 20:
            (old / f"late{n}.dat").write_bytes(b"a")
    wait_for(lambda: watcher.captured == 120, timeout=60, what="all 120 files")
    messages = lab.messages(120)
    assert len(messages) == 120
    proposals = Counter((Path(m.scan.files[0].path).parent.name, m.proposal_id) for m in messages)
    assert proposals == {(P1, P1): 70, (P2, P2): 50}
    wait_for(lambda: not watcher._retiring, timeout=20, what="the old path to be released")


def test_a_restart_mid_burst_neither_resends_nor_misses(lab: Lab, tmp_path: Path) -> None:
    folder = lab.p1
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


# --- the file system as it is: odd names, vanishing files, links ----------------------


def _no_tick_failed(caplog: pytest.LogCaptureFixture) -> None:
    failed = [r for r in caplog.records if r.name.startswith("scifly") and "tick failed" in r.getMessage()]
    assert not failed, f"a tick failed: {failed[0].getMessage()}"


def _write_raw(path: bytes, data: bytes) -> None:
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def test_names_that_are_not_utf8_are_captured_once_across_a_restart(
    lab: Lab, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="scifly")
    folder = lab.p1
    raw_folder = os.fsencode(folder)
    watcher = lab.start()
    _write_raw(raw_folder + b"/scan_\xff.dat", b"z" * 7)
    _write_raw(raw_folder + b"/ses_\xfe\xed.txt", b"[Info]\nRegion Name=odd name\n[Data 1]\n1 2\n")
    (folder / "scan_\\xff.dat").write_bytes(b"b" * 3)  # a valid name that reads like the first one
    with h5py.File(folder / "text.h5", "w") as fh:  # text inside a file that is not UTF-8 either
        fh.attrs.create("comment", np.array(b"T=\xb0C", dtype=h5py.string_dtype("utf-8")))
    wait_for(lambda: watcher.captured == 4, timeout=20, what="the 4 files")

    raw = lab.raw_messages(4)
    assert len(raw) == 4
    for value in raw:
        json.loads(value.decode("utf-8"))  # strict UTF-8 and plain JSON: any consumer can read it
    messages = [ScanMetadata.model_validate_json(v) for v in raw]
    odd = [m for m in messages if m.scan.files[0].path == f"{folder}/scan_\\xff.dat"]
    assert sorted(m.scan.files[0].size for m in odd) == [3, 7], "two files that read alike are two datasets"
    assert len({m.message_id for m in odd}) == 2
    by_path = {m.scan.files[0].path: m for m in messages}
    ses = by_path[f"{folder}/ses_\\xfe\\xed.txt"]
    assert ses.scan.id == "ses_\\xfe\\xed.txt"
    assert [(e.name, e.value) for e in ses.entries if e.name.startswith("file_")] == [("file_region_name", "odd name")]
    text = by_path[f"{folder}/text.h5"]
    assert [(e.name, e.value) for e in text.entries if e.name.startswith("file_")] == [("file_comment", "T=\\xb0C")]
    lab.state_file.read_bytes().decode("utf-8")  # the state file stays valid UTF-8

    lab.stop()
    restarted = lab.start()  # the state file must say the odd names were sent
    time.sleep(1.0)  # more than a quiet period: a resend would have happened by now
    assert len(lab.still_captures(folder, 5)) == 5, "a file was sent again after the restart"
    assert restarted.captured == 1
    _no_tick_failed(caplog)


def test_files_that_vanish_in_a_burst_are_dropped_and_the_rest_flows(
    lab: Lab, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="scifly")
    folder = lab.p1 / "burst"
    folder.mkdir()
    watcher = lab.start()
    rng = random.Random(7)
    doomed: list[tuple[float, Path]] = []
    lock = threading.Lock()
    written = threading.Event()

    def delete_when_due() -> None:  # deletes each file at its moment, while the burst goes on
        while True:
            with lock:
                due = [d for d in doomed if d[0] <= time.monotonic()]
                for d in due:
                    doomed.remove(d)
                finished = written.is_set() and not doomed
            for _, path in due:
                path.unlink()
            if finished:
                return
            time.sleep(0.005)

    deleter = threading.Thread(target=delete_when_due)
    deleter.start()
    for n in range(80):
        (folder / f"keep{n:03d}.txt").write_text(f"[Info]\nRegion Name=keep {n}\n")
        (folder / f"temp{n:03d}.txt").write_text("[Info]\nRegion Name=temporary\n")
        # Reopened files complete only after quiet_s: deleted well before, they can never be sent.
        (folder / f"temp{n:03d}.log").write_bytes(b"t")
        with lock:
            # Spread over the life of a file: before, while and after it is captured.
            doomed.append((time.monotonic() + rng.uniform(0.0, 0.3), folder / f"temp{n:03d}.txt"))
            doomed.append((time.monotonic() + 0.1, folder / f"temp{n:03d}.log"))
        if n % 10 == 0:
            with h5py.File(folder / f"keep{n:03d}.h5", "w") as fh:
                fh.attrs["title"] = f"keep {n}"
            with h5py.File(folder / f"temp{n:03d}.h5", "w") as fh:
                fh.attrs["title"] = "temporary"
            with lock:
                doomed.append((time.monotonic() + rng.uniform(0.0, 0.3), folder / f"temp{n:03d}.h5"))
    written.set()
    deleter.join(10)

    keep = {str(p) for p in folder.glob("keep*")}
    assert len(keep) == 88
    wait_for(lambda: all(p in watcher.state.sent for p in keep), timeout=30, what="every file that stayed")
    # list() copies in one step: the watcher thread may still be writing to it.
    sent_temporary = sum(1 for p in list(watcher.state.sent) if "/temp" in p)
    messages = lab.still_captures(folder, len(keep) + sent_temporary + 1)
    paths = Counter(m.scan.files[0].path for m in messages)
    assert max(paths.values()) == 1, "a file was sent twice"
    assert keep <= set(paths)
    assert not [p for p in paths if p.endswith(".log")], "a file deleted before it was complete was sent"
    for m in messages:
        name = Path(m.scan.files[0].path).name
        if name.startswith("keep"):  # the metadata is the file's own, not another's
            assert [e.value for e in m.entries if e.name.startswith("file_")] == [f"keep {int(name[4:7])}"]
    dropped = [r for r in caplog.records if r.getMessage().startswith("dropped ")]
    assert len(dropped) >= 80, "vanished files are dropped with a log line"
    _no_tick_failed(caplog)


def test_a_file_removed_between_completion_and_reading_is_dropped_alone(
    lab: Lab, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The exact window a tick cannot show: complete (stat'ed), then gone before it is read.
    caplog.set_level(logging.INFO, logger="scifly")
    folder = lab.p1
    for name in ("a.txt", "b.txt", "c.dat", "d.dat"):
        (folder / name).write_text("[Info]\nRegion Name=here\n")
    with h5py.File(folder / "e.h5", "w") as fh:
        fh.attrs["title"] = "gone"
    now = [0.0]
    watcher = lab.build(clock=lambda: now[0])
    # Ticked by hand, so the test can act between the steps of one tick.
    watcher.tick()  # follows the PathFixer and finds the files
    now[0] = 10.0
    done = watcher._complete(now[0])
    assert len(done) == 5
    for name in ("b.txt", "d.dat", "e.h5"):
        (folder / name).unlink()
    watcher._capture(done)
    assert sorted(Path(m.scan.files[0].path).name for m in lab.messages(2)) == ["a.txt", "c.dat"]
    assert sorted(Path(p).name for p in watcher.state.sent) == ["a.txt", "c.dat"]
    dropped = sorted(r.getMessage() for r in caplog.records if r.getMessage().startswith("dropped "))
    assert dropped == [f"dropped {folder / n}: gone before it could be read" for n in ("b.txt", "d.dat", "e.h5")]


def _outside_secrets(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "secret.dat").write_bytes(b"s" * 4242)
    (folder / "secret.txt").write_text("[Info]\nSecret Key=outside-only\n")
    with h5py.File(folder / "secret.h5", "w") as fh:
        fh.attrs["secret"] = "outside-only"
    return folder


def _assert_nothing_from_outside(messages: list[ScanMetadata], outside: Path) -> None:
    for m in messages:
        text = m.model_dump_json()
        assert "outside-only" not in text, f"metadata of a file outside the data path in {m.scan.files[0].path}"
        assert str(outside) not in text
        assert m.scan.files[0].size not in (4242, 4343), f"the size of a file outside in {m.scan.files[0].path}"


def test_a_link_to_a_file_is_never_followed(lab: Lab, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="scifly")
    outside = _outside_secrets(tmp_path / "outside")
    folder = lab.p1
    (folder / "early.dat").symlink_to(outside / "secret.dat")  # there before the watch: found by the scan
    watcher = lab.start(_config(rescan_s=0.3))
    (folder / "real.dat").write_bytes(b"r" * 10)
    for name in ("leak.dat", "leak.txt", "leak.h5"):
        (folder / name).symlink_to(outside / f"secret{Path(name).suffix}")
    # A link to a file inside is ignored too: that file is captured under its own name.
    (folder / "alias.dat").symlink_to(folder / "real.dat")
    (folder / "dangling.dat").symlink_to(tmp_path / "nowhere.dat")
    time.sleep(2.0)  # several quiet periods and rescans
    messages = lab.still_captures(folder, 2)
    assert sorted(Path(m.scan.files[0].path).name for m in messages) == ["later.dat", "real.dat"]
    assert watcher.captured == 2
    _assert_nothing_from_outside(messages, outside)
    _no_tick_failed(caplog)


def test_a_link_to_a_folder_is_never_followed(lab: Lab, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="scifly")
    outside = _outside_secrets(tmp_path / "outside")
    swapped_in = tmp_path / "outside2"
    swapped_in.mkdir()
    (swapped_in / "x.log").write_bytes(b"o" * 4343)
    folder = lab.p1
    (folder / "sub").mkdir()
    (folder / "early").symlink_to(outside)  # there before the watch: the scan must not walk in
    watcher = lab.start(_config(rescan_s=0.3))
    (folder / "linked").symlink_to(outside)
    (folder / "linked.dat").symlink_to(outside)  # a link to a folder with a name a rule matches
    moved = tmp_path / "staging" / "run8"  # a folder moved in whole, holding a link out
    moved.mkdir(parents=True)
    (moved / "own.dat").write_bytes(b"o")
    (moved / "data").symlink_to(outside)
    moved.rename(folder / "run8")
    # A folder swapped for a link while one of its files waits out its quiet time: the
    # file's path now leads outside.
    (folder / "sub" / "x.log").write_bytes(b"i" * 5)
    (folder / "sub").rename(folder / "sub_old")
    (folder / "sub").symlink_to(swapped_in)
    (outside / "new.dat").write_bytes(b"n" * 4242)  # written through nothing: outside only
    (folder / "linked" / "through.dat").write_bytes(b"t" * 4242)  # written through the link
    time.sleep(2.0)
    messages = lab.still_captures(folder, 3)
    assert sorted(os.path.relpath(m.scan.files[0].path, folder) for m in messages) == [
        "later.dat", "run8/own.dat", "sub_old/x.log"]
    assert watcher.captured == 3
    _assert_nothing_from_outside(messages, outside)
    _no_tick_failed(caplog)


def test_an_hdf5_link_to_another_file_is_not_read(lab: Lab, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.h5"
    with h5py.File(secret, "w") as fh:
        fh.attrs["secret"] = "outside-only"
        group = fh.create_group("g")
        group.attrs["secret"] = "outside-only"
        group["val"] = 424242
        group["one"] = [424242]
    raw = outside / "raw.bin"
    raw.write_bytes(np.array([434343], dtype="<i4").tobytes())
    scan = lab.p1 / "scan.nxs"
    watcher = lab.start()
    with h5py.File(scan, "w") as fh:
        fh.attrs["NX_class"] = "NXroot"
        entry = fh.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        entry["energy"] = 21.2
        fh["ext"] = h5py.ExternalLink(str(secret), "/")  # a whole group of the other file
        entry["leak"] = h5py.ExternalLink(str(secret), "/g/val")
        fh["alias"] = h5py.SoftLink("/ext/g")  # soft links can lead through an external one
        entry["soft"] = h5py.SoftLink("/ext/g/val")
        layout = h5py.VirtualLayout(shape=(1,), dtype="i8")
        layout[0] = h5py.VirtualSource(str(secret), "g/one", shape=(1,))
        entry.create_virtual_dataset("virtual", layout)
        entry.create_dataset("stored_outside", shape=(1,), dtype="<i4", external=[(str(raw), 0, 4)])
    wait_for(lambda: watcher.captured == 1, timeout=20, what="the NeXus file")
    (message,) = lab.messages(1)
    assert {e.name: e.value for e in message.entries if e.name.startswith("file_")} == {
        "file_nx_class": "NXroot", "file_entry_nx_class": "NXentry", "file_entry_energy": 21.2}
    for value in (424242, 434343):
        assert value not in [e.value for e in message.entries]
    assert "outside-only" not in message.model_dump_json()
    lab.still_captures(lab.p1, 2)


def test_a_named_pipe_does_not_stall_the_watcher(lab: Lab, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Opening a pipe to read it blocks until a writer comes: it would hang every tick after it.
    caplog.set_level(logging.INFO, logger="scifly")
    folder = lab.p1
    watcher = lab.start(_config(close_timeout_s=0.5))
    os.mkfifo(folder / "pipe.txt")
    os.mkfifo(folder / "pipe.h5")
    time.sleep(1.5)  # past close_timeout_s: an empty file is taken as complete by then
    messages = lab.still_captures(folder, 1)
    assert [Path(m.scan.files[0].path).name for m in messages] == ["later.dat"]
    assert watcher.captured == 1
    ignored = sorted(r.getMessage() for r in caplog.records if r.getMessage().startswith("ignored "))
    assert ignored == [f"ignored {folder / n}: not a regular file" for n in ("pipe.h5", "pipe.txt")]
    _no_tick_failed(caplog)


# --- the PathFixer is trusted only within the facility's rule ---------------------------


def _refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name.startswith("scifly") and r.levelno == logging.ERROR and "refused" in r.getMessage()]


def _metric(name: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name) or 0.0


def test_a_data_path_outside_the_rule_is_refused_loudly_and_nothing_is_captured(
    lab: Lab, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Tango has no access control: anyone may write the PathFixer. Each of these would credit
    # files that are not the proposal's to it (or read folders scifly has no business in).
    caplog.set_level(logging.INFO, logger="scifly")
    outside = _outside_secrets(tmp_path / "outside")
    _outside_secrets(lab.p2)  # another proposal's folder
    (lab.p1 / "escape").symlink_to(outside)
    (lab.p1 / "neighbour").symlink_to(lab.p2)
    watcher = lab.start()
    lab.still_captures(lab.p1, 1, "first.dat")
    refused_before = _metric("scizoo_scifly_paths_refused_total")
    # (proposal, data path, why, write the proposal first): the order of the two writes is
    # chosen so that no half-done answer in between is an accepted one.
    hostile = [
        (P1, outside, "it is not inside a data root", False),
        (P1, lab.p2, "not where the layout puts proposal '20240001'", False),  # another proposal's folder
        (P1, Path(f"{lab.p1}/../{P2}"), "not where the layout puts", False),  # .. out of the proposal
        (P1, lab.p1 / "escape", "it is not inside a data root", False),  # a link out of the roots
        (P1, lab.p1 / "neighbour", "not where the layout puts", False),  # a link into another proposal
        (P1, lab.data, "not where the layout puts", False),  # the root itself
        (P2, lab.p1, "not where the layout puts proposal '20240002'", True),  # this folder, another proposal
        ("../fly/20240002", lab.p2, "is not a folder name", True),
    ]
    for n, (proposal, path, why, proposal_first) in enumerate(hostile):
        writes = [("data_path", str(path)), ("proposal", proposal)]
        for attribute, value in reversed(writes) if proposal_first else writes:
            lab.pathfixer.write_attribute(attribute, value)
        head = f"data path {str(path)!r} of proposal {proposal!r} refused"
        wait_for(lambda h=head: any(h in m for m in _refusals(caplog)), timeout=10,
                 what=f"the refusal of {path} for {proposal}")
        message = next(m for m in _refusals(caplog) if head in m)
        assert why in message and f"rule: {lab.data}/{{beamline}}/{{proposal}}/..." in message
        problem = watcher.path_problem()
        assert problem is not None and head in problem
        assert _metric("scizoo_scifly_path_refused") == 1
        assert watcher.active is None
        if n == 0:  # the old path is finished and let go (see the next test)
            wait_for(lambda: not watcher._retiring, timeout=20, what="the old path to be released")
        # Written while the path is refused: never captured, however long it waits.
        (path / f"while_refused{n}.dat").write_bytes(b"w" * 17)
    assert _metric("scizoo_scifly_paths_refused_total") >= refused_before + len(hostile)
    time.sleep(1.0)  # more than a quiet period
    assert watcher.captured == 1
    assert not watcher.candidates

    lab.point_to(P1, lab.p1)  # an accepted path again: captured as before
    wait_for(lambda: watcher.path_problem() is None, timeout=10, what="the path accepted again")
    assert _metric("scizoo_scifly_path_refused") == 0
    messages = lab.still_captures(lab.p1, 3)
    # The one file written into the accepted folder while refused is found by the scan on return.
    assert sorted(Path(m.scan.files[0].path).name for m in messages) == ["first.dat", "later.dat", "while_refused6.dat"]
    assert {m.proposal_id for m in messages} == {P1}
    _assert_nothing_from_outside(messages, outside)
    assert not [m for m in messages if Path(m.scan.files[0].path).parent == lab.p2]
    _no_tick_failed(caplog)


def test_a_refused_switch_finishes_the_old_proposal_files_then_stops(
    lab: Lab, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="scifly")
    watcher = lab.start(_config(grace_s=1.0, rescan_s=0.3))  # rescans also while nothing is followed
    slow = lab.p1 / "slow.dat"
    fh = slow.open("wb")  # being written when the PathFixer is turned elsewhere
    fh.write(b"s" * 100)
    fh.flush()
    lab.point_to(P1, tmp_path / "outside")
    wait_for(lambda: watcher.refused is not None, timeout=10, what="the refusal")
    fh.write(b"s" * 100)
    fh.close()
    # The old proposal's file is finished and credited to it; then the old path is let go.
    wait_for(lambda: str(slow) in watcher.state.sent, timeout=10, what="the file being written")
    wait_for(lambda: not watcher._retiring, timeout=20, what="the old path to be released")
    (lab.p1 / "after.dat").write_bytes(b"a")  # nobody follows p1 now: waits for the PathFixer
    time.sleep(1.5)
    assert watcher.captured == 1
    (message,) = lab.messages(1)
    assert (message.proposal_id, message.scan.files[0].size) == (P1, 200)
    _no_tick_failed(caplog)


def test_a_legitimate_switch_raises_no_alarm(lab: Lab, caplog: pytest.LogCaptureFixture) -> None:
    # Path and proposal are two writes: read between them, the PathFixer names the new
    # folder with the old proposal. That is refused (for one poll) but is no alarm.
    caplog.set_level(logging.INFO, logger="scifly")
    watcher = lab.start()
    for n in range(5):
        proposal, folder = (P2, lab.p2) if n % 2 == 0 else (P1, lab.p1)
        lab.point_to(proposal, folder)
        wait_for(lambda f=folder: watcher.active is not None and watcher.active.path == str(f), timeout=10,
                 what=f"following {folder}")
        (folder / f"s{n}.dat").write_bytes(b"s")
    wait_for(lambda: watcher.captured == 5, timeout=20, what="the 5 files")
    assert not _refusals(caplog)
    assert watcher.path_problem() is None
    assert {(Path(m.scan.files[0].path).parent.name, m.proposal_id) for m in lab.messages(5)} == {(P1, P1), (P2, P2)}


# --- writes that raise no inotify event ---------------------------------------------------


def test_the_polling_observer_captures_what_inotify_would_not_be_told(
    lab: Lab, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A detector host writing over NFS/GPFS/Lustre raises no inotify event here; the polling
    # observer lists the folder instead. rescan_s is an hour: only the observer can find these.
    caplog.set_level(logging.INFO, logger="scifly")
    outside = _outside_secrets(tmp_path / "outside")
    watcher = lab.start(_config(observer="polling", polling_s=0.2, rescan_s=3600, close_timeout_s=300))
    assert type(watcher._observer).__name__ == "PollingObserverVFS"
    (lab.p1 / "sub").mkdir()
    for n in range(30):
        (lab.p1 / "sub" / f"p{n:02d}.dat").write_bytes(b"p" * (n + 1))
    # Written in two parts seen by two polls: polling reports "modified", never a close-write,
    # so the file must complete on quiet time, not wait close_timeout_s for a close.
    ses = lab.p1 / "spectrum.txt"
    with ses.open("w") as fh:
        fh.write("[Info]\n")
        fh.flush()
        time.sleep(0.3)  # more than polling_s, less than quiet_s
        fh.write("Region Name=polled\n")
    (lab.p1 / "linked").symlink_to(outside)  # a link: the snapshots never walk into it
    wait_for(lambda: watcher.captured == 31, timeout=20, what="the 31 files, by polling")
    messages = lab.still_captures(lab.p1, 32)
    by_name = {Path(m.scan.files[0].path).name: m for m in messages}
    assert {by_name[f"p{n:02d}.dat"].scan.files[0].size for n in range(30)} == set(range(1, 31))
    assert [e.value for e in by_name["spectrum.txt"].entries if e.name.startswith("file_")] == ["polled"]
    _assert_nothing_from_outside(messages, outside)
    _no_tick_failed(caplog)


def test_a_file_no_event_reported_is_captured_by_the_rescan(lab: Lab) -> None:
    # inotify mode with events lost (an overflowed queue, a write from another host): the
    # observer is never started here, so no event at all reaches the watcher.
    now = [0.0]
    watcher = lab.build(_config(rescan_s=30), clock=lambda: now[0])
    watcher.tick()  # follows the PathFixer; its first scan finds nothing yet
    assert watcher.active is not None and watcher.active.path == str(lab.p1)
    (lab.p1 / "unseen.dat").write_bytes(b"u" * 7)
    for now[0] in (1.0, 5.0, 29.0):
        watcher.tick()
    assert watcher.captured == 0, "no event came, and the rescan is not due yet"
    now[0] = 30.5
    watcher.tick()  # the rescan finds it
    now[0] = 32.0
    watcher.tick()  # unchanged for quiet_s: complete
    assert watcher.captured == 1
    (message,) = lab.messages(1)
    assert (message.scan.files[0].path, message.scan.files[0].size, message.proposal_id) == (
        str(lab.p1 / "unseen.dat"), 7, P1)


def test_scifly_run_refuses_to_start_without_data_roots_and_shows_a_refused_path_on_readyz(
    lab: Lab, tmp_path: Path, kafka
) -> None:
    # The entry point the `scifly run` command calls, with its health server.
    import socket
    import urllib.error
    import urllib.request

    from scifly import SciflySettings, run_watcher
    from scizoo.core import ConfigError

    (tmp_path / "scifly.yaml").write_text("quiet_s: 0.6\npoll_s: 0.1\nprograms:\n"
                                          "  - {name: generic, patterns: ['*.dat']}\n")
    (tmp_path / "beamline.yaml").write_text(lab.config.model_dump_json())  # JSON is YAML
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = dict(
        kafka_bootstrap=kafka.bootstrap_servers, topic_prefix=lab.prefix, spool_dir=tmp_path / "spool",
        state_file=lab.state_file, config_file=tmp_path / "scifly.yaml",
        beamline_config_file=tmp_path / "beamline.yaml", device_addresses=lab.beamline.addresses, health_port=port,
    )
    with pytest.raises(ConfigError, match="SCIFLY_DATA_ROOTS"):
        run_watcher(SciflySettings(**settings), threading.Event())

    def get(path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()
        except OSError:
            return 0, ""

    stop = threading.Event()
    runner = threading.Thread(target=run_watcher, args=(SciflySettings(**settings, data_roots=[str(lab.data)]), stop),
                              daemon=True)
    runner.start()
    try:
        wait_for(lambda: get("/readyz") == (200, "ready\n"), timeout=30, what="scifly ready")
        lab.point_to(P1, tmp_path / "outside")
        wait_for(lambda: get("/readyz")[0] == 503, timeout=30, what="/readyz to show the refusal")
        status, body = get("/readyz")
        assert status == 503 and body.startswith("not ready: the PathFixer's data path")
        assert f"data path {str(tmp_path / 'outside')!r} of proposal '20240001' refused" in body
        assert "scizoo_scifly_path_refused 1.0" in get("/metrics")[1]
        lab.point_to(P1, lab.p1)
        wait_for(lambda: get("/readyz") == (200, "ready\n"), timeout=30, what="ready again")
    finally:
        stop.set()
        runner.join(20)
