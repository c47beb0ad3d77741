"""Reading photos: images of any kind, decoded under limits, into full-resolution lightness.

Every Pillow mode a scan can arrive in (1-bit, gray, 16-bit gray, palette, RGB(A), CMYK,
YCbCr, LAB, HSV) becomes one float lightness map; EXIF orientation is applied first so
the result is the right way up. Large images are converted in strips so memory stays a
small multiple of the image itself.
"""

from __future__ import annotations

import io
import os
import threading
import warnings
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
import torch
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from colorizer import color
from colorizer.errors import ImageError
from colorizer.settings import DEFAULT_MAX_PIXELS

IMAGE_SUFFIXES = {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}
GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F"}
GRAY_TOLERANCE = 6  # is_grayscale's default (8-bit levels)

ImageSource = str | os.PathLike | bytes | BinaryIO | Image.Image
NOTES = "notes"  # key in a PIL image's .info: things worth telling the person about this image
_PILLOW_LIMIT = threading.Lock()  # Image.MAX_IMAGE_PIXELS is global: set it from ours one decode at a time


@dataclass
class Photo:
    """A decoded input photo, ready for colorizing."""

    lightness: torch.Tensor  # (1, H, W) float32, L in [0, 100], full resolution
    alpha: Image.Image | None  # mode "L" alpha of the input, re-attached to the output
    notes: list[str] = field(default_factory=list)  # e.g. "only the first of 12 frames was used"
    exif: bytes | None = None  # the original's EXIF worth keeping in the result (colorizer.io.provenance)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), like PIL."""
        return self.lightness.shape[-1], self.lightness.shape[-2]


def open_image(source: ImageSource, max_pixels: int = DEFAULT_MAX_PIXELS, long_side: int | None = None
               ) -> Image.Image:
    """Decode `source` fully, upright (EXIF orientation applied); raise ImageError if unusable.

    Pillow's own decompression-bomb limit is set from `max_pixels` while decoding, so the limit
    reported is the one that applied. `image.info["notes"]` says when only the first frame of an
    animation (or multi-page file) was kept. long_side: the caller needs only this many pixels on the
    long side (a colour reference at render size), so a far larger picture comes back reduced to
    between 2x and 4x that: a JPEG decoded at 1/2 to 1/8 scale, anything else box-reduced before it is
    turned or copied, so a 50-megapixel picture costs little more than a small one.
    """
    if isinstance(source, Image.Image):
        return _decode(source, "image", max_pixels, owned=False, long_side=long_side)
    name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else "upload"
    fp = io.BytesIO(source) if isinstance(source, bytes) else source
    with _PILLOW_LIMIT:
        default_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, max_pixels
        try:
            with warnings.catch_warnings():
                # Pillow warns above its limit and refuses above twice it; between the two, our
                # own check below refuses with the image's real size
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                try:
                    image = Image.open(fp)
                except FileNotFoundError:
                    raise ImageError(f"{name}: no such file") from None
                except IsADirectoryError:
                    raise ImageError(f"{name}: is a folder, not an image") from None
                except Image.DecompressionBombError:
                    raise ImageError(f"{name}: image is above the limit of {max_pixels / 1e6:g} megapixels, "
                                     "more than twice over (a decompression bomb?); downscale it first") from None
                except (UnidentifiedImageError, OSError) as err:
                    raise ImageError(f"{name}: not an image Pillow can read ({err})") from None
                return _decode(image, name, max_pixels, owned=True, long_side=long_side)
        finally:
            Image.MAX_IMAGE_PIXELS = default_limit


REDUCIBLE_MODES = ("L", "LA", "RGB", "RGBA", "CMYK", "I", "F")  # Image.reduce averages these; a palette's indices not


def _decode(image: Image.Image, name: str, max_pixels: int, owned: bool, long_side: int | None = None
            ) -> Image.Image:
    """Check the size, load the first frame (reduced, given long_side: open_image), apply EXIF orientation;
    notes go to image.info.

    owned: the image was opened here, so an upright single frame is used as it is (its file is closed
    once loaded); a caller's image is always copied (by exif_transpose or reduce), never changed."""
    width, height = image.size
    if width * height > max_pixels:
        raise ImageError(
            f"{name}: {width}x{height} is {width * height / 1e6:.0f} megapixels, above the limit of "
            f"{max_pixels / 1e6:g} megapixels; downscale it first"
        )
    if width < 1 or height < 1:
        raise ImageError(f"{name}: image has no pixels")
    notes = list(image.info.get(NOTES, []))
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        notes.append(f"the file holds {frames} frames (an animation or several pages): "
                     "only the first was colorized")
    try:
        if long_side and owned and max(width, height) >= 4 * long_side:
            scale = 2 * long_side / max(width, height)
            image.draft(None, (round(width * scale), round(height * scale)))  # JPEG: decoded at 1/2 to 1/8
        image.load()
        factor = max(image.size) // (2 * long_side) if long_side else 1
        reduced = factor > 1 and image.mode in REDUCIBLE_MODES
        if reduced:
            image = image.reduce(factor)  # a new image: a caller's is not changed
        if (not (owned or reduced) or frames > 1
                or image.getexif().get(ExifTags.Base.Orientation, 1) != 1):
            image = ImageOps.exif_transpose(image)
    except Image.DecompressionBombError:
        raise ImageError(f"{name}: a frame is above the limit of {max_pixels / 1e6:g} megapixels, "
                         "more than twice over (a decompression bomb?)") from None
    except (OSError, SyntaxError, ValueError) as err:  # truncated or damaged data
        raise ImageError(f"{name}: the file is damaged or truncated ({err})") from None
    image.info[NOTES] = notes
    return image


def read_photo(source: ImageSource, max_pixels: int = DEFAULT_MAX_PIXELS) -> Photo:
    """Open any image and return its full-resolution lightness (and alpha, if any)."""
    image = open_image(source, max_pixels)
    notes, alpha, exif = list(image.info.get(NOTES, [])), None, kept_exif(image)
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        alpha = image.getchannel("A")
        image = image.convert("RGB")
    return Photo(lightness=color.lightness_of(image), alpha=alpha, notes=notes, exif=exif)


def gray_image(source: ImageSource, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """The photo in black and white: its lightness alone, as an 8-bit "L" image of the same size.

    What a black-and-white print of the scene looks like (Lab with a = b = 0); a gray 8-bit
    photo comes back unchanged.
    """
    return color.gray_of(open_image(source, max_pixels))


def is_grayscale(image: Image.Image, tolerance: int = GRAY_TOLERANCE) -> bool:
    """Whether a photo is black-and-white already (no colour to learn from or score against): a gray
    mode, or RGB whose channels differ by at most `tolerance` 8-bit levels (99th percentile), as a gray
    photo saved as RGB or JPEG does. A toned print (sepia) is a colour photo by this rule."""
    if image.mode in GRAY_MODES:
        return True
    rgb = image.convert("RGB")
    rgb = rgb.reduce(max(1, min(rgb.size) // 64))  # a 64 px view is enough to see colour
    pixels = np.asarray(rgb, dtype=np.int16)
    spread = pixels.max(axis=-1) - pixels.min(axis=-1)
    return float(np.percentile(spread, 99)) <= tolerance


# EXIF kept from the original: who, what camera, when, where. Tags describing the pixel data
# (sizes, strips, colour profile, thumbnail, maker notes with their private offsets) are not: the
# output's pixels are new. Orientation is written as 1: the pixels were turned upright on reading.
_IFD0_KEPT = {
    ExifTags.Base.ImageDescription, ExifTags.Base.Make, ExifTags.Base.Model, ExifTags.Base.Artist,
    ExifTags.Base.Copyright, ExifTags.Base.XResolution, ExifTags.Base.YResolution, ExifTags.Base.ResolutionUnit,
}


_EXIF_DROPPED = {
    ExifTags.Base.MakerNote, ExifTags.Base.ExifImageWidth, ExifTags.Base.ExifImageHeight,
    ExifTags.Base.ColorSpace, ExifTags.IFD.Interop,
}


def kept_exif(image: Image.Image) -> bytes | None:
    """The original's EXIF worth keeping in the result (see _IFD0_KEPT), Orientation 1; None if none."""
    try:
        source = image.getexif()
        exif_ifd, gps_ifd = dict(source.get_ifd(ExifTags.IFD.Exif)), dict(source.get_ifd(ExifTags.IFD.GPSInfo))
    except Exception:  # noqa: BLE001 - damaged EXIF is not worth refusing a photo over
        return None
    kept = Image.Exif()
    kept.update({tag: value for tag, value in source.items() if tag in _IFD0_KEPT})
    exif_ifd = {tag: value for tag, value in exif_ifd.items() if tag not in _EXIF_DROPPED}
    if not kept and not exif_ifd and not gps_ifd:
        return None
    kept[ExifTags.Base.Orientation] = 1
    if exif_ifd:
        kept.get_ifd(ExifTags.IFD.Exif).update(exif_ifd)
    if gps_ifd:
        kept.get_ifd(ExifTags.IFD.GPSInfo).update(gps_ifd)
    return kept.tobytes()
