"""The README's picture of one colour hint: automatic colour | the stroke | with the stroke.

    python tools/hint_stroke_sheet.py --out docs/hint-stroke.jpg

One short stroke of one colour on an example photo (the coffee's saucer, in blue): what the model
paints alone, the stroke drawn where it was given, and the result, in which the saucer takes the colour
and the rest of the photo keeps the automatic one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

from colorizer.errors import ColorizerError
from colorizer.io.files import image_format, save_image
from colorizer.io.hints import Stroke
from colorizer.pipelines.colorizer import Colorizer

PHOTO = Path(__file__).resolve().parents[1] / "examples" / "coffee.jpg"
WIDTH, GAP, LABEL = 300, 4, 16  # pixels: each picture's width, between them, the labels' row
STROKE = Stroke(((100.0, 250.0), (130.0, 290.0)), (46, 94, 140))  # on the saucer's rim, left of the cup


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="image to write (.jpg or .png)")
    args = parser.parse_args(argv)
    try:
        image_format(args.out)
        colorizer = Colorizer.from_pretrained(None, device="cpu")
        automatic, hinted = (colorizer.colorize(PHOTO, hints=h) for h in (None, [STROKE]))
        shown = automatic.copy()
        ImageDraw.Draw(shown).line(STROKE.points, fill=STROKE.color, width=8)
        labels = ("automatic", "one stroke", "with the stroke")
        sheet = Image.new("RGB", (3 * WIDTH + 2 * GAP, round(WIDTH * automatic.height / automatic.width) + LABEL), "white")
        for i, (label, image) in enumerate(zip(labels, (automatic, shown, hinted))):
            small = image.resize((WIDTH, sheet.height - LABEL), Image.Resampling.LANCZOS)
            sheet.paste(small, (i * (WIDTH + GAP), LABEL))
            ImageDraw.Draw(sheet).text((i * (WIDTH + GAP) + 4, 3), label, fill="black")
        save_image(sheet, args.out)
    except ColorizerError as err:
        raise SystemExit(str(err)) from None


if __name__ == "__main__":
    main()
