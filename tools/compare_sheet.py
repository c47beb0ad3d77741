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

from colorizer.errors import ColorizerError
from colorizer.evaluate.report import contact_sheet, thumbnail
from colorizer.io.files import image_format, save_image
from colorizer.io.images import IMAGE_SUFFIXES, open_image


def images_in(label: str, folder: Path) -> dict[str, Path]:
    """A column's images by stem; SystemExit naming the column when its folder is unusable."""
    if not folder.is_dir():
        raise SystemExit(f"column {label!r}: {folder} is not a folder")
    return {p.stem: p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="image to write (PNG or JPEG)")
    parser.add_argument("--column", nargs=2, action="append", metavar=("LABEL", "FOLDER"), required=True,
                        help="a column: its label and the folder of its images (repeat, left to right)")
    args = parser.parse_args(argv)
    try:
        fmt = image_format(args.out)  # an unknown extension is refused before any image is read
        columns = [(label, images_in(label, Path(folder))) for label, folder in args.column]
        if not columns[0][1]:
            raise SystemExit(f"column {columns[0][0]!r}: no images in {args.column[0][1]}")
        rows = []
        for stem in sorted(columns[0][1]):
            missing = [label for label, files in columns if stem not in files]
            if missing:
                raise SystemExit(f"{stem}: missing in column(s) {missing}")
            rows.append(tuple(thumbnail(np.asarray(open_image(files[stem]).convert("RGB"))) for _, files in columns))
        save_image(contact_sheet(rows, tuple(label for label, _ in columns)), args.out,
                   **({"quality": 90} if fmt == "JPEG" else {}))
    except ColorizerError as err:  # an unreadable image, a bad extension: one line, nothing written
        raise SystemExit(str(err)) from None
    print(f"wrote {args.out}: {len(rows)} rows")


if __name__ == "__main__":
    main()
