"""Thumbnails of attached images (pillow)."""

from __future__ import annotations

import base64
import io

from ._errors import Invalid

MAX_IMAGE_BYTES = 16 * 1024 * 1024  # SciCat's limit for an attachment
#: Larger images are refused before they are decoded: a small file can unpack to gigabytes.
MAX_IMAGE_PIXELS = 50_000_000
#: SciCat keeps an attachment's image itself in ``thumbnail`` (a data URL), and its frontend
#: shows that; kept up to this size so that a click shows it large, scaled down in the gallery.
THUMBNAIL_PX = 1200
#: The formats a beamline attaches (plots, camera frames, photos); others are refused
#: rather than handed to a decoder nobody needs.
FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "TIFF", "BMP")


def thumbnail(data: bytes) -> str:
    """The image as SciCat keeps it: a PNG data URL of at most THUMBNAIL_PX a side; :class:`Invalid` if not an image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as img:
            width, height = img.size
            if width * height > MAX_IMAGE_PIXELS:
                raise Invalid(f"the image is {width} x {height} pixels; at most {MAX_IMAGE_PIXELS:,} are taken")
            img.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
            out = io.BytesIO()
            img.convert("RGB").save(out, format="PNG")
    except UnidentifiedImageError as err:
        raise Invalid(f"not an image in a format taken here ({', '.join(FORMATS)})") from err
    except (Image.DecompressionBombError, OSError, ValueError) as err:
        raise Invalid(f"the image cannot be read: {err}") from err
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()
