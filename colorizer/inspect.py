"""Print what image files say about themselves: colorizer provenance, kept EXIF, C2PA manifest.

    python -m colorizer.inspect colorized/photo.png
    python -m colorizer.inspect --json colorized/*.jpg

Exit status: 0 when every file carries colorizer provenance, 1 when one does not, 2 when one
cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from PIL import ExifTags, Image, UnidentifiedImageError

from colorizer.io import provenance

LABELS = {  # how each provenance field is named for people
    "digital_source_type": "digital source type",
    "tool": "tool",
    "version": "version",
    "weights": "weights",
    "weights_sha256": "weights sha256",
    "render_size": "render size",
    "strength": "strength",
    "restored": "restored",
    "hints": "colour hints",
    "created": "colorized at",
    "original_taken": "original taken",
    "original_camera": "original camera",
    "c2pa_manifest": "C2PA manifest",
}


def describe(path: Path) -> dict[str, str] | None:
    """Everything the file says about itself (keys: Provenance.as_dict's, then original_taken,
    original_camera, c2pa_manifest when known); None when it has no colorizer provenance.
    Raises OSError / UnidentifiedImageError when it cannot be read."""
    taken, camera = None, ""
    try:
        with Image.open(path) as image:
            facts = provenance.read(image)
            exif = image.getexif()
            taken = exif.get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.DateTimeOriginal)
            camera = " ".join(str(exif[t]).strip() for t in (ExifTags.Base.Make, ExifTags.Base.Model) if t in exif)
    except UnidentifiedImageError:  # a film says it in its container tags, or the file is unreadable
        facts = provenance.read(path)
        if facts is None:
            raise
    if facts is None:
        return None
    values = facts.as_dict()
    values |= {"original_taken": str(taken)} if taken else {}
    values |= {"original_camera": camera} if camera else {}
    c2pa = provenance.c2pa_summary(path)
    values |= {"c2pa_manifest": c2pa} if c2pa else {}
    return {k: values[k] for k in [*(k for k in LABELS if k in values), *(k for k in values if k not in LABELS)]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m colorizer.inspect",
                                description="Print what image and film files say about themselves: whether colorizer "
                                "made them, with which weights and settings, and the original's EXIF kept.")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="image files (any kind Pillow reads) or films this tool wrote")
    p.add_argument("--json", action="store_true", help="one JSON object per file, for programs")
    args = p.parse_args(argv)
    status = 0
    for path in args.files:
        try:
            fields = describe(path)
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as err:
            print(f"{path}: cannot read: {getattr(err, 'strerror', None) or err}", file=sys.stderr)
            status = 2
            continue
        if args.json:
            print(json.dumps({"file": str(path), "provenance": fields}))
        elif fields is None:
            print(f"{path}: no colorizer provenance")
        else:
            print(f"{path}: colorized by {fields['tool']} {fields['version']}: AI-assisted, "
                  "the colours were predicted by a neural network")
            labels = {key: LABELS.get(key, key) for key in fields}  # `extra` keys as they are
            width = max(map(len, labels.values()))
            for key, value in fields.items():
                print(f"  {labels[key]:<{width}}  {value}")
        if fields is None:
            status = max(status, 1)
    return status


if __name__ == "__main__":
    sys.exit(main())
