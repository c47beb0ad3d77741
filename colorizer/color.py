"""sRGB <-> CIE Lab (D65) in torch, and PIL images <-> lightness: the one place colour maths lives.

Training and inference both call these functions, so the model always sees the same
L and ab that the pipeline later joins back together. Tensors are channel-first with the
colour channel at dim -3, i.e. (3, H, W) or (B, 3, H, W); any float dtype works and every
function is differentiable.

Value ranges at this module's boundary:
    sRGB   in [0, 1]
    L      in [0, 100]
    a, b   roughly in [-110, 110] (sRGB gamut: a in [-86, 98], b in [-108, 95])
The model sees normalised values: L / 50 - 1 in [-1, 1] and ab / AB_SCALE.
Results agree with scikit-image's rgb2lab / lab2rgb (D65, 2-degree observer) to about 0.01.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from PIL import Image

# sRGB primaries -> CIE XYZ (D65), as scikit-image uses them.
_RGB_TO_XYZ = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
# The white point is the matrix's image of RGB white (its row sums; D65 to 4 digits), so a
# pixel with a = b = 0 comes back exactly neutral rather than off by a level here and there.
_WHITE_D65 = tuple(sum(row) for row in _RGB_TO_XYZ)
_EPSILON = 0.008856  # (6/29)^3, where the cube root meets the linear toe
_KAPPA = 7.787  # slope of the linear toe, (29/6)^2 / 3
_DELTA = 16.0 / 116.0

AB_SCALE = 110.0  # ab / AB_SCALE is what the generator predicts, bounded by tanh to [-1, 1]


def _matrix(values: tuple, like: torch.Tensor) -> torch.Tensor:
    return _constant(values, like.dtype, like.device)


@functools.cache
def _constant(values: tuple, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A matrix or vector of constants, made once per dtype and device: a film joins hundreds of strips a frame."""
    return torch.tensor(values, dtype=dtype, device=device)


@functools.cache
def _xyz_to_rgb(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return torch.linalg.inv(torch.tensor(_RGB_TO_XYZ, dtype=torch.float64)).to(dtype=dtype, device=device)


def _apply_matrix(m: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mix the channels at dim -3 with a 3x3 matrix: (..., 3, H, W) -> (..., 3, H, W)."""
    return torch.einsum("ij,...jhw->...ihw", m, x)


def srgb_to_linear(rgb: torch.Tensor) -> torch.Tensor:
    """Undo the sRGB transfer curve; input and output in [0, 1]."""
    rgb = rgb.clamp(0.0, 1.0)
    return torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055).pow(2.4), rgb / 12.92)


def linear_to_srgb(lin: torch.Tensor) -> torch.Tensor:
    """Apply the sRGB transfer curve; the result is clamped to [0, 1]."""
    lin = lin.clamp(0.0, 1.0)
    curved = 1.055 * lin.clamp(min=0.0031308).pow(1.0 / 2.4) - 0.055
    return torch.where(lin > 0.0031308, curved, lin * 12.92).clamp(0.0, 1.0)


def _f(t: torch.Tensor) -> torch.Tensor:
    # clamp inside the cube root keeps the gradient finite at t == 0
    return torch.where(t > _EPSILON, t.clamp(min=_EPSILON).pow(1.0 / 3.0), _KAPPA * t + _DELTA)


def _f_inv(t: torch.Tensor) -> torch.Tensor:
    return torch.where(t > 6.0 / 29.0, t.pow(3), (t - _DELTA) / _KAPPA)


def luminance_to_l(y: torch.Tensor) -> torch.Tensor:
    """Relative luminance Y in [0, 1] -> L in [0, 100]; shape is kept."""
    return 116.0 * _f(y) - 16.0


def gray_to_l(gray: torch.Tensor) -> torch.Tensor:
    """sRGB-encoded gray values in [0, 1] (any shape) -> L in [0, 100].

    A gray pixel is R = G = B, and the Y row of the matrix sums to 1, so Y is just the
    linearised gray value: no need to build three channels.
    """
    return luminance_to_l(srgb_to_linear(gray))


def l_to_gray(l: torch.Tensor) -> torch.Tensor:
    """L in [0, 100] (any shape) -> the sRGB-encoded gray value in [0, 1] with that lightness."""
    return linear_to_srgb(_f_inv((l + 16.0) / 116.0))


def rgb_to_gray(rgb: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) sRGB -> (..., 1, H, W) sRGB gray of the same lightness: the photo in black and white."""
    return l_to_gray(rgb_to_l(rgb))


def rgb_to_l(rgb: torch.Tensor, weights: tuple[float, float, float] | None = None) -> torch.Tensor:
    """(..., 3, H, W) sRGB -> (..., 1, H, W) L: the lightness alone, cheaper than full Lab.

    `weights`: other linear-light channel weights summing to 1 (an old film's, `colorizer.evaluate.emulsion`)
    in place of the eye's (sRGB's luminance row)."""
    lin = srgb_to_linear(rgb)
    row = _RGB_TO_XYZ[1] if weights is None else weights
    return luminance_to_l((lin * _matrix(row, lin).view(3, 1, 1)).sum(dim=-3, keepdim=True))


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) sRGB in [0, 1] -> (..., 3, H, W) Lab (L in [0, 100])."""
    lin = srgb_to_linear(rgb)
    xyz = _apply_matrix(_matrix(_RGB_TO_XYZ, lin), lin)
    white = _matrix(_WHITE_D65, xyz).view(3, 1, 1)
    fx, fy, fz = _f(xyz / white).unbind(dim=-3)
    lab = (116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz))
    return torch.stack(lab, dim=-3)


def _lab_to_linear(lab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(..., 3, H, W) Lab -> (linear RGB (..., 3, H, W), unclipped; luminance Y (..., 1, H, W))."""
    l, a, b = lab.unbind(dim=-3)
    fy = (l + 16.0) / 116.0
    fx = fy + a / 500.0
    fz = (fy - b / 200.0).clamp(min=0.0)  # negative Z is not a colour; skimage clips it too
    white = _matrix(_WHITE_D65, lab).view(3, 1, 1)
    xyz = _f_inv(torch.stack((fx, fy, fz), dim=-3)) * white
    lin = _apply_matrix(_xyz_to_rgb(xyz.dtype, xyz.device), xyz)
    return lin, xyz[..., 1:2, :, :]


def lab_to_rgb(lab: torch.Tensor, keep_lightness: bool = False) -> torch.Tensor:
    """(..., 3, H, W) Lab -> (..., 3, H, W) sRGB in [0, 1].

    Out-of-gamut colours are clipped per channel (as scikit-image does), which can shift
    their lightness. With `keep_lightness` they are instead pulled towards the gray of the
    same luminance, in linear RGB, just far enough to fit: Y is linear in linear RGB, so
    L is kept exactly and only chroma is given up. The pipeline uses this, so a colorized
    photo keeps the tones of the original.
    """
    lin, y = _lab_to_linear(lab)
    return linear_to_srgb(_desaturate_into_gamut(lin, y) if keep_lightness else lin)


def lab_to_rgb8(lab: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) Lab -> (..., 3, H, W) uint8 sRGB, lightness kept (see lab_to_rgb).

    The inference path for full-resolution photos: the sRGB curve is a 64 K-entry table
    indexed by linear value (finer than one 8-bit level everywhere, also near black), which
    is several times cheaper than evaluating the power function per pixel.
    """
    lin, y = _lab_to_linear(lab)
    lin = _desaturate_into_gamut(lin, y)
    index = lin.mul_(_TABLE_STEPS).add_(0.5).to(torch.int32)
    # index_select, not table[index]: advanced indexing splits even a small lookup across torch's threads
    # (2x the CPU time on 2 cores), which a film's join beside the model cannot spare
    return _srgb8_table(lin.device).index_select(0, index.flatten()).view(index.shape)


_TABLE_STEPS = 65535


@functools.cache
def _srgb8_table(device: torch.device) -> torch.Tensor:
    levels = linear_to_srgb(torch.linspace(0.0, 1.0, _TABLE_STEPS + 1, dtype=torch.float64))
    return levels.mul(255.0).add(0.5).to(torch.uint8).to(device)


def _desaturate_into_gamut(lin: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Scale each pixel's linear RGB towards (Y, Y, Y) until every channel is in [0, 1].

    lin: (..., 3, H, W), y: (..., 1, H, W) in [0, 1]. If the largest channel c is above 1,
    the largest allowed step is (1 - Y) / (c - Y); if the smallest is below 0, Y / (Y - c).
    Gray (Y, Y, Y) is always inside. Works on the per-pixel max and min, one channel each.
    """
    tiny = 1e-6
    y = y.clamp(0.0, 1.0)
    high, low = lin.amax(dim=-3, keepdim=True), lin.amin(dim=-3, keepdim=True)
    t = torch.ones_like(y)
    t = torch.where(high > 1.0, torch.minimum(t, (1.0 - y) / (high - y).clamp(min=tiny)), t)
    t = torch.where(low < 0.0, torch.minimum(t, y / (y - low).clamp(min=tiny)), t)
    return (y + t * (lin - y)).clamp(0.0, 1.0)


def normalize_l(l: torch.Tensor) -> torch.Tensor:
    """L in [0, 100] -> [-1, 1], the generator's input."""
    return l / 50.0 - 1.0


def denormalize_l(l_norm: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> L in [0, 100]."""
    return (l_norm + 1.0) * 50.0


def normalize_ab(ab: torch.Tensor) -> torch.Tensor:
    """ab in Lab units -> the generator's output scale (about [-1, 1])."""
    return ab / AB_SCALE


def denormalize_ab(ab_norm: torch.Tensor) -> torch.Tensor:
    """The generator's output scale -> ab in Lab units."""
    return ab_norm * AB_SCALE


def lab_of_rgb8(rgb: np.ndarray | torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(H, W, 3) uint8 sRGB, as PIL and PyAV give it -> (3, H, W) Lab in `dtype` (float64 for scores
    that sum over many pixels)."""
    pixels = rgb if isinstance(rgb, torch.Tensor) else torch.tensor(np.asarray(rgb))  # a copy: PIL's arrays are read-only
    return rgb_to_lab(pixels.permute(2, 0, 1).to(dtype) / 255.0)


# PIL images <-> lightness. Every Pillow mode a scan can arrive in becomes one float lightness map.

STRIP_PIXELS = 1 << 17  # pixels converted at a time: small enough that temporaries stay in cache


def lightness_to_image(lightness: torch.Tensor) -> Image.Image:
    """(1, H, W) L in [0, 100] -> 8-bit gray PIL image (sRGB-encoded, as a scan of a print is)."""
    gray = l_to_gray(lightness[0]).mul(255.0).add(0.5).clamp(0, 255).to(torch.uint8)
    return Image.fromarray(gray.numpy(), "L")


def gray_of(image: Image.Image, weights: tuple[float, float, float] | None = None) -> Image.Image:
    """A decoded, upright image in black and white (a training crop, a frame): its lightness alone,
    as an 8-bit "L" image of the same size.
    `weights`: the gray an old film records instead (`colorizer.evaluate.emulsion.emulsion_gray`)."""
    return lightness_to_image(lightness_of(image, weights))


def lightness_of(image: Image.Image, weights: tuple[float, float, float] | None = None) -> torch.Tensor:
    """PIL image of any mode -> (1, H, W) float32 L in [0, 100]; colour through `rgb_to_l(weights)`."""
    if image.mode in ("1", "L"):
        return _lut_lightness(np.asarray(image.convert("L")))
    if image.mode.startswith("I") or image.mode == "F":
        gray = np.asarray(image, dtype=np.float32)
        top = 65535.0 if image.mode.startswith("I;16") or gray.max(initial=0) > 255 else 255.0
        if image.mode == "F" and gray.max(initial=0) <= 1.0:
            top = 1.0
        return _in_strips(np.clip(gray / top, 0.0, 1.0)[None], gray_to_l)
    rgb = np.asarray(image.convert("RGB"))  # palette, CMYK, YCbCr, LAB, HSV: Pillow knows them all
    if _is_gray(rgb):
        return _lut_lightness(rgb[..., 0])
    return _in_strips(rgb.transpose(2, 0, 1), lambda x: rgb_to_l(x / 255.0, weights))


def _is_gray(rgb: np.ndarray) -> bool:
    """True when every pixel has R == G == B (a gray photo saved as RGB), checked cheaply."""
    return bool(np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]))


def _lut_lightness(gray: np.ndarray) -> torch.Tensor:
    """8-bit gray (H, W) -> (1, H, W) L via a 256-entry table computed by the colour module."""
    return torch.from_numpy(_gray8_table(torch.device("cpu")).numpy()[gray]).unsqueeze(0)


def gray8_to_l(gray: torch.Tensor) -> torch.Tensor:
    """8-bit gray (uint8, any shape) -> float32 L in [0, 100] of the same shape, on gray's device
    (a film's frames go to the GPU as bytes and become lightness there)."""
    return _gray8_table(gray.device)[gray.long()]


@functools.cache
def _gray8_table(device: torch.device) -> torch.Tensor:
    return gray_to_l(torch.arange(256, dtype=torch.float32) / 255.0).to(device)


def _in_strips(array: np.ndarray, fn) -> torch.Tensor:
    """Apply `fn` ((C, h, W) float tensor -> (1, h, W)) to horizontal strips of (C, H, W) `array`."""
    channels, height, width = array.shape
    out = torch.empty(1, height, width)
    rows = max(1, STRIP_PIXELS // max(width, 1))
    for top in range(0, height, rows):
        strip = torch.from_numpy(np.array(array[:, top : top + rows], dtype=np.float32))
        out[:, top : top + rows] = fn(strip)
    return out
