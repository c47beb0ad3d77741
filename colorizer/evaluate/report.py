"""What every evaluation (colour: `photos`, hints: `hints`, restoration: `restore`) shares: the report's
base class, the photos of a folder, a colour photo as a black-and-white input, means over photos, the
verdict line, and the contact sheets people look at (also used by tools/ for the README's figures)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

from colorizer.color import gray_of
from colorizer.errors import ColorizerError, ImageError
from colorizer.evaluate import metrics
from colorizer.evaluate.emulsion import EMULSIONS, emulsion_gray
from colorizer.io.images import Photo, open_image, read_photo
from colorizer.io.inputs import find_images

THUMB_HEIGHT, SHEET_GAP, LABEL_HEIGHT = 128, 4, 16  # contact sheet layout, in pixels


@dataclass
class EvaluationReport:
    """What every evaluation hands back, whatever it scores: the weights it scored, the photos it left
    out and why, and thumbnails for a contact sheet. Each evaluation's report adds its scores and says
    them twice: `table` for people, `scores` for the JSON report (`to_dict`)."""

    weights: str
    skipped: dict[str, str] = field(default_factory=dict, kw_only=True)  # name -> why it was not scored
    sheet: list[tuple[Image.Image, ...]] = field(default_factory=list, repr=False, kw_only=True)  # sheet_columns
    mode: ClassVar[str]
    sheet_columns: ClassVar[tuple[str, ...]] = ()

    def scores(self) -> dict:
        """The JSON report's fields other than mode, weights and skipped."""
        raise NotImplementedError

    def table(self) -> str:
        """The report for the terminal."""
        raise NotImplementedError

    def to_dict(self) -> dict:
        return {"mode": self.mode, "weights": self.weights, **self.scores(),
                "skipped": [{"name": n, "reason": r} for n, r in self.skipped.items()]}

    def contact_sheet(self) -> Image.Image | None:
        """The thumbnails kept, one row per photo, or None when none were kept."""
        return contact_sheet(self.sheet, self.sheet_columns) if self.sheet else None


def gray_input(original: np.ndarray, emulsion: str | None = None) -> Photo:
    """The colour photo (H, W, 3) uint8 as the colorizer gets it: its 8-bit gray (`imaging.gray_of`), or
    the gray an old emulsion would have recorded (`colorizer.evaluate.emulsion.EMULSIONS`), decoded."""
    image = Image.fromarray(original)
    return read_photo(gray_of(image) if emulsion is None else emulsion_gray(image, EMULSIONS[emulsion]))


def mean_scores(results: list, methods: tuple[str, ...]) -> dict:
    """Per method, each score averaged over photos (PSNR in dB, as papers report it).

    `results` are ImageResults or RestoreResults; the mean has their scores' type. A score that is None
    on a photo (hue hits where nothing is clearly coloured) is left out of its mean, not counted as 0.
    """
    kind = type(results[0].scores[methods[0]])
    return {m: kind(**{f.name: mean_of([getattr(r.scores[m], f.name) for r in results])
                       for f in fields(kind)}) for m in methods}


def mean_of(values: list[float | None]) -> float | None:
    """The mean of the values that are not None; None when none is: a photo (or a source) with nothing
    to score must not pull a share towards 0."""
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else None


def source_of(name: str) -> str | None:
    """The source of a photo that tools/collect_photos.py wrote (SOURCE__name.jpg), else None."""
    source, sep, _ = Path(name).name.partition("__")
    return source if sep else None


def fmt(value: float | None, spec: str) -> str:
    """A score for a table: `format(value, spec)`, or "-" right-aligned in the same width for None."""
    if value is not None:
        return format(value, spec)
    width = "".join(c for c in spec.split(".")[0] if c.isdigit())
    return format("-", f">{width or 1}")


def readable_images(root: Path, skipped: dict[str, str], desc: str, progress: bool, every: int = 1
                    ) -> Iterator[tuple[Path, str, Image.Image]]:
    """(path, name relative to root, decoded image) of every image under root, recursively (with `every`
    N, of every Nth, sorted by path).

    Files that cannot be read, or are too small to score, go to `skipped` with the reason. Raises
    ColorizerError if root is no folder.
    """
    if not root.is_dir():
        raise ColorizerError(f"{root}: no such folder")
    for path in tqdm(find_images([str(root)])[0][:: max(1, every)], desc=desc, unit="photo", disable=not progress):
        name = str(path.relative_to(root))
        try:
            image = open_image(path)
        except ImageError as err:
            skipped[name] = str(err).removeprefix(f"{path}: ")
            continue
        if min(image.size) < metrics.SSIM_MIN_SIDE:
            skipped[name] = (f"{image.width}x{image.height} is too small to score "
                             f"(SSIM needs {metrics.SSIM_MIN_SIDE} px a side)")
            continue
        yield path, name, image


def verdict_line(verdict: dict[str, bool]) -> str:
    """A report's verdict for the terminal: "psnr_above_baselines: yes, ..."."""
    return ", ".join(f"{k}: {'yes' if v else 'no'}" for k, v in verdict.items())


def thumbnail(pixels: np.ndarray) -> Image.Image:
    """(H, W, 3) RGB or (H, W) gray uint8 -> RGB thumbnail THUMB_HEIGHT high."""
    image = Image.fromarray(pixels).convert("RGB")
    width = max(1, round(image.width * THUMB_HEIGHT / image.height))
    return image.resize((width, THUMB_HEIGHT), Image.Resampling.LANCZOS)


def contact_sheet(rows: list[tuple[Image.Image, ...]], labels: tuple[str, ...]) -> Image.Image:
    """A grid for people: one row per photo, one column per label (the report's `sheet_columns`).

    Columns are as wide as their widest thumbnail; narrower thumbnails are centred.
    """
    cell = max(t.width for row in rows for t in row)
    columns = len(labels)
    sheet = Image.new("RGB", (columns * cell + (columns + 1) * SHEET_GAP,
                              LABEL_HEIGHT + len(rows) * (THUMB_HEIGHT + SHEET_GAP) + SHEET_GAP), "white")
    draw = ImageDraw.Draw(sheet)
    for c, label in enumerate(labels):
        draw.text((SHEET_GAP + c * (cell + SHEET_GAP) + 2, 2), label, fill="black")
    for r, row in enumerate(rows):
        top = LABEL_HEIGHT + SHEET_GAP + r * (THUMB_HEIGHT + SHEET_GAP)
        for c, thumb in enumerate(row):
            sheet.paste(thumb, (SHEET_GAP + c * (cell + SHEET_GAP) + (cell - thumb.width) // 2, top))
    return sheet
