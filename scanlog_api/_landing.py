"""A publication's public face: the landing page (with schema.org JSON-LD), its citation,
BibTeX and DataCite JSON. Everything a user typed is escaped for where it goes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from html import escape
from typing import Any
from urllib.parse import urlencode

from ._downloads import transfer_url
from ._scans import fixity_view

_BIBTEX_SPECIAL = str.maketrans({"{": r"\{", "}": r"\}", "\\": r"\textbackslash{}", "%": r"\%", "&": r"\&",
                                 "#": r"\#", "$": r"\$", "_": r"\_", "~": r"\~{}", "^": r"\^{}"})


def _form(doc: dict[str, Any]) -> dict[str, Any]:
    form: dict[str, Any] = doc.get("metadata", {}).get("scizoo_form", {})
    return form


def citation(doc: dict[str, Any]) -> str:
    """"Lovelace, A.; Noether, E. (2026). Title. Publisher. https://doi.org/10.x/y" """
    form = _form(doc)
    names = "; ".join(c["name"] for c in form.get("creators", []))
    return f"{names} ({form.get('publication_year', '')}). {doc['title']}. {form.get('publisher', '')}. " \
           f"https://doi.org/{doc['doi']}"


def bibtex(doc: dict[str, Any]) -> str:
    form = _form(doc)
    key = doc["doi"].replace("/", "_").replace(".", "_")
    authors = " and ".join(c["name"].translate(_BIBTEX_SPECIAL) for c in form.get("creators", []))
    fields = {"author": authors, "title": doc["title"].translate(_BIBTEX_SPECIAL),
              "publisher": str(form.get("publisher", "")).translate(_BIBTEX_SPECIAL),
              "year": str(form.get("publication_year", "")), "doi": doc["doi"], "url": f"https://doi.org/{doc['doi']}"}
    body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields.items())
    return f"@misc{{{key},\n{body}\n}}\n"


def json_ld(doc: dict[str, Any], datasets: list[dict[str, Any]]) -> dict[str, Any]:
    """schema.org ``Dataset``, as search engines read it."""
    form = _form(doc)
    return {
        "@context": "https://schema.org", "@type": "Dataset", "@id": f"https://doi.org/{doc['doi']}",
        "identifier": f"https://doi.org/{doc['doi']}", "name": doc["title"], "description": doc["abstract"],
        "creator": [{"@type": "Person", "name": c["name"],
                     **({"identifier": f"https://orcid.org/{c['orcid']}"} if c.get("orcid") else {}),
                     **({"affiliation": {"@type": "Organization", "name": c["affiliation"]}} if c.get("affiliation")
                        else {})} for c in form.get("creators", [])],
        "publisher": {"@type": "Organization", "name": form.get("publisher", "")},
        "datePublished": str(form.get("publication_year", "")),
        "license": f"https://spdx.org/licenses/{form.get('license', '')}.html" if form.get("license") else None,
        "keywords": form.get("subjects", []),
        "hasPart": [{"@type": "Dataset", "name": d.get("datasetName", ""), "identifier": d["pid"]} for d in datasets],
        # Under embargo, said where harvesters read it (DataCite has it as the Available date).
        **({"conditionsOfAccess": f"Under embargo: files available from {until.isoformat()}"}
           if (until := embargoed_until(doc)) else {}),
    }


def _script_json(data: Any) -> str:
    # Inside <script>, "</" would end the element: what a user typed must not.
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")


def landing_page(doc: dict[str, Any], datasets: list[dict[str, Any]], download_pattern: str,
                 archive_limit: int | None = None) -> str:
    """``archive_limit``: the files are served here (``_downloads``), in archives up to this many
    bytes; None: they are not, and a file links to ``download_pattern`` if there is one."""
    form = _form(doc)
    doi = doc["doi"]
    creators = ", ".join(escape(c["name"]) for c in form.get("creators", []))
    rows = []
    for d in datasets:
        files = "".join(_file_item(d, f, download_pattern, archive_limit) for f in d["files"])
        meta = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(str(v.get('value') if isinstance(v, dict) else v))}"
                       f"{escape(' ' + v.get('unit', '')) if isinstance(v, dict) and v.get('unit') else ''}</td></tr>"
                       for k, v in (d.get("scientificMetadata") or {}).items())
        rows.append(f"<section class='dataset'><h3>{escape(d.get('datasetName', d['pid']))}</h3>"
                    f"<p>pid {escape(d['pid'])}</p>{fixity_line(d.get('fixity'))}<table>{meta}</table><ul>{files}</ul>"
                    f"{_transfer(d, download_pattern)}</section>")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(doc['title'])}</title><link rel="icon" href="data:,">
<script type="application/ld+json">{_script_json(json_ld(doc, datasets))}</script>
<link rel="stylesheet" href="/static/landing.css"></head>
<body><h1>{escape(doc['title'])}</h1><p class="creators">{creators}</p>
<p>DOI: <a href="https://doi.org/{escape(doi)}">https://doi.org/{escape(doi)}</a> · {escape(str(form.get('publisher', '')))},
{escape(str(form.get('publication_year', '')))} · licence {escape(str(form.get('license', '')))}</p>
<h2>Abstract</h2><p>{escape(doc['abstract'])}</p>
<h2>Cite as</h2><p class="citation">{escape(citation(doc))}</p>
<p><a href="/doi/{escape(doi)}/bibtex">BibTeX</a> · <a href="/doi/{escape(doi)}/datacite.json">DataCite JSON</a></p>
<h2>Datasets</h2>{_download_all(doc, datasets, download_pattern, archive_limit)}
{embargo_note(doc)}{''.join(rows)}</body></html>"""


def fixity_line(summary: dict[str, Any] | None) -> str:
    """A dataset's fixity (scifix's summary), one line: "checksums: ok", or how many problems and
    the first few of them; "not yet checked" before the first pass."""
    shown = fixity_view(summary, problems=3)
    if shown is None:
        return "<p class='fixity' data-state='unchecked'>checksums: not yet checked</p>"
    when = str(shown.get("verifiedAt") or shown.get("checkedAt") or "")[:10]
    since = f" (checked {escape(when)})" if when else ""
    if not shown["problemCount"]:
        return f"<p class='fixity' data-state='{escape(shown['state'])}'>checksums: {escape(shown['state'])}{since}</p>"
    count = shown["problemCount"]
    first = "; ".join(f"{escape(p['path'])}: {escape(p['kind'])}" for p in shown["problems"])
    more = f"; and {count - len(shown['problems'])} more" if count > len(shown["problems"]) else ""
    return (f"<p class='fixity' data-state='{escape(shown['state'])}'>checksums: {count} "
            f"problem{'s' if count != 1 else ''}: {first}{more}{since}</p>")


def embargoed_until(doc: dict[str, Any]) -> datetime | None:
    """When a publication's embargo ends, in UTC; None when it has none or was released."""
    until = doc.get("embargoUntil")
    if not isinstance(until, datetime) or doc.get("releasedTime") is not None:
        return None
    return until.astimezone(UTC)


def embargo_note(doc: dict[str, Any]) -> str:
    """Under embargo: when the files become available (the datasets are not public yet, so
    only the publication's own totals are shown)."""
    until = embargoed_until(doc)
    if until is None:
        return ""
    when = until.strftime("%Y-%m-%d") if until.time() == time(0) else until.strftime("%Y-%m-%d %H:%M:%S UTC")
    return (f"<p class='embargo'>Under embargo: files available from <time datetime='{escape(until.isoformat())}'>"
            f"{escape(when)}</time> ({len(doc.get('datasetPids', []))} datasets, "
            f"{int(doc.get('numberOfFiles', 0)):,} files, {int(doc.get('sizeOfArchive', 0)):,} bytes).</p>")


def _file_link(path: str, pattern: str) -> str:
    if not pattern:
        return escape(path)
    from urllib.parse import quote

    return f'<a href="{escape(pattern.replace("{path}", quote(path.lstrip("/"))))}">{escape(path)}</a>'


# --- downloads (issue 21): links to the files served here, their sizes and checksums ------------

def _file_item(dataset: dict[str, Any], f: dict[str, Any], pattern: str, archive_limit: int | None) -> str:
    path = str(f.get("path", ""))
    if archive_limit is None:
        name = _file_link(path, pattern)
    else:
        href = "/api/downloads/file?" + urlencode({"pid": dataset["pid"], "path": path})
        name = f'<a class="file" href="{escape(href)}" download>{escape(path)}</a>'
    checksum = (f"<code class='checksum'>{escape(str(f.get('chkAlg') or 'checksum'))}: {escape(str(f['chk']))}</code>"
                if f.get("chk") else "<span class='checksum'>checksum not yet computed</span>")
    return f"<li>{name} ({int(f.get('size', 0)):,} bytes) {checksum}</li>"


def _transfer(dataset: dict[str, Any], pattern: str) -> str:
    url = transfer_url(pattern, dataset["pid"], str(dataset.get("sourceFolder") or ""))
    return f"<p class='transfer'><a href='{escape(url)}'>Transfer this dataset's folder</a></p>" if url else ""


def _download_all(doc: dict[str, Any], datasets: list[dict[str, Any]], pattern: str, limit: int | None) -> str:
    """One archive of every file, or, over the limit, where to get them instead."""
    if limit is None or not datasets:
        return ""
    files = sum(len(d["files"]) for d in datasets)
    size = sum(int(f.get("size", 0)) for d in datasets for f in d["files"])
    if size <= limit:
        href = "/api/downloads/publication.zip?" + urlencode({"doi": doc["doi"]})
        return (f"<p class='download'><a id='download-all' class='button' href='{escape(href)}' download>Download all "
                f"files</a> (one zip with a manifest of sizes and checksums: {files:,} files, {size:,} bytes)</p>")
    instead = ("use each dataset's transfer link below, or download the files one by one" if pattern
               else "download the files one by one, or ask the facility for a transfer")
    return (f"<p class='download'>{files:,} files, {size:,} bytes: more than one archive here may hold "
            f"({limit:,} bytes): {instead}.</p>")
