"""Downloads: the streamed archive's throughput against copying the same files with ``cp``, in
the same run, and the server's memory while it streams a large archive.

    .venv/bin/python bench/bench_download.py [GB, default 1] [files per dataset, default 8]

Writes incompressible files (four datasets) into a temporary data root and reads them once, so
both ways read from the page cache. Then, in turn: ``cp -r`` of the four folders to the same
disk; and the archive of the four datasets from the real scan table (uvicorn, over the embedded
store), fetched by ``curl`` into a file on the same disk. The server runs in this process and
the client in another, so this process's resident memory is the server's: sampled every 20 ms,
its peak above the level before the download is what one archive costs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pymongo import MongoClient

from scanlog_api import ScanlogServer, ScanlogSettings, TokenUser
from scizoo.core import DATASET_COLLECTION, ORIG_DATABLOCK_COLLECTION
from scizoo.testing import EmbeddedMongo
from tests.system.test_scan_api import _dataset

DATASETS = 4
MIB = 1024 * 1024


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class PeakRss:
    """This process's resident memory, sampled until stopped: the peak."""

    def __init__(self) -> None:
        self.peak = rss_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_mib())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def make_data(root: Path, total_bytes: int, per_dataset: int) -> list[tuple[Path, list[Path]]]:
    size = total_bytes // (DATASETS * per_dataset)
    made = []
    for d in range(DATASETS):
        folder = root / f"scan{d}"
        folder.mkdir(parents=True)
        files = []
        for n in range(per_dataset):
            path = folder / f"frame_{n:04d}.h5"
            with path.open("wb") as f:
                left = size
                while left:
                    f.write(os.urandom(min(MIB, left)))
                    left -= min(MIB, left)
            files.append(path)
        made.append((folder, files))
    return made


def catalogue(db, made: list[tuple[Path, list[Path]]]) -> list[str]:
    pids = []
    now = datetime.now(UTC)
    for n, (folder, files) in enumerate(made):
        doc = {**_dataset(n + 1, "A"), "sourceFolder": str(folder)}
        db[DATASET_COLLECTION].insert_one(doc)
        entries = [{"path": str(p), "size": p.stat().st_size, "time": now, "chk": ""} for p in files]
        db[ORIG_DATABLOCK_COLLECTION].insert_one({
            "_id": str(uuid.uuid4()), "datasetId": doc["pid"], "size": sum(e["size"] for e in entries),
            "chkAlg": "", "dataFileList": entries, "ownerGroup": "A", "accessGroups": []})
        pids.append(doc["pid"])
    return pids


def warm(made: list[tuple[Path, list[Path]]]) -> None:
    for _, files in made:
        for p in files:
            with p.open("rb") as f:
                while f.read(8 * MIB):
                    pass


def main() -> None:
    gb = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    per_dataset = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    total = int(gb * 1024 * MIB)
    with tempfile.TemporaryDirectory(prefix="bench-download-") as tmp:
        work = Path(tmp)
        root = work / "data"
        t = time.perf_counter()
        made = make_data(root, total, per_dataset)
        data_bytes = sum(p.stat().st_size for _, files in made for p in files)
        print(f"{data_bytes / MIB:,.0f} MiB in {DATASETS * per_dataset} files written in {time.perf_counter() - t:.1f} s")
        warm(made)
        subprocess.run(["sync"], check=True)  # the data's own writes are not charged to the copy

        (work / "copy").mkdir()
        t = time.perf_counter()
        subprocess.run(["cp", "-r", *[str(folder) for folder, _ in made], str(work / "copy")], check=True)
        subprocess.run(["sync"], check=True)
        cp_s = time.perf_counter() - t
        shutil.rmtree(work / "copy", ignore_errors=True)

        with EmbeddedMongo(work / "store") as mongo:
            client: MongoClient = MongoClient(mongo.uri, tz_aware=True)
            db = client["bench_download"]
            pids = catalogue(db, made)
            settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, data_roots=[str(root)],
                                       max_archive_bytes=10 * total, tokens={"ta": TokenUser(user="alice", groups=["A"])})
            with ScanlogServer(settings, grace_s=1) as srv:
                url = f"{srv.url}/api/downloads/datasets.zip?" + urlencode([("pid", p) for p in pids])
                out = work / "archive.zip"
                # One small archive first: the app's first request (imports, the store's connection).
                subprocess.run(["curl", "-sf", "-o", "/dev/null", "-H", "Authorization: Bearer ta",
                                f"{srv.url}/api/downloads/datasets.zip?pid={pids[0]}"], check=True)
                before = rss_mib()
                with PeakRss() as peak:
                    t = time.perf_counter()
                    subprocess.run(["curl", "-sf", "-o", str(out), "-H", "Authorization: Bearer ta", url], check=True)
                    subprocess.run(["sync"], check=True)
                    zip_s = time.perf_counter() - t
                # The server's own rate: the same archive, thrown away by the client.
                t = time.perf_counter()
                subprocess.run(["curl", "-sf", "-o", "/dev/null", "-H", "Authorization: Bearer ta", url], check=True)
                null_s = time.perf_counter() - t
            client.close()
        with zipfile.ZipFile(out) as z:
            members = len(z.namelist())
        archive_bytes = out.stat().st_size
    print(f"cp -r (same files, page cache, same disk): {data_bytes / MIB / cp_s:8.0f} MiB/s  ({cp_s:.2f} s)")
    print(f"archive via HTTP, curl to a file:         {archive_bytes / MIB / zip_s:8.0f} MiB/s  ({zip_s:.2f} s, "
          f"{archive_bytes / MIB:,.0f} MiB, {members} members)")
    print(f"archive via HTTP, curl to /dev/null:      {archive_bytes / MIB / null_s:8.0f} MiB/s  ({null_s:.2f} s)")
    print(f"archive / cp: {cp_s / zip_s:.2f} of cp's rate")
    print(f"server resident memory: {before:.0f} MiB before, peak {peak.peak:.0f} MiB during the archive "
          f"(+{peak.peak - before:.0f} MiB for {archive_bytes / MIB:,.0f} MiB streamed)")


if __name__ == "__main__":
    main()
