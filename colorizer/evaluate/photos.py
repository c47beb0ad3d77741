"""Score the colorizer's colour on held-out photos (`python -m colorizer.evaluate`, colorizer.evaluate.cli).

    python -m colorizer.evaluate --images heldout/ --out report.json
    python -m colorizer.evaluate --images heldout/ --weights user/name --render-size 256 --sheet-rows 12
    python -m colorizer.evaluate --images heldout/ --strength 1.1     # as `python -m colorizer --strength 1.1`
    python -m colorizer.evaluate --images heldout/ --emulsion orthochromatic  # the gray an old film records
    python -m colorizer.evaluate --images heldout/ --degrade --seed 0 --weights user/name --out restore.json

Colorization: each colour photo is turned gray (`imaging.gray_image`), colorized, and compared with the
original. Three methods are scored on every photo. All of them join the same full-resolution lightness
with some ab through `pipeline.join_lightness`, so they differ in chroma only:
    ours         the generator's ab, predicted from the 8-bit gray photo
    gray         ab = 0: the gray photo itself
    mean_chroma  one constant ab for the whole photo: the mean ab of the *other* photos in the
                 folder (leave-one-out, each photo weighted equally). It knows what photos like
                 these look like on average, as a trained model does, but never the photo at hand.
With --emulsion, the model sees the gray an old film would have recorded (`colorizer.evaluate.emulsion`: an
orthochromatic plate renders a blue sky white, red black) instead of the eye's; every method still
joins its ab with the eye's lightness, so the scores measure the colour alone, comparable with a run
without it. Real black-and-white photos were all taken through some emulsion.
Trained weights should reach mean PSNR above both baselines, and mean colourfulness
closer to the originals' than the gray baseline's (`Report.verdict`). The report also counts the photos
on which ours is better than gray (PSNR): a mean can hide a minority of photos made worse.
PSNR rewards dull colour, so the summary (`Report.summary`) sets beside it what a person sees: hue hits
(`metrics.hue_hits`: the share of clearly coloured pixels given their hue and enough of their chroma) and
the colourfulness gap, signed and absolute.

Restoration (--degrade) is scored by `colorizer.evaluate.restore`, hints and references by their modules;
all share `colorizer.evaluate.report`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from tqdm import tqdm

from colorizer import color
from colorizer.errors import ColorizerError
from colorizer.evaluate import metrics
from colorizer.evaluate.emulsion import EMULSIONS
from colorizer.evaluate.report import (EvaluationReport, fmt, gray_input, mean_of, mean_scores, readable_images,
                                       source_of, thumbnail, verdict_line)
from colorizer.io.images import is_grayscale, open_image
from colorizer.pipelines.colorizer import Colorizer
from colorizer.pipelines.photo import join_lightness
from colorizer.settings import DEFAULT_RENDER_SIZE

METHODS = ("ours", "gray", "mean_chroma")
SCAN_SIZE = 256  # long side at which the first pass takes each photo's mean ab
SHEET_COLUMNS = ("gray", "ours", "original")
HUE_HITS_DEFINITION = (f"hue hits: of the pixels whose true chroma C*ab is at least {metrics.HUE_MIN_CHROMA:g}, the "
                       f"share given the true hue within {metrics.HUE_TOLERANCE_DEG:g} degrees and at least a third of "
                       "the true chroma (gray 0, a random vivid hue 1/6)")


@dataclass
class Scores:
    """One method's result on one photo (or the mean over photos)."""

    psnr: float  # dB, RGB
    ssim: float  # RGB, mean over channels
    ab_error: float  # mean Euclidean ab distance, Lab units
    hue_hits: float | None  # share of clearly coloured pixels given their colour (metrics.hue_hits); None: none
    colorfulness: float  # Hasler & Suesstrunk, of the result
    delta_cf: float  # result's colourfulness minus the original's: < 0 is duller


@dataclass
class ImageResult:
    """One photo's scores, with what is needed to read them."""

    name: str  # relative to the evaluated folder
    width: int
    height: int
    original_colorfulness: float
    mean_chroma_ab: tuple[float, float]  # the constant (a, b) the mean_chroma baseline used
    scores: dict[str, Scores]  # method -> scores


@dataclass
class Report(EvaluationReport):
    """What one colour evaluation found: per photo, ours and both baselines."""

    render_size: int
    images: list[ImageResult]
    strength: float = 1.0  # ours: the predicted colour times this, as the CLI's --strength
    emulsion: str | None = None  # the model saw this emulsion's gray (colorizer.evaluate.emulsion), not the eye's
    mode: ClassVar[str] = "colour"
    sheet_columns: ClassVar[tuple[str, ...]] = SHEET_COLUMNS

    def mean(self) -> dict[str, Scores]:
        return mean_scores(self.images, METHODS)

    def better_than_gray(self) -> int:
        """On how many photos ours has a higher PSNR than the gray photo itself."""
        return sum(r.scores["ours"].psnr > r.scores["gray"].psnr for r in self.images)

    def mean_original_colorfulness(self) -> float:
        return float(np.mean([r.original_colorfulness for r in self.images]))

    def by_source(self) -> dict[str, dict]:
        """Per source, for a folder made by tools/collect_photos.py (files named SOURCE__name.jpg): photos,
        ours' mean PSNR gain over gray and the photos it wins on, each method's hue hits, and ours'
        colourfulness gap (signed and absolute). On a leave-source-out folder a mean over photos is led by
        the largest sources; these rows show whether the gain is broad. Empty for other folders."""
        groups: dict[str, list[ImageResult]] = {}
        for r in self.images:
            if (source := source_of(r.name)) is None:
                return {}
            groups.setdefault(source, []).append(r)
        return {source: {"photos": len(rs),
                         "gain_db": float(np.mean([r.scores["ours"].psnr - r.scores["gray"].psnr for r in rs])),
                         "better_than_gray": sum(r.scores["ours"].psnr > r.scores["gray"].psnr for r in rs),
                         "hue_hits": {m: mean_of([r.scores[m].hue_hits for r in rs]) for m in METHODS},
                         "delta_cf": float(np.mean([r.scores["ours"].delta_cf for r in rs])),
                         "abs_delta_cf": float(np.mean([abs(r.scores["ours"].delta_cf) for r in rs]))}
                for source, rs in sorted(groups.items())}

    def summary(self) -> dict[str, dict]:
        """Per method, the figures colour is judged by, side by side: hue hits (mean over photos, and mean
        over sources where the folder has them, so one large source cannot carry it), the colourfulness gap
        (mean signed: below 0 is duller; mean absolute: a dull photo and a garish one do not cancel), the
        mean PSNR gain over gray and the photos better than gray."""
        sources = self.by_source()
        gray = [r.scores["gray"].psnr for r in self.images]
        rows = {}
        for m in METHODS:
            gains = [r.scores[m].psnr - g for r, g in zip(self.images, gray)]
            better = sum(gain > 0 for gain in gains)
            rows[m] = {"hue_hits": mean_of([r.scores[m].hue_hits for r in self.images]),
                       "hue_hits_over_sources": mean_of([row["hue_hits"][m] for row in sources.values()]),
                       "delta_cf": float(np.mean([r.scores[m].delta_cf for r in self.images])),
                       "abs_delta_cf": float(np.mean([abs(r.scores[m].delta_cf) for r in self.images])),
                       "psnr_gain_db": float(np.mean(gains)),
                       "better_than_gray": better, "better_than_gray_share": better / len(self.images)}
        return rows

    def verdict(self) -> dict[str, bool]:
        """Whether trained weights did their job, judged on the means: above both baselines in PSNR, and
        nearer the original's colourfulness than gray."""
        mean = self.mean()
        return {
            "psnr_above_baselines": mean["ours"].psnr > max(mean["gray"].psnr, mean["mean_chroma"].psnr),
            "colorfulness_closer_than_gray": abs(mean["ours"].delta_cf) < abs(mean["gray"].delta_cf),
        }

    def scores(self) -> dict:
        return {
            "render_size": self.render_size,
            "strength": self.strength,
            "emulsion": self.emulsion,
            "images": [asdict(r) for r in self.images],
            "mean": {"original_colorfulness": self.mean_original_colorfulness(),
                     **{m: asdict(s) for m, s in self.mean().items()}},
            "ours_better_than_gray": self.better_than_gray(),
            "by_source": self.by_source(),
            "summary": self.summary(),
            "hue_hits_definition": HUE_HITS_DEFINITION,
            "verdict": self.verdict(),
        }

    def table(self) -> str:
        """Per photo and mean: one row per method, plus the original's colourfulness; per source; then the
        summary, with what hue hits means."""
        width = max(len(r.name) for r in self.images) + 2
        lines = [f"{'image':<{width}}{'method':<13}{'PSNR':>7}{'SSIM':>7}{'ab err':>8}{'hue':>7}{'CF':>7}{'dCF':>8}"]
        blocks = [(r.name, r.scores, r.original_colorfulness) for r in self.images]
        blocks.append((f"mean of {len(self.images)}", self.mean(), self.mean_original_colorfulness()))
        for name, scores, cf in blocks:
            lines.append("")
            for method, s in scores.items():
                lines.append(f"{name:<{width}}{method:<13}{s.psnr:7.2f}{s.ssim:7.3f}{s.ab_error:8.2f}"
                             f"{fmt(s.hue_hits, '7.3f')}{s.colorfulness:7.1f}{s.delta_cf:+8.1f}")
                name = ""
            lines.append(f"{'':<{width}}{'original':<13}{'':29}{cf:7.1f}")
        if sources := self.by_source():
            lines += ["", f"{'source':<{width}}{'photos':>7}{'ours - gray (dB)':>18}{'better':>8}{'hue':>7}"
                          f"{'mean_chroma hue':>17}{'dCF':>8}{'|dCF|':>7}"]
            lines += [f"{name:<{width}}{row['photos']:>7}{row['gain_db']:>+18.2f}{row['better_than_gray']:>8}"
                      f"{fmt(row['hue_hits']['ours'], '7.3f')}{fmt(row['hue_hits']['mean_chroma'], '17.3f')}"
                      f"{row['delta_cf']:>+8.1f}{row['abs_delta_cf']:>7.1f}" for name, row in sources.items()]
            macro = np.mean([row["gain_db"] for row in sources.values()])
            lines.append(f"{f'mean of {len(sources)} sources':<{width}}{'':>7}{macro:>+18.2f}")
        n = len(self.images)
        lines += ["", f"{'summary':<13}{'hue hits':>9}{'over sources':>14}{'dCF':>8}{'|dCF|':>7}"
                      f"{'PSNR - gray (dB)':>18}{'better than gray':>18}"]
        for method, row in self.summary().items():
            lines.append(f"{method:<13}{fmt(row['hue_hits'], '9.3f')}{fmt(row['hue_hits_over_sources'], '14.3f')}"
                         f"{row['delta_cf']:+8.1f}{row['abs_delta_cf']:7.1f}{row['psnr_gain_db']:+18.2f}"
                         f"{str(row['better_than_gray']) + f' of {n}':>18}")
        verdict = verdict_line(self.verdict())
        better = f"ours is better than gray (PSNR) on {self.better_than_gray()} of {n} photos"
        seen = f"; the model saw the {self.emulsion} gray" if self.emulsion else ""
        settings_line = f"weights: {self.weights}; render size {self.render_size}; strength {self.strength:g}{seen}"
        definition = f"{HUE_HITS_DEFINITION}; '-': the photo has no such pixel"
        return "\n".join([*lines, "", definition, better, settings_line, verdict])


def evaluate(images_dir: str | Path, colorizer: Colorizer, render_size: int = DEFAULT_RENDER_SIZE,
             sheet_rows: int = 0, progress: bool = False, strength: float = 1.0,
             emulsion: str | None = None) -> Report:
    """Score `colorizer` (its colour times `strength`, predicted from the eye's gray or from `emulsion`'s)
    and both baselines on every colour photo under `images_dir` (recursive).

    Unreadable files and photos that are black-and-white already are skipped and listed in
    `Report.skipped`. The first `sheet_rows` photos keep thumbnails for `contact_sheet`.
    Raises ColorizerError if fewer than two colour photos remain (the mean-chroma baseline
    needs another photo to take its colour from).
    """
    if emulsion is not None and emulsion not in EMULSIONS:
        raise ColorizerError(f"unknown emulsion {emulsion!r}; choose one of {', '.join(EMULSIONS)}")
    root = Path(images_dir)
    skipped: dict[str, str] = {}
    photos: list[tuple[Path, torch.Tensor]] = []  # (path, mean ab (2,)) of each colour photo
    for path, name, image in readable_images(root, skipped, "scanning", progress):
        if is_grayscale(image):
            skipped[name] = "black-and-white already (imaging.is_grayscale): nothing to compare to"
            continue
        scan = image.convert("RGB")
        scan.thumbnail((SCAN_SIZE, SCAN_SIZE))
        photos.append((path, _mean_ab(np.asarray(scan))))
    if len(photos) < 2:
        raise ColorizerError(f"{root}: {len(photos)} usable colour photo(s); evaluation needs at least two")

    render_size = colorizer.check_settings(render_size=render_size)[0].render_size
    total_ab = torch.stack([ab for _, ab in photos]).sum(dim=0)
    results, sheet = [], []
    for path, ab in tqdm(photos, desc="evaluating", unit="photo", disable=not progress):
        prior_ab = (total_ab - ab) / (len(photos) - 1)  # leave-one-out mean
        result, outputs = _evaluate_one(colorizer, path, str(path.relative_to(root)), prior_ab, render_size,
                                        strength, emulsion)
        results.append(result)
        if len(sheet) < sheet_rows:
            sheet.append(tuple(thumbnail(outputs[column]) for column in SHEET_COLUMNS))
    return Report(colorizer.description, render_size, results, strength, emulsion, skipped=skipped, sheet=sheet)


def _mean_ab(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (2,) mean a and b in Lab units."""
    lab = color.lab_of_rgb8(rgb, torch.float64)  # (3, H, W)
    return lab[1:].mean(dim=(1, 2))


def _evaluate_one(colorizer: Colorizer, path: Path, name: str, prior_ab: torch.Tensor, render_size: int,
                  strength: float, emulsion: str | None) -> tuple[ImageResult, dict[str, np.ndarray]]:
    """Score every method on one photo; also return the images (method or "original" -> (H, W, 3) uint8)."""
    original = np.asarray(open_image(path).convert("RGB"))
    photo = gray_input(original)  # the eye's gray: every method's lightness
    seen = photo if emulsion is None else gray_input(original, emulsion)
    ab = {  # (2, h, w) at any size: join_lightness upsamples it to the photo
        "ours": colorizer.predict_ab([seen], render_size)[0] * strength,
        "gray": torch.zeros(2, 1, 1),
        "mean_chroma": prior_ab.float().view(2, 1, 1),
    }
    outputs = {m: join_lightness(photo.lightness, ab[m]) for m in METHODS}
    cf = metrics.colorfulness(original)
    scores = {m: _score(out, original, cf) for m, out in outputs.items()}
    height, width = original.shape[:2]
    prior = (float(prior_ab[0]), float(prior_ab[1]))
    return ImageResult(name, width, height, cf, prior, scores), {**outputs, "original": original}


def _score(result: np.ndarray, original: np.ndarray, original_cf: float) -> Scores:
    cf = metrics.colorfulness(result)
    return Scores(metrics.psnr(result, original), metrics.ssim(result, original),
                  metrics.ab_error(result, original), metrics.hue_hits(result, original), cf, cf - original_cf)
