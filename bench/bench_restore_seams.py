"""Seams of the tiled restoration: does the learned step change tone where two tiles meet?

    python -m bench.bench_restore_seams                  # sizes 512 700 1600
    python -m bench.bench_restore_seams --sizes 2400

The learned restoration corrects tone from what its tile shows, so two tiles can disagree. On the
shipped black-and-white example `camera.jpg` (its sky is smooth), scaled to each size, this restores the
lightness with the embedded default (model only: no denoising, whose grain would hide the measure) and
looks at what restoration changed, column by column, in the top sixth: the largest step between
neighbouring columns away from the photo's edges, where it is, and the median step. A seam is a step far
above the median at a tile boundary. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from colorizer.color import lightness_of
from colorizer.pipelines.colorizer import Colorizer
from colorizer.pipelines.restore import RestoreOptions, restore_lightness

PHOTO = Path(__file__).resolve().parents[1] / "examples" / "camera.jpg"
EDGE = 16  # columns at each side left out: the model's own border (its padding), not a seam


def column_steps(size: int, colorizer: Colorizer) -> tuple[float, int, float]:
    """(largest step, its column, median step) of the restoration's change in the sky at `size` px."""
    image = Image.open(PHOTO).convert("L").resize((size, size), Image.Resampling.BICUBIC)
    lightness = lightness_of(image)
    restored = restore_lightness(lightness, colorizer.generator, torch.device("cpu"), RestoreOptions(denoise=False))
    change = (restored - lightness)[0, : size // 6].mean(0).numpy()
    steps = np.abs(np.diff(change))[EDGE : -EDGE]
    return float(steps.max()), int(steps.argmax()) + EDGE + 1, float(np.median(steps))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[512, 700, 1600], help="photo sides, px [%(default)s]")
    args = p.parse_args(argv)
    colorizer = Colorizer.from_pretrained(None, device="cpu")
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {PHOTO.name}, restore tile {RestoreOptions().tile} px\n")
    print("| photo (px) | largest step (L) | at column | median step (L) | largest / median |")
    print("|---:|---:|---:|---:|---:|")
    for size in args.sizes:
        largest, column, median = column_steps(size, colorizer)
        print(f"| {size} | {largest:.2f} | {column} | {median:.3f} | {largest / median:.0f} |")


if __name__ == "__main__":
    main()
