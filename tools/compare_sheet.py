"""Side-by-side contact sheet of folders that hold the same photos done different ways, e.g. the
black-and-white input, the old default's and the new default's colour, and the original.

    python tools/compare_sheet.py --out docs/old-vs-new.jpg \\
        --column "black and white" gray/ --column "old default" old/ --column "new default" new/

A row per file name (matched by stem, in the first column's order); every column must have it.
The weights that made each folder may need different code versions, so this tool only reads images.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from colorizer.imaging import IMAGE_SUFFIXES
from colorizer.report import contact_sheet, thumbnail


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="image to write (PNG or JPEG)")
    parser.add_argument("--column", nargs=2, action="append", metavar=("LABEL", "FOLDER"), required=True,
                        help="a column: its label and the folder of its images (repeat, left to right)")
    args = parser.parse_args(argv)
    columns = [(label, {p.stem: p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES})
               for label, folder in args.column]
    rows = []
    for stem in sorted(columns[0][1]):
        missing = [label for label, files in columns if stem not in files]
        if missing:
            raise SystemExit(f"{stem}: missing in column(s) {missing}")
        rows.append(tuple(thumbnail(np.asarray(Image.open(files[stem]).convert("RGB"))) for _, files in columns))
    contact_sheet(rows, tuple(label for label, _ in columns)).save(args.out, quality=90)
    print(f"wrote {args.out}: {len(rows)} rows")


if __name__ == "__main__":
    main()
