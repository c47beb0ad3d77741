"""Set a weights folder's chroma gain so that its colour is as vivid as real photos, no more.

Weights trained on targets saturated 1.2x (against brown, averaged colour) overshoot a little. This
finds the gain g at which the mean colourfulness of g x the model's chroma, on colour photos turned
gray, equals the originals' mean colourfulness, and writes it to config.json (`chroma_gain`), which
inference applies. Calibrate on TRAINING photos, never on the photos you evaluate on.

    python tools/calibrate_chroma_gain.py --weights runs/default-gpu/pretrain-g/generator \\
        --images /work/data/photos/train --every 6 --write
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from colorizer.errors import ColorizerError
from colorizer.evaluate import metrics
from colorizer.evaluate.report import gray_input, readable_images
from colorizer.io.files import write_atomically
from colorizer.io.images import is_grayscale
from colorizer.models.generator import MAX_CHROMA_GAIN
from colorizer.models.hub import CONFIG_FILE
from colorizer.pipelines.colorizer import Colorizer
from colorizer.pipelines.photo import join_lightness
from colorizer.settings import DEFAULT_RENDER_SIZE

BISECTION_STEPS = 12  # the gain to within (MAX_CHROMA_GAIN - 0) / 2^12, far finer than one can see
REACH_TOLERANCE = 0.05  # a gain that misses the photos' colourfulness by more than this is reported


def calibrate(colorizer: Colorizer, root: Path, every: int, render_size: int, skipped: dict[str, str]
              ) -> tuple[int, float, float, float, float]:
    """(photos used, gain, originals' mean colourfulness, the model's at gain 1, the model's at that gain) over
    every `every`th colour photo under `root`; unreadable and black-and-white ones go to `skipped`."""
    colorizer.generator.config.chroma_gain = 1.0
    grays, abs_, target = [], [], []
    for _, name, image in readable_images(root, skipped, "colorizing", progress=True, every=every):
        if is_grayscale(image):  # no colour to match: it would only pull the gain towards 0
            skipped[name] = "black-and-white already"
            continue
        original = np.asarray(image.convert("RGB"))
        photo = gray_input(original)
        grays.append(photo)
        abs_.append(colorizer.predict_ab([photo], render_size)[0])
        target.append(metrics.colorfulness(original))

    def mean_cf(gain: float) -> float:
        return float(np.mean([metrics.colorfulness(join_lightness(p.lightness, ab * gain))
                              for p, ab in zip(grays, abs_)]))

    if not target:
        raise ColorizerError("no colour photo among them could be read" if skipped else f"no images in {root}")
    # Colourfulness grows with the gain (monotone up to gamut clipping): bisect for the target.
    wanted, low, high = float(np.mean(target)), 0.0, MAX_CHROMA_GAIN
    for _ in tqdm(range(BISECTION_STEPS), desc="bisecting", unit="step"):
        middle = (low + high) / 2
        low, high = (middle, high) if mean_cf(middle) < wanted else (low, middle)
    gain = round((low + high) / 2, 3)
    return len(target), gain, wanted, mean_cf(1.0), mean_cf(gain)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, required=True, help="weights folder (config.json + model.safetensors)")
    parser.add_argument("--images", type=Path, required=True, help="folder of colour TRAINING photos")
    parser.add_argument("--every", type=int, default=1, help="use every Nth photo (sorted by name) [1]")
    parser.add_argument("--render-size", type=int, default=DEFAULT_RENDER_SIZE,
                        help=f"render size to calibrate at: the one users get [{DEFAULT_RENDER_SIZE}]")
    parser.add_argument("--write", action="store_true", help="write the gain into the folder's config.json")
    args = parser.parse_args(argv)
    if args.write and not (args.weights / CONFIG_FILE).is_file():
        raise SystemExit(f"error: --write needs a local weights folder with a {CONFIG_FILE}; {args.weights} has none")
    try:
        colorizer = Colorizer.from_pretrained(str(args.weights), device="cpu", backend="pytorch")  # its gain is set here
        if colorizer.weights.fallback_reason:  # calibrating other weights than asked for would mislead
            raise ColorizerError(colorizer.weights.fallback_reason)
        skipped: dict[str, str] = {}
        try:
            used, gain, wanted, at_one, reached = calibrate(colorizer, args.images, args.every, args.render_size,
                                                            skipped)
        finally:
            for name, reason in skipped.items():
                print(f"skipped {name}: {reason}", file=sys.stderr)
    except ColorizerError as err:
        raise SystemExit(f"error: {err}") from None
    print(f"{used} photos: originals' colourfulness {wanted:.1f}, the model's at gain 1 {at_one:.1f}; "
          f"chroma_gain {gain} gives {reached:.1f}")
    if abs(reached - wanted) > REACH_TOLERANCE * wanted:
        print(f"warning: no gain in (0, {MAX_CHROMA_GAIN}] matches; this model's colour is far from these photos'",
              file=sys.stderr)
    if args.write:
        if gain <= 0:
            raise SystemExit(f"error: chroma_gain {gain} is no gain (these photos have no colour to match): "
                             "not written")
        path = args.weights / CONFIG_FILE
        config = json.loads(path.read_text())
        config["chroma_gain"] = gain
        write_atomically(path, lambda fh: fh.write((json.dumps(config, indent=2) + "\n").encode()))
        print(f"wrote chroma_gain {gain} to {path}")


if __name__ == "__main__":
    main()
