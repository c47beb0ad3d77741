"""The benchmarks' one test photo: scikit-image's 'coffee' (a real photo) in gray, as a
scan would be, so every benchmark measures the same kind of picture."""

from __future__ import annotations

import skimage.data
from PIL import Image


def gray_coffee(megapixels: float | None = None, aspect: float = 1.5) -> Image.Image:
    """'coffee' in gray, resized (bicubic) to about `megapixels` at width:height = `aspect`;
    at its own 600x400 when megapixels is None."""
    photo = Image.fromarray(skimage.data.coffee()).convert("L")
    if megapixels is None:
        return photo
    width = int((megapixels * 1e6 * aspect) ** 0.5)
    return photo.resize((width, int(width / aspect)), Image.Resampling.BICUBIC)
