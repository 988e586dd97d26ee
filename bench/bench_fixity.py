"""Fixity: the worker's checksum rate against coreutils' ``b2sum`` and ``sha256sum`` on the same files.

    .venv/bin/python bench/bench_fixity.py [MB per file] [files] [chunk KiB]

Writes the files (incompressible bytes) into a temporary folder, reads them once so every run
finds them in the page cache (the hash, not the disk, is measured), then times, in turn:
scifix's :func:`~scifix.checksum` (unbounded bucket, the worker's read loop) for blake2b and
sha256, and the two coreutils programs over the same files. Also the bounded rate: one file
through a bucket of a quarter of the measured blake2b rate, to show the bound holds.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scifix import TokenBucket, checksum


def make_files(folder: Path, mb: int, count: int) -> list[Path]:
    files = []
    for n in range(count):
        path = folder / f"frame_{n}.bin"
        with path.open("wb") as f:
            for _ in range(mb):
                f.write(os.urandom(1024 * 1024))
        files.append(path)
    return files


def ours(files: list[Path], alg: str, chunk: int) -> tuple[float, list[str]]:
    bucket = TokenBucket(0, chunk)
    t0 = time.perf_counter()
    digests = [checksum(str(f), alg, bucket, chunk=chunk).hexdigest for f in files]
    return time.perf_counter() - t0, digests


def tool(files: list[Path], program: str) -> tuple[float, list[str]]:
    t0 = time.perf_counter()
    out = subprocess.run([program, *map(str, files)], check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - t0, [line.split()[0] for line in out.splitlines()]


def main() -> None:
    mb = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    chunk = (int(sys.argv[3]) if len(sys.argv) > 3 else 1024) * 1024
    total = mb * count
    with tempfile.TemporaryDirectory(prefix="bench_fixity_") as tmp:
        files = make_files(Path(tmp), mb, count)
        for f in files:  # warm the page cache for every contender alike
            f.read_bytes()
        print(f"{count} files x {mb} MiB = {total} MiB, page cache warm, chunk {chunk // 1024} KiB; "
              f"python {sys.version.split()[0]} (hashlib's sha256 from {ssl.OPENSSL_VERSION}), "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        rows = []
        for alg, program in (("blake2b", "b2sum"), ("sha256", "sha256sum")):
            ours_s, our_digests = ours(files, alg, chunk)
            if shutil.which(program):
                tool_s, tool_digests = tool(files, program)
                assert our_digests == tool_digests, f"{alg}: our digests differ from {program}'s"
                rows.append((alg, ours_s, program, tool_s))
            else:
                rows.append((alg, ours_s, f"{program} (not installed)", float("nan")))
        print(f"{'algorithm':<10} {'scifix MiB/s':>13} {'tool':<12} {'tool MiB/s':>11} {'ratio':>6}")
        for alg, ours_s, program, tool_s in rows:
            print(f"{alg:<10} {total / ours_s:>13.0f} {program:<12} {total / tool_s:>11.0f} {tool_s / ours_s:>6.2f}")
        blake_rate = total * 1024 * 1024 / rows[0][1]
        bound = int(blake_rate / 4)
        t0 = time.perf_counter()
        checksum(str(files[0]), "blake2b", TokenBucket(bound, chunk), chunk=chunk)
        took = time.perf_counter() - t0
        print(f"bounded: one {mb} MiB file at SCIFIX_READ_RATE={bound} B/s took {took:.2f} s "
              f"(expected {(mb * 1024 * 1024 - chunk) / bound:.2f} s: the first chunk is the burst)")


if __name__ == "__main__":
    main()
