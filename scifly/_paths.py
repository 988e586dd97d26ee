"""Which folders scifly may watch: the facility's rule, not the control system's word.

The PathFixer is a Tango device, and Tango has no access control by default: anyone on
the control network can write its ``data_path`` and ``proposal``. scifly credits every
file it captures to the PathFixer's proposal, so a path it watched on trust alone would
let anyone credit any folder's files (another proposal's, or ``/etc``'s) to any proposal.
So a data path is watched only when, with every link and ``..`` resolved, it lies inside
one of the configured data roots, at the place the facility's layout gives that proposal
(e.g. ``{beamline}/{proposal}`` below ``/data``), or below it. Anything else is a
:class:`PathRefused`: the watcher logs it as an error, shows it on ``/readyz`` and in its
metrics, and captures nothing from it.

The watched path is the root as configured followed by the real folders below it: the
same folder always gets the same name in the catalogue, however the PathFixer spelled it,
and a captured file is opened folder by folder from the root without following a link
(``_files._open_parent``), so a folder swapped for a link after this check leads nowhere.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import string
from fnmatch import fnmatchcase
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ._files import Watch

#: The placeholders a layout may use; ``{proposal}`` is required (it ties a folder to a proposal).
PLACEHOLDERS = ("beamline", "proposal")


class PathRefused(Exception):
    """The PathFixer named a data path scifly must not watch; nothing is captured from it."""

    def __init__(self, *, proposal: str, path: str, rule: str, reason: str) -> None:
        super().__init__(f"data path {path!r} of proposal {proposal!r} refused: {reason} (rule: {rule})")
        self.proposal = proposal
        self.path = path
        self.rule = rule
        self.reason = reason


class DataPathRules(BaseModel):
    """Where a proposal's data may be: inside ``roots``, at ``layout`` below one of them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    roots: Annotated[
        list[str],
        Field(min_length=1, description="Absolute folders that hold the facility's data (links in them are "
                                        "the facility's own and are followed)."),
    ]
    layout: Annotated[
        str,
        Field(description="Where a proposal's folder is below a root, one folder per '/': literal names, "
                          "{beamline}, {proposal} (required) and glob patterns such as '*' for one folder of "
                          "any name. The data path is that folder or any folder below it."),
    ] = "{beamline}/{proposal}"

    @field_validator("roots")
    @classmethod
    def _absolute(cls, roots: list[str]) -> list[str]:
        for root in roots:
            if not os.path.isabs(root) or "\0" in root:
                raise ValueError(f"a data root must be an absolute path, not {root!r}")
        return [os.path.normpath(root) for root in roots]

    @field_validator("layout")
    @classmethod
    def _layout(cls, layout: str) -> str:
        parts = layout.strip("/").split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise ValueError(f"the layout {layout!r} has an empty, '.' or '..' folder")
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(layout) if name is not None}
        except ValueError as err:
            raise ValueError(f"the layout {layout!r} is not a pattern: {err}") from None
        if unknown := fields - set(PLACEHOLDERS):
            raise ValueError(f"the layout {layout!r} uses {sorted(unknown)}; only {{beamline}} and {{proposal}} exist")
        if "proposal" not in fields:
            raise ValueError(f"the layout {layout!r} has no {{proposal}}: it must say which proposal owns a folder")
        return layout.strip("/")

    def describe(self) -> str:
        """The rule in one phrase, for logs and refusals."""
        return " or ".join(f"{root}/{self.layout}/..." for root in self.roots)

    def place(self, *, proposal: str, path: str, beamline: str) -> Watch:
        """The watch for ``path`` as the data path of ``proposal``; raises :class:`PathRefused` if the rule says no.

        Reads the file system (links are resolved) but changes nothing.
        """
        def refuse(reason: str) -> PathRefused:
            return PathRefused(proposal=proposal, path=path, rule=self.describe(), reason=reason)

        for name, value in (("proposal", proposal), ("beamline", beamline)):
            if value in ("", ".", "..") or "/" in value or "\0" in value:
                raise refuse(f"the {name} {value!r} is not a folder name")
        if not os.path.isabs(path):
            raise refuse("it is not an absolute path")
        try:
            real = os.path.realpath(path)
        except (OSError, ValueError) as err:  # a NUL byte, a link loop, a name too long
            raise refuse(f"it cannot be resolved ({err})") from None
        expected = [part.format(beamline=glob.escape(beamline), proposal=glob.escape(proposal))
                    for part in self.layout.split("/")]
        inside = False
        for root in self.roots:
            real_root = os.path.realpath(root)
            if os.path.commonpath([real, real_root]) != real_root:
                continue
            inside = True
            below = [] if real == real_root else os.path.relpath(real, real_root).split(os.sep)
            if len(below) >= len(expected) and all(map(fnmatchcase, below, expected)):
                return Watch(proposal, os.path.join(root, *below), root)
        if not inside:
            raise refuse(f"it is not inside a data root (it resolves to {real!r})")
        raise refuse(f"it is not where the layout puts proposal {proposal!r} of beamline {beamline!r} "
                     f"(it resolves to {real!r})")


def open_folders(watch: Watch) -> None:
    """Make sure the watch's folder exists, making missing folders below its root; never through a link.

    Raises :class:`PathRefused` when the root cannot be opened or a folder below it is a link
    (swapped in after :meth:`DataPathRules.place` resolved the path) or cannot be made.
    """
    def refuse(reason: str) -> PathRefused:
        return PathRefused(proposal=watch.proposal, path=watch.path, rule="the data path must be a folder scifly "
                           "can open inside its root, reached through no link", reason=reason)

    try:
        fd = os.open(watch.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as err:
        raise refuse(f"the data root {watch.root!r} cannot be opened ({err.strerror})") from None
    folder = watch.root
    try:
        for part in os.path.relpath(watch.path, watch.root).split(os.sep):
            if part == ".":
                continue
            folder = os.path.join(folder, part)
            flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
            try:
                inner = os.open(part, flags, dir_fd=fd)
            except FileNotFoundError:
                # Made only where missing: a read-only data mount is fine once the folder exists.
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, dir_fd=fd)
                inner = os.open(part, flags, dir_fd=fd)
            os.close(fd)
            fd = inner
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.ENOTDIR):
            raise refuse(f"{folder!r} is a link or no folder") from None
        raise refuse(f"{folder!r} cannot be made or opened ({err.strerror})") from None
    finally:
        os.close(fd)
