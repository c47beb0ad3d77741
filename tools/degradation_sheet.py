"""Draw a contact sheet of the damage model, so a person can judge it against real old prints.

    python -m tools.degradation_sheet --out docs/degradations.png

One row per photo: the clean gray photo (the eye's lightness), the gray each old emulsion would have
recorded (`colorizer.evaluate.emulsion`; training draws jittered ones with --degrade-emulsion-p), samples of `degrade`
(what the model sees) and samples of `degrade_rgb` (the same damage as a toned print), all with the
default config.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image, ImageDraw

from colorizer.color import gray_of
from colorizer.evaluate.degrade import DegradeConfig, degrade, degrade_rgb
from colorizer.evaluate.emulsion import EMULSIONS, emulsion_gray

PHOTOS_DIR = Path(skimage.data.__file__).parent
DEFAULT_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "camera.png")
HEADER = 24  # pixels for the column titles


def square(image: Image.Image, size: int) -> Image.Image:
    """Scale the short side to `size` and crop the centre."""
    scale = size / min(image.size)
    image = image.resize((max(size, round(image.width * scale)), max(size, round(image.height * scale))))
    left, top = (image.width - size) // 2, (image.height - size) // 2
    return image.crop((left, top, left + size, top + size))


def row(photo: Image.Image, gray_samples: int, rgb_samples: int, rng: np.random.Generator) -> list[Image.Image]:
    config = DegradeConfig()
    gray = gray_of(photo)
    tiles = [gray.convert("RGB")]
    tiles += [emulsion_gray(photo, weights).convert("RGB") for weights in EMULSIONS.values()]
    tiles += [degrade(gray, config, rng).convert("RGB") for _ in range(gray_samples)]
    tiles += [degrade_rgb(photo, config, rng) for _ in range(rgb_samples)]
    return tiles


def main(args: argparse.Namespace) -> None:
    rng = np.random.default_rng(args.seed)
    rows = [row(square(Image.open(PHOTOS_DIR / name).convert("RGB"), args.size), args.gray, args.rgb, rng)
            for name in args.photos]
    columns = 1 + len(EMULSIONS) + args.gray + args.rgb
    sheet = Image.new("RGB", (columns * args.size, HEADER + len(rows) * args.size), "white")
    draw = ImageDraw.Draw(sheet)
    titles = ["clean", *EMULSIONS] + ["degrade"] * args.gray + ["degrade_rgb"] * args.rgb
    for c, title in enumerate(titles):
        draw.text((c * args.size + 6, 6), title, fill="black")
    for r, tiles in enumerate(rows):
        for c, tile in enumerate(tiles):
            sheet.paste(tile, (c * args.size, HEADER + r * args.size))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"wrote {args.out} ({sheet.width}x{sheet.height})")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("docs/degradations.png"), help="where to write the PNG")
    parser.add_argument("--photos", nargs="+", default=list(DEFAULT_PHOTOS),
                        help=f"file names in {PHOTOS_DIR}")
    parser.add_argument("--size", type=int, default=192, help="side of each square tile, in pixels")
    parser.add_argument("--gray", type=int, default=3, help="degrade() samples per photo")
    parser.add_argument("--rgb", type=int, default=2, help="degrade_rgb() samples per photo")
    parser.add_argument("--seed", type=int, default=0, help="seed of the one generator all samples draw from")
    return parser.parse_args()


if __name__ == "__main__":
    main(parse_args())
