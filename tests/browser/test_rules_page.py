"""The reduction rules page in a real browser, on the real store: edit a rule (a bad field shown
next to it), dry-run it, save it, the next scan reduced by it, a conflict said with the edit kept,
the history's diff and a restore."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scizoo.core import (
    DATASET_COLLECTION,
    ORIG_DATABLOCK_COLLECTION,
    REDUCTION_RULES_COLLECTION,
    DatasetIngested,
)
from tests.helpers import PID_PREFIX

pytestmark = pytest.mark.system


@pytest.fixture()
def rules_server(mongo, db) -> Iterator[str]:
    """The scan table with an administrator (zoe), a reader (alice) and the staff of beamline sim (sam)."""
    from scanlog_api import ScanlogServer, ScanlogSettings, TokenUser

    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, rule_staff_groups={"sim": "sim-staff"}, tokens={
        "ta": TokenUser(user="alice", groups=["A"]), "tz": TokenUser(user="zoe", groups=[], admin=True),
        "ts": TokenUser(user="sam", groups=["sim-staff"])})
    with ScanlogServer(settings, grace_s=1) as srv:
        yield srv.url


def _raw_scan(db, n: int, folder: Path, beamline: str = "sim", suffix: str = "dat") -> str:
    """A finished raw scan of group A with one file of the profile pipeline's format."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"scan_{n:05d}.{suffix}"
    path.write_text("# x counts monitor\n" + "".join(f"{x} {100 + 10 * x} 1000\n" for x in range(6)))
    pid = f"{PID_PREFIX}/rules-{n}"
    db[DATASET_COLLECTION].insert_one({
        "_id": pid, "pid": pid, "type": "raw", "ownerGroup": "A", "accessGroups": [], "isPublished": False,
        "instrumentIds": [beamline], "dataFormat": "dat", "datasetName": f"scan {n}", "proposalIds": ["A"],
        "creationTime": datetime.now(UTC) - timedelta(minutes=10 - n),
        "scientificMetadata": {"scan_status": {"value": "finished"}}})
    db[ORIG_DATABLOCK_COLLECTION].insert_one({"_id": f"block-{n}", "datasetId": pid,
                                              "dataFileList": [{"path": str(path), "size": 1}]})
    return pid


def test_edit_dry_run_save_reduce_and_restore_a_rule(page, rules_server: str, db, tmp_path: Path) -> None:
    from scireduce import Reducer, ScireduceSettings, StoredRules

    seed = tmp_path / "rules.yaml"
    seed.write_text(json.dumps({"rules": [{"name": "fine", "pipeline": "profile", "beamline": "sim",
                                           "file_pattern": "*.h5", "params": {"bin": {"bins": 2}}}]}))
    book = StoredRules(db[REDUCTION_RULES_COLLECTION], seed)
    book.seed()
    for n, beamline in ((1, "sim"), (2, "sim"), (3, "xrd")):
        _raw_scan(db, n, tmp_path / "raw", beamline)

    page.goto(f"{rules_server}/rules#token=tz")
    page.wait_for_selector("fieldset.rule")
    assert page.locator("#rights").inner_text() == "you may change every rule"
    rule = page.locator("fieldset.rule").first
    assert rule.locator(".f-file_pattern").input_value() == "*.h5"

    # Two bad fields: each problem beside its own field, and nothing saved.
    rule.locator(".f-name").fill("fine tuned")
    rule.locator(".f-timeout_s").fill("-5")
    page.locator("#save").click()
    name_error = rule.locator('.field-error[data-field="rules.0.name"]')
    name_error.wait_for(state="visible")
    assert "pattern" in name_error.inner_text()
    assert "greater than 0" in rule.locator('.field-error[data-field="rules.0.timeout_s"]').inner_text()
    assert rule.locator(".f-timeout_s").get_attribute("aria-invalid") == "true"
    assert "see the fields marked" in page.locator("#form-msg").inner_text()
    assert db[REDUCTION_RULES_COLLECTION].find_one()["revision"] == 1
    # A parameter that is not JSON is caught on the page, beside the parameters.
    rule.locator(".f-params").fill('{"bin": {"bins": 4}')
    page.locator("#dry-run").click()
    assert "is not JSON" in rule.locator('.field-error[data-field="rules.0.params"]').inner_text()

    # Fixed, with a condition, and tried first: of the caller's newest scans, which would be reduced.
    rule.locator(".f-name").fill("fine")
    rule.locator(".f-timeout_s").fill("60")
    rule.locator(".f-params").fill('{"bin": {"bins": 3}}')
    rule.locator(".f-file_pattern").fill("scan_*.dat")
    rule.locator(".c-add").click()
    rule.locator(".conditions li .c-key").fill("scan_status")
    rule.locator(".conditions li .c-value").fill("finished")
    page.locator("#dry-run").click()
    page.wait_for_selector("#dry-run-panel:not([hidden])")
    assert page.locator("#dry-run-sentence").inner_text() == "Of your last 3 scans, 2 would be reduced (fine 2)."
    assert page.locator("#dry-run-table tbody tr").count() == 2
    assert rule.locator('.field-error[data-field="rules.0.name"]').is_hidden()  # the old problems cleared
    assert db[REDUCTION_RULES_COLLECTION].find_one()["revision"] == 1  # a dry run saves nothing

    page.locator("#save").click()
    page.wait_for_function("() => document.getElementById('form-msg').textContent === 'Saved as revision 2.'")
    stored = db[REDUCTION_RULES_COLLECTION].find_one()
    assert stored["updatedBy"] == "zoe" and stored["rules"][0]["file_pattern"] == "scan_*.dat"
    assert stored["rules"][0]["when"] == [{"key": "scan_status", "op": "==", "value": "finished"}]

    # The next scan is reduced by the saved rule (a worker follows the store's rules).
    pid = _raw_scan(db, 4, tmp_path / "raw")
    reducer = Reducer(db, book.current(), ScireduceSettings(work_dir=tmp_path / "work", pid_prefix=PID_PREFIX))
    (job,) = reducer.handle(DatasetIngested(pid=pid, message_id="m4", beamline="sim", proposal_id="A",
                                            status="finished", ingested_at=datetime.now(UTC)))
    assert job["rule"] == "fine" and job["state"] == "succeeded", job.get("log")
    assert db[DATASET_COLLECTION].find_one({"_id": job["derived"]})["scientificMetadata"]["bins"]["value"] == 3

    # The history: who and what, the diff per field, and a restore of the seeded revision.
    page.wait_for_selector("#revisions tbody tr[data-revision='2']")
    newest = page.locator("#revisions tbody tr").first
    assert "zoe" in newest.inner_text() and "changed fine (file_pattern, params.bin.bins, timeout_s, when)" in \
        newest.inner_text()
    newest.locator(".rev-diff").click()
    page.wait_for_selector("#diff table")
    lines = page.locator("#diff tr.diff-changed").all_inner_texts()
    assert any("params.bin.bins" in line and "2" in line and "3" in line for line in lines), lines
    assert any("when" in line and "scan_status == finished" in line for line in lines), lines
    page.locator("#revisions tbody tr[data-revision='1'] .rev-restore").click()
    page.wait_for_function("() => document.getElementById('form-msg').textContent === "
                           "'Revision 1 restored as revision 3.'")
    assert page.locator("fieldset.rule .f-file_pattern").first.input_value() == "*.h5"
    assert [r.file_pattern for r in book.current().rules] == ["*.h5"]
    page.wait_for_selector("#revisions tbody tr[data-revision='3']")
    assert "restores revision 1" in page.locator("#revisions tbody tr").first.inner_text()

    # Someone else changes the rules meanwhile: a save is refused, said, and the edit kept.
    db[REDUCTION_RULES_COLLECTION].update_one({}, {"$inc": {"revision": 1}})
    page.locator("fieldset.rule .f-timeout_s").first.fill("90")
    page.locator("#save").click()
    page.wait_for_function("() => document.getElementById('form-msg').textContent.startsWith('Not saved')")
    assert "no longer at revision 3" in page.locator("#form-msg").inner_text()
    assert page.locator("fieldset.rule .f-timeout_s").first.input_value() == "90"


def test_a_reader_sees_the_rules_and_cannot_change_them(page, rules_server: str, db, tmp_path: Path) -> None:
    from scireduce import StoredRules

    seed = tmp_path / "rules.yaml"
    seed.write_text(json.dumps({"rules": [{"name": "fine", "pipeline": "profile"}]}))
    StoredRules(db[REDUCTION_RULES_COLLECTION], seed).seed()
    page.goto(f"{rules_server}/rules#token=ta")
    page.wait_for_selector("fieldset.rule")
    assert "administrators and a beamline's staff change them" in page.locator("#rights").inner_text()
    assert page.locator("#save").is_disabled() and page.locator("fieldset.rule .f-name").is_disabled()
    assert page.locator(".rev-restore").count() == 0


def test_the_workers_pipelines_are_drawn_and_a_parameter_they_lack_is_named_beside_the_parameters(
        page, rules_server: str, db, tmp_path: Path) -> None:
    from scireduce import StoredRules
    from scireduce._describe import publish_pipelines
    from scireduce._registry import pipelines
    from scizoo.core import PIPELINE_COLLECTION

    seed = tmp_path / "rules.yaml"
    seed.write_text(json.dumps({"rules": [{"name": "fine", "pipeline": "profile", "beamline": "sim"}]}))
    StoredRules(db[REDUCTION_RULES_COLLECTION], seed).seed()
    publish_pipelines(db[PIPELINE_COLLECTION], pipelines(), by="w1", now=datetime.now(UTC))
    page.goto(f"{rules_server}/rules#token=ts")  # a beamline's staff
    graph = page.locator(".pipeline[data-pipeline='profile'] svg.graph")
    graph.wait_for()
    assert [graph.locator(f"g[data-step='{s}'] text").text_content() for s in ("raw", "load", "normalise", "bin")] == [
        "raw (the scan's file)", "load v2", "normalise v1", "bin v2"]
    assert graph.get_attribute("aria-label") == "pipeline profile: raw → load, load → normalise, normalise → bin"
    steps = page.locator(".pipeline[data-pipeline='profile'] table.steps").inner_text()
    assert "bin.bins: integer = 5 (≥ 1, ≤ 10000)" in steps and "Equal-width bins" in steps
    rule = page.locator("fieldset.rule").first
    assert rule.locator(".param-hint").inner_text() == (
        "it takes: normalise.scale: number = 1 (> 0); bin.bins: integer = 5 (≥ 1, ≤ 10000)")

    rule.locator(".f-params").fill('{"bin": {"binz": 3}}')
    page.locator("#save").click()
    spot = rule.locator('.field-error[data-field="rules.0.params"]')
    spot.wait_for(state="visible")
    assert spot.inner_text() == "bin.binz: step 'bin' has no parameter 'binz'; it takes: bins"
    rule.locator(".f-params").fill('{"bin": {"bins": 3}}')
    page.locator("#save").click()
    page.wait_for_function("() => document.getElementById('form-msg').textContent === 'Saved as revision 2.'")
    assert db[REDUCTION_RULES_COLLECTION].find_one()["updatedBy"] == "sam"
    # Beyond their beamline, the staff are told why.
    rule.locator(".f-beamline").fill("*")
    page.locator("#save").click()
    page.wait_for_function("() => document.getElementById('form-msg').textContent.startsWith('Not saved')")
    assert "touches rules of others: fine (beamline *)" in page.locator("#form-msg").inner_text()
