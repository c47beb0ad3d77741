"""Restoration of a photo's lightness: classical clean-up and the learned model, in one place.

    L (1, H, W) in [0, 100], full resolution
      -> auto levels              (classical: a faded print's range stretched back)
      -> scratches + dust removed (classical: detected and inpainted)
      -> the restore generator    (learned: fading, grain, blur, JPEG, scratches and dust, from
         the same damage model as colorizer/degrade.py), run fully convolutionally
      -> non-local means          (classical: the grain that is left)
    -> restored L (1, H, W), same size

The last two run together over overlapping tiles at the photo's own resolution.

By default auto levels and scratch removal stand in for the model when the weights cannot
restore, and step aside when they can (the model was trained on untouched damaged scans);
RestoreOptions turns each step on or off explicitly.

Tiles keep memory bounded by the tile size, not the scan: a 50 MP scan costs what a
512 x 512 crop costs, plus the output. Only the centre of each tile is kept, so no seams show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from colorizer import classical, color
from colorizer.generator import Generator
from colorizer.imaging import image_to_lightness, lightness_to_image
from colorizer.onnx_model import OnnxGenerator


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
    overlap: int = 32  # context each tile sees beyond what it keeps

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
    return image_to_lightness(image)


def in_tiles(lightness: torch.Tensor, step: Callable[[torch.Tensor], torch.Tensor], tile: int = 512,
             overlap: int = 32) -> torch.Tensor:
    """Apply `step` ((1, h, w) L -> (1, h, w) L) over overlapping tiles of (1, H, W) L.

    Each tile sees `overlap` pixels of context on every side where the image has them, and only
    its centre is kept, so local steps show no seams and memory is bounded by the tile.
    """
    _, height, width = lightness.shape
    keep = max(tile - 2 * overlap, 32)
    out = torch.empty_like(lightness)
    for top in range(0, height, keep):
        for left in range(0, width, keep):
            y0, x0 = max(top - overlap, 0), max(left - overlap, 0)
            y1, x1 = min(top + keep + overlap, height), min(left + keep + overlap, width)
            done = step(lightness[:, y0:y1, x0:x1])
            kh, kw = min(keep, height - top), min(keep, width - left)
            out[:, top : top + kh, left : left + kw] = done[:, top - y0 : top - y0 + kh, left - x0 : left - x0 + kw]
    return out


def learned_step(generator: Generator | OnnxGenerator, device: torch.device) -> Callable[[torch.Tensor], torch.Tensor]:
    """(1, h, w) L -> the restore generator's restored L, same shape."""

    @torch.inference_mode()
    def step(lightness: torch.Tensor) -> torch.Tensor:
        restored = generator(color.normalize_l(lightness).unsqueeze(0).to(device))[0, 2:3]
        return color.denormalize_l(restored.float().cpu())

    return step


def denoise_step(lightness: torch.Tensor) -> torch.Tensor:
    """(1, h, w) L -> non-local-means denoised L (its strength follows the noise it measures)."""
    return image_to_lightness(classical.denoise_nlm(lightness_to_image(lightness)))


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
