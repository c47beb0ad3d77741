"""Colour suggestions: at a point a person clicks, the few colours the model finds most likely there.

    from colorizer import suggest
    suggest("grandpa.jpg", 120, 340)        # [Suggestion(color=(141, 96, 64), ab=(...), share=0.62), ...]

The embedded model regresses one colour a pixel: the mean of the colours it finds plausible there,
duller than any of them (Zhang et al. 2016, "Colorful image colorization"). Its hue is the part to
trust; how vivid is what it hedges. So the first three suggestions are its guess (what colorize
paints), the same hue VIVID_AB more vivid, and the same hue nearly neutral (MUTED of its chroma):
the two ends it averaged between. Then come the other colours its passes give around the point:
it runs at RENDER_SIZES, each as it is and mirrored (a scene and its mirror image are equally
likely, so passes disagree only where it is unsure), each pass lending the colours of the pixels
near the point that have its lightness (the same thing, seen a little apart); the modes of those
samples, at least SEPARATION apart, ranked by their share of them. Chosen on the tuning photos
(examples' originals, tests/data/holdout): of 80 random points, the true colour was within 15 ab of
the guess at 59 %, of one of these first three at 74 %, of one of the guess and two such modes at
60 % (the passes agree too much to offer real alternatives); figures on unseen sources in
docs/BENCHMARKS.md (bench/bench_suggest.py). Suggestions are given at the point's lightness, so
they can be used as hints as they are (colorizer.io.hints).

A classification head (Zhang et al. 2017) would give a real distribution; the embedded weights have
none (tried, not shipped: docs/experiments/classification-head.md), and this works with any weights.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

from colorizer import color
from colorizer.errors import HintError
from colorizer.io.images import ImageSource, read_photo
from colorizer.pipelines.colorizer import Colorizer
from colorizer.pipelines.photo import resize_lightness
from colorizer.settings import DEFAULT_MAX_PIXELS, DEFAULT_RENDER_SIZE

RENDER_SIZES = (256, 384, 512)  # the passes, each plain and mirrored
NEIGHBOURHOOD = 0.03  # of the long side: the pixels around the point that lend their colour ...
SAME_THING_L = 8.0  # ... when their lightness is within this of the point's
BIN = 2.0  # ab units: the histogram's bins
SEPARATION = 15.0  # ab units: the modes of the passes' samples at least this far apart
DISTINCT = 8.0  # ab units: suggestions, as shown, at least this far apart (a person tells them apart)
VIVID_AB = 20.0  # ab units: the guess's hue this much more vivid ...
MUTED = 0.25  # ... and at this part of its chroma
COUNT = 5  # suggestions returned by default


@dataclass(frozen=True)
class Suggestion:
    """A likely colour at the point: `color` sRGB at the point's lightness, the chroma `ab` it shows, and `share`,
    the part of the passes' samples near it (0 for the vivid one, which the model hedges away from)."""

    color: tuple[int, int, int]
    ab: tuple[float, float]
    share: float

    @property
    def hex(self) -> str:
        return "#%02x%02x%02x" % self.color


@functools.cache
def _default() -> Colorizer:
    return Colorizer.from_pretrained()


def suggest(image: ImageSource, x: float, y: float, colorizer: Colorizer | None = None, count: int = COUNT,
            max_pixels: int = DEFAULT_MAX_PIXELS) -> list[Suggestion]:
    """The `count` most likely colours at pixel (x, y) of `image` (path, bytes, PIL image), best first.

    colorizer: the weights to ask (the embedded default when None, loaded once). The first suggestion
    is the model's own guess there, as colorize paints it. HintError when (x, y) is outside the photo."""
    model = colorizer or _default()
    photo = read_photo(image, max_pixels)
    width, height = photo.size
    if not (0 <= x < width and 0 <= y < height):
        raise HintError(f"({x:g}, {y:g}) is outside the photo ({width}x{height} pixels)")
    samples, guess = _guesses(model, photo.lightness, x, y)
    peaks = _peaks(samples)
    chroma = float(np.hypot(*guess))
    hue = guess / chroma if chroma > 1 else (peaks[0][0] / max(1e-6, float(np.hypot(*peaks[0][0]))) if peaks else None)
    candidates = [(guess, _share(samples, guess))]
    if hue is not None:
        candidates += [(guess + VIVID_AB * hue, 0.0), (guess * MUTED, _share(samples, guess * MUTED))]
    candidates += peaks
    lightness = float(photo.lightness[0, int(y), int(x)])
    chosen: list[Suggestion] = []
    for ab, share in candidates:
        found = _suggestion(lightness, ab, share)
        if all(np.hypot(found.ab[0] - c.ab[0], found.ab[1] - c.ab[1]) >= DISTINCT for c in chosen):
            chosen.append(found)
    return chosen[:max(1, count)]


def _share(samples: np.ndarray, ab: np.ndarray) -> float:
    """The part of the passes' samples within SEPARATION / 2 of `ab`."""
    return float((np.hypot(*(samples - ab).T) < SEPARATION / 2).mean())


def _guesses(model: Colorizer, lightness: torch.Tensor, x: float, y: float) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2) ab samples near (x, y) from every pass, and the model's own guess at (x, y) (the mirror mean
    at its default render size, as colorize gives it)."""
    _, height, width = lightness.shape
    l_point = float(lightness[0, int(y), int(x)])
    samples, guess = [], np.zeros(2)
    for render_size in RENDER_SIZES:
        small = resize_lightness(lightness, model.model_shape(width, height, render_size))  # (1, h, w)
        h, w = small.shape[-2:]
        with torch.inference_mode():
            l_norm = color.normalize_l(small[None].to(model.device))
            passes = [model.generator(l_norm)[:, :2].float(), model.generator(l_norm.flip(-1))[:, :2].float().flip(-1)]
        passes = [color.denormalize_ab(p)[0].cpu() * model.generator.config.chroma_gain for p in passes]  # (2, h, w)
        row, col = min(h - 1, int(y * h / height)), min(w - 1, int(x * w / width))
        radius = max(1, round(NEIGHBOURHOOD * max(h, w)))
        window = (slice(max(0, row - radius), row + radius + 1), slice(max(0, col - radius), col + radius + 1))
        alike = (small[0][window] - l_point).abs() <= SAME_THING_L  # the point itself always is
        alike[min(row, radius), min(col, radius)] = True
        for ab in passes:
            samples.append(ab[:, window[0], window[1]][:, alike].T.numpy())
        if render_size == DEFAULT_RENDER_SIZE:
            guess = ((passes[0] + passes[1]) / 2)[:, row, col].numpy()
    return np.concatenate(samples).astype(np.float64), guess.astype(np.float64)


def _peaks(samples: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """(n, 2) ab -> the modes of their smoothed histogram, as (ab, share of the samples within
    SEPARATION / 2), most samples first."""
    edges = np.arange(-128.0, 128.0 + BIN, BIN)
    hist, _, _ = np.histogram2d(samples[:, 0], samples[:, 1], bins=(edges, edges))
    smooth = ndimage.gaussian_filter(hist, sigma=SEPARATION / 4 / BIN)
    is_peak = (smooth == ndimage.maximum_filter(smooth, size=3)) & (smooth > 0.01 * smooth.max())
    rows, cols = np.nonzero(is_peak)
    centres = (edges[:-1] + BIN / 2)
    peaks = []
    for r, c in sorted(zip(rows, cols), key=lambda rc: -smooth[rc]):
        ab = np.array([centres[r], centres[c]])
        peaks.append((ab, _share(samples, ab)))
    return peaks


def _suggestion(lightness: float, ab: np.ndarray, share: float) -> Suggestion:
    """The sRGB colour of (lightness, ab), brought into gamut as colorize brings its output, with the ab
    that colour shows (a near-white pixel cannot show a vivid one: two such are one suggestion)."""
    lab = torch.tensor([lightness, float(ab[0]), float(ab[1])], dtype=torch.float32).view(3, 1, 1)
    rgb = color.lab_to_rgb8(lab).view(1, 1, 3)
    shown = color.lab_of_rgb8(rgb, torch.float64)[1:, 0, 0]
    return Suggestion(tuple(int(v) for v in rgb.view(3)), (float(shown[0]), float(shown[1])), round(share, 3))  # type: ignore[arg-type]
