"""Still images, in this process with Pillow: a sticker (512x512 WebP) and an image's facts (its size
and the small JPEG thumbnail WhatsApp shows before the download).

Only the decoders of IMAGE_FORMATS are used, picked by the bytes; a decode holds a conversion slot;
an image of more than MAX_PIXELS is refused before it is decoded (Pillow's own bomb guard stays on
too), and a JPEG is decoded at a reduced scale when the result is small."""

from __future__ import annotations

import io
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from PIL import Image, ImageOps, UnidentifiedImageError

from .conversion_errors import ConversionFailed
from .limits import conversion_slot

IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP")
MAX_PIXELS = 40_000_000  # 160 MB decoded as RGBA; at most TRANSCODE_CONCURRENCY decodes at once
THUMBNAIL_SIDE = 72  # the longer side of a thumbnail, in pixels
THUMBNAIL_QUALITY = 70
STICKER_SIDE = 512
STICKER_MAX_BYTES = 100 * 1024  # WhatsApp's limit for a static sticker
STICKER_QUALITIES = (80, 60, 40, 20)
EXIF_ORIENTATION = 0x0112
ORIENTATIONS_TURNED = (5, 6, 7, 8)  # width and height swap when shown upright


@contextmanager
def _opened(src: Path, purpose: str) -> Iterator[Image.Image]:
    """`src` opened as an image (first frame), or ConversionFailed; decode errors inside become one too."""
    try:
        with conversion_slot(), Image.open(src, formats=IMAGE_FORMATS) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ConversionFailed(f"Could not {purpose}: the image is {width}x{height} pixels, more than "
                                       f"{MAX_PIXELS // 1_000_000} million.")
            yield image
    except UnidentifiedImageError:
        raise ConversionFailed(f"Could not {purpose}: the file is not an image this service reads "
                               "(JPEG, PNG, GIF, WebP, BMP).") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise ConversionFailed(f"Could not {purpose}: the image is damaged or truncated.") from None


def image_facts(src: Path) -> dict:
    """{"width", "height" (as shown upright), "thumbnail": JPEG bytes, longer side THUMBNAIL_SIDE}."""
    with _opened(src, "read the image") as image:
        width, height = image.size
        if image.getexif().get(EXIF_ORIENTATION) in ORIENTATIONS_TURNED:
            width, height = height, width
        small = _on_white(_upright_rgba(image, THUMBNAIL_SIDE))
    out = io.BytesIO()
    small.save(out, "JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return {"width": width, "height": height, "thumbnail": out.getvalue()}


def _upright_rgba(image: Image.Image, side: int) -> Image.Image:
    """The picture upright, as RGBA, scaled down to fit `side` (a JPEG is decoded at a reduced scale)."""
    image.draft("RGB", (side, side))
    picture = ImageOps.exif_transpose(image.convert("RGBA"))
    picture.thumbnail((side, side), Image.Resampling.LANCZOS)
    return picture


def _on_white(image: Image.Image) -> Image.Image:
    """An RGBA picture as RGB, transparent parts on white (JPEG has no transparency)."""
    background = Image.new("RGBA", image.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, image).convert("RGB")


def sticker(src: Path, dest: Path) -> dict:
    """Make a 512x512 WebP sticker of `src` at `dest`: the picture scaled to fit (aspect kept), centred on
    transparency. -> {"mimetype": "image/webp", "width": 512, "height": 512}."""
    with _opened(src, "make a sticker") as image:
        picture = _upright_rgba(image, STICKER_SIDE)  # down only; a small picture is scaled up below
    scale = STICKER_SIDE / max(picture.size)
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    if size != picture.size:
        picture = picture.resize(size, Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", (STICKER_SIDE, STICKER_SIDE), (0, 0, 0, 0))
    canvas.paste(picture, ((STICKER_SIDE - size[0]) // 2, (STICKER_SIDE - size[1]) // 2))
    dest.write_bytes(_small_webp(canvas))
    return {"mimetype": "image/webp", "width": STICKER_SIDE, "height": STICKER_SIDE}


def _small_webp(canvas: Image.Image) -> bytes:
    """The canvas as WebP at the best quality that fits STICKER_MAX_BYTES (the lowest tried otherwise)."""
    for quality in STICKER_QUALITIES:
        out = io.BytesIO()
        canvas.save(out, "WEBP", quality=quality, method=4)
        if out.tell() <= STICKER_MAX_BYTES:
            break
    return out.getvalue()
