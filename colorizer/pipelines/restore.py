"""Restoration of a photo's lightness: classical clean-up and the learned model, in one place.

    L (1, H, W) in [0, 100], full resolution
      -> auto levels              (classical: a faded print's range stretched back)
      -> scratches + dust removed (classical: detected and inpainted)
      -> the restore generator    (learned: fading, grain, blur, JPEG, scratches and dust, from
         the same damage model as colorizer/evaluate/degrade.py), run fully convolutionally
      -> non-local means          (classical: the grain that is left)
    -> restored L (1, H, W), same size

The last two run together over overlapping tiles at the photo's own resolution.

By default auto levels and scratch removal stand in for the model when the weights cannot
restore, and step aside when they can (the model was trained on untouched damaged scans);
RestoreOptions turns each step on or off explicitly.

Tiles keep memory bounded by the tile size, not the scan: a 50 MP scan costs what a
512 x 512 crop costs, plus the output. Neighbouring tiles cross-fade, so no seams show.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from colorizer import color
from colorizer.color import lightness_of, lightness_to_image
from colorizer.models.generator import Generator
from colorizer.models.onnx_model import OnnxGenerator
from colorizer.pipelines import classical


@dataclass
class RestoreOptions:
    """Which restoration steps run. None means "automatic": auto levels and scratch removal run
    when the weights cannot restore (weights trained to restore learned fading, scratches and
    dust from the same damage model, so they get the untouched scan they were trained on);
    denoising always runs, after the model, where it removes the grain the model left."""

    auto_levels: bool | None = None
    remove_scratches: bool | None = None
    learned: bool = True  # used only when the generator was trained to restore (config.restore)
    denoise: bool = True  # non-local means, tile by tile, as the last step
    tile: int = 512  # pixels per tile side for the tiled steps (model, denoising)
    overlap: int = 32  # neighbouring tiles share at least twice this, and cross-fade over it

    def resolved(self, can_restore: bool) -> "RestoreOptions":
        """These options with every "automatic" choice made for weights that can (not) restore."""
        learned = self.learned and can_restore
        classical = not learned
        return RestoreOptions(
            auto_levels=classical if self.auto_levels is None else self.auto_levels,
            remove_scratches=classical if self.remove_scratches is None else self.remove_scratches,
            learned=learned, denoise=self.denoise, tile=self.tile, overlap=self.overlap,
        )


def classical_cleanup(lightness: torch.Tensor, options: RestoreOptions) -> torch.Tensor:
    """Auto levels, then scratch and dust removal; (1, H, W) L -> (1, H, W) L."""
    if not (options.auto_levels or options.remove_scratches):
        return lightness
    image = lightness_to_image(lightness)
    if options.auto_levels:
        image = classical.auto_levels(image)
    if options.remove_scratches:
        image = classical.inpaint(image, classical.detect_scratches(image))
    return lightness_of(image)


def tile_spans(length: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """(start, end) of the tiles along one side of `length` pixels: one tile where it fits; else tiles of
    `tile` pixels spread evenly from edge to edge, neighbours sharing at least 2 x overlap pixels.

    Equal tiles, not a remainder strip: the learned step corrects tone from what a tile shows, and a
    thin strip at the edge saw too little (a visible step in a smooth sky)."""
    if tile <= 2 * overlap:
        raise ValueError(f"a tile ({tile} px) must be wider than twice its overlap ({overlap} px)")
    if length <= tile:
        return [(0, length)]
    count = math.ceil((length - tile) / (tile - 2 * overlap)) + 1
    return [(start, start + tile) for start in (round(i * (length - tile) / (count - 1)) for i in range(count))]


def blend_weights(start: int, end: int, length: int, overlap: int) -> torch.Tensor:
    """Weights along one side of the tile [start, end): 1 inside; towards a side another tile shares, 0
    over the outer overlap / 2 pixels (too little context) and rising linearly over the next ones, so
    neighbours cross-fade instead of meeting at a seam."""
    distance = torch.arange(end - start, dtype=torch.float32)
    inner = torch.full_like(distance, float("inf"))
    if start > 0:
        inner = torch.minimum(inner, distance)
    if end < length:
        inner = torch.minimum(inner, distance.flip(0))
    margin = overlap // 2
    return ((inner - margin + 1) / max(overlap - margin, 1)).clamp(0.0, 1.0)


def in_tiles(lightness: torch.Tensor, step: Callable[[torch.Tensor], torch.Tensor], tile: int = 512,
             overlap: int = 32) -> torch.Tensor:
    """Apply `step` ((1, h, w) L -> (1, h, w) L) over overlapping tiles of (1, H, W) L.

    A photo that fits in one tile is done whole. Otherwise neighbouring tiles share at least
    2 x overlap pixels and cross-fade over them, each ignoring its outer overlap / 2: a local step
    shows no seams, a step that sets tone from what its tile shows (the learned one) changes tone
    gradually instead of at a seam, and memory is bounded by the tile.
    """
    _, height, width = lightness.shape
    rows = [(a, b, blend_weights(a, b, height, overlap)) for a, b in tile_spans(height, tile, overlap)]
    cols = [(a, b, blend_weights(a, b, width, overlap)) for a, b in tile_spans(width, tile, overlap)]
    out = torch.zeros_like(lightness)
    for y0, y1, row_weights in rows:
        for x0, x1, col_weights in cols:
            out[:, y0:y1, x0:x1] += row_weights[:, None] * col_weights[None, :] * step(lightness[:, y0:y1, x0:x1])
    # A tile's weight is a row factor times a column factor, so the weights' sum is too: divide by the
    # two sums in place rather than keep a photo-sized map of weights.
    out /= _summed(rows, height)[:, None]
    out /= _summed(cols, width)[None, :]
    return out


def _summed(spans: list[tuple[int, int, torch.Tensor]], length: int) -> torch.Tensor:
    """The blend weights of tiles along one side, added up per pixel."""
    total = torch.zeros(length)
    for start, end, weights in spans:
        total[start:end] += weights
    return total


def learned_step(generator: Generator | OnnxGenerator, device: torch.device) -> Callable[[torch.Tensor], torch.Tensor]:
    """(1, h, w) L -> the restore generator's restored L, same shape."""

    @torch.inference_mode()
    def step(lightness: torch.Tensor) -> torch.Tensor:
        restored = generator(color.normalize_l(lightness).unsqueeze(0).to(device))[0, 2:3]
        return color.denormalize_l(restored.float().cpu())

    return step


def denoise_step(lightness: torch.Tensor) -> torch.Tensor:
    """(1, h, w) L -> non-local-means denoised L (its strength follows the noise it measures)."""
    return lightness_of(classical.denoise_nlm(lightness_to_image(lightness)))


def restore_lightness(lightness: torch.Tensor, generator: Generator | OnnxGenerator, device: torch.device,
                      options: RestoreOptions | None = None) -> torch.Tensor:
    """The whole restoration of (1, H, W) L: classical clean-up, the model if it can restore, denoising."""
    options = (options or RestoreOptions()).resolved(generator.config.restore)
    lightness = classical_cleanup(lightness, options)
    steps = ([learned_step(generator, device)] if options.learned else []) + ([denoise_step] if options.denoise else [])
    if not steps:
        return lightness

    def all_steps(tile: torch.Tensor) -> torch.Tensor:
        for step in steps:
            tile = step(tile)
        return tile

    return in_tiles(lightness, all_steps, options.tile, options.overlap)


def describe_steps(options: RestoreOptions) -> str:
    """The steps `restore_lightness` runs with resolved `options`, in order, for people (reports)."""
    steps = [name for name, on in (("auto levels", options.auto_levels), ("scratch removal", options.remove_scratches),
                                   ("the learned model", options.learned), ("non-local means", options.denoise)) if on]
    return ", then ".join(steps) or "nothing"
