"""scidog's request bodies."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from scizoo.core import BeamlineConfig


class ConfigSave(BaseModel):
    config: BeamlineConfig
    base_revision: Annotated[int, Field(ge=1, description="The revision this edit was made from.")]


class NameIn(BaseModel):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


class RestoreIn(BaseModel):
    revision: Annotated[int, Field(ge=1)]
    base_revision: Annotated[int, Field(ge=1)]
