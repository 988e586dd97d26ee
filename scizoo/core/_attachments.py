"""Attachments as the SciCat backend keeps them: an image pointing at its dataset through
``relationships: [{targetId, targetType, relationType}]`` (the one field its v3 and v4 look-ups read)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from ._documents import _Ownable, _Written

#: What an attachment may be attached to (``src/attachments/types/relationship-filter.enum.ts``).
AttachmentTargetType = Literal["dataset", "proposal", "sample", "published_data"]
ATTACHED_TO: str = "is attached to"


class AttachmentRelationship(_Written):
    """One target of an attachment (``src/attachments/schemas/relationship.schema.ts``).

    One target a relationship, in ``targetId`` (a string): the backend's v3
    ``/datasets/{pid}/attachments`` and its v4 ``include=attachments`` lookup both match
    ``relationships.targetId`` (with ``targetType``), and nothing else.
    """

    targetId: Annotated[str, Field(min_length=1)]
    targetType: AttachmentTargetType
    relationType: str = ATTACHED_TO


class AttachmentDocument(_Ownable):
    """An image attached to a dataset (``src/attachments/schemas/attachment.schema.ts``)."""

    id: Annotated[str, Field(alias="_id", min_length=1, description="Same as aid (the backend's rule).")]
    aid: Annotated[str, Field(min_length=1, description="What v4's /attachments/{aid} and v3's id read.")]
    caption: str = ""
    thumbnail: Annotated[str, Field(description="The image as a data URL, e.g. data:image/png;base64,...")]
    relationships: Annotated[list[AttachmentRelationship], Field(min_length=1)]


def attachments_of(pid: str) -> dict[str, Any]:
    """The query of a dataset's attachments, as the backend's v3 ``/datasets/{pid}/attachments``
    makes it (``attachments.service.ts``), served by the backend's ``relationships.targetId`` index."""
    return {"relationships.targetId": pid, "relationships.targetType": "dataset"}


def build_attachment(dataset: dict[str, Any], *, aid: str, caption: str, thumbnail: str, user: str,
                     now: datetime) -> AttachmentDocument:
    """An Attachment of ``dataset`` (a stored Dataset document), with the dataset's access."""
    return AttachmentDocument(
        id=aid, aid=aid, caption=caption, thumbnail=thumbnail,
        relationships=[AttachmentRelationship(targetId=dataset["pid"], targetType="dataset")],
        ownerGroup=dataset["ownerGroup"], accessGroups=list(dataset.get("accessGroups") or []),
        isPublished=bool(dataset.get("isPublished", False)), createdBy=user, updatedBy=user, createdAt=now,
        updatedAt=now,
    )
