"""The pipeline view's preview in a real browser: pick a scan a rule reduces, change a parameter,
and the plotted curve changes; the steps read from the worker's cache are marked. A real worker's
preview thread (scireduce._preview) answers on the real store."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scizoo.core import DATASET_COLLECTION, PIPELINE_COLLECTION, REDUCTION_RULES_COLLECTION
from tests.browser.test_rules_page import _raw_scan, rules_server  # noqa: F401 - the fixture
from tests.helpers import PID_PREFIX

pytestmark = pytest.mark.system


def test_changing_a_parameter_in_the_pipeline_view_changes_the_plotted_curve(page, rules_server: str, db,  # noqa: F811
                                                                             tmp_path: Path) -> None:
    from scireduce import Reducer, ScireduceSettings, StoredRules
    from scireduce._describe import publish_pipelines
    from scireduce._preview import start_previews
    from scireduce._registry import pipelines

    seed = tmp_path / "rules.yaml"
    seed.write_text(json.dumps({"rules": [{"name": "fine", "pipeline": "profile", "beamline": "sim",
                                           "params": {"bin": {"bins": 2}}}]}))
    book = StoredRules(db[REDUCTION_RULES_COLLECTION], seed)
    book.seed()
    pid = _raw_scan(db, 1, tmp_path / "raw")  # counts 100 + 10 x over a monitor of 1000, x = 0..5
    publish_pipelines(db[PIPELINE_COLLECTION], pipelines(), by="w1", now=datetime.now(UTC))
    reducer = Reducer(db, book.current(), ScireduceSettings(work_dir=tmp_path / "work", pid_prefix=PID_PREFIX))
    stop = threading.Event()
    worker = start_previews(db, reducer, stop)
    try:
        page.goto(f"{rules_server}/rules#token=ta")
        panel = page.locator('.pipeline[data-pipeline="profile"] .preview')
        panel.locator(".pv-scan").wait_for()
        panel.locator(".pv-scan").select_option(label="scan 1 · rule fine")
        page.wait_for_function("() => window.scanlogPreview() && window.scanlogPreview().curve.x.length === 2")
        first = page.evaluate("() => window.scanlogPreview()")
        assert first["pid"] == pid and first["rule"] == "fine"
        assert first["marks"] == {"load": "executed", "normalise": "executed", "bin": "executed"}  # nothing cached yet
        assert panel.locator(".pv-param[data-param='bin.bins']").input_value() == "2"  # the rule's own

        panel.locator(".pv-param[data-param='bin.bins']").fill("3")
        page.wait_for_function("() => window.scanlogPreview().curve.x.length === 3")
        shown = page.evaluate("() => window.scanlogPreview()")
        assert shown["params"] == {"normalise": {"scale": 1.0}, "bin": {"bins": 3}}
        # Two points a bin: (0.100 + 0.110) / 2, (0.120 + 0.130) / 2, (0.140 + 0.150) / 2.
        assert shown["curve"]["y"] == pytest.approx([0.105, 0.125, 0.145])
        assert shown["marks"] == {"load": "cached", "normalise": "cached", "bin": "executed"}
        graph = page.locator('.pipeline[data-pipeline="profile"] svg.graph')
        assert "cached" in (graph.locator('g[data-step="load"]').get_attribute("class") or "")
        assert "executed" in (graph.locator('g[data-step="bin"]').get_attribute("class") or "")
        assert "ran: bin; cached: load, normalise" in panel.locator(".pv-status").inner_text()
        # A value the step refuses is said, and the curve shown stays.
        panel.locator(".pv-param[data-param='bin.bins']").fill("0")
        page.wait_for_function("() => document.querySelector('.pv-status').textContent.startsWith('No result')")
        assert "parameters refused" in panel.locator(".pv-status").inner_text()
        assert page.evaluate("() => window.scanlogPreview().curve.x.length") == 3
    finally:
        stop.set()
        worker.join(30)
    assert db[DATASET_COLLECTION].count_documents({"type": "derived"}) == 0  # a preview is no dataset
