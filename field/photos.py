"""Photos as they arrive from a phone, made safe to keep: checked from the header, shrunk, stripped.

Plain functions on bytes (Pillow, no Flask, no database). The header is read first: a file that
is not a JPEG or PNG, or whose declared size is beyond reason (a decompression bomb: a few
kilobytes that decode to gigabytes), is refused before a single row of pixels is decoded.
"""
from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from ground.errors import ValidationError
from ground.i18n import _

MAX_BYTES = 8 * 1024 * 1024
#: The longest side kept: enough to see who did what, small enough for a village server.
LONGEST_SIDE = 1600
#: The most pixels a photo may declare: a 50-megapixel phone camera, with room to spare.
MAX_PIXELS = 60_000_000
FORMATS = ("JPEG", "PNG")
QUALITY = 82


@dataclass(frozen=True)
class Prepared:
    """A photo ready to store: JPEG bytes without EXIF, its size and its digest."""

    data: bytes
    width: int
    height: int
    sha256: str


def prepare(raw: bytes, *, field: str = "file") -> Prepared:
    """Return the photo shrunk to LONGEST_SIDE and re-encoded without metadata, or refuse it (422)."""
    # WeasyPrint, once imported (to print a notice), tells Pillow to make do with files cut
    # short, process-wide; evidence must be whole, so it is told otherwise again here.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw), formats=FORMATS)
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning,
            OSError, ValueError, SyntaxError):
        raise ValidationError({field: [_("须为 JPEG 或 PNG 照片")]}, _("照片无法识别")) from None
    width, height = image.size
    if width < 1 or height < 1 or width * height > MAX_PIXELS:
        raise ValidationError({field: [_("照片像素过多（%(width)s×%(height)s），最多 %(n)s 百万像素",
                                         width=width, height=height, n=MAX_PIXELS // 1_000_000)]},
                              _("照片过大"))
    try:
        return _shrink(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise ValidationError({field: [_("照片已损坏，无法读取")]}, _("照片无法读取")) from None


def _shrink(image: Image.Image) -> Prepared:
    if image.format == "JPEG":
        # The JPEG decoder can scale by 1/2, 1/4, 1/8 as it decodes: a 12-megapixel photo is
        # read at a quarter of the work, never whole. Asked for the size it will be shrunk to
        # (not a square box, which a 4:3 photo's short side never reaches at half scale).
        scale = min(1.0, LONGEST_SIDE / max(image.size))
        image.draft("RGB", (round(image.width * scale), round(image.height * scale)))
    image = ImageOps.exif_transpose(image)  # keep it upright once its orientation tag is gone
    if image.mode not in ("RGB", "L"):
        rgba = image.convert("RGBA")
        image = Image.new("RGB", rgba.size, "white")
        image.paste(rgba, mask=rgba.getchannel("A"))
    image.thumbnail((LONGEST_SIDE, LONGEST_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    # Saved without exif= or icc_profile=: no GPS, no camera, no time, nothing but the pixels.
    image.save(out, "JPEG", quality=QUALITY)
    data = out.getvalue()
    return Prepared(data, image.width, image.height, hashlib.sha256(data).hexdigest())
