"""Score the colorizer on held-out photos: its colour (default) or its restoration (--degrade).

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

Restoration (--degrade) is scored by `colorizer.evaluate.restore`; both share `colorizer.evaluate.report`.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from tqdm import tqdm

from colorizer import color, settings
from colorizer.errors import ColorizerError
from colorizer.evaluate import hints as evaluate_hints, metrics
from colorizer.evaluate.emulsion import EMULSIONS
from colorizer.evaluate.reference import evaluate_reference
from colorizer.evaluate.report import EvaluationReport, gray_input, mean_scores, readable_images, thumbnail, verdict_line
from colorizer.evaluate.restore import evaluate_restoration
from colorizer.io.files import image_format, save_image, write_atomically
from colorizer.io.images import is_grayscale, open_image
from colorizer.pipelines.colorizer import Colorizer
from colorizer.pipelines.photo import join_lightness
from colorizer.settings import DEFAULT_RENDER_SIZE

log = logging.getLogger("colorizer")

METHODS = ("ours", "gray", "mean_chroma")
SCAN_SIZE = 256  # long side at which the first pass takes each photo's mean ab
SHEET_COLUMNS = ("gray", "ours", "original")


@dataclass
class Scores:
    """One method's result on one photo (or the mean over photos)."""

    psnr: float  # dB, RGB
    ssim: float  # RGB, mean over channels
    ab_error: float  # mean Euclidean ab distance, Lab units
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

    def by_source(self) -> dict[str, dict[str, float]]:
        """Per source, for a folder made by tools/collect_photos.py (files named SOURCE__name.jpg): photos,
        ours' mean PSNR gain over gray and the photos it wins on. On a leave-source-out folder a mean over
        photos is led by the largest sources; these rows show whether the gain is broad. Empty for other
        folders."""
        groups: dict[str, list[ImageResult]] = {}
        for r in self.images:
            source, sep, _ = Path(r.name).name.partition("__")
            if not sep:
                return {}
            groups.setdefault(source, []).append(r)
        return {source: {"photos": len(rs),
                         "gain_db": float(np.mean([r.scores["ours"].psnr - r.scores["gray"].psnr for r in rs])),
                         "better_than_gray": sum(r.scores["ours"].psnr > r.scores["gray"].psnr for r in rs)}
                for source, rs in sorted(groups.items())}

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
            "verdict": self.verdict(),
        }

    def table(self) -> str:
        """Per photo and mean: one row per method, plus the original's colourfulness."""
        width = max(len(r.name) for r in self.images) + 2
        lines = [f"{'image':<{width}}{'method':<13}{'PSNR':>7}{'SSIM':>7}{'ab err':>8}{'CF':>7}{'dCF':>8}"]
        blocks = [(r.name, r.scores, r.original_colorfulness) for r in self.images]
        blocks.append((f"mean of {len(self.images)}", self.mean(), self.mean_original_colorfulness()))
        for name, scores, cf in blocks:
            lines.append("")
            for method, s in scores.items():
                lines.append(f"{name:<{width}}{method:<13}{s.psnr:7.2f}{s.ssim:7.3f}{s.ab_error:8.2f}"
                             f"{s.colorfulness:7.1f}{s.delta_cf:+8.1f}")
                name = ""
            lines.append(f"{'':<{width}}{'original':<13}{'':22}{cf:7.1f}")
        if sources := self.by_source():
            lines += ["", f"{'source':<{width}}{'photos':>7}{'ours - gray (dB)':>18}{'better':>8}"]
            lines += [f"{name:<{width}}{row['photos']:>7}{row['gain_db']:>+18.2f}{row['better_than_gray']:>8}"
                      for name, row in sources.items()]
            macro = np.mean([row["gain_db"] for row in sources.values()])
            lines.append(f"{f'mean of {len(sources)} sources':<{width}}{'':>7}{macro:>+18.2f}")
        verdict = verdict_line(self.verdict())
        better = f"ours is better than gray (PSNR) on {self.better_than_gray()} of {len(self.images)} photos"
        seen = f"; the model saw the {self.emulsion} gray" if self.emulsion else ""
        settings_line = f"weights: {self.weights}; render size {self.render_size}; strength {self.strength:g}{seen}"
        return "\n".join([*lines, "", better, settings_line, verdict])


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
                  metrics.ab_error(result, original), cf, cf - original_cf)


@dataclass
class Options:
    """What one evaluation run does; each field is one command-line option."""

    images: Path
    weights: str | None = None
    render_size: int = DEFAULT_RENDER_SIZE
    strength: float | None = None  # colour only; None: 1, as the CLI
    device: str | None = None
    out: Path | None = None
    contact_sheet: Path | None = None
    sheet_rows: int = 8
    degrade: bool = False  # score restoration instead of colorization
    seed: int = 0  # of the damage, with each file name (restoration only)
    hints: str | None = None  # hint counts, e.g. "0,1,5,20": score colour hints instead (colorizer.evaluate.hints)
    reference_protocol: bool = False  # score colour references instead (colorizer.evaluate.reference)
    emulsion: str | None = None  # colour from this old emulsion's gray (colorizer.evaluate.emulsion) instead of the eye's


def parse_args(argv: list[str] | None = None) -> Options:
    p = argparse.ArgumentParser(
        prog="python -m colorizer.evaluate",
        description="Turn each colour photo in DIR gray, colorize it, and score the result against the "
        "original (PSNR, SSIM, ab error, colourfulness) beside two baselines: the gray photo and a constant "
        "mean chroma. Prints a table; writes JSON and a contact sheet (gray | ours | original). "
        "With --degrade, score restoration instead: damage each photo's gray (colour or gray photos), restore "
        "it, and score its lightness against the clean gray (PSNR, SSIM) beside no restoration and classical "
        "non-local means (contact sheet: clean | degraded | classical | ours).",
    )
    p.add_argument("--images", type=Path, required=True, metavar="DIR",
                   help="folder of photos (recursive): colour ones for colorization, any for --degrade")
    p.add_argument("--degrade", action="store_true",
                   help="score restoration of artificially damaged photos instead of colorization")
    p.add_argument("--seed", type=_seed, default=0, metavar="N",
                   help="--degrade: seed of the damage, combined with each file name [%(default)s]")
    p.add_argument("--weights", default=None, metavar="SRC",
                   help="Hub repo id (user/name) or local weights folder; default: the embedded weights")
    p.add_argument("--render-size", type=int, default=DEFAULT_RENDER_SIZE, metavar="N",
                   help="long side at which the model sees each photo for colour (restoration runs at full "
                   "size) [%(default)s]")
    p.add_argument("--strength", type=float, default=None, metavar="X",
                   help="score the colour at this strength, as python -m colorizer --strength: 0 gray, 1 as "
                   "predicted, >1 more vivid; run several to see what colour costs in PSNR [1]")
    p.add_argument("--emulsion", default=None, choices=list(EMULSIONS),
                   help="colour the gray this old film would have recorded instead of the eye's (an "
                   "orthochromatic plate renders a blue sky white, red black), scored against the original as "
                   "usual: how well the colour holds up on real old photos' tones")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... [cuda if available, else cpu]")
    p.add_argument("--out", type=Path, default=None, metavar="JSON", help="write the full report as JSON here")
    p.add_argument("--contact-sheet", type=Path, default=None, metavar="PNG",
                   help="where to write the contact sheet [--out with .png, else ./evaluation.png]")
    p.add_argument("--sheet-rows", type=int, default=8, metavar="N",
                   help="photos on the contact sheet; 0 writes none [%(default)s]")
    p.add_argument("--hints", default=None, metavar="N[,N...]",
                   help="score colour hints instead: N random points per photo, coloured from the original, "
                   "spread edge-aware and by a plain Gaussian (see colorizer.evaluate.hints); e.g. 0,1,5,20; "
                   "--seed places the points")
    p.add_argument("--reference-protocol", action="store_true",
                   help="score colour references instead: each photo's top-left 80%% x 85%% is colorized with no "
                   "reference, with its bottom-right 85%% x 90%% at 0.8 scale as the reference, and with the next "
                   "photo's as a wrong one (see colorizer.evaluate.reference)")
    return Options(**vars(p.parse_args(argv)))


def _seed(text: str) -> int:
    seed = int(text)
    if seed < 0:
        raise argparse.ArgumentTypeError(f"the seed must be 0 or more, not {seed}")
    return seed


def _refuse_ignored(opts: Options) -> None:
    """ColorizerError for a colour-only option given with --degrade or --hints, where it would be
    ignored, so nobody reads a restoration or hint score as one made with it."""
    if opts.degrade or opts.hints is not None or opts.reference_protocol:
        for option, value in (("--strength", opts.strength), ("--emulsion", opts.emulsion)):
            if value is not None:
                raise ColorizerError(f"{option} scores colorization; it has no effect with --degrade, --hints "
                                     "or --reference-protocol")


def _strength(opts: Options) -> float:
    """The colour strength to score, checked as the CLI checks it (clamped to its range with a warning)."""
    if opts.strength is None:
        return 1.0
    checked, notes = settings.check_settings(strength=opts.strength)  # SettingsError for NaN and infinity
    for note in notes:
        log.warning("%s", note)
    return checked.strength


def check_outputs(opts: Options) -> None:
    """ColorizerError for a report or sheet path that could not be written, before the (long) evaluation:
    a wrong one then fails in a second, not after minutes, and the sheet never lands on the report."""
    paths = {"--out": opts.out, "--contact-sheet": opts.contact_sheet}
    for option, path in paths.items():
        if path is None:
            continue
        if path.is_dir():
            raise ColorizerError(f"{option} {path}: is a folder; give a file name")
        blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        if blocking is not None:
            raise ColorizerError(f"{option} {path}: {blocking} is a file, not a folder")
    if opts.out is not None and opts.out.suffix.lower() != ".json":
        raise ColorizerError(f"--out {opts.out}: the report is JSON; give it a name ending in .json")
    if opts.contact_sheet is not None:
        image_format(opts.contact_sheet)  # ImageError for an extension no image format has


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    opts = parse_args(argv)
    try:
        check_outputs(opts)
        _refuse_ignored(opts)
        strength = _strength(opts)
        colorizer = Colorizer.from_pretrained(opts.weights, device=opts.device)
        if colorizer.weights.fallback_reason:  # scoring other weights than asked for would mislead
            raise ColorizerError(colorizer.weights.fallback_reason)
        if opts.hints is not None:
            try:
                counts = evaluate_hints.parse_counts(opts.hints)
            except ValueError as err:
                raise ColorizerError(str(err)) from None
            report = evaluate_hints.evaluate_hints(opts.images, colorizer, counts, opts.render_size, opts.seed,
                                              progress=True)
        elif opts.reference_protocol:
            report = evaluate_reference(opts.images, colorizer, opts.render_size, opts.sheet_rows, progress=True)
        elif opts.degrade:
            report = evaluate_restoration(opts.images, colorizer, opts.seed, opts.sheet_rows, progress=True)
        else:
            report = evaluate(opts.images, colorizer, opts.render_size, opts.sheet_rows, progress=True,
                              strength=strength, emulsion=opts.emulsion)
    except ColorizerError as err:
        log.error("%s", err)
        return 1
    print(report.table())
    for name, reason in report.skipped.items():
        log.warning("skipped %s: %s", name, reason)
    try:
        if opts.out:
            opts.out.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(opts.out, lambda fh: fh.write(json.dumps(report.to_dict(), indent=2).encode()))
            log.info("report: %s", opts.out)
        if (sheet := report.contact_sheet()) is not None:
            default = opts.out.with_suffix(".png") if opts.out else Path("evaluation.png")
            log.info("contact sheet: %s", save_image(sheet, opts.contact_sheet or default))
    except (OSError, ColorizerError) as err:  # a full disk, a folder without write permission
        log.error("could not write: %s", err)
        return 1
    return 0

