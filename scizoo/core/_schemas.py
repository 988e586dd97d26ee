"""JSON Schemas of the message contract, generated from the models and checked in."""

from __future__ import annotations

import json
from pathlib import Path

from ._messages import MESSAGE_MODELS

SCHEMA_DIR = Path(__file__).parent / "schemas"


def schema_documents() -> dict[str, str]:
    """file name -> JSON Schema text, for every message model."""
    return {
        f"{name}.schema.json": json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n"
        for name, model in MESSAGE_MODELS.items()
    }
