"""A publication's public face: the landing page (with schema.org JSON-LD), its citation,
BibTeX and DataCite JSON. Everything a user typed is escaped for where it goes."""

from __future__ import annotations

import json
from html import escape
from typing import Any

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
    }


def _script_json(data: Any) -> str:
    # Inside <script>, "</" would end the element: what a user typed must not.
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")


def landing_page(doc: dict[str, Any], datasets: list[dict[str, Any]], download_pattern: str) -> str:
    form = _form(doc)
    doi = doc["doi"]
    creators = ", ".join(escape(c["name"]) for c in form.get("creators", []))
    rows = []
    for d in datasets:
        files = "".join(
            f"<li>{_file_link(f['path'], download_pattern)} ({int(f.get('size', 0)):,} bytes)</li>" for f in d["files"])
        meta = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(str(v.get('value') if isinstance(v, dict) else v))}"
                       f"{escape(' ' + v.get('unit', '')) if isinstance(v, dict) and v.get('unit') else ''}</td></tr>"
                       for k, v in (d.get("scientificMetadata") or {}).items())
        rows.append(f"<section class='dataset'><h3>{escape(d.get('datasetName', d['pid']))}</h3>"
                    f"<p>pid {escape(d['pid'])}</p><table>{meta}</table><ul>{files}</ul></section>")
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
<h2>Datasets</h2>{''.join(rows)}</body></html>"""


def _file_link(path: str, pattern: str) -> str:
    if not pattern:
        return escape(path)
    from urllib.parse import quote

    return f'<a href="{escape(pattern.replace("{path}", quote(path.lstrip("/"))))}">{escape(path)}</a>'
