"""Regenerate the scan table's screenshots in docs/img/ (the table with its plot, and a detail view).

Real parts: an embedded SecantusDB, the real scanlog app under uvicorn, Debian's chromium
through Playwright (as the browser tests). The scans are made with the same builders scicow
uses; nothing here is drawn by hand.

Run: .venv/bin/python docs/make_screenshots.py
"""

from __future__ import annotations

import base64
import io
import math
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image, ImageDraw
from pymongo import MongoClient

from scanlog_api import ScanlogServer, ScanlogSettings, TokenUser
from scizoo.core import (
    ATTACHMENT_COLLECTION,
    DATASET_COLLECTION,
    ORIG_DATABLOCK_COLLECTION,
    PROPOSAL_COLLECTION,
    CatalogueSettings,
    DataFile,
    Proposal,
    RecordedEntry,
    ScanBlock,
    ScanMetadata,
    build_attachment,
    build_dataset,
    build_orig_datablock,
)
from scizoo.testing import EmbeddedMongo

OUT = Path(os.environ.get("SHOT_DIR") or Path(__file__).resolve().parent / "img")
CHROMIUM = Path("/usr/bin/chromium")
PROPOSAL = Proposal(proposalId="20240001", title="Oxygen vacancies in strained SrTiO3 films", ownerGroup="20240001",
                    pi_firstname="Ada", pi_lastname="Lovelace")


def _image() -> str:
    """A beam-profile-like PNG as SciCat keeps an attachment (a data URL)."""
    img = Image.new("RGB", (320, 200), "white")
    draw = ImageDraw.Draw(img)
    for x in range(320):
        y = 190 - int(170 * math.exp(-((x - 160) / 40) ** 2))
        draw.line([(x, 190), (x, y)], fill=(9, 105, 218))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def seed(db) -> str:  # noqa: ANN001 - a pymongo Database
    db[PROPOSAL_COLLECTION].insert_one(PROPOSAL.to_document())
    start = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)
    pid = ""
    for n in range(1, 25):
        t = start + timedelta(minutes=17 * n)
        status = "running" if n == 24 else "aborted" if n == 9 else "finished"
        scan = ScanBlock(id=str(n), title=f"ascan sample_x 0 {n % 4 + 2} 40 0.5", start=t,
                         end=None if status == "running" else t + timedelta(seconds=95), points=41, status=status,
                         files=[DataFile(path=f"/data/sim/20240001/raw/scan_{n:04d}.h5", size=2_400_000 + 9_000 * n,
                                         time=t + timedelta(seconds=95))])
        entries = [
            RecordedEntry(name="photon_energy", device="sim/mono/1", attribute="energy", value=7100.0 + 5 * (n % 3),
                          unit="eV", group="Source"),
            RecordedEntry(name="ring_current", device="sim/ring/1", attribute="current", value=400.0 - 0.4 * n,
                          unit="mA", group="Source"),
            RecordedEntry(name="shutter", device="sim/shutter/1", attribute="state", value="open", raw_value=1,
                          group="Source"),
            RecordedEntry(name="sample_temperature", device="sim/cryo/1", attribute="temperature",
                          value=round(20.0 + 0.08 * n + 0.3 * math.sin(n / 3), 3), unit="degC", group="Sample"),
            RecordedEntry(name="sample_x", device="sim/motor/x", attribute="position", value=round(0.5 * n, 2),
                          unit="mm", group="Sample"),
        ]
        if n == 7:
            entries.append(RecordedEntry(name="sample_y", device="sim/motor/y", attribute="position", value=None,
                                         error="Timeout: no answer within 1 s", group="Sample"))
        message = ScanMetadata(message_id=f"shot-{n}", beamline="sim", source="sardana", proposal_id="20240001",
                               data_path="/data/sim/20240001/raw", scan=scan, entries=entries, produced_at=t)
        dataset = build_dataset(message, PROPOSAL, CatalogueSettings())
        doc = dataset.to_mongo()
        if n % 5 == 0:
            doc["dataQualityMetrics"] = 2.5
        db[DATASET_COLLECTION].insert_one(doc)
        block = build_orig_datablock(message, dataset)
        if block is not None:
            db[ORIG_DATABLOCK_COLLECTION].insert_one(block.to_mongo())
        if n == 20:
            pid = doc["pid"]
            db[ATTACHMENT_COLLECTION].insert_one(build_attachment(
                doc, aid="shot-attachment", caption="beam profile at the sample", thumbnail=_image(),
                user="scizoo", now=message.produced_at).to_mongo())
    return pid


def main() -> None:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        sys.exit("needs Debian's chromium at /usr/bin/chromium (make test installs it)")
    OUT.mkdir(exist_ok=True)
    with EmbeddedMongo(tempfile.mkdtemp(prefix="shots-")) as mongo:
        client: MongoClient = MongoClient(mongo.uri, tz_aware=True)
        pid = seed(client["shots"])
        settings = ScanlogSettings(mongo_uri=mongo.uri, database="shots", tokens={
            "demo": TokenUser(user="ada", groups=["20240001"])},
            scicat_url_pattern="https://scicat.example.org/datasets/{pid}")
        with ScanlogServer(settings, grace_s=1) as server, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": int(os.environ.get("SHOT_WIDTH", "1280")), "height": 900})
            page.goto(f"{server.url}/?proposal=20240001#token=demo")
            page.wait_for_function("() => document.querySelectorAll('#rows tr').length === 24")
            page.select_option("#add-column", "meta:sample_temperature")
            page.click("#open-plot")
            page.wait_for_function("() => document.querySelector('#plot-y option[value=\"meta:sample_temperature\"]')")
            page.select_option("#plot-y", "meta:sample_temperature")
            page.wait_for_function("() => window.scanlogPlot()?.column === 'meta:sample_temperature@scan'")
            page.screenshot(path=str(OUT / "scanlog-table.png"))
            page.locator(f"#rows tr[data-pid='{pid}']").get_by_text("details").click()
            page.wait_for_selector("#metadata .meta-group")
            page.locator("#detail").screenshot(path=str(OUT / "scanlog-detail.png"))
            browser.close()
        client.close()
    print(f"wrote {OUT / 'scanlog-table.png'} and {OUT / 'scanlog-detail.png'}")


if __name__ == "__main__":
    main()
