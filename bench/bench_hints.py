"""What colour hints cost: the hint solve at a render size, against the colorization it steers.

    python -m bench.bench_hints                     # render size 512, best of 5
    python -m bench.bench_hints --render-size 1024 --repeats 3

Times, on one real photo (examples/, its long side scaled to the render size), the best of
--repeats calls after a warm-up: `Colorizer.colorize` without hints, `hints.apply_hints` alone for
1 point, 20 points and a painted patch (regions_from_paint), and the plain Gaussian blend.
The issue's bar: a hint solve adds at most 0.5 s at render size 512 on 2 cores. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.timing import best_of
from colorizer.io.hints import Point, regions_from_paint
from colorizer.io.images import read_photo
from colorizer.pipelines import hints
from colorizer.pipelines.colorizer import Colorizer
from colorizer.pipelines.photo import resize_lightness

PHOTO = Path(__file__).resolve().parents[1] / "examples" / "chelsea.jpg"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--render-size", type=int, default=512, help="render size, long side [%(default)s]")
    p.add_argument("--repeats", type=int, default=5, help="timed calls per row, best kept [%(default)s]")
    args = p.parse_args(argv)
    image = Image.open(PHOTO).convert("L")
    image = image.resize((args.render_size, round(image.height * args.render_size / image.width)))
    colorizer = Colorizer.from_pretrained(None)
    photo = read_photo(image)
    ab = colorizer.predict_ab([photo], args.render_size)[0]  # (2, h, w)
    lightness = resize_lightness(photo.lightness, tuple(ab.shape[-2:]))
    size = image.size
    rng = np.random.default_rng(0)

    def points(n: int) -> list[Point]:
        xs, ys = rng.integers(0, size[0], n), rng.integers(0, size[1], n)
        return [Point(float(x), float(y), (160, 60, 40)) for x, y in zip(xs, ys)]

    paint = Image.new("RGBA", size, (0, 0, 0, 0))
    paint.paste((40, 90, 160, 255), (size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 4 + 24))
    cases = {"1 point": points(1), "20 points": points(20), "painted patch": regions_from_paint(paint, size)}
    rows = [("colorize, no hints", best_of(lambda: colorizer.colorize(image, args.render_size), args.repeats))]
    for name, given in cases.items():
        rows.append((f"apply_hints, {name} ({len(given)} hints)",
                     best_of(lambda: hints.apply_hints(ab, lightness, given, size), args.repeats)))
    rows.append(("gaussian_blend, 20 points",
                 best_of(lambda: hints.gaussian_blend(ab, cases["20 points"], size), args.repeats)))
    rows.append(("colorize, 20 points", best_of(lambda: colorizer.colorize(image, args.render_size,
                                                                           hints=cases["20 points"]), args.repeats)))
    print(f"render size {args.render_size} ({ab.shape[-1]}x{ab.shape[-2]}), best of {args.repeats}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch threads "
          f"{torch.get_num_threads()}\n")
    print("| step | seconds | x colorize |\n|---|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.3f} | {seconds / rows[0][1]:.2f} |")


if __name__ == "__main__":
    main()
