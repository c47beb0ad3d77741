"""Classical restoration steps that need no learning, where they are the right tool.

    auto_levels(L)            -> L     stretch a faded print's levels back to the full range
    detect_scratches(L)       -> mask  thin bright / dark lines and dust specks, (H, W) bool
    inpaint(L, mask)          -> L     fill masked pixels from their surroundings
    denoise_nlm(L)            -> L     non-local means, the baseline evaluation compares against

All take and return 8-bit gray ("L") PIL images of unchanged size, and run in time and memory
linear in the pixel count, so a 3000 x 2000 scan is fine (NLM is the slow one: seconds).
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage
from skimage.filters import apply_hysteresis_threshold
from skimage.restoration import denoise_nl_means

_LAPLACIAN_DIFFERENCE = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)


def _gray(image: Image.Image) -> np.ndarray:
    if image.mode != "L":
        raise ValueError(f"expected an 'L' image, got {image.mode!r}")
    return np.asarray(image, dtype=np.float32)


def _to_image(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(pixels + 0.5, 0, 255).astype(np.uint8), "L")


def auto_levels(image: Image.Image, clip: float = 0.5) -> Image.Image:
    """Map the `clip` and 100 - `clip` percentiles to black and white.

    Percentiles rather than min / max, so a few dust specks or a scratch can't pin the range.
    """
    gray = np.asarray(_gray(image), dtype=np.uint8)
    cumulative = np.cumsum(np.bincount(gray.ravel(), minlength=256)) / gray.size
    low = int(np.searchsorted(cumulative, clip / 100.0))
    high = int(np.searchsorted(cumulative, 1.0 - clip / 100.0))
    if high <= low:  # a flat image has no range to stretch
        return image.copy()
    table = np.clip((np.arange(256) - low) * 255.0 / (high - low), 0, 255)
    return Image.fromarray((table + 0.5).astype(np.uint8)[gray], "L")


def _noise_sigma(gray: np.ndarray) -> float:
    """Standard deviation of white noise in (H, W) `gray` (Immerkaer 1996).

    The kernel is the difference of two Laplacians, blind to edges and ramps; the mean of its
    absolute response, scaled, is the noise level. Same units as `gray`.
    """
    response = ndimage.convolve(gray.astype(np.float32), _LAPLACIAN_DIFFERENCE, mode="reflect")
    return float(np.sqrt(np.pi / 2.0) * np.abs(response[1:-1, 1:-1]).mean() / 6.0)


def _moments(labels: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Area, major and minor axis length (as for an ellipse) of labels 1..count, vectorised."""
    rows, cols = np.nonzero(labels)
    ids = labels[rows, cols]

    def total(values: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(ids, weights=values, minlength=count + 1)[1:]

    area = total()
    mean_r, mean_c = total(rows) / area, total(cols) / area
    var_r = total(rows.astype(np.float64) ** 2) / area - mean_r**2 + 1 / 12  # + a pixel's own extent
    var_c = total(cols.astype(np.float64) ** 2) / area - mean_c**2 + 1 / 12
    cov = total(rows.astype(np.float64) * cols) / area - mean_r * mean_c
    spread = np.sqrt(((var_r - var_c) / 2) ** 2 + cov**2)
    centre = (var_r + var_c) / 2
    return area, 4 * np.sqrt(centre + spread), 4 * np.sqrt(np.maximum(centre - spread, 0.0))


def detect_scratches(image: Image.Image, width: int = 4, contrast: float = 15.0, min_length: int = 20,
                     max_speck: int = 50) -> np.ndarray:
    """(H, W) bool mask of scratches and dust: thin structures that stand out from their surroundings.

    A white top-hat (bright) and a black top-hat (dark), both `2 * width + 1` across, keep only
    structures narrower than that. Texture (grass, hair, fabric) is full of those too, so a
    pixel must stand out by `contrast` levels and by 4 times the average top-hat around it;
    hysteresis grows it down to half of that. A connected part is damage when it is a line (at
    least `min_length` px long and four times longer than wide) or a speck (at most `max_speck`
    px). Faint scratches through busy texture are missed, and real thin lines in a photo (wires,
    window frames) pass: this marks candidates for a person or the pipeline to act on. The mask
    is grown by a pixel to cover soft edges.
    """
    gray = _gray(image)
    size = 2 * width + 1
    standout = np.maximum(ndimage.white_tophat(gray, size=size), ndimage.black_tophat(gray, size=size))
    busyness = ndimage.gaussian_filter(standout, sigma=size)
    salience = standout / np.maximum(contrast, 4.0 * busyness)
    candidates = apply_hysteresis_threshold(salience, 0.5, 1.0)
    labels, count = ndimage.label(candidates, structure=np.ones((3, 3)))
    area, major, minor = _moments(labels, count)
    is_line = (major >= min_length) & (major >= 4.0 * np.maximum(minor, 1.0))
    keep = np.concatenate([[False], is_line | (area <= max_speck)])
    return ndimage.binary_dilation(keep[labels], structure=np.ones((3, 3)))


def _shrink(plane: np.ndarray) -> np.ndarray:
    """Sum 2 x 2 blocks; odd sizes are padded with zeros, which carry no weight."""
    h, w = plane.shape
    padded = np.pad(plane, ((0, h % 2), (0, w % 2)))
    return padded.reshape(padded.shape[0] // 2, 2, padded.shape[1] // 2, 2).sum(axis=(1, 3))


def _grow(plane: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinearly double (h, w) and crop to `shape`, the inverse of `_shrink`'s layout."""
    doubled = Image.fromarray(plane.astype(np.float32), "F").resize((2 * plane.shape[1], 2 * plane.shape[0]),
                                                                     Image.Resampling.BILINEAR)
    return np.asarray(doubled)[: shape[0], : shape[1]]


def inpaint(image: Image.Image, mask: np.ndarray) -> Image.Image:
    """Fill the pixels where (H, W) bool `mask` is True from the pixels around them.

    Push-pull (Gortler et al. 1996): halve the image with the holes weighted zero until nothing is
    missing, then come back up, taking each level's known pixels and the coarser level's
    smooth estimate where a pixel was missing. A thin scratch is filled from its immediate
    neighbours, a large hole smoothly from further away; cost and memory are linear in the
    pixels, unlike biharmonic inpainting. Unmasked pixels come back unchanged.
    """
    gray = _gray(image)
    if mask.shape != gray.shape:
        raise ValueError(f"mask shape {mask.shape} does not match the image's {gray.shape}")
    if not mask.any() or mask.all():
        return image.copy()
    weight = (~mask).astype(np.float32)
    levels = [(gray * weight, weight)]  # (value * weight, weight) per level, finest first
    while levels[-1][1].min() < 1.0 and max(levels[-1][1].shape) > 1:
        weighted, weight = (_shrink(plane) for plane in levels[-1])
        known = np.maximum(weight, 1e-12)
        clamped = np.minimum(weight, 1.0)  # a block with any known pixel counts as known
        levels.append((weighted / known * clamped, clamped))
    weighted, weight = levels[-1]
    filled = weighted / np.maximum(weight, 1e-12)
    for weighted, weight in reversed(levels[:-1]):
        coarse = _grow(filled, weight.shape)
        filled = weighted + (1.0 - weight) * coarse  # known pixels keep their value
    return _to_image(np.where(mask, filled, gray))


def denoise_nlm(image: Image.Image, strength: float = 0.8) -> Image.Image:
    """Non-local means: average pixels whose 5 x 5 neighbourhoods look alike.

    The noise level is estimated from the image and the filter strength `h` is `strength` times
    it (0.8 did best on photos with added noise of sigma 5 to 20). Slow on big images (seconds).
    """
    gray = _gray(image) / 255.0
    if min(gray.shape) < 3:  # no 3 x 3 neighbourhood to measure the noise in or to compare: nothing to do
        return image.copy()
    sigma = _noise_sigma(gray)
    denoised = denoise_nl_means(gray, patch_size=5, patch_distance=6, h=strength * sigma, sigma=sigma,
                                fast_mode=True)
    return _to_image(denoised * 255.0)
