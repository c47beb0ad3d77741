"""What one short stroke does to a photo: how much of it moves, and how near its region comes to the colour.

    python -m bench.bench_hint_stroke --images examples tests/data/holdout     # the tuning photos
    python -m bench.bench_hint_stroke --images /work/data/photos/unseen --every 4 --strokes 2

A person who knows one colour paints one short stroke where it is. For each photo (a colour photo
is turned gray first, as `colorizer.evaluate` does; a gray one is used as it is) and each of
--strokes strokes: two points w/20 apart along a row, at a place drawn from --seed and the file
name, in STROKE_COLOUR, spread by `hints.apply_hints` on the model's own colour at the render size,
exactly as `Colorizer.colorize(..., hints=...)` does. Scored against the automatic colour (no hint):

    moved     the share of the photo whose ab moved by more than MOVED_AB (Lab units)
    at        mean ab distance, along the stroke, to the stroke's colour as it can be shown there
    region    the same over the stroke's region: within w/40 of the stroke, with a lightness within
              REGION_L of the stroke's median (what a colourist means by "this thing")

"As it can be shown there": a red of the stroke's chroma cannot be as red on a near-white wall;
each pixel's goal is the stroke's chroma at that pixel's lightness, brought into sRGB as the
output is (colorizer.color.lab_to_rgb8). Prints one row per photo and the mean, a markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

import numpy as np
import torch

from colorizer import color
from colorizer.evaluate.hints import point_rng
from colorizer.evaluate.report import gray_input, readable_images
from colorizer.io.hints import Stroke
from colorizer.io.images import is_grayscale, read_photo
from colorizer.pipelines import hints
from colorizer.pipelines.colorizer import Colorizer
from colorizer.pipelines.photo import join_lightness, resize_lightness
from colorizer.settings import DEFAULT_RENDER_SIZE

STROKE_COLOUR = (0xB0, 0x20, 0x10)  # "#b02010": a brick red, far from what the model paints
MOVED_AB = 10.0  # ab units: a change a person sees
REGION_L = 10.0  # L units: how alike in lightness the stroke's region is to the stroke


def place_stroke(width: int, height: int, rng: np.random.Generator) -> Stroke:
    """Two points w/20 apart on one row, wholly inside the photo."""
    length = max(1, width // 20)
    x, y = int(rng.integers(0, width - length)), int(rng.integers(0, height))
    return Stroke(((float(x), float(y)), (float(x + length), float(y))), STROKE_COLOUR)


def reachable_ab(lightness: np.ndarray, ab: tuple[float, float]) -> np.ndarray:
    """(n,) L -> (2, n) the ab an 8-bit sRGB pixel of that lightness shows for chroma `ab`."""
    lab = torch.stack([torch.from_numpy(lightness), torch.full((len(lightness),), ab[0], dtype=torch.float64),
                       torch.full((len(lightness),), ab[1], dtype=torch.float64)]).float()[:, None, :]  # (3, 1, n)
    rgb8 = color.lab_to_rgb8(lab).permute(1, 2, 0).numpy()  # (1, n, 3)
    return color.lab_of_rgb8(rgb8, torch.float64)[1:, 0].numpy()


def score_stroke(auto: np.ndarray, hinted: np.ndarray, lightness: np.ndarray, stroke: Stroke
                 ) -> tuple[float, float, float]:
    """(moved share, mean ab distance at the stroke, the same over its region) for (H, W, 3) uint8 outputs."""
    auto_ab = color.lab_of_rgb8(auto, torch.float64)[1:].numpy()
    out_ab = color.lab_of_rgb8(hinted, torch.float64)[1:].numpy()
    moved = float((np.hypot(*(out_ab - auto_ab)) > MOVED_AB).mean())
    height, width = lightness.shape
    (x0, y), (x1, _) = stroke.points
    xs = np.arange(int(x0), int(x1) + 1)
    row = int(y)
    goal = hints.hint_ab(stroke.color)
    at = np.hypot(*(out_ab[:, row, xs] - reachable_ab(lightness[row, xs], goal))).mean()
    radius = max(2.0, width / 40)
    yy, xx = np.mgrid[0:height, 0:width]
    near = np.hypot(yy - row, np.maximum(0, np.maximum(x0 - xx, xx - x1))) <= radius
    region = near & (np.abs(lightness - np.median(lightness[row, xs])) <= REGION_L)
    off = np.hypot(*(out_ab[:, region] - reachable_ab(lightness[region], goal)))
    return moved, float(at), float(off.mean())


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", nargs="+", type=Path, required=True, help="folders of photos (colour or gray)")
    p.add_argument("--every", type=int, default=1, help="score every Nth photo of each folder [%(default)s]")
    p.add_argument("--strokes", type=int, default=3, help="strokes per photo, each scored alone [%(default)s]")
    p.add_argument("--seed", type=int, default=0, help="places the strokes (with the file name) [%(default)s]")
    p.add_argument("--render-size", type=int, default=DEFAULT_RENDER_SIZE, help="render size [%(default)s]")
    args = p.parse_args(argv)
    colorizer = Colorizer.from_pretrained(None)
    rows = []
    for root in args.images:
        for _, name, image in readable_images(root, {}, "strokes", False, args.every):
            photo = read_photo(image) if is_grayscale(image) else gray_input(np.asarray(image.convert("RGB")))
            small = resize_lightness(photo.lightness, colorizer.model_shape(*photo.size, args.render_size))
            ab = colorizer.predict_ab_at([small])[0]  # (2, h, w) Lab units, what colorize steers
            auto = join_lightness(photo.lightness, ab)
            lightness = photo.lightness[0].double().numpy()  # (H, W) L in [0, 100]
            rng = point_rng(args.seed, args.strokes, f"{root.name}/{name}")
            scores = []
            for _ in range(args.strokes):
                stroke = place_stroke(*photo.size, rng)
                hinted = join_lightness(photo.lightness, hints.apply_hints(ab, small, [stroke], photo.size))
                scores.append(score_stroke(auto, hinted, lightness, stroke))
            rows.append((f"{root.name}/{name}", *np.mean(scores, axis=0)))
    print(f"{len(rows)} photos, {args.strokes} strokes each (seed {args.seed}), render size {args.render_size}; "
          f"{colorizer.description}; {platform.processor() or platform.machine()}, {os.cpu_count()} cores\n")
    print(f"| photo | moved > {MOVED_AB:g} ab | ab to the colour at the stroke | in its region |\n|---|---:|---:|---:|")
    for name, moved, at, region in rows:
        print(f"| {name} | {100 * moved:.1f} % | {at:.1f} | {region:.1f} |")
    moved, at, region = np.mean([r[1:] for r in rows], axis=0)
    print(f"| **mean** | **{100 * moved:.1f} %** | **{at:.1f}** | **{region:.1f}** |")


if __name__ == "__main__":
    main()
