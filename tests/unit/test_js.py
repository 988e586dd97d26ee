"""The scan table page's pure modules (scanlog_api/static: format.js, columns.js, query.js,
events.js, publication.js), tested with node's own test runner: tests/js/*.test.mjs. The page's
DOM side is tested in a real browser (tests/browser)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JS_TESTS = ROOT / "tests" / "js"
#: A .js file with `import` loaded as an ES module without a package.json saying so (module
#: detection, as the page's modules are served): node 20.19, or 22.7 and later.
NEEDS = {20: (20, 19), 22: (22, 7)}


def _node() -> tuple[str, tuple[int, int]]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the scan table page's pure modules (tests/js) are not tested")
    answer = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    found = re.match(r"v(\d+)\.(\d+)", answer.strip())
    assert found, f"node --version said {answer!r}"
    version = (int(found[1]), int(found[2]))
    if version < NEEDS.get(version[0], (20, 19)) or version[0] == 21:
        pytest.skip(f"node {answer.strip()} cannot load the page's modules as they are served (ES modules in .js "
                    "files need node 20.19, or 22.7 and later): tests/js not run")
    return node, version


def test_the_pages_pure_modules_pass_their_node_tests() -> None:
    node, _ = _node()
    files = sorted(JS_TESTS.glob("*.test.mjs"))
    assert len(files) >= 5, files
    run = subprocess.run([node, "--test", *map(str, files)], capture_output=True, text=True, timeout=180, cwd=ROOT,
                         check=False)  # its report is the assertion's message
    report = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, report
    passed = re.search(r"^# pass (\d+)$", run.stdout, re.MULTILINE)
    assert passed and int(passed[1]) > 0 and re.search(r"^# fail 0$", run.stdout, re.MULTILINE), report
