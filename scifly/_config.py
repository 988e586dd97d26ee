"""scifly's configuration: which acquisition programs write which files, and how long to wait."""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from scizoo.core import load_yaml_model

from ._readers import READERS

Event = Literal["created", "modified"]


class ProgramRule(BaseModel):
    """Which files an acquisition program writes, and how scifly treats them."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, description="e.g. Scienta SES, SPECS Prodigy.")]
    patterns: Annotated[list[str], Field(min_length=1, description="Glob patterns on the file name.")]
    events: Annotated[
        list[Event],
        Field(description="created: a new file makes a dataset; modified: a changed, already sent file updates it."),
    ] = ["created"]
    reader: Annotated[str, Field(description=f"Metadata reader: one of {sorted(READERS)} or empty.")] = ""
    on_close: Annotated[
        bool,
        Field(description="A close-write completes the file at once. Turn off for programs that reopen a file to append."),
    ] = True

    def matches(self, name: str) -> bool:
        return any(fnmatch.fnmatch(name, p) for p in self.patterns)


class SciflyConfig(BaseModel):
    """The watcher's configuration (YAML)."""

    model_config = ConfigDict(extra="forbid")

    programs: list[ProgramRule]
    quiet_s: Annotated[float, Field(gt=0, description="A file unchanged this long is complete.")] = 2.0
    poll_s: Annotated[float, Field(gt=0, description="How often the PathFixer is read.")] = 0.5
    observer: Annotated[
        Literal["inotify", "polling"],
        Field(description="How scifly learns of writes. inotify: the kernel reports them as they happen, and a "
                          "close-write completes a file; it sees only writes made on this machine. polling: the "
                          "data path is listed and stat'ed every polling_s; needed where files are written by other "
                          "hosts (NFS, GPFS, Lustre, CephFS, SMB), whose writes raise no inotify event. Polling "
                          "sees no close-write: a file is complete after quiet_s unchanged, and on a network file "
                          "system quiet_s must exceed the client's attribute cache time (NFS acregmin)."),
    ] = "inotify"
    polling_s: Annotated[float, Field(gt=0, description="How often the polling observer lists the data path.")] = 1.0
    rescan_s: Annotated[
        float,
        Field(gt=0, description="How often the watched paths are rescanned: files no event reported (an inotify "
                                "queue overflow, a write from another host) are captured at the latest then."),
    ] = 30.0
    grace_s: Annotated[float, Field(ge=0, description="How long an old path stays watched after a switch.")] = 10.0
    close_timeout_s: Annotated[
        float,
        Field(gt=0, description="A file seen being written but never reported closed is taken as complete "
                                "after this long unchanged (a lost close event)."),
    ] = 300.0
    ignore: Annotated[list[str], Field(description="Name patterns never captured.")] = [
        ".*", "*~", "*.tmp", "*.part", "*.swp",
    ]

    def rule_for(self, name: str) -> ProgramRule | None:
        if any(fnmatch.fnmatch(name, p) for p in self.ignore):
            return None
        return next((r for r in self.programs if r.matches(name)), None)


def load_scifly_config(path: str | Path) -> SciflyConfig:
    return load_yaml_model(path, SciflyConfig, "scifly configuration")
