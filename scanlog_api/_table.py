"""The table: columns, sort fields, rows, free text, and the CSV and HTML exports, over Dataset documents.

Pure functions of documents; the access rule is in ``_access``, the queries in ``_store``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from scizoo.core import convert

from ._conditions import MAX_KEY_DEPTH, is_entry, metadata_entries

#: Fixed columns: id -> (header, field to sort on).
FIXED_COLUMNS: dict[str, tuple[str, str]] = {
    "scan_id": ("Scan", "scientificMetadata.scan_id.value"),
    "title": ("Title", "description"),
    "start": ("Start", "startTime"),
    "duration": ("Duration", "scientificMetadata.scan_duration.value"),
    "status": ("Status", "scientificMetadata.scan_status.value"),
    "files": ("Files", "numberOfFiles"),
    "rating": ("Rating", "dataQualityMetrics"),
    # Public to anyone (isPublished), or from when (an embargo's end: SciCat's dateOfPublishing).
    "public": ("Public", "isPublished"),
}
DEFAULT_SORT = "creationTime"
_KEY = re.compile(r"^[A-Za-z0-9_:\-]{1,120}$")


def valid_key(key: str) -> bool:
    """A scientificMetadata key a user may name (no '.', '$', or operators)."""
    return bool(_KEY.match(key))


def sort_field(column: str) -> str:
    if column in FIXED_COLUMNS:
        return FIXED_COLUMNS[column][1]
    if column in ("creationTime", ""):
        return DEFAULT_SORT
    if column.startswith("meta:") and valid_key(column[5:]):
        return f"scientificMetadata.{column[5:]}.value"
    raise ValueError(f"unknown column {column!r}")


def _words(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _words(v)
    elif isinstance(value, list):
        for v in value:
            yield from _words(v)
    elif value is not None:
        yield str(value)


def text_matches(doc: dict[str, Any], text: str) -> bool:
    """Free text: a case-insensitive literal match in the title, name, keywords or any metadata value.

    Done here, not in the store: no MongoDB-compatible store here has text indexes, and a
    regex over every metadata value cannot use an index anyway.
    """
    needle = text.casefold()
    fields = [doc.get("description"), doc.get("datasetName"), doc.get("keywords")]
    fields += [entry.get("value") if isinstance(entry, dict) else entry
               for entry in (doc.get("scientificMetadata") or {}).values()]
    return any(needle in word.casefold() for f in fields for word in _words(f))


def _field(doc: dict[str, Any], dotted: str) -> Any:
    value: Any = doc
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def sort_key(field: str) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A Python key that orders documents as the store does for one field (then ``_id``)."""

    def key(doc: dict[str, Any]) -> tuple[Any, ...]:
        value = _field(doc, field)
        if value is None:
            return (0, 0, str(doc.get("_id")))
        # MongoDB's order across types: numbers < strings < booleans < dates.
        if isinstance(value, bool):
            return (3, value, str(doc.get("_id")))
        if isinstance(value, (int, float)):
            return (1, float(value), str(doc.get("_id")))
        if isinstance(value, datetime):
            return (4, value, str(doc.get("_id")))
        return (2, str(value), str(doc.get("_id")))

    return key


def meta_entry(doc: dict[str, Any], key: str) -> dict[str, Any]:
    """A metadata key's value and unit; a nested key (``outer.inner``) along its path."""
    entry: Any = doc.get("scientificMetadata") or {}
    for segment in (key.split(".") if "." in key else [key]):
        # Into objects of keys only: an entry ({value, unit}) is a value, not a level of keys.
        nested = isinstance(entry, dict) and not is_entry(entry)
        entry = entry.get(segment) if nested else None
    return _entry(entry)


def meta_value(doc: dict[str, Any], key: str) -> Any:
    return meta_entry(doc, key)["value"]


def _in_unit(entry: dict[str, Any], unit: str) -> Any:
    """An entry's value under a header in ``unit``: converted where its own unit differs (7130 eV
    is 7.13 under keV), a number or each number of a list; written with its own unit where it
    cannot be (another dimension, text), so no cell is read in a unit it is not in."""
    value, own = entry["value"], entry.get("unit") or ""
    if not unit or not own or own == unit or value is None:
        return value

    def one(v: Any) -> Any:
        number = isinstance(v, (int, float)) and not isinstance(v, bool)
        return convert(float(v), own, unit) if number else None

    converted = [one(v) for v in value] if isinstance(value, list) else one(value)
    if converted is None or (isinstance(converted, list) and None in converted):
        return f"{_cell(value)} {own}"
    return converted


def _entry(value: Any) -> dict[str, Any]:
    """A metadata entry as a row shows it: its value and unit (SciCat's short {v, u} too)."""
    if isinstance(value, dict):
        unit = value.get("unit", value.get("u", ""))
        return {"value": value.get("value", value.get("v")), "unit": unit if isinstance(unit, str) else ""}
    return {"value": value}


def _meta(scientific: Any) -> dict[str, Any]:
    """Every top-level key as before, and the keys inside nested objects as ``outer.inner`` (as
    the key picker lists them and conditions name them), so a nested key's column has cells."""
    out: dict[str, Any] = {}
    for key, value in (scientific or {}).items():
        out[key] = _entry(value)
        if isinstance(value, dict) and not is_entry(value):
            out.update((k, _entry(v)) for k, v in metadata_entries(value, f"{key}.", MAX_KEY_DEPTH - 1))
    return out


def row(doc: dict[str, Any]) -> dict[str, Any]:
    """One table row: the fixed columns plus every scientificMetadata value with its unit."""
    start, end = doc.get("startTime"), doc.get("endTime")
    return {
        "pid": doc["pid"],
        "scan_id": _text(meta_value(doc, "scan_id")),
        "title": doc.get("description", ""),
        "start": start,
        "end": end,
        "duration": meta_value(doc, "scan_duration"),
        "status": meta_value(doc, "scan_status"),
        "files": doc.get("numberOfFiles", 0),
        "rating": doc.get("dataQualityMetrics"),
        "public": bool(doc.get("isPublished")),
        # Since when (publishedOn), or from when it is due (an embargo's end, SciCat's policy date).
        "public_from": (doc.get("datasetlifecycle") or {}).get("publishedOn" if doc.get("isPublished")
                                                               else "dateOfPublishing"),
        "proposal": (doc.get("proposalIds") or [""])[0],
        "beamline": (doc.get("instrumentIds") or [""])[0],
        "creationTime": doc.get("creationTime"),
        "meta": _meta(doc.get("scientificMetadata")),
    }


def jsonable(value: Any) -> Any:
    """A document or row with its datetimes as ISO 8601 text (for JSON and server-sent events)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def _text(value: Any) -> str:
    return "" if value is None else str(value)


# --- CSV and HTML exports ----------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


#: A plain decimal number ("-1.5", "+3", "-2.5e-3"): a spreadsheet reads it as that number,
#: never as a formula, so it stays as it is (a temperature of -253 stays a number).
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise(cell: str) -> str:
    """A cell a spreadsheet will not run as a formula (OWASP: prefix with a quote); a real
    number stays a number."""
    if cell.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value)
    return str(value)


#: An export (CSV, e-logbook) or a table holds at most this many columns: the work of a row
#: is bounded, and a request naming thousands of made-up keys is refused before any is read.
MAX_COLUMNS = 300


def unknown_columns(columns: list[str]) -> list[str]:
    """The column ids in ``columns`` that name neither a fixed column nor a valid metadata key."""
    return [c for c in columns if c not in FIXED_COLUMNS and not (c.startswith("meta:") and valid_key(c[5:]))]


def column_headers(columns: list[str], units: dict[str, str]) -> list[str]:
    """Header texts, with the unit in brackets where there is one."""
    out = []
    for col in columns:
        if col in FIXED_COLUMNS:
            name = FIXED_COLUMNS[col][0]
            unit = "s" if col == "duration" else ""
        else:
            name = col[5:] if col.startswith("meta:") else col
            unit = units.get(col, "")
        out.append(f"{name} [{unit}]" if unit else name)
    return out


def cell_texts(doc: dict[str, Any], columns: list[str], units: dict[str, str] | None = None) -> list[str]:
    """A document's cells for the given columns, as plain text (not yet made safe for any format);
    a metadata column whose header names a unit (``units``) has its cells in that unit."""
    r = row(doc)
    units = units or {}
    return [_cell(_in_unit(meta_entry(doc, col[5:]), units.get(col, "")) if col.startswith("meta:") else r.get(col))
            for col in columns]


def html_table(docs: Iterable[dict[str, Any]], columns: list[str]) -> str:
    """An HTML table of the documents (for an e-logbook entry); every text is escaped."""
    from html import escape

    head = "".join(f"<th>{escape(h)}</th>" for h in column_headers(columns, {}))
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cell_texts(doc, columns)) + "</tr>" for doc in docs
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def csv_lines(docs: Iterable[dict[str, Any]], columns: list[str], units: dict[str, str]) -> Iterator[str]:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([neutralise(h) for h in column_headers(columns, units)])
    for n, doc in enumerate(docs, 1):
        writer.writerow([neutralise(c) for c in cell_texts(doc, columns, units)])
        if n % 500 == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()
