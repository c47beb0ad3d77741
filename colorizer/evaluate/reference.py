"""How much a colour reference helps, measured: `python -m colorizer.evaluate --images DIR --reference-protocol`.

Each colour photo (W x H) is cut in two overlapping views of the same scene, as a person's gray photo and
a colour photo of the same place taken a step aside would be:
    target     the top-left TARGET_CROP of the photo, turned gray and colorized
    reference  the bottom-right REFERENCE_CROP, scaled by REFERENCE_SCALE (framed and sized differently)
Each target is colorized three ways and scored against its own colour (PSNR, RGB, dB; ab error; hue hits,
`metrics.hue_hits`, photos with nothing clearly coloured left out):
    automatic  no reference
    matching   its own photo's reference view
    wrong      the next photo's reference view (sorted by name): an unrelated reference
`lightness_change` is the largest difference of L (Lab units) between the reference-guided results and the
automatic one: references change colour only, so it is a rounding step of 8-bit sRGB at most.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from PIL import Image

from colorizer import color
from colorizer.errors import ColorizerError
from colorizer.evaluate import metrics
from colorizer.evaluate.report import EvaluationReport, fmt, mean_of, readable_images, thumbnail
from colorizer.io.images import is_grayscale
from colorizer.pipelines.colorizer import Colorizer
from colorizer.settings import DEFAULT_RENDER_SIZE

TARGET_CROP = (0.80, 0.85)  # width, height fractions, from the top-left corner
REFERENCE_CROP = (0.85, 0.90)  # width, height fractions, from the bottom-right corner
REFERENCE_SCALE = 0.8
METHODS = ("automatic", "matching", "wrong")


@dataclass
class ReferenceScores:
    psnr: float  # dB, RGB, against the target's own colour
    ab_error: float  # mean Euclidean ab distance, Lab units
    hue_hits: float | None  # metrics.hue_hits; None: nothing in the target is clearly coloured


@dataclass
class ReferenceReport(EvaluationReport):
    """Mean scores per method, and the largest lightness change any reference caused."""

    render_size: int
    photos: list[str]
    per_photo: dict[str, list[ReferenceScores]]  # method -> one per photo
    lightness_change: float  # L units, max over photos
    mode: ClassVar[str] = "reference"
    sheet_columns: ClassVar[tuple[str, ...]] = ("gray", "reference", "automatic", "matching", "wrong", "original")

    def mean(self, method: str) -> ReferenceScores:
        rows = self.per_photo[method]
        return ReferenceScores(*(mean_of([getattr(r, f.name) for r in rows]) for f in fields(ReferenceScores)))

    def table(self) -> str:
        base = self.mean("automatic").psnr
        lines = ["| reference | PSNR (dB) | gain (dB) | ab error | hue hits |", "|---|---:|---:|---:|---:|"]
        for method in METHODS:
            m = self.mean(method)
            lines.append(f"| {method} | {m.psnr:.2f} | {m.psnr - base:+.2f} | {m.ab_error:.2f} | "
                         f"{fmt(m.hue_hits, '.3f')} |")
        return "\n".join([*lines, "", f"{len(self.photos)} photos; weights: {self.weights}; render size "
                          f"{self.render_size}; largest lightness change {self.lightness_change:.2f} L"])

    def scores(self) -> dict:
        return {"render_size": self.render_size, "photos": self.photos, "lightness_change": self.lightness_change,
                "mean": {m: asdict(self.mean(m)) for m in METHODS}}


def views(image: Image.Image) -> tuple[Image.Image, Image.Image]:
    """A colour photo -> (target, reference): its top-left TARGET_CROP and its bottom-right REFERENCE_CROP
    scaled by REFERENCE_SCALE (module docstring)."""
    rgb = image.convert("RGB")
    width, height = rgb.size
    target = rgb.crop((0, 0, round(width * TARGET_CROP[0]), round(height * TARGET_CROP[1])))
    box = (width - round(width * REFERENCE_CROP[0]), height - round(height * REFERENCE_CROP[1]), width, height)
    reference = rgb.crop(box)
    size = (max(1, round(reference.width * REFERENCE_SCALE)), max(1, round(reference.height * REFERENCE_SCALE)))
    return target, reference.resize(size, Image.Resampling.LANCZOS)


def evaluate_reference(images_dir: str | Path, colorizer: Colorizer, render_size: int = DEFAULT_RENDER_SIZE,
                       sheet_rows: int = 8, progress: bool = False) -> ReferenceReport:
    """Score automatic, matching-reference and wrong-reference colour on every colour photo under images_dir."""
    root = Path(images_dir)
    render_size = colorizer.check_settings(render_size=render_size)[0].render_size
    pairs = []
    skipped: dict[str, str] = {}
    for _, name, image in readable_images(root, skipped, "reference", progress):
        if is_grayscale(image):
            skipped[name] = "black-and-white already (imaging.is_grayscale): no colour to lend or score"
            continue
        pairs.append((name, *views(image)))
    if len(pairs) < 2:
        raise ColorizerError(f"{root}: the reference protocol needs at least 2 colour photos (one's reference "
                             f"is the wrong one for the next), found {len(pairs)}")
    report = ReferenceReport(colorizer.description, render_size, [], {m: [] for m in METHODS}, 0.0, skipped=skipped)
    for i, (name, target, reference) in enumerate(pairs):
        original = np.asarray(target)
        gray = color.gray_of(target)
        wrong = pairs[(i + 1) % len(pairs)][2]
        results = {method: np.asarray(colorizer.colorize(gray, render_size, reference=ref))
                   for method, ref in (("automatic", None), ("matching", reference), ("wrong", wrong))}
        lightness = {m: color.lab_of_rgb8(r, torch.float64)[0] for m, r in results.items()}
        for method in METHODS[1:]:
            change = float((lightness[method] - lightness["automatic"]).abs().max())
            report.lightness_change = max(report.lightness_change, change)
        for method, result in results.items():
            report.per_photo[method].append(ReferenceScores(metrics.psnr(result, original),
                                                            metrics.ab_error(result, original),
                                                            metrics.hue_hits(result, original)))
        report.photos.append(name)
        if len(report.sheet) < sheet_rows:
            report.sheet.append((thumbnail(np.asarray(gray)), thumbnail(np.asarray(reference)),
                                 *(thumbnail(results[m]) for m in METHODS),
                                 thumbnail(original)))
    return report
