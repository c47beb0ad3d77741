"""Colour-rarity rebalancing of the pixel loss (Zhang, Isola and Efros 2016, section 2.2).

Most pixels of most photos are dull: sky, earth, walls, skin. A loss that counts every pixel alike is
lowest, where the model is unsure, at the dull average of the colours a thing could have: brown. Zhang
et al. weigh each pixel by how rare its true colour is: the inverse of the smoothed empirical
distribution of ab over the training photos, mixed with a uniform one so the rarest colours do not
take over, normalised so the weights average 1 over that smoothed distribution.

    histogram over ab in BIN-unit cells -> Gaussian smoothing -> p
    w = 1 / ((1 - mix) * p + mix / Q)   (Q: cells any photo reached)   w /= sum(p * w)

The prior is measured once at the start of a run from photos of the run's own data stream, decoded
small; the same photos every time for the same seed, so a resumed run weighs exactly as before.
"""

from __future__ import annotations

import itertools
import logging
import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from colorizer import color
from colorizer.io.images import GRAY_TOLERANCE, is_grayscale

log = logging.getLogger(__name__)

BIN = 10.0  # ab units per histogram cell (Zhang et al.'s grid)
CELLS = int(2 * color.AB_SCALE / BIN)  # cells per axis over [-AB_SCALE, AB_SCALE]
SIGMA = 5.0  # ab units of the Gaussian that smooths the histogram
PRIOR_SIDE = 64  # photos are measured at this short side
PRIOR_PHOTOS = 256  # colour photos from the start of the stream the prior is measured on: seconds, and stable


def ab_histogram(photos: list[Image.Image]) -> torch.Tensor:
    """(CELLS, CELLS) counts of the ab of every pixel of `photos` (RGB), rows a, columns b."""
    counts = torch.zeros(CELLS * CELLS, dtype=torch.float64)
    for photo in photos:
        ab = color.lab_of_rgb8(np.asarray(photo.convert("RGB")))[1:].reshape(2, -1).T  # (N, 2)
        counts += torch.bincount(_cell(color.normalize_ab(ab)), minlength=CELLS * CELLS).double()
    return counts.view(CELLS, CELLS)


def _cell(ab_norm: torch.Tensor) -> torch.Tensor:
    """(..., 2) normalised ab -> (...) flat cell index."""
    index = ((ab_norm.float() + 1.0) * (CELLS / 2.0)).long().clamp(0, CELLS - 1)
    return index[..., 0] * CELLS + index[..., 1]


def smoothed_prior(counts: torch.Tensor) -> torch.Tensor:
    """(CELLS, CELLS) counts -> the Gaussian-smoothed distribution over the cells (float64, sums to 1)."""
    if counts.sum() <= 0:
        raise ValueError("no colour pixel to measure the ab prior on")
    radius = math.ceil(3 * SIGMA / BIN)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64) * BIN
    kernel = torch.exp(-(x**2) / (2 * SIGMA**2))
    kernel = (kernel[:, None] * kernel[None, :]) / kernel.sum() ** 2
    smooth = F.conv2d(counts.double()[None, None], kernel[None, None], padding=radius)[0, 0]
    return smooth / smooth.sum()


def weights_from_histogram(counts: torch.Tensor, mix: float) -> torch.Tensor:
    """Zhang et al.'s rebalancing weights per cell, (CELLS, CELLS) float32, mean 1 under the smoothed prior."""
    if not 0.0 < mix <= 1.0:
        raise ValueError("the uniform mix must be in (0, 1]")
    prior = smoothed_prior(counts)
    reached = counts > 0
    weights = 1.0 / ((1.0 - mix) * prior + mix / int(reached.sum()))
    weights = weights / (prior * weights).sum()
    return weights.float()


def measure_prior(records, decode, count: int, mix: float) -> torch.Tensor:
    """Rebalancing weights from the first `count` colour photos of `records` (undecoded image records),
    each decoded with `decode(record, min_short_side)` at PRIOR_SIDE; unreadable and gray ones skipped."""
    photos = []
    for record in itertools.islice(records, 4 * count):
        try:
            photo = decode(record, PRIOR_SIDE).convert("RGB")
        except Exception:  # counted and reported by the data stream itself when training meets it
            continue
        if is_grayscale(photo, GRAY_TOLERANCE):
            continue
        scale = PRIOR_SIDE / max(min(photo.size), 1)
        if scale < 1:
            photo = photo.resize((max(1, round(photo.width * scale)), max(1, round(photo.height * scale))),
                                 Image.Resampling.BILINEAR)
        photos.append(photo)
        if len(photos) == count:
            break
    weights = weights_from_histogram(ab_histogram(photos), mix)
    log.info("colour-rarity weights from %d photos: %.2f to %.1f (mix with uniform %.2f)", len(photos),
             float(weights[weights > 0].min()), float(weights.max()), mix)
    return weights


def pixel_weights(table: torch.Tensor, target_ab: torch.Tensor) -> torch.Tensor:
    """(B, 2, H, W) normalised true ab -> (B, 1, H, W) each pixel's weight from `table` (CELLS, CELLS)."""
    cells = _cell(target_ab.permute(0, 2, 3, 1))
    return table.to(target_ab.device).flatten()[cells].unsqueeze(1)
