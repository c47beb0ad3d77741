"""What a colour reference costs: colorize with references against colorize alone, at a render size.

    python -m bench.bench_reference                     # render size 384 (the default), best of 3
    python -m bench.bench_reference --render-size 512 --repeats 5
    python -m bench.bench_reference --film              # also a film with one colour still per shot
    python -m bench.bench_reference --threads 1         # one thread: steadier on a machine shared with other work

Times, on scikit-image's astronaut (the reference protocol's views of it: colorizer.evaluate.reference),
the best of --repeats rounds (the cases take turns; each timed after a warm-up): `Colorizer.colorize` without a reference, with its matching
reference, with four references, and with one 50-megapixel reference (read at render size, it should
cost what a small one does). The bar: one reference adds at most 0.5x the automatic time (1.5x in all)
at the default render size on a CPU. Prints a markdown table.

--film: tools/test_film.py's film (still shot, pan, hard cut, still shot; grain) at 426x240, colorized
automatically and with one colour still per shot given as a set (each a zoomed, shifted crop of its
shot's photo, in the opposite order), each with the default temporal filter and frame by frame:
PSNR against the clean colour frames, and flicker (tools.test_film.flicker: frame-to-frame ab change
on aligned pixels, 8x8 block means, Lab units) over the still shot and the pan.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
from pathlib import Path

import numpy as np

import skimage.data
import torch
from PIL import Image

from bench.timing import best_of
from colorizer import color
from colorizer.evaluate import metrics
from colorizer.evaluate.reference import views
from colorizer.pipelines.colorizer import Colorizer
from colorizer.pipelines.film import TemporalOptions
from colorizer.settings import DEFAULT_RENDER_SIZE
from tools.test_film import FilmScript, ab_of, default_photos, flicker, frames_of, write_film

PER_SHOT = 8  # frames of each of the film's three shots


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--render-size", type=int, default=DEFAULT_RENDER_SIZE, help="render size, long side [%(default)s]")
    p.add_argument("--repeats", type=int, default=3, help="rounds of timed calls, best kept [%(default)s]")
    p.add_argument("--film", action="store_true", help="also measure a film's colour and flicker with references")
    p.add_argument("--threads", type=int, default=torch.get_num_threads(),
                   help="PyTorch and ONNX Runtime intra-op threads [%(default)s]")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)  # before loading: the ONNX session takes as many
    target, reference = views(Image.fromarray(skimage.data.astronaut()))
    gray = color.gray_of(target)
    others = [Image.fromarray(getattr(skimage.data, name)()) for name in ("coffee", "chelsea", "rocket")]
    huge = reference.resize((8660, 5780), Image.Resampling.BILINEAR)  # 50 megapixels
    colorizer = Colorizer.from_pretrained(None, device="cpu")
    cases = {"no reference": None, "1 reference": reference, "4 references": [reference, *others],
             "1 reference of 50 MP": huge}
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(args.repeats):  # the cases take turns, so a busy moment on a shared machine hits them alike
        for name, given in cases.items():
            seconds = best_of(lambda: colorizer.colorize(gray, args.render_size, reference=given,
                                                         max_pixels=60_000_000), 1)
            best[name] = min(best[name], seconds)
    rows = list(best.items())
    print(f"render size {args.render_size}, {gray.width}x{gray.height} photo, best of {args.repeats}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch threads "
          f"{torch.get_num_threads()}\n")
    print("| colorize | seconds | x automatic |\n|---|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.3f} | {seconds / rows[0][1]:.2f} |")
    if args.film:
        film(colorizer, args.render_size)


def film(colorizer: Colorizer, render_size: int) -> None:
    """The film table (module docstring)."""
    script = FilmScript.from_photos(*default_photos(), 426, 240, still=PER_SHOT, pan=PER_SHOT, after_cut=PER_SHOT)
    stills = []
    for photo in (script.second, script.first):  # one still per shot, zoomed in and shifted
        width, height = photo.size
        box = (width // 8, height // 6, width - width // 16, height - height // 12)
        stills.append(photo.crop(box).resize((round((box[2] - box[0]) * 1.25), round((box[3] - box[1]) * 1.25))))
    clean = [script.clean(t) for t in range(script.frames)]
    moving = range(1, script.cut)
    print(f"\n## Film: 426x240, {script.frames} frames (still, pan, cut at frame {script.cut}, still), "
          f"render size {render_size}; flicker over the still shot and the pan, 8x8 blocks\n")
    print("| colour | temporal filter | PSNR (dB) | flicker (Lab) |\n|---|---|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "film.mp4"
        write_film(path, script, audio=False)
        for name, reference in (("automatic", None), ("2 stills as references", stills)):
            for way, temporal in (("default", None), ("each frame alone", TemporalOptions(memory=0.0, stride=1))):
                out = Path(folder) / "out.mp4"
                colorizer.colorize_video(path, out, render_size, crf=12, temporal=temporal, reference=reference)
                rgbs = frames_of(out)
                psnr = np.mean([metrics.psnr(rgb, ref) for rgb, ref in zip(rgbs, clean)])
                print(f"| {name} | {way} | {psnr:.2f} | {flicker([ab_of(x) for x in rgbs], script, moving, 8):.2f} |")


if __name__ == "__main__":
    main()
