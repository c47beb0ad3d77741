"""Reading photos of any kind into full-resolution lightness, and writing results safely.

Every Pillow mode a scan can arrive in (1-bit, gray, 16-bit gray, palette, RGB(A), CMYK,
YCbCr, LAB, HSV) becomes one float lightness map; EXIF orientation is applied first so
the result is the right way up. Large images are converted in strips so memory stays a
small multiple of the image itself.
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from colorizer import color
from colorizer.defaults import DEFAULT_MAX_PIXELS
from colorizer.errors import ImageError

STRIP_PIXELS = 1 << 17  # pixels converted at a time: small enough that temporaries stay in cache

ImageSource = str | os.PathLike | bytes | BinaryIO | Image.Image


@dataclass
class Photo:
    """A decoded input photo, ready for colorizing."""

    lightness: torch.Tensor  # (1, H, W) float32, L in [0, 100], full resolution
    alpha: Image.Image | None  # mode "L" alpha of the input, re-attached to the output
    name: str  # for messages

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), like PIL."""
        return self.lightness.shape[-1], self.lightness.shape[-2]


def open_image(source: ImageSource, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode `source` fully, upright (EXIF orientation applied); raise ImageError if unusable."""
    if isinstance(source, Image.Image):
        image, name = source, "image"
    else:
        name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else "upload"
        fp = io.BytesIO(source) if isinstance(source, bytes) else source
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we check size ourselves
                image = Image.open(fp)
        except FileNotFoundError:
            raise ImageError(f"{name}: no such file") from None
        except IsADirectoryError:
            raise ImageError(f"{name}: is a folder, not an image") from None
        except Image.DecompressionBombError:
            raise ImageError(f"{name}: image is above the limit of {max_pixels / 1e6:.0f} megapixels "
                             "(a decompression bomb?); downscale it first") from None
        except (UnidentifiedImageError, OSError) as err:
            raise ImageError(f"{name}: not an image Pillow can read ({err})") from None
    width, height = image.size
    if width * height > max_pixels:
        raise ImageError(
            f"{name}: {width}x{height} is {width * height / 1e6:.0f} megapixels, above the limit of "
            f"{max_pixels / 1e6:.0f} megapixels; downscale it first"
        )
    if width < 1 or height < 1:
        raise ImageError(f"{name}: image has no pixels")
    try:
        image.load()
        image = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError) as err:  # truncated or damaged data
        raise ImageError(f"{name}: the file is damaged or truncated ({err})") from None
    return image


def read_photo(source: ImageSource, max_pixels: int = DEFAULT_MAX_PIXELS) -> Photo:
    """Open any image and return its full-resolution lightness (and alpha, if any)."""
    image = open_image(source, max_pixels)
    name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else "image"
    alpha = None
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        alpha = image.getchannel("A")
        image = image.convert("RGB")
    return Photo(lightness=_lightness(image), alpha=alpha, name=name)


def lightness_to_image(lightness: torch.Tensor) -> Image.Image:
    """(1, H, W) L in [0, 100] -> 8-bit gray PIL image (sRGB-encoded, as a scan of a print is)."""
    gray = color.l_to_gray(lightness[0]).mul(255.0).add(0.5).clamp(0, 255).to(torch.uint8)
    return Image.fromarray(gray.numpy(), "L")


def image_to_lightness(image: Image.Image) -> torch.Tensor:
    """8-bit gray PIL image -> (1, H, W) L in [0, 100]."""
    return _lut_lightness(np.asarray(image.convert("L")))


def gray_image(source: ImageSource, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """The photo in black and white: its lightness alone, as an 8-bit "L" image of the same size.

    What a black-and-white print of the scene looks like (Lab with a = b = 0); a gray 8-bit
    photo comes back unchanged.
    """
    return lightness_to_image(read_photo(source, max_pixels).lightness)


def _lightness(image: Image.Image) -> torch.Tensor:
    """PIL image of any mode -> (1, H, W) float32 L in [0, 100]."""
    if image.mode in ("1", "L"):
        return _lut_lightness(np.asarray(image.convert("L")))
    if image.mode.startswith("I") or image.mode == "F":
        gray = np.asarray(image, dtype=np.float32)
        top = 65535.0 if image.mode.startswith("I;16") or gray.max(initial=0) > 255 else 255.0
        if image.mode == "F" and gray.max(initial=0) <= 1.0:
            top = 1.0
        return _in_strips(np.clip(gray / top, 0.0, 1.0)[None], color.gray_to_l)
    rgb = np.asarray(image.convert("RGB"))  # palette, CMYK, YCbCr, LAB, HSV: Pillow knows them all
    if _is_gray(rgb):
        return _lut_lightness(rgb[..., 0])
    return _in_strips(rgb.transpose(2, 0, 1), lambda x: color.rgb_to_l(x / 255.0))


def _is_gray(rgb: np.ndarray) -> bool:
    """True when every pixel has R == G == B (a gray photo saved as RGB), checked cheaply."""
    return bool(np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]))


def _lut_lightness(gray: np.ndarray) -> torch.Tensor:
    """8-bit gray (H, W) -> (1, H, W) L via a 256-entry table computed by the colour module."""
    table = color.gray_to_l(torch.arange(256, dtype=torch.float32) / 255.0).numpy()
    return torch.from_numpy(table[gray]).unsqueeze(0)


def _in_strips(array: np.ndarray, fn) -> torch.Tensor:
    """Apply `fn` ((C, h, W) float tensor -> (1, h, W)) to horizontal strips of (C, H, W) `array`."""
    channels, height, width = array.shape
    out = torch.empty(1, height, width)
    rows = max(1, STRIP_PIXELS // max(width, 1))
    for top in range(0, height, rows):
        strip = torch.from_numpy(np.array(array[:, top : top + rows], dtype=np.float32))
        out[:, top : top + rows] = fn(strip)
    return out


def save_image(image: Image.Image, path: str | os.PathLike, **params) -> Path:
    """Write atomically: a crash or a full disk never leaves a half-written file at `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ImageError(f"{path}: unknown image extension {path.suffix!r}")
    if fmt == "JPEG" and image.mode == "RGBA":
        image = image.convert("RGB")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            image.save(fh, format=fmt, **params)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
