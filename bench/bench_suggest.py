"""How often the colour suggestions hold the true colour, against the automatic colour alone.

    python -m bench.bench_suggest --images tests/data/holdout
    python -m bench.bench_suggest --images /work/data/photos/unseen --points 10

Each colour photo is turned gray (as `colorizer.evaluate` does); at --points random pixels (placed
by --seed and the file name), `colorizer.suggest` is asked for its colours. A hit: the true colour's
chroma within HIT_AB (Lab ab units) of a suggestion's, each as an 8-bit pixel shows it (Suggestion.ab). Reported:
the share of points where the automatic colour alone (the first suggestion, what colorize paints)
is a hit, and where one of the first 1, 2, 3 and 5 suggestions is. Prints a markdown table.
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
from colorizer.color import gray_of
from colorizer.evaluate.report import readable_images
from colorizer.io.images import is_grayscale
from colorizer.pipelines.colorizer import Colorizer
from colorizer.pipelines.suggest import suggest

HIT_AB = 15.0
TOPS = (1, 2, 3, 5)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=Path, required=True, help="a folder of colour photos")
    p.add_argument("--points", type=int, default=10, help="random points per photo [%(default)s]")
    p.add_argument("--every", type=int, default=1, help="every Nth photo [%(default)s]")
    p.add_argument("--seed", type=int, default=0, help="places the points (with the file name) [%(default)s]")
    args = p.parse_args(argv)
    colorizer = Colorizer.from_pretrained(None)
    hits, photos = [], 0
    for _, name, image in readable_images(args.images, {}, "suggest", False, args.every):
        if is_grayscale(image):
            continue
        photos += 1
        original = np.asarray(image.convert("RGB"))
        gray = gray_of(image.convert("RGB"))  # as colorizer.evaluate turns it gray
        truth = color.lab_of_rgb8(original, torch.float64)[1:].numpy()  # (2, H, W)
        height, width = original.shape[:2]
        rng = point_rng(args.seed, args.points, name)
        for x, y in zip(rng.integers(0, width, args.points), rng.integers(0, height, args.points)):
            found = suggest(gray, float(x), float(y), colorizer, count=max(TOPS))
            near = [np.hypot(s.ab[0] - truth[0, y, x], s.ab[1] - truth[1, y, x]) <= HIT_AB for s in found]
            hits.append([any(near[:top]) for top in TOPS])
    share = np.mean(hits, axis=0)
    print(f"{photos} photos, {len(hits)} points (seed {args.seed}); hit: within {HIT_AB:g} ab of the true colour; "
          f"{colorizer.description}; {platform.processor() or platform.machine()}, {os.cpu_count()} cores\n")
    print("| | share of points with a hit |\n|---|---:|")
    print(f"| the automatic colour alone | {100 * share[0]:.1f} % |")
    for top, value in zip(TOPS[1:], share[1:]):
        print(f"| one of the first {top} suggestions | {100 * value:.1f} % |")


if __name__ == "__main__":
    main()
