"""Contact sheet of the shipped example photos colorized (and restored) with given weights.

    python tools/examples_sheet.py --out docs/examples-colorized.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from colorizer.errors import ColorizerError
from colorizer.evaluate.report import contact_sheet, thumbnail
from colorizer.io.files import image_format, save_image
from colorizer.io.images import gray_image
from colorizer.pipelines.colorizer import Colorizer
from colorizer.settings import DEFAULT_RENDER_SIZE

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--weights", default=None, help="weights (default: the embedded ones)")
    parser.add_argument("--render-size", type=int, default=DEFAULT_RENDER_SIZE,
                        help="long side at which the model sees each photo [%(default)s]")
    args = parser.parse_args(argv)
    try:
        image_format(args.out)  # an unknown extension is refused before the model runs
        colorizer = Colorizer.from_pretrained(args.weights, device="cpu")
        rows = []
        for path in sorted(EXAMPLES.glob("*.jpg")):
            results = (gray_image(path), colorizer.colorize(path, args.render_size),
                       colorizer.colorize(path, args.render_size, restore=True))
            rows.append(tuple(thumbnail(np.asarray(image)) for image in results))
        save_image(contact_sheet(rows, ("black and white", "colorized", "restored + colorized")), args.out)
    except ColorizerError as err:  # missing or damaged weights, a bad render size or extension: one line
        raise SystemExit(str(err)) from None
    print(f"wrote {args.out} ({colorizer.description})")


if __name__ == "__main__":
    main()
