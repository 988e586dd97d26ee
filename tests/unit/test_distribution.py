"""What a wheel of scizoo ships: every data file of every package (the pages' scripts, the
vendored libraries and their licences, the schemas, py.typed), and the licence's text."""

from __future__ import annotations

import fnmatch
import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

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


def _locked() -> dict[str, str]:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    pins = [line.split("==") for line in lines if line and not line.startswith("#")]
    return {canonicalize_name(name): version for name, version in pins}


def test_the_checkers_are_pinned_exactly_and_locked_alike() -> None:
    """A new release of a checker cannot fail `make check`: the test extra names the version."""
    test = {canonicalize_name(r.name): r for r in map(Requirement, PYPROJECT["project"]["optional-dependencies"]["test"])}
    locked = _locked()
    for checker in ("mypy", "ruff", "import-linter"):
        pins = [s for s in test[checker].specifier if s.operator == "=="]
        assert pins, f"{checker} is not pinned in the test extra"
        assert pins[0].version == locked[checker], f"{checker}: the test extra and constraints.txt disagree"


def test_the_lock_satisfies_every_requirement_and_make_installs_with_it() -> None:
    """constraints.txt is refreshed with pyproject.toml (`make lock`), and the install uses it."""
    locked = _locked()
    project = PYPROJECT["project"]
    requirements = [Requirement(r) for r in project["dependencies"]]
    requirements += [Requirement(r) for extra in project["optional-dependencies"].values() for r in extra]
    wrong = [f"{r} (locked {locked.get(canonicalize_name(r.name))})" for r in requirements
             if r.name != "scizoo" and not r.specifier.contains(locked.get(canonicalize_name(r.name), "0"),
                                                                prereleases=True)]
    assert wrong == [], "run `make lock`"
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^\$\(STAMP\): pyproject\.toml \$\(CONSTRAINTS\)$", makefile, re.M)
    assert re.search(r"pip install --quiet -c \$\(CONSTRAINTS\) -e", makefile)
    assert re.search(r"^lock:", makefile, re.M)
