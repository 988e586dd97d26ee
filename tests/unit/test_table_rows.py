"""A scan's row, its CSV cells and its e-logbook table: a nested key's column has cells."""

from __future__ import annotations

from scanlog_api._conditions import key_units
from scanlog_api._table import cell_texts, csv_lines, html_table, meta_value, row

DOC = {"pid": "20.500/1", "description": "scan 1", "scientificMetadata": {
    "scan_id": {"value": 1}, "photon_energy": {"value": 9000.0, "unit": "eV"}, "plain": 5,
    "short": {"v": 2, "u": "mm"},  # SciCat's short entry
    "sample": {"temperature": {"value": 20, "unit": "K"}, "name": {"value": "Cu"}, "holder": {"slot": 3}},
}}


def test_every_key_the_picker_lists_has_a_cell_in_the_row() -> None:
    meta = row(DOC)["meta"]
    assert set(dict(key_units(DOC["scientificMetadata"]))) <= set(meta)  # nested keys were missing
    assert meta["sample.temperature"] == {"value": 20, "unit": "K"}
    assert meta["sample.name"] == {"value": "Cu", "unit": ""} and meta["sample.holder.slot"] == {"value": 3}
    assert meta["short"] == {"value": 2, "unit": "mm"} and meta["plain"] == {"value": 5}
    assert meta["photon_energy"] == {"value": 9000.0, "unit": "eV"}


def test_a_nested_keys_value_is_read_along_its_path_in_the_csv_and_the_logbook() -> None:
    assert meta_value(DOC, "sample.temperature") == 20 and meta_value(DOC, "sample.nope") is None
    assert meta_value(DOC, "photon_energy.value") is None  # an entry is a value, not an object of keys
    columns = ["scan_id", "meta:sample.temperature", "meta:sample.name"]
    assert cell_texts(DOC, columns) == ["1", "20", "Cu"]
    csv = "".join(csv_lines([DOC], columns, {"meta:sample.temperature": "K"})).splitlines()
    assert csv == ["Scan,sample.temperature [K],sample.name", "1,20,Cu"]
    assert "<td>Cu</td>" in html_table([DOC], columns)


def test_a_csv_column_holds_its_cells_in_the_unit_its_header_names() -> None:
    """The header's unit is the newest scan's; a scan stored in another unit is converted (7130
    eV under keV was written 7130), one that cannot be is written with its own unit."""
    def scan(value: object, unit: str) -> dict:
        return {"pid": "p", "scientificMetadata": {"scan_id": {"value": 1}, "e": {"value": value, "unit": unit}}}

    docs = [scan(7.2, "keV"), scan(7130.0, "eV"), scan([7000.0, 7100.0], "eV"), scan(3.0, "K"), scan("n/a", "eV"),
            scan(5.0, "")]
    csv = "".join(csv_lines(docs, ["meta:e"], {"meta:e": "keV"})).splitlines()
    assert csv == ["e [keV]", "7.2", "7.13", "\"7.0, 7.1\"", "3.0 K", "n/a eV", "5.0"]
    assert cell_texts(scan(7130.0, "eV"), ["meta:e"]) == ["7130.0"]  # no header unit: as stored
