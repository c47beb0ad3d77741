"""Contact sheet of the shipped example photos colorized (and restored) with given weights.

    python tools/examples_sheet.py --out docs/examples-colorized.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from colorizer.imaging import gray_image
from colorizer.pipeline import Colorizer
from colorizer.report import contact_sheet, thumbnail

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--weights", default=None, help="weights (default: the embedded ones)")
    parser.add_argument("--render-size", type=int, default=512, help="render size")
    args = parser.parse_args()
    colorizer = Colorizer.from_pretrained(args.weights, device="cpu")
    rows = []
    for path in sorted(EXAMPLES.glob("*.jpg")):
        results = (gray_image(path), colorizer.colorize(path, args.render_size),
                   colorizer.colorize(path, args.render_size, restore=True))
        rows.append(tuple(thumbnail(np.asarray(image)) for image in results))
    contact_sheet(rows, ("black and white", "colorized", "restored + colorized")).save(args.out)
    print(f"wrote {args.out} ({colorizer.description})")


if __name__ == "__main__":
    main()
