"""Uploads and requests are bounded before they are read; odd images get a 422, not a 500."""

from __future__ import annotations

import io
import socket
import struct
import zlib

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from scanlog_api import MAX_COLUMNS, ScanlogServer, ScanlogSettings, TokenUser, create_app
from scizoo.core import DATASET_COLLECTION
from tests.system.test_scan_api import _dataset

pytestmark = pytest.mark.system
A = {"Authorization": "Bearer ta"}


def _settings(mongo, db, **changes) -> ScanlogSettings:
    return ScanlogSettings(mongo_uri=mongo.uri, database=db.name,
                           tokens={"ta": TokenUser(user="alice", groups=["A"])}, **changes)


def _raw(url: str, head: str, body: bytes = b"") -> str:
    """Send a request by hand and return the status line: the server answers without the body."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        return sock.recv(4096).decode("latin-1").split("\r\n", 1)[0]


def test_writes_are_refused_before_their_body_is_read(mongo, db) -> None:
    db[DATASET_COLLECTION].insert_one(_dataset(1, "A"))
    pid = _dataset(1, "A")["pid"]
    path = f"/api/scans/{pid}/attachments"
    with ScanlogServer(_settings(mongo, db), grace_s=1) as server:
        # 100 MB announced, none sent: an answer that needed the body would never come.
        big = "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 100000000\r\n\r\n"
        assert _raw(server.url, f"POST {path} HTTP/1.1\r\nHost: t\r\n{big}").endswith("401 Unauthorized")
        signed = f"POST {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ta\r\n{big}"
        assert _raw(server.url, signed).endswith("413 Request Entity Too Large")
        # No length said: the body is counted as it comes and cut off at the limit.
        chunk = b"x" * 65536
        chunked = (f"POST /api/scans/{pid}/comments HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ta\r\n"
                   "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(40)) + b"0\r\n\r\n"
        assert _raw(server.url, chunked, body).endswith("413 Request Entity Too Large")


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge size (a decompression bomb's calling card)."""
    buf = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


def test_images_we_do_not_take_get_a_422(mongo, db) -> None:
    db[DATASET_COLLECTION].insert_one(_dataset(1, "A"))
    pid = _dataset(1, "A")["pid"]
    icon = io.BytesIO()
    Image.new("RGB", (16, 16)).save(icon, format="ICO")
    with TestClient(create_app(_settings(mongo, db))) as client:
        for name, data, why in (("bomb.png", _png_claiming(60_000, 60_000), "pixels"),
                                ("x.ico", icon.getvalue(), "format"),
                                ("cut.png", _png_claiming(10, 10)[:40], "")):
            answer = client.post(f"/api/scans/{pid}/attachments", headers=A, files={"image": (name, data)})
            assert answer.status_code == 422, (name, answer.text)
            assert why in answer.json()["detail"]


def test_an_export_over_its_bound_is_refused_up_front(mongo, db) -> None:
    db[DATASET_COLLECTION].insert_many([_dataset(1, "A"), _dataset(2, "A")])
    with TestClient(create_app(_settings(mongo, db, max_export_rows=1))) as client:
        answer = client.get("/api/scans.csv?columns=scan_id", headers=A)
        assert answer.status_code == 422 and "at most 1 scans" in answer.json()["detail"]
        assert client.get("/api/scans?skip=100001", headers=A).status_code == 422


def test_exports_hold_a_bounded_number_of_columns(mongo, db) -> None:
    db[DATASET_COLLECTION].insert_one(_dataset(1, "A"))
    with TestClient(create_app(_settings(mongo, db, elog_url="http://127.0.0.1:9/entries"))) as client:
        many = [f"meta:k{n}" for n in range(MAX_COLUMNS + 1)]
        csv = client.get("/api/scans.csv", params={"columns": ",".join(many)}, headers=A)
        assert csv.status_code == 422 and f"at most {MAX_COLUMNS} columns" in csv.json()["detail"]
        pid = client.get("/api/scans", headers=A).json()["data"][0]["pid"]
        elog = client.post("/api/elog", json={"pids": [pid], "columns": many}, headers=A)
        assert elog.status_code == 422 and f"at most {MAX_COLUMNS} columns" in elog.json()["detail"]
        assert client.get("/api/scans.csv", params={"columns": ",".join(many[:MAX_COLUMNS])},
                          headers=A).status_code == 200


def test_free_text_keeps_a_page_however_many_scans_match(mongo, db) -> None:
    """The memory of a free-text search is its page and the store's batches, not its matches."""
    import tracemalloc

    big = {f"k{n}": {"value": f"common text {n} " + "x" * 40, "unit": ""} for n in range(60)}
    docs = []
    for n in range(1, 3001):
        doc = _dataset(n, "A")
        doc["scientificMetadata"].update(big)
        if n == 7:
            doc["scientificMetadata"]["needle"] = {"value": "rare", "unit": ""}
        docs.append(doc)
    db[DATASET_COLLECTION].insert_many(docs)
    with TestClient(create_app(_settings(mongo, db, tally=False))) as client:
        peaks = {}
        for q in ("rare", "common"):  # one match, 3,000 matches; the same 3,000 scans read
            client.get("/api/scans", params={"q": q, "limit": 10}, headers=A)  # warm: imports, connections
            tracemalloc.start()
            answer = client.get("/api/scans", params={"q": q, "limit": 10, "skip": 5}, headers=A)
            peaks[q] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            assert answer.status_code == 200
            assert answer.json()["count"] == (1 if q == "rare" else 3000)
        assert len(answer.json()["data"]) == 10
    assert peaks["common"] < 2 * peaks["rare"], peaks
