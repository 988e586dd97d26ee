"""Thumbnails of attached images (pillow)."""

from __future__ import annotations

import base64
import io

from ._errors import Invalid

MAX_IMAGE_BYTES = 16 * 1024 * 1024  # SciCat's limit for an attachment
THUMBNAIL_PX = 200


def thumbnail(data: bytes) -> str:
    """A PNG thumbnail of an image as a data URL, as SciCat keeps it; :class:`Invalid` if not an image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
            out = io.BytesIO()
            img.convert("RGB").save(out, format="PNG")
    except (UnidentifiedImageError, OSError) as err:
        raise Invalid(f"not an image: {err}") from err
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()
