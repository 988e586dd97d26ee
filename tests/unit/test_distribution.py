"""What a wheel of scizoo ships: every data file of every package (the pages' scripts, the
vendored libraries and their licences, the schemas, py.typed), and the licence's text."""

from __future__ import annotations

import fnmatch
import tomllib

from tests.helpers import ROOT

PACKAGES = ["scizoo", "scifish", "scicow", "scifly", "scanlog_api", "scidog", "scireduce"]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _shipped(package: str, relative: str) -> bool:
    """Whether setuptools' package-data puts ``relative`` (a path inside ``package``) in the wheel."""
    data = PYPROJECT["tool"]["setuptools"]["package-data"]
    return any(fnmatch.fnmatch(relative, pattern) for pattern in [*data.get(package, []), *data.get("*", [])])


def _owner(path: str) -> tuple[str, str]:
    """The innermost package holding ``path`` (relative to the root), and the path inside it."""
    parts = path.split("/")
    for cut in range(len(parts) - 1, 0, -1):
        if (ROOT.joinpath(*parts[:cut]) / "__init__.py").exists():
            return ".".join(parts[:cut]), "/".join(parts[cut:])
    raise AssertionError(f"{path} is in no package")


def test_every_data_file_of_a_package_is_shipped() -> None:
    missing = []
    for top in PACKAGES:
        for file in sorted((ROOT / top).rglob("*")):
            if not file.is_file() or file.suffix in (".py", ".pyc") or "__pycache__" in file.parts:
                continue
            package, relative = _owner(str(file.relative_to(ROOT)))
            if not _shipped(package, relative):
                missing.append(f"{package}: {relative}")
    assert missing == [], "add these to [tool.setuptools.package-data] in pyproject.toml"


def test_each_package_declares_its_types_and_the_licence_ships() -> None:
    assert [p for p in PACKAGES if not (ROOT / p / "py.typed").exists()] == []
    assert PYPROJECT["project"]["license"] == "BSD-3-Clause"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License") and "the scizoo authors" in text
