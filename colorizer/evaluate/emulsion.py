"""How old photographic emulsions turned a colour scene into gray.

A black-and-white photo is not the scene's lightness (Lab L, what the eye sees and what a colour
photo turned gray gives): it is the scene as the film's emulsion saw it. Early plates saw mostly
blue, so skies came out white and red lips black; orthochromatic film (about 1880-1930) added green
but stayed blind to red; panchromatic film sees every colour, a red filter darkening blue skies.
Training shows the model such grays (`degrade.EmulsionConfig`) and evaluation can score them
(`python -m colorizer.evaluate --emulsion NAME`), so the colour does not rely on tones that only a
modern conversion to gray has.

Each emulsion here is a weighting of the linear-light RGB channels (summing to 1, so white stays
white): a rough three-channel stand-in for a spectral sensitivity curve, not a measured one.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from colorizer.color import gray_of

Weights = tuple[float, float, float]  # linear-light R, G, B; non-negative, summing to 1

EMULSIONS: dict[str, Weights] = {
    "blue-sensitive": (0.0, 0.10, 0.90),  # collodion and early dry plates: blind to green and red
    "orthochromatic": (0.0, 0.45, 0.55),  # blue and green, blind to red
    "panchromatic": (0.25, 0.50, 0.25),  # every colour, more blue and less green than the eye
    "red-filter": (0.60, 0.35, 0.05),  # panchromatic through a red filter: dark skies, pale skin
}


def check_weights(weights: Weights) -> Weights:
    """The weights scaled to sum to 1; ValueError unless they are three non-negative numbers, not all 0."""
    values = np.asarray(weights, dtype=np.float64)
    if values.shape != (3,) or not np.isfinite(values).all() or (values < 0).any() or values.sum() <= 0:
        raise ValueError(f"an emulsion is three non-negative channel weights, not all 0; got {weights!r}")
    r, g, b = (values / values.sum()).tolist()
    return r, g, b


def emulsion_gray(image: Image.Image, weights: Weights) -> Image.Image:
    """A photo as an emulsion with these channel weights records it: an 8-bit "L" image of the same size,
    made as `imaging.gray_of` makes the eye's gray (in strips, so any size fits; weights (0.2126, 0.7152,
    0.0722), sRGB's luminance row, give the same image up to rounding)."""
    return gray_of(image, check_weights(weights))
