"""Downloads over the real store, from real files: archives of a cart, of a publication's and
anyone's published datasets; single files with Range; the data roots; the size limit; download
tickets (a signed-in page's downloads without a token in a URL)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from scanlog_api import ScanlogSettings, TokenUser, create_app
from scizoo.core import DATASET_COLLECTION, DOWNLOAD_TICKET_COLLECTION, ORIG_DATABLOCK_COLLECTION
from tests.helpers import served_with_access_log
from tests.system.test_scan_api import _dataset

pytestmark = pytest.mark.system
A = {"Authorization": "Bearer ta"}
B = {"Authorization": "Bearer tb"}
TRANSFER = "https://transfer.example.org/file-manager?origin_path=/{path}&pid={pid}"


def _files(folder: Path, n: int) -> dict[str, bytes]:
    """Three files of scan ``n`` in ``folder`` (one in a subfolder), different in size and bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "raw").mkdir(exist_ok=True)
    made = {f"scan{n}.h5": os.urandom(100_000 + n), f"raw/scan{n}_0001.tif": os.urandom(5_000 * n),
            f"scan{n}.log": f"scan {n}\n".encode()}
    for name, data in made.items():
        (folder / name).write_bytes(data)
    return made


def _catalogue(db: Any, n: int, folder: Path, paths: list[str], *, checksums: bool = True, **fields: Any) -> str:
    """Dataset ``n`` of proposal A in ``folder``, its datablock listing ``paths`` (absolute, as
    scizoo captures them; sha256 filled for all but the .log, as the fixity worker leaves them
    before it reaches a file)."""
    doc = {**_dataset(n, fields.pop("proposal", "A")), "sourceFolder": str(folder), **fields}
    db[DATASET_COLLECTION].insert_one(doc)
    entries = []
    for p in paths:
        full = folder / p if not p.startswith("/") else Path(p)
        data = full.read_bytes() if full.is_file() else b""
        chk = hashlib.sha256(data).hexdigest() if checksums and not p.endswith(".log") and data else ""
        entries.append({"path": str(full) if not p.startswith("/") else p, "size": len(data),
                        "time": doc["creationTime"], "chk": chk})
    db[ORIG_DATABLOCK_COLLECTION].insert_one({
        "_id": str(uuid.uuid4()), "datasetId": doc["pid"], "size": sum(e["size"] for e in entries), "chkAlg": "sha256",
        "dataFileList": entries, "ownerGroup": doc["ownerGroup"], "accessGroups": doc["accessGroups"]})
    return str(doc["pid"])


def _settings(mongo: Any, db: Any, root: Path, **changes: Any) -> ScanlogSettings:
    given: dict[str, Any] = {"data_roots": [str(root)], "download_url_pattern": TRANSFER, **changes}
    return ScanlogSettings(mongo_uri=mongo.uri, database=db.name, **given,
                           tokens={"ta": TokenUser(user="alice", groups=["A"]), "tb": TokenUser(user="bob", groups=["B"])})


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    return tmp_path / "data"


@pytest.fixture()
def client(mongo, db, root: Path) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(mongo, db, root))) as c:
        yield c


def _unzip(body: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        assert z.testzip() is None  # every member's CRC
        return {name: z.read(name) for name in z.namelist()}


def test_the_archive_of_a_cart_of_three_datasets_unpacks_to_exactly_their_files(client: TestClient, db,
                                                                                 root: Path) -> None:
    made: dict[str, dict[str, bytes]] = {}
    for n in (1, 2, 3):
        files = _files(root / f"scan{n}", n)
        pid = _catalogue(db, n, root / f"scan{n}", list(files))
        made[pid] = files
    assert client.put("/api/cart", headers=A, json={"pids": list(made)}).status_code == 200
    answer = client.get("/api/downloads/cart.zip", headers=A)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert int(answer.headers["content-length"]) == len(answer.content)  # known before the first byte
    unpacked = _unzip(answer.content)
    manifest = json.loads(unpacked.pop("manifest.json"))
    sums = unpacked.pop("checksums.sha256").decode()
    expected = {f"{pid.replace('/', '_')}/{name}": data for pid, files in made.items() for name, data in files.items()}
    assert unpacked == expected  # exactly their files, byte for byte, nothing else
    assert manifest["files"] == 9 and manifest["size"] == sum(map(len, expected.values())) and not manifest["notIncluded"]
    for entry in manifest["manifest"]:
        data = expected[entry["archivePath"]]
        assert entry["size"] == len(data)
        if entry["path"].endswith(".log"):
            assert entry["checksum"] == "not yet computed"
        else:
            assert entry["checksum"] == {"algorithm": "sha256", "value": hashlib.sha256(data).hexdigest()}
    # checksums.sha256 is what `sha256sum -c` reads: every file with a checksum, and it matches.
    lines = [line.split("  ", 1) for line in sums.splitlines()]
    assert len(lines) == 6 and all(hashlib.sha256(expected[name]).hexdigest() == hexsum for hexsum, name in lines)
    # Bob's cart is his own (empty): an empty archive with its manifest, not Alice's files.
    assert set(_unzip(client.get("/api/downloads/cart.zip", headers=B).content)) == {"manifest.json"}


def test_anyone_gets_a_published_datasets_files_and_a_404_for_an_unpublished_one(client: TestClient, db,
                                                                                root: Path) -> None:
    public = _catalogue(db, 1, root / "scan1", list(_files(root / "scan1", 1)), isPublished=True)
    private = _catalogue(db, 2, root / "scan2", list(_files(root / "scan2", 2)))
    whole = client.get("/api/downloads/datasets.zip", params={"pid": public})
    assert whole.status_code == 200 and len(_unzip(whole.content)) == 5  # 3 files, manifest, checksums
    one = client.get("/api/downloads/file", params={"pid": public, "path": str(root / "scan1" / "scan1.h5")})
    assert one.status_code == 200 and one.content == (root / "scan1" / "scan1.h5").read_bytes()
    assert one.headers["content-type"] == "application/octet-stream"
    assert one.headers["repr-digest"].startswith("sha-256=:")
    for params in ({"pid": private}, {"pid": [public, private]}):
        refused = client.get("/api/downloads/datasets.zip", params=params)
        assert refused.status_code == 404 and private in refused.json()["detail"]
    path = str(root / "scan2" / "scan2.h5")
    assert client.get("/api/downloads/file", params={"pid": private, "path": path}).status_code == 404
    assert client.get("/api/downloads/file", params={"pid": private, "path": path}, headers=A).status_code == 200
    # Only catalogued files: another path of a readable dataset, even inside the roots, is not served.
    other = client.get("/api/downloads/file", params={"pid": public, "path": path})
    assert other.status_code == 404 and "lists no file" in other.json()["detail"]


def test_a_path_outside_the_data_roots_is_refused_also_through_a_link(client: TestClient, db, root: Path,
                                                                       tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"not data")
    folder = root / "scan1"
    files = _files(folder, 1)
    (folder / "escape.txt").symlink_to(secret)  # a link inside the roots, to a file outside
    (folder / "inside-link.h5").symlink_to(folder / "scan1.h5")  # a link that stays inside: fine
    listed = [*files, "escape.txt", "inside-link.h5", str(secret), f"{folder}/../../secret.txt"]
    pid = _catalogue(db, 1, folder, listed, checksums=False)
    reasons = {str(secret): "outside the data roots", f"{folder}/../../secret.txt": "outside the data roots",
               str(folder / "escape.txt"): "a link out of the data roots"}
    before = client.get("/metrics").text
    for path, reason in reasons.items():
        refused = client.get("/api/downloads/file", params={"pid": pid, "path": path}, headers=A)
        assert refused.status_code == 403 and reason in refused.json()["detail"], refused.text
    ok = client.get("/api/downloads/file", params={"pid": pid, "path": str(folder / "inside-link.h5")}, headers=A)
    assert ok.status_code == 200 and ok.content == files["scan1.h5"]
    answer = client.get("/api/downloads/datasets.zip", params={"pid": pid}, headers=A)
    assert answer.status_code == 200 and answer.headers["x-files-not-included"] == "3"
    unpacked = _unzip(answer.content)
    assert b"not data" not in unpacked.values()
    manifest = json.loads(unpacked["manifest.json"])
    assert {e["path"]: e["reason"] for e in manifest["notIncluded"]} == reasons  # said, with why, not dropped
    assert len(unpacked) == 1 + len(files) + 1  # the manifest, the files, the link inside the roots
    after = client.get("/metrics").text
    assert _count(after, "a link out of the data roots") - _count(before, "a link out of the data roots") == 2
    assert _count(after, "outside the data roots") - _count(before, "outside the data roots") == 4


def _count(metrics: str, reason: str) -> float:
    line = f'scizoo_download_refusals_total{{reason="{reason}"}} '
    return next((float(x.removeprefix(line)) for x in metrics.splitlines() if x.startswith(line)), 0.0)


def test_a_range_request_gives_the_bytes_asked(client: TestClient, db, root: Path) -> None:
    files = _files(root / "scan1", 1)
    pid = _catalogue(db, 1, root / "scan1", list(files))
    params = {"pid": pid, "path": str(root / "scan1" / "scan1.h5")}
    data = files["scan1.h5"]
    part = client.get("/api/downloads/file", params=params, headers={**A, "Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == data[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(data)}"
    tail = client.get("/api/downloads/file", params=params, headers={**A, "Range": f"bytes={len(data) - 10}-"})
    assert tail.status_code == 206 and tail.content == data[-10:]  # a resumed download's rest
    assert client.get("/api/downloads/file", params=params,
                      headers={**A, "Range": f"bytes={len(data) + 5}-"}).status_code == 416


def test_over_the_size_limit_the_transfer_link_is_given(mongo, db, root: Path) -> None:
    files = _files(root / "scan1", 1)
    pid = _catalogue(db, 1, root / "scan1", list(files))
    size = sum(map(len, files.values()))
    with TestClient(create_app(_settings(mongo, db, root, max_archive_bytes=size - 1))) as client:
        answer = client.get("/api/downloads/datasets.zip", params={"pid": pid}, headers=A)
        assert answer.status_code == 409
        body = answer.json()
        assert body["size"] == size and body["limit"] == size - 1 and f"{size:,} bytes" in body["detail"]
        folder = str(root / "scan1").lstrip("/")
        assert body["transfer"] == [{"dataset": pid, "folder": str(root / "scan1"),
                                     "url": f"https://transfer.example.org/file-manager?origin_path=/{folder}"
                                            f"&pid={pid.replace('/', '%2F')}"}]
        # A single file is still served, whatever the archive limit.
        one = client.get("/api/downloads/file", params={"pid": pid, "path": str(root / "scan1" / "scan1.h5")}, headers=A)
        assert one.status_code == 200


def test_datacite_metadata_names_the_sizes_and_formats(client: TestClient, db, root: Path) -> None:
    from datacite import schema45

    files = _files(root / "scan1", 1)
    pid = _catalogue(db, 1, root / "scan1", list(files))
    form = {"title": "Pt(111)", "abstract": "XPS.", "creators": [{"name": "Lovelace, Ada"}], "publisher": "scizoo lab",
            "publication_year": 2026, "dataset_pids": [pid]}
    made = client.post("/api/publications", headers=A, json=form)
    assert made.status_code == 201, made.text
    attributes = made.json()["metadata"]["datacite"]
    assert attributes["sizes"] == ["3 files", f"{sum(map(len, files.values()))} bytes"]
    assert attributes["formats"] == ["h5", "log", "tif"]
    assert schema45.validate(attributes), list(schema45.validator.iter_errors(attributes))


def test_the_landing_page_offers_the_files_their_checksums_and_one_archive(mongo, db, root: Path) -> None:
    from html import unescape

    from scizoo.testing import DataCiteStandIn

    files = _files(root / "scan1", 1)
    pid = _catalogue(db, 1, root / "scan1", list(files))
    form = {"title": "Pt(111)", "abstract": "XPS.", "creators": [{"name": "Lovelace, Ada"}], "publisher": "scizoo lab",
            "publication_year": 2026, "dataset_pids": [pid]}
    with DataCiteStandIn() as datacite, TestClient(create_app(_settings(
            mongo, db, root, datacite_url=datacite.url, datacite_username="SCIZOO.TEST",
            datacite_password="dc-secret"))) as client:
        doi = client.post("/api/publications", headers=A, json=form).json()["doi"]
        assert client.post(f"/api/publications/{doi}/register", headers=A).status_code == 200
        page = unescape(client.get(f"/doi/{doi}").text)  # nobody signed in
        h5 = hashlib.sha256(files["scan1.h5"]).hexdigest()
        assert f"sha256: {h5}" in page and "checksum not yet computed" in page  # the .log's, not yet
        assert f"({len(files['scan1.h5']):,} bytes)" in page
        assert f"/api/downloads/file?pid={pid.replace('/', '%2F')}&path=" in page
        assert "Transfer this dataset's folder" in page
        href = page.split("id='download-all' class='button' href='", 1)[1].split("'", 1)[0]
        whole = client.get(href)
        assert whole.status_code == 200 and whole.headers["content-disposition"].endswith('.zip"')
        unpacked = _unzip(whole.content)
        assert {n.split("/", 1)[-1] for n in unpacked if "/" in n} == set(files)


def test_without_data_roots_no_file_is_served(mongo, db, root: Path) -> None:
    files = _files(root / "scan1", 1)
    pid = _catalogue(db, 1, root / "scan1", list(files), isPublished=True)
    with TestClient(create_app(_settings(mongo, db, root, data_roots=[]))) as client:
        for path, params in (("/api/downloads/datasets.zip", {"pid": pid}),
                             ("/api/downloads/file", {"pid": pid, "path": str(root / "scan1" / "scan1.h5")})):
            refused = client.get(path, params=params)
            assert refused.status_code == 501 and "no data roots are configured" in refused.json()["detail"]


# --- download tickets: the browser's own download for a signed-in page, no token in a URL ----------


def _ticket(client: TestClient, body: dict[str, Any], headers: dict[str, str] = A) -> str:
    made = client.post("/api/downloads/tickets", headers=headers, json=body)
    assert made.status_code == 201, made.text
    url = str(made.json()["url"])
    assert url.startswith("/api/downloads/t/") and "?" not in url  # a path, no query
    return url


def _ticket_doc(db: Any, url: str) -> dict[str, Any]:
    doc = db[DOWNLOAD_TICKET_COLLECTION].find_one({"ticket": hashlib.sha256(url.rsplit("/", 1)[1].encode()).hexdigest()})
    assert doc is not None
    return dict(doc)


def test_a_ticket_gives_exactly_the_checked_files(client: TestClient, db, root: Path) -> None:
    made: dict[str, dict[str, bytes]] = {}
    for n in (1, 2, 3):
        files = _files(root / f"scan{n}", n)
        made[_catalogue(db, n, root / f"scan{n}", list(files))] = files
    first, second, third = made
    assert client.put("/api/cart", headers=A, json={"pids": [first, second]}).status_code == 200
    made_ticket = client.post("/api/downloads/tickets", headers=A, json={"cart": True})
    assert made_ticket.status_code == 201, made_ticket.text
    out = made_ticket.json()
    assert out["name"] == "cart.zip" and out["kind"] == "archive" and out["files"] == 6 and out["notIncluded"] == 0
    url = out["url"]
    secret = url.rsplit("/", 1)[1]
    assert len(secret) >= 43 and "ta" not in url.replace(secret, "")  # 256 random bits; no token anywhere
    # The cart changes after the ticket: the ticket still serves what was checked when it was made.
    assert client.put("/api/cart", headers=A, json={"pids": [third]}).status_code == 200
    answer = client.get(url)  # no header: the browser navigates to it
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-disposition"] == 'attachment; filename="cart.zip"'
    unpacked = _unzip(answer.content)
    unpacked.pop("manifest.json"), unpacked.pop("checksums.sha256")
    assert unpacked == {f"{pid.replace('/', '_')}/{name}": data for pid in (first, second)
                        for name, data in made[pid].items()}
    # The store keeps the ticket's hash, its owner and the resolved download; never the ticket.
    doc = _ticket_doc(db, url)
    assert secret not in json.dumps(doc, default=str) and doc["owner"] == "alice" and doc["pids"] == [first, second]
    # Some datasets by pid, the same way.
    some = client.get(_ticket(client, {"pids": [third]}))
    assert {k for k in _unzip(some.content) if "/" in k} == {f"{third.replace('/', '_')}/{n}" for n in made[third]}


def test_an_expired_or_unknown_ticket_is_refused(client: TestClient, db, root: Path) -> None:
    files = _files(root / "scan1", 1)
    pid = _catalogue(db, 1, root / "scan1", list(files))
    url = _ticket(client, {"pids": [pid]})
    doc = _ticket_doc(db, url)
    left = (doc["expiresAt"] - doc["createdAt"]).total_seconds()
    assert 55 <= left <= 60  # a minute to start
    db[DOWNLOAD_TICKET_COLLECTION].update_one({"_id": doc["_id"]}, {"$set": {"expiresAt": doc["createdAt"]}})
    gone = client.get(url)
    assert gone.status_code == 410 and "expired" in gone.json()["detail"]
    unknown = client.get("/api/downloads/t/" + "x" * 43)
    assert unknown.status_code == 404 and "no such download ticket" in unknown.json()["detail"]
    # A ticket is made only for a signed-in user, and says what for.
    assert client.post("/api/downloads/tickets", json={"pids": [pid]}).status_code == 401
    for body in ({}, {"pids": [pid], "cart": True}, {"pids": []}, {"file": {"pid": pid}}):
        assert client.post("/api/downloads/tickets", headers=A, json=body).status_code == 422, body


def test_a_ticket_is_a_capability_for_what_was_granted_only(client: TestClient, db, root: Path) -> None:
    files = _files(root / "scan1", 1)
    pid = _catalogue(db, 1, root / "scan1", list(files))  # alice's group A; bob is in B
    url = _ticket(client, {"pids": [pid]})
    # Whoever holds it gets that download (as a link does), whatever their own header says...
    assert client.get(url, headers=B).status_code == 200
    # ...but cannot make one for scans they may not read, alone or among others.
    for body in ({"pids": [pid]}, {"file": {"pid": pid, "path": str(root / "scan1" / "scan1.h5")}}):
        refused = client.post("/api/downloads/tickets", headers=B, json=body)
        assert refused.status_code == 404 and pid in refused.json()["detail"], refused.text
    # Nor one for a file the dataset does not list, or one outside the data roots.
    outside = client.post("/api/downloads/tickets", headers=A, json={"file": {"pid": pid, "path": "/etc/passwd"}})
    assert outside.status_code == 404 and "lists no file" in outside.json()["detail"]


def test_access_revoked_between_ticket_and_get_refuses(client: TestClient, db, root: Path) -> None:
    files = _files(root / "scan1", 1)
    pid = _catalogue(db, 1, root / "scan1", list(files))
    archive_url = _ticket(client, {"pids": [pid]})
    file_url = _ticket(client, {"file": {"pid": pid, "path": str(root / "scan1" / "scan1.h5")}})
    assert client.get(file_url, headers={"Range": "bytes=0-9"}).status_code == 206  # started
    db[DATASET_COLLECTION].update_one({"_id": pid}, {"$set": {"ownerGroup": "C", "accessGroups": []}})
    for url in (archive_url, file_url):
        refused = client.get(url, headers={"Range": "bytes=10-"} if url == file_url else {})
        assert refused.status_code == 404 and pid in refused.json()["detail"], refused.text


def test_a_single_file_ticket_serves_range_requests_for_an_hour(client: TestClient, db, root: Path) -> None:
    files = _files(root / "scan1", 1)
    pid = _catalogue(db, 1, root / "scan1", list(files))
    data = files["scan1.h5"]
    made = client.post("/api/downloads/tickets", headers=A,
                       json={"file": {"pid": pid, "path": str(root / "scan1" / "scan1.h5")}})
    assert made.status_code == 201 and made.json()["name"] == "scan1.h5" and made.json()["size"] == len(data)
    url = made.json()["url"]
    whole = client.get(url)
    assert whole.status_code == 200 and whole.content == data and whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-disposition"].endswith('filename="scan1.h5"')
    assert whole.headers["repr-digest"] == f"sha-256=:{base64.b64encode(hashlib.sha256(data).digest()).decode()}:"
    doc = _ticket_doc(db, url)
    assert 3500 <= (doc["expiresAt"] - doc["startedAt"]).total_seconds() <= 3600  # kept for resuming
    # Past the minute to start, a started file's ticket still resumes.
    db[DOWNLOAD_TICKET_COLLECTION].update_one({"_id": doc["_id"]}, {"$set": {
        "createdAt": doc["createdAt"] - timedelta(minutes=30), "startedAt": doc["startedAt"] - timedelta(minutes=30)}})
    part = client.get(url, headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == data[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(data)}"
    tail = client.get(url, headers={"Range": f"bytes={len(data) - 10}-"})
    assert tail.status_code == 206 and tail.content == data[-10:]
    # An archive's ticket is not kept: an archive cannot be resumed, so it ends with its minute to start.
    archive_url = _ticket(client, {"pids": [pid]})
    assert client.get(archive_url).status_code == 200
    archive_doc = _ticket_doc(db, archive_url)
    assert "startedAt" not in archive_doc and (archive_doc["expiresAt"] - archive_doc["createdAt"]).total_seconds() <= 60


def test_tickets_are_bounded_per_user_and_archives_by_size(mongo, db, root: Path) -> None:
    files = _files(root / "scan1", 1)
    pid = _catalogue(db, 1, root / "scan1", list(files))
    size = sum(map(len, files.values()))
    with TestClient(create_app(_settings(mongo, db, root, max_archive_bytes=size - 1))) as client:
        over = client.post("/api/downloads/tickets", headers=A, json={"pids": [pid]})
        assert over.status_code == 409 and over.json()["size"] == size and over.json()["transfer"][0]["url"]
        one = {"file": {"pid": pid, "path": str(root / "scan1" / "scan1.h5")}}  # a file is not an archive
        urls = [_ticket(client, one) for _ in range(20)]
        too_many = client.post("/api/downloads/tickets", headers=A, json=one)
        assert too_many.status_code == 429 and "20 download tickets" in too_many.json()["detail"]
        # An expired one frees its place.
        db[DOWNLOAD_TICKET_COLLECTION].update_one({"_id": _ticket_doc(db, urls[0])["_id"]},
                                                  {"$set": {"expiresAt": datetime.now(UTC)}})
        assert client.post("/api/downloads/tickets", headers=A, json=one).status_code == 201


def test_a_ticket_never_appears_in_the_server_log_in_full(caplog, mongo, db, root: Path) -> None:
    import httpx

    from tests.system.test_no_secrets_in_logs import Haystack, _no_hits, every_logger_at_debug

    files = _files(root / "scan1", 1)
    pid = _catalogue(db, 1, root / "scan1", list(files))
    app = create_app(_settings(mongo, db, root))
    secrets: dict[str, str] = {}
    # Served first: uvicorn sets up its loggers when configured, and the capture must come after.
    with served_with_access_log(app) as url, every_logger_at_debug(caplog):
        for body in ({"pids": [pid]}, {"file": {"pid": pid, "path": str(root / "scan1" / "scan1.h5")}}):
            made = httpx.post(f"{url}/api/downloads/tickets", headers=A, json=body, timeout=10)
            assert made.status_code == 201, made.text
            path = made.json()["url"]
            secrets[f"{body} ticket"] = path.rsplit("/", 1)[1]
            assert httpx.get(f"{url}{path}", headers={"Range": "bytes=0-9"}, timeout=10).status_code in (200, 206)
        assert httpx.get(f"{url}/api/downloads/t/{'y' * 43}", timeout=10).status_code == 404
    lines = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    shown = [line for line in lines if "/api/downloads/t/" in line]
    assert len(shown) == 3, lines  # the access log was heard, with a prefix of each ticket to tell them apart
    assert all(f"/api/downloads/t/{s[:6]}…" in " ".join(shown) for s in secrets.values()), shown
    hay = Haystack()
    # The service's logs; not the test's own HTTP client's (httpx logs the URL it was given).
    hay.records([r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))])
    _no_hits(hay, secrets)


def test_the_per_user_bound_holds_when_tickets_are_asked_for_at_once(db) -> None:
    """Counting and then inserting let requests that came together each see room and all insert
    (12 of 24 with a bound of 5). Now a user's tickets sit in per_user slots (their _ids)."""
    import threading

    from scanlog_api._tickets import Ticket, Tickets, TooMany

    tickets = Tickets(lambda: db[DOWNLOAD_TICKET_COLLECTION], per_user=5)
    ticket = Ticket(user=TokenUser(user="alice", groups=["A"]), kind="file", pids=["p/1"], name="f.h5", path="/d/f.h5")
    now = datetime.now(UTC)
    outcomes: list[str] = []
    start = threading.Barrier(24)

    def ask() -> None:
        start.wait()
        try:
            tickets.issue(ticket, now)
            outcomes.append("issued")
        except TooMany:
            outcomes.append("refused")

    threads = [threading.Thread(target=ask) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    live = db[DOWNLOAD_TICKET_COLLECTION].count_documents({"owner": "alice"})
    assert (outcomes.count("issued"), outcomes.count("refused"), live) == (5, 19, 5)


def test_a_ticket_issued_before_the_slots_still_works(db) -> None:
    """Before the per-user slots a ticket's _id was its hash (a started file's lives an hour)."""
    from scanlog_api._tickets import Tickets, ticket_hash

    now = datetime.now(UTC)
    alice = TokenUser(user="alice", groups=["A"])
    db[DOWNLOAD_TICKET_COLLECTION].insert_one({
        "_id": ticket_hash("old-secret"), "owner": "alice", "user": alice.model_dump(), "kind": "file",
        "pids": ["p/1"], "path": "/d/f.h5", "name": "f.h5", "createdAt": now, "expiresAt": now + timedelta(seconds=60)})
    used = Tickets(lambda: db[DOWNLOAD_TICKET_COLLECTION]).use("old-secret", now)
    assert (used.user.user, used.path) == ("alice", "/d/f.h5")
    assert db[DOWNLOAD_TICKET_COLLECTION].find_one({"_id": ticket_hash("old-secret")})["startedAt"] is not None
