"""What we write for SciCat, through the real SciCat backend (a manual check; CI cannot fetch it).

Stores, in an embedded SecantusDB, a raw dataset, its OrigDatablock and its Proposal built by
scizoo's builders, and one attachment as scizoo wrote it before issue 18 (``targetIds``); with
``--migrate`` also a new attachment (``build_attachment``) and the catalogue migration run. Then
starts the backend on that store and asks it what a SciCat client asks: v3
``/datasets/{pid}/attachments``, v4 ``/datasets/{pid}?include=attachments``, proposals and
origdatablocks, v3 ``/proposals/{id}``, v4 ``/attachments/{aid}``.

Build the backend first: a checkout of
SciCatProject/scicat-backend-next with ``npm ci && npm run build`` done. Then:

    .venv/bin/python bench/scicat_backend_check.py /tmp/scicat-backend-next            # the old shape
    .venv/bin/python bench/scicat_backend_check.py /tmp/scicat-backend-next --migrate  # after issue 18

Seen at 4055c96 (2026-12-05): without --migrate both attachment look-ups answer [] (the
issue); with it, both find the moved and the new attachment, and v4 finds the new one by aid.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the project beside it
    sys.path.insert(0, str(ROOT))

import requests
from pymongo import MongoClient

from scizoo.core import (
    CatalogueSettings,
    DataFile,
    Proposal,
    RecordedEntry,
    ScanBlock,
    ScanMetadata,
    build_attachment,
    build_dataset,
    build_orig_datablock,
    migrate_catalogue,
)
from scizoo.testing import EmbeddedMongo

PORT = 3999
ADMIN = {"username": "admin", "password": "check-only-pw", "email": "admin@example.org", "role": "admin",
         "global": False}


def _store(db: Any, migrate: bool) -> str:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    message = ScanMetadata(
        message_id="backend-check-1", beamline="sim", source="manual", proposal_id="20240001", data_path="/data/sim",
        scan=ScanBlock(id="1", title="ascan", start=now, end=now,
                       files=[DataFile(path="/data/sim/scan_0001.h5", size=10, time=now)]),
        entries=[RecordedEntry(name="photon_energy", device="d/e/1", attribute="energy", value=7100.0, unit="eV")],
        produced_at=now)
    proposal = Proposal(proposalId="20240001", title="Backend check", email="pi@example.org", ownerGroup="admin")
    dataset = build_dataset(message, proposal, CatalogueSettings(pid_prefix="20.500.12345"))
    block = build_orig_datablock(message, dataset)
    assert block is not None
    db.Dataset.insert_one(dataset.to_mongo())
    db.OrigDatablock.insert_one(block.to_mongo())
    db.Proposal.insert_one(proposal.to_document(now=now))
    new = build_attachment(dataset.to_mongo(), aid="att-new", caption="new shape",
                           thumbnail="data:image/png;base64,AAAA", user="admin", now=now).to_mongo()
    old = {**new, "_id": "att-old", "aid": "att-old", "caption": "old shape", "datasetId": dataset.pid,
           "relationships": [{"targetIds": [dataset.pid], "targetType": "dataset", "relationType": "is attached to"}]}
    db.Attachment.insert_many([old, new] if migrate else [old])
    if migrate:
        print("migrated:", migrate_catalogue(db))
    return dataset.pid


def main(checkout: Path, migrate: bool) -> None:
    with tempfile.TemporaryDirectory() as folder, EmbeddedMongo(Path(folder)) as mongo:
        client: MongoClient[dict[str, Any]] = MongoClient(mongo.uri, tz_aware=True)
        pid = quote(_store(client["scicat"], migrate), safe="")
        accounts = Path(folder) / "accounts.json"
        accounts.write_text(json.dumps([ADMIN]))  # the backend's functional accounts: CreateUserDto + role
        env = {**os.environ, "MONGODB_URI": mongo.uri.replace("/?", "/scicat?"), "PORT": str(PORT),
               "JWT_SECRET": "check", "EXPRESS_SESSION_SECRET": "check", "ADMIN_GROUPS": "admin",
               "FUNCTIONAL_ACCOUNTS_FILE": str(accounts), "ACCESS_GROUPS_STATIC_ENABLED": "true",
               "ELASTICSEARCH_ENABLED": "no", "RABBITMQ_ENABLED": "no",
               "PUBLISHED_DATA_CONFIG_FILE": "publishedDataConfig.example.json",
               "PROPOSAL_TYPES_FILE": "proposalTypes.example.json"}
        with open(Path(folder) / "backend.log", "w") as log:
            node = subprocess.Popen(["node", "dist/main"], cwd=checkout, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                _ask(pid)
            finally:
                node.terminate()
                node.wait(20)
        client.close()


def _ask(pid: str) -> None:
    api = f"http://127.0.0.1:{PORT}/api"
    token = None
    for _ in range(120):
        try:
            login = requests.post(f"{api}/v3/auth/login", timeout=2,
                                  json={"username": ADMIN["username"], "password": ADMIN["password"]})
            if login.ok:
                token = login.json()["id"]
                break
        except requests.RequestException:
            pass
        time.sleep(1)
    if token is None:
        raise SystemExit("the backend did not let admin log in within 120 s")
    auth = {"Authorization": f"Bearer {token}"}

    def get(path: str, **params: Any) -> Any:
        answer = requests.get(f"{api}{path}", headers=auth, params=params, timeout=30)
        return answer.json() if answer.ok else f"HTTP {answer.status_code}"

    v3 = get(f"/v3/datasets/{pid}/attachments")
    print("v3 /datasets/{pid}/attachments:", [a["caption"] for a in v3] if isinstance(v3, list) else v3)
    v4 = get(f"/v4/datasets/{pid}", include="attachments")
    print("v4 include=attachments:", [a["caption"] for a in v4.get("attachments", [])] if isinstance(v4, dict) else v4)
    both = get(f"/v4/datasets/{pid}", include=["proposals", "origdatablocks"])
    print("v4 include=proposals,origdatablocks:", [p["proposalId"] for p in both.get("proposals", [])],
          [len(b["dataFileList"]) for b in both.get("origdatablocks", [])])
    proposal = get("/v3/proposals/20240001")
    print("v3 /proposals/20240001:", proposal.get("title") if isinstance(proposal, dict) else proposal)
    by_aid = get("/v4/attachments/att-new")
    print("v4 /attachments/att-new:", by_aid.get("caption") if isinstance(by_aid, dict) else by_aid)


if __name__ == "__main__":
    main(Path(sys.argv[1]), "--migrate" in sys.argv[2:])
