"""One version, from the installed package: every command reports it, the code and the Helm chart agree."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

import scizoo
from tests.helpers import ROOT

COMMANDS = ["scizoo", "scicow", "scifly", "scanlog", "scidog", "scireduce", "scifish", "scifix"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_answers_version_with_the_packages_version(command: str) -> None:
    script = Path(sys.executable).parent / command
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"scizoo {version('scizoo')}"


def test_the_umbrella_passes_version_to_each_deployable() -> None:
    done = subprocess.run([str(Path(sys.executable).parent / "scizoo"), "scicow", "--version"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, f"scizoo {version('scizoo')}")


def test_the_code_and_the_chart_name_the_packages_version() -> None:
    chart = yaml.safe_load((ROOT / "helm" / "scizoo" / "Chart.yaml").read_text())
    assert scizoo.__version__ == version("scizoo")
    assert chart["appVersion"] == version("scizoo"), "set helm/scizoo/Chart.yaml's appVersion to pyproject's version"
