"""The reduction rules' history on plain data: the diff a person reads, who a change touches,
and the dry run (the workers' own match)."""

from __future__ import annotations

from datetime import UTC, datetime

from scizoo.core import (
    ReductionRule,
    ReductionRuleSet,
    diff_rules,
    diff_summary,
    dry_run,
    revision_document,
    touched_beamlines,
)

NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)


def _set(*rules: ReductionRule) -> ReductionRuleSet:
    return ReductionRuleSet(rules=list(rules))


FINE = ReductionRule(name="fine", pipeline="profile", beamline="sim", params={"bin": {"bins": 2}})
COARSE = ReductionRule(name="coarse", pipeline="profile", beamline="sim", params={"bin": {"bins": 8}})


def test_the_diff_names_each_rule_and_field_with_its_values_before_and_after() -> None:
    new_fine = FINE.model_copy(update={"params": {"bin": {"bins": 4}, "norm": {"by": "monitor"}}, "timeout_s": 60.0})
    extra = ReductionRule(name="sum", pipeline="sum", beamline="xrd")
    change = diff_rules(_set(FINE, COARSE), _set(new_fine, extra))
    assert [r["name"] for r in change["added"]] == ["sum"] and change["added"][0]["pipeline"] == "sum"
    assert [r["name"] for r in change["removed"]] == ["coarse"]
    assert change["changed"] == [{"name": "fine", "fields": [
        {"field": "params.bin.bins", "from": 2, "to": 4},  # one parameter, by its path
        {"field": "params.norm.by", "from": None, "to": "monitor"},
        {"field": "timeout_s", "from": 300.0, "to": 60.0}]}]
    assert not change["reordered"]
    assert diff_summary(change) == "added sum; removed coarse; changed fine (params.bin.bins, params.norm.by, timeout_s)"


def test_an_unchanged_set_is_no_change_and_a_new_order_is_said() -> None:
    assert diff_summary(diff_rules(_set(FINE, COARSE), _set(FINE, COARSE))) == "no change"
    change = diff_rules(_set(FINE, COARSE), _set(COARSE, FINE))
    assert change["reordered"] and not change["changed"] and diff_summary(change) == "reordered"


def test_a_change_touches_the_beamlines_of_each_rule_before_and_after() -> None:
    moved = FINE.model_copy(update={"beamline": "xrd"})
    assert touched_beamlines(_set(FINE, COARSE), _set(moved, COARSE)) == {"fine": {"sim", "xrd"}}
    anywhere = ReductionRule(name="all", pipeline="profile")
    assert touched_beamlines(_set(FINE), _set(FINE, anywhere)) == {"all": {"*"}}
    assert touched_beamlines(_set(FINE), _set(FINE)) == {}


def test_a_revision_document_keeps_who_when_and_the_rules_under_its_number() -> None:
    doc = revision_document(3, _set(FINE), by="alice", now=NOW, restored_from=1).to_mongo()
    assert doc["_id"] == doc["revision"] == 3 and doc["restoredFrom"] == 1
    assert doc["updatedBy"] == "alice" and doc["updatedAt"] == NOW and doc["rules"][0]["name"] == "fine"


def _scan(pid: str, beamline: str, status: str = "finished", **meta: object) -> dict[str, object]:
    return {"_id": pid, "type": "raw", "instrumentIds": [beamline], "dataFormat": "dat", "datasetName": pid,
            "scientificMetadata": {"scan_status": {"value": status}, **{k: {"value": v} for k, v in meta.items()}}}


def test_the_dry_run_lists_the_scans_each_rule_would_reduce_with_its_file() -> None:
    hot = ReductionRule(name="hot", pipeline="profile", file_pattern="*.dat",
                        when=[{"key": "temperature", "op": ">", "value": 300}])
    scans = [_scan("p/1", "sim", temperature=310), _scan("p/2", "sim", temperature=290),
             _scan("p/3", "xrd", temperature=400), _scan("p/4", "sim", "running", temperature=400)]
    files = {"p/1": ["/raw/a.h5", "/raw/a.dat"], "p/2": ["/raw/b.dat"], "p/3": ["/raw/c.dat"], "p/4": ["/raw/d.dat"]}
    found = dry_run(_set(FINE, hot), scans, files)
    assert [(f["pid"], f["matches"]) for f in found] == [
        ("p/1", [{"rule": "fine", "file": "/raw/a.h5"}, {"rule": "hot", "file": "/raw/a.dat"}]),
        ("p/2", [{"rule": "fine", "file": "/raw/b.dat"}]),
        ("p/3", [{"rule": "hot", "file": "/raw/c.dat"}])]  # p/4 is not finished: no worker would take it
    assert found[2]["beamline"] == "xrd"
    # The same answer as the workers' own match, rule by rule.
    for scan in scans:
        pid = str(scan["_id"])
        expected = [r.name for r in (FINE, hot) if r.input_file(scan, files[pid]) is not None]
        assert expected == [m["rule"] for f in found if f["pid"] == pid for m in f["matches"]]


def test_a_steps_parameters_are_read_from_its_model_with_types_defaults_and_bounds() -> None:
    from typing import Annotated, Literal

    from pydantic import BaseModel, Field

    from scizoo.core import parameters_of

    class Params(BaseModel):
        bins: Annotated[int, Field(ge=1, le=100, description="Bins.")] = 5
        mode: Literal["mean", "sum"] = "mean"
        scale: float | None = None
        label: Annotated[str, Field(max_length=10)]

    found = {p.name: p for p in parameters_of(Params.model_json_schema())}
    assert (found["bins"].type, found["bins"].default, found["bins"].constraints) == ("integer", 5, ["≥ 1", "≤ 100"])
    assert found["mode"].type == "one of mean, sum" and found["scale"].type == "number or null"
    assert found["label"].required and found["label"].constraints == ["length ≤ 10"] and not found["bins"].required
