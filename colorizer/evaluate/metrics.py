"""How close a colorized photo is to the original: PSNR, SSIM, ab error, hue hits and colorfulness.

Every function takes (H, W, 3) RGB numpy arrays, either uint8 or float in [0, 1], and
works on the 0-255 scale internally, so a score never depends on how the array was stored.
PSNR and SSIM also take (H, W) gray arrays, one channel (restoration scores lightness as the
8-bit gray image that encodes it); a gray image and its (H, W, 3) copy with R = G = B score alike.
PSNR and SSIM judge the whole RGB image; ab error isolates the colour (lightness is shared
by construction in evaluation); hue hits asks what a person looks at, whether the clearly coloured
parts got their colour (a dull guess scores nothing there); colorfulness says whether a result is as
vivid as photos are, which PSNR alone punishes (a dull guess often scores better than a bold wrong one).
Lab values come from `colorizer.color`, the same conversion the model is trained with.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from colorizer import color

PEAK = 255.0
# SSIM as Wang et al. (2004) define it: an 11x11 Gaussian window with sigma 1.5.
SSIM_SIGMA, SSIM_RADIUS = 1.5, 5
SSIM_MIN_SIDE = 2 * SSIM_RADIUS + 1  # one full window: smaller photos cannot be scored
SSIM_K1, SSIM_K2 = 0.01, 0.03
# Hasler & Suesstrunk (2003) weight the mean chroma by 0.3 against its spread.
CF_MEAN_WEIGHT = 0.3
# Hue hits: pixels count where the original is clearly coloured (chroma C*ab at least 15); a hit has the
# true hue within 30 degrees and at least a third of the true chroma, so gray never hits and a random hue,
# vivid enough, hits one time in six (60 of 360 degrees).
HUE_MIN_CHROMA = 15.0
HUE_TOLERANCE_DEG = 30.0
HUE_MIN_CHROMA_SHARE = 1.0 / 3.0


def _to_255(image: np.ndarray, gray_ok: bool = False) -> np.ndarray:
    """(H, W, 3) (or, with gray_ok, (H, W)) uint8 or float in [0, 1] -> float64 on the 0-255 scale."""
    if gray_ok and image.ndim == 2:
        pass
    elif image.ndim != 3 or image.shape[-1] != 3:
        expected = "an (H, W, 3) RGB or (H, W) gray" if gray_ok else "an (H, W, 3) RGB"
        raise ValueError(f"expected {expected} array, got shape {image.shape}")
    if image.dtype == np.uint8:
        return image.astype(np.float64)
    return np.asarray(image, dtype=np.float64) * PEAK


def _pair(a: np.ndarray, b: np.ndarray, gray_ok: bool = False) -> tuple[np.ndarray, np.ndarray]:
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    return _to_255(a, gray_ok), _to_255(b, gray_ok)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB over all RGB (or gray) values; inf for identical images."""
    x, y = _pair(a, b, gray_ok=True)
    mse = float(np.mean((x - y) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(PEAK**2 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity, the mean over every RGB channel (or the one gray) and every full 11x11 window.

    Only windows that fit inside the image count (no padding), as in the reference code;
    scikit-image gives the same number with `gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=255`, and `channel_axis=-1` for RGB.
    """
    x, y = _pair(a, b, gray_ok=True)
    if min(x.shape[:2]) < SSIM_MIN_SIDE:
        raise ValueError(f"SSIM needs images of at least {SSIM_MIN_SIDE} pixels a side")
    if x.ndim == 2:  # (H, W) gray: one channel
        x, y = x[..., None], y[..., None]
    return float(np.mean([_ssim_channel(x[..., c], y[..., c]) for c in range(x.shape[-1])]))


def _ssim_channel(x: np.ndarray, y: np.ndarray) -> float:
    """(H, W) float64 pair -> mean SSIM over the (H - 10, W - 10) full windows.

    float64, because a variance here is the small difference of two numbers up to 255^2.
    """
    mx, my = _local_mean(x), _local_mean(y)
    var_x = _local_mean(x * x) - mx**2
    var_y = _local_mean(y * y) - my**2
    cov = _local_mean(x * y) - mx * my
    c1, c2 = (SSIM_K1 * PEAK) ** 2, (SSIM_K2 * PEAK) ** 2
    index = (2 * mx * my + c1) * (2 * cov + c2) / ((mx**2 + my**2 + c1) * (var_x + var_y + c2))
    return float(index.mean())


def _local_mean(t: np.ndarray) -> np.ndarray:
    """Gaussian-weighted mean of every full window: (H, W) -> (H - 10, W - 10).

    The 2-D Gaussian is separable, so weight shifted copies along rows, then along columns:
    11 multiply-adds a pixel per axis, exact in float64, and no dependency beyond numpy.
    """
    taps = np.arange(-SSIM_RADIUS, SSIM_RADIUS + 1)
    g = np.exp(-0.5 * (taps / SSIM_SIGMA) ** 2)
    g /= g.sum()
    h, w = t.shape[0] - 2 * SSIM_RADIUS, t.shape[1] - 2 * SSIM_RADIUS
    t = sum(gk * t[k : k + h] for k, gk in enumerate(g))
    return sum(gk * t[:, k : k + w] for k, gk in enumerate(g))


def ab_error(a: np.ndarray, b: np.ndarray) -> float:
    """Mean, over pixels, of the Euclidean distance between the two images' (a, b) in Lab units.

    This is CIE76 colour difference with the lightness term left out, so it reads on the
    familiar Delta E scale (about 2.3 is just noticeable) and measures the colour alone.
    A mean rather than an RMS, so a few wildly wrong pixels do not dominate the score.
    """
    # float32, as the pipeline converts: ab then agrees with float64 to about 1e-4.
    x, y = (color.lab_of_rgb8(i) for i in _pair(a, b))
    return float((x[1:] - y[1:]).norm(dim=0).mean())  # (2, H, W) -> (H, W) -> scalar


def hue_hits(result: np.ndarray, original: np.ndarray) -> float | None:
    """The share of the original's clearly coloured pixels on which the result has the right colour
    (`hue_hits_ab`), from the colours as they are shown (8-bit sRGB, in gamut); None when the original
    has no such pixel (a near-gray photo has no hue to get right)."""
    x, y = (color.lab_of_rgb8(i, torch.float64) for i in _pair(result, original))
    return hue_hits_ab(x[1:], y[1:])


def hue_hits_ab(predicted: torch.Tensor, true: torch.Tensor) -> float | None:
    """(2, H, W) predicted and true ab in Lab units -> the share of pixels with true chroma at least
    HUE_MIN_CHROMA whose predicted hue is within HUE_TOLERANCE_DEG of the true one (either way round the
    circle: 350 and 10 degrees are 20 apart) with at least HUE_MIN_CHROMA_SHARE of the true chroma.

    Unlike ab error, a timid guess earns nothing here: a faint right hue on a red cup is still a miss.
    None when no pixel is clearly coloured.
    """
    true_chroma = true.norm(dim=0)  # (H, W)
    counted = true_chroma >= HUE_MIN_CHROMA
    total = int(counted.sum())
    if total == 0:
        return None
    turn = torch.atan2(predicted[1], predicted[0]) - torch.atan2(true[1], true[0])  # radians, in (-2 pi, 2 pi)
    off = torch.rad2deg(torch.remainder(turn + math.pi, 2 * math.pi) - math.pi).abs()  # degrees, in [0, 180]
    hit = counted & (off <= HUE_TOLERANCE_DEG) & (predicted.norm(dim=0) >= HUE_MIN_CHROMA_SHARE * true_chroma)
    return int(hit.sum()) / total


def colorfulness(image: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003) colourfulness: 0 for gray, about 15 "slightly", 33 "moderately",
    59 "quite", 109 "extremely colourful". Standard deviations over the pixels (not sample ones).
    """
    rgb = torch.from_numpy(_to_255(image).astype(np.float64)).permute(2, 0, 1)[None] / PEAK
    return float(colorfulness_of(rgb)[0])


def colorfulness_of(rgb: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """(B, 3, H, W) sRGB in [0, 1] -> (B,) colourfulness as `colorfulness`: the one formula, for
    evaluation and for the training loss that pushes against dull colour. A loss passes a small
    `eps`, which keeps the gradient finite on a gray image (0 keeps gray at exactly 0)."""
    r, g, b = (rgb * PEAK).unbind(1)
    rg, yb = (r - g).flatten(1), (0.5 * (r + g) - b).flatten(1)
    spread = torch.sqrt(rg.var(1, correction=0) + yb.var(1, correction=0) + eps)
    mean = torch.sqrt(rg.mean(1) ** 2 + yb.mean(1) ** 2 + eps)
    return spread + CF_MEAN_WEIGHT * mean
