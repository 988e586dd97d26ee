"""Write ``scicat_shapes.json``: the document shapes the SciCat backend's mongoose schemas declare.

CI cannot fetch the backend, so the shapes are read here once, from its source, and checked in
(``tests/system/test_scicat_shapes.py`` checks our documents against them). Run it again on a
newer backend to see what changed::

    git clone <mirror of SciCatProject/scicat-backend-next> /tmp/scicat
    .venv/bin/python tests/system/make_scicat_shapes.py /tmp/scicat > tests/system/scicat_shapes.json

It reads the ``@Prop({...})`` decorators of each schema class (and of the classes it extends
or embeds): a field's name, its mongoose ``type`` (or its TypeScript type when ``@Prop`` names
none), ``required``, and ``enum``; each collection's ``_id`` rule from its module's pre-save
hook; and the example PublishedData ``metadata`` JSON Schema (``publishedDataConfig.example.json``).
Nothing else (defaults, indexes, setters) is kept. Regular expressions suffice: these
files follow one NestJS pattern, and the script fails loudly on anything it cannot place.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

BACKEND = "SciCatProject/scicat-backend-next"
#: The schema files read, and the collection each top-level class is stored in.
FILES = [
    "src/common/schemas/queryable.schema.ts",
    "src/common/schemas/ownable.schema.ts",
    "src/common/schemas/datafile.schema.ts",
    "src/datasets/schemas/dataset.schema.ts",
    "src/datasets/schemas/lifecycle.schema.ts",
    "src/datasets/schemas/relationship.schema.ts",
    "src/datasets/schemas/technique.schema.ts",
    "src/origdatablocks/schemas/origdatablock.schema.ts",
    "src/attachments/schemas/attachment.schema.ts",
    "src/attachments/schemas/relationship.schema.ts",
    "src/attachments/types/relationship-filter.enum.ts",
    "src/published-data/schemas/published-data.schema.ts",
    "src/published-data/interfaces/published-data.interface.ts",
    "src/proposals/schemas/proposal.schema.ts",
    "src/proposals/schemas/measurement-period.schema.ts",
    "src/instruments/schemas/instrument.schema.ts",
]
#: The example of the facility's PublishedData ``metadata`` schema the backend validates against
#: (``PUBLISHED_DATA_CONFIG_FILE``); kept whole, as the backend's ``jsonschema`` reads it.
PUBLISHED_DATA_CONFIG = "publishedDataConfig.example.json"
#: collection -> (top-level class, the module whose pre-save hook sets ``_id``)
DOCUMENTS = {
    "Dataset": ("DatasetClass", "src/datasets/datasets.module.ts"),
    "OrigDatablock": ("OrigDatablock", None),
    "Attachment": ("Attachment", "src/attachments/attachments.module.ts"),
    "PublishedData": ("PublishedData", "src/published-data/published-data.module.ts"),
    "Proposal": ("ProposalClass", "src/proposals/proposals.module.ts"),
    "Instrument": ("Instrument", "src/instruments/instruments.module.ts"),
}
_SCALARS = {"String": "string", "Number": "number", "Date": "date", "Boolean": "boolean", "Object": "object",
            "MongooseSchema.Types.Mixed": "object"}
_TS_SCALARS = {"string": "string", "number": "number", "Date": "date", "boolean": "boolean", "unknown": "any"}


def _balanced(text: str, start: int) -> str:
    """The text inside the parenthesis that opens at ``start``."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return text[start + 1:i]
    raise ValueError("unbalanced parenthesis")


def _classes(source: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    heads = list(re.finditer(r"export class (\w+)(?: extends (\w+))? \{", source))
    for n, head in enumerate(heads):
        body = source[head.end():heads[n + 1].start() if n + 1 < len(heads) else len(source)]
        fields: dict[str, dict[str, Any]] = {}
        for prop in re.finditer(r"@Prop\(", body):
            args = _balanced(body, prop.end() - 1)
            rest = body[prop.end() + len(args):]
            decl = re.match(r"\)\s*(?:readonly\s+)?(\w+)(\?)?\s*:\s*([^;=]+)", rest)
            if decl is None:
                raise ValueError(f"{head.group(1)}: no property after @Prop({args})")
            name, _, ts_type = decl.groups()
            fields[name] = {"args": args, "ts": ts_type.strip()}
        out[head.group(1)] = {"extends": head.group(2), "fields": fields}
    return out


def _type(args: str, ts: str, schemas: dict[str, str], enums: dict[str, list[str]]) -> dict[str, Any]:
    found = re.search(r"\btype:\s*(\[\s*[\w.]+\s*\]|[\w.]+)", args)
    spec: dict[str, Any]
    if found is None:
        spec = {"type": _TS_SCALARS[ts]}
    else:
        name = found.group(1)
        inner = name.strip("[] ")
        one = {"type": _SCALARS[inner]} if inner in _SCALARS else {"type": "object", "class": schemas[inner]}
        spec = {"type": "array", "items": one} if name.startswith("[") else one
    if (enum := re.search(r"\benum:\s*(?:Object\.values\()?(\w+)", args)) is not None:
        spec["enum"] = enums[enum.group(1)]
    spec["required"] = bool(re.search(r"\brequired:\s*true", args))
    return spec


def shapes(checkout: Path) -> dict[str, Any]:
    def show(path: str) -> str:
        return (checkout / path).read_text()

    classes: dict[str, dict[str, Any]] = {}
    schemas: dict[str, str] = {}
    enums: dict[str, list[str]] = {}
    for path in FILES:
        source = show(path)
        classes |= _classes(source)
        for made in re.finditer(r"export const (\w+)\s*=\s*SchemaFactory\.createForClass\(\s*(\w+)\s*,?\s*\)", source):
            schemas[made.group(1)] = made.group(2)
        for enum in re.finditer(r"export enum (\w+) \{([^}]*)\}", source):
            enums[enum.group(1)] = re.findall(r"=\s*\"([^\"]*)\"", enum.group(2))
    described: dict[str, Any] = {}
    for name, cls in classes.items():
        fields: dict[str, Any] = {}
        chain = [name]
        while (parent := classes[chain[-1]]["extends"]) is not None:
            chain.append(parent)
        for link in reversed(chain):
            for field, raw in classes[link]["fields"].items():
                fields[field] = _type(raw["args"], raw["ts"], schemas, enums)
        if fields:  # the interface files also hold classes that are no documents
            described[name] = {"extends": chain[1:], "fields": fields}
    documents = {}
    for collection, (cls, module) in DOCUMENTS.items():
        hook = re.search(r"this\._id = this\.(\w+)", show(module)) if module else None
        documents[collection] = {"class": cls, "id_from": hook.group(1) if hook else None}
    commit = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    return {
        "backend": BACKEND,
        "commit": commit,
        "made_by": "tests/system/make_scicat_shapes.py from the files listed in 'files'",
        "files": [*FILES, PUBLISHED_DATA_CONFIG],
        "documents": documents,
        "classes": dict(sorted(described.items())),
        "published_data_metadata_schema": json.loads(show(PUBLISHED_DATA_CONFIG))["metadataSchema"],
    }


if __name__ == "__main__":
    json.dump(shapes(Path(sys.argv[1])), sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")
