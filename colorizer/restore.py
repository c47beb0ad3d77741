"""Restoration of a photo's lightness: classical clean-up and the learned model, in one place.

    L (1, H, W) in [0, 100], full resolution
      -> auto levels              (classical: a faded print's range stretched back)
      -> scratches + dust removed (classical: detected and inpainted)
      -> the restore generator    (learned: fading, grain, blur, JPEG, scratches and dust, from
         the same damage model as colorizer/degrade.py), run fully convolutionally over
         overlapping tiles at the photo's own resolution
    -> restored L (1, H, W), same size

By default the classical steps stand in for the model when the weights cannot restore, and
step aside when they can (the model was trained on untouched damaged scans); RestoreOptions
turns each step on or off explicitly.

Tiles keep memory bounded by the tile size, not the scan: a 50 MP scan costs what a
512 x 512 crop costs, plus the output. Only the centre of each tile is kept, so no seams show.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from colorizer import classical, color
from colorizer.generator import Generator
from colorizer.imaging import image_to_lightness, lightness_to_image


@dataclass
class RestoreOptions:
    """Which restoration steps run. None means "automatic": the classical steps run when the
    weights cannot restore; weights trained to restore learned fading, scratches and dust from
    the same damage model, so they get the untouched scan they were trained on."""

    auto_levels: bool | None = None
    remove_scratches: bool | None = None
    learned: bool = True  # used only when the generator was trained to restore (config.restore)
    tile: int = 512  # pixels per tile side for the learned step
    overlap: int = 32  # context each tile sees beyond what it keeps

    def resolved(self, can_restore: bool) -> "RestoreOptions":
        """These options with every "automatic" choice made for weights that can (not) restore."""
        learned = self.learned and can_restore
        classical = not learned
        return RestoreOptions(
            auto_levels=classical if self.auto_levels is None else self.auto_levels,
            remove_scratches=classical if self.remove_scratches is None else self.remove_scratches,
            learned=learned, tile=self.tile, overlap=self.overlap,
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


@torch.inference_mode()
def learned_lightness(lightness: torch.Tensor, generator: Generator, device: torch.device,
                      tile: int = 512, overlap: int = 32) -> torch.Tensor:
    """Run a restore generator over (1, H, W) L in tiles; returns its restored L, same shape."""
    _, height, width = lightness.shape
    keep = max(tile - 2 * overlap, 32)
    out = torch.empty_like(lightness)
    for top in range(0, height, keep):
        for left in range(0, width, keep):
            # the tile: what we keep, plus `overlap` of context on each side where the image has it
            y0, x0 = max(top - overlap, 0), max(left - overlap, 0)
            y1, x1 = min(top + keep + overlap, height), min(left + keep + overlap, width)
            crop = color.normalize_l(lightness[:, y0:y1, x0:x1]).unsqueeze(0).to(device)
            restored = color.denormalize_l(generator(crop)[0, 2:3].float().cpu())
            kh, kw = min(keep, height - top), min(keep, width - left)
            out[:, top : top + kh, left : left + kw] = restored[:, top - y0 : top - y0 + kh, left - x0 : left - x0 + kw]
    return out


def restore_lightness(lightness: torch.Tensor, generator: Generator, device: torch.device,
                      options: RestoreOptions | None = None) -> torch.Tensor:
    """The whole restoration of (1, H, W) L: classical steps, then the model if it can restore."""
    options = (options or RestoreOptions()).resolved(generator.config.restore)
    lightness = classical_cleanup(lightness, options)
    if options.learned:
        lightness = learned_lightness(lightness, generator, device, options.tile, options.overlap)
    return lightness
