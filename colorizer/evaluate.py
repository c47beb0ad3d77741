"""Score the colorizer on held-out photos: its colour (default) or its restoration (--degrade).

    python -m colorizer.evaluate --images heldout/ --out report.json
    python -m colorizer.evaluate --images heldout/ --weights user/name --render-size 256 --sheet-rows 12
    python -m colorizer.evaluate --images heldout/ --degrade --seed 0 --weights user/name --out restore.json

Colorization: each colour photo is turned gray (`imaging.gray_image`), colorized, and compared with the
original. Three methods are scored on every photo. All of them join the same full-resolution lightness
with some ab through `pipeline.join_lightness`, so they differ in chroma only:
    ours         the generator's ab, predicted from the 8-bit gray photo
    gray         ab = 0: the gray photo itself
    mean_chroma  one constant ab for the whole photo: the mean ab of the *other* photos in the
                 folder (leave-one-out, each photo weighted equally). It knows what photos like
                 these look like on average, as a trained model does, but never the photo at hand.
The bar for trained weights (issue 5): mean PSNR above both baselines, and mean colourfulness
closer to the originals' than the gray baseline's (`Report.verdict`).

Restoration (--degrade, issue 6): every photo, colour or gray, becomes the same clean 8-bit gray
(`imaging.gray_image`), is damaged by `degrade.degrade` with the default `DegradeConfig` and a generator
seeded from --seed and the file name (`damage_rng`: the same seed gives the same damage, whatever
else the folder holds), and is then restored by four methods:
    ours            `restore.restore_lightness` with the default `RestoreOptions`: the learned
                    model, then non-local means. Weights not trained to restore
                    (`Colorizer.can_restore` False) get the classical steps only; the report
                    (`learned`) and the table's first line say so.
    none            the damaged photo as it is
    classical       non-local means denoising of the damaged photo (`classical.denoise_nlm`)
    classical_full  restore without the model: auto levels, scratches, then non-local means
Each result is scored against the clean gray by PSNR and SSIM of its lightness, measured on the
8-bit gray image that encodes it (sRGB gray 0-255, peak 255; `metrics` on (H, W) arrays). That
image is what the damaged input, the classical methods and a saved restoration all are, so no
method's output is converted before it is scored, and it is the convention of gray-image
restoration papers, so the numbers read alike. (L in [0, 100] would serve too: it and the sRGB
gray code are both near-perceptual encodings of the same luminance; 8-bit gray needs no conversion.)
The bar (issue 6): ours above every baseline in mean PSNR and in mean SSIM (`RestoreReport.verdict`).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import logging
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path, PurePath
from typing import ClassVar

import numpy as np
import torch
from PIL import Image, ImageDraw
from tqdm import tqdm

from colorizer import classical, color, metrics
from colorizer.cli import find_images
from colorizer.defaults import DEFAULT_RENDER_SIZE
from colorizer.degrade import DegradeConfig, degrade
from colorizer.errors import ColorizerError, ImageError
from colorizer.imaging import (Photo, gray_image, image_to_lightness, lightness_to_image, open_image, read_photo,
                               save_image)
from colorizer.pipeline import Colorizer, check_render_size, join_lightness
from colorizer.restore import RestoreOptions, restore_lightness

log = logging.getLogger("colorizer")

METHODS = ("ours", "gray", "mean_chroma")
# Below this colourfulness a photo is black-and-white already (a gray PNG or JPEG scores 0;
# Hasler & Suesstrunk call 15 "slightly colourful"): there is no colour to compare to.
# Toned prints (sepia scores 20-35) count as colour photos.
GRAYISH_CF = 5.0
SCAN_SIZE = 256  # long side at which the first pass looks at each photo (gray check, mean ab)
THUMB_HEIGHT, SHEET_GAP, LABEL_HEIGHT = 128, 4, 16  # contact sheet layout, in pixels
SHEET_COLUMNS = ("gray", "ours", "original")

RESTORE_METHODS = ("ours", "none", "classical", "classical_full")  # the first is scored against the rest
RESTORE_SHEET_COLUMNS = ("clean", "degraded", "classical", "ours")
MIN_SIDE = 2 * metrics.SSIM_RADIUS + 1  # SSIM needs one full window


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
class Report:
    """Everything one evaluation found; `to_dict` is the JSON report, `table` the terminal one."""

    weights: str
    render_size: int
    images: list[ImageResult]
    skipped: dict[str, str]  # name -> why it was not scored
    sheet: list[tuple[Image.Image, ...]] = field(default_factory=list, repr=False)  # SHEET_COLUMNS thumbnails
    sheet_columns: ClassVar[tuple[str, ...]] = SHEET_COLUMNS

    def mean(self) -> dict[str, Scores]:
        return _mean_scores(self.images, METHODS)

    def mean_original_colorfulness(self) -> float:
        return float(np.mean([r.original_colorfulness for r in self.images]))

    def verdict(self) -> dict[str, bool]:
        """The issue's bar for trained weights, judged on the means."""
        mean = self.mean()
        return {
            "psnr_above_baselines": mean["ours"].psnr > max(mean["gray"].psnr, mean["mean_chroma"].psnr),
            "colorfulness_closer_than_gray": abs(mean["ours"].delta_cf) < abs(mean["gray"].delta_cf),
        }

    def to_dict(self) -> dict:
        return {
            "weights": self.weights,
            "render_size": self.render_size,
            "images": [asdict(r) for r in self.images],
            "mean": {"original_colorfulness": self.mean_original_colorfulness(),
                     **{m: asdict(s) for m, s in self.mean().items()}},
            "verdict": self.verdict(),
            "skipped": [{"name": n, "reason": r} for n, r in self.skipped.items()],
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
        verdict = ", ".join(f"{k}: {'yes' if v else 'no'}" for k, v in self.verdict().items())
        return "\n".join([*lines, "", f"weights: {self.weights}; render size {self.render_size}", verdict])


@dataclass
class LightnessScores:
    """One restoration method's result on one photo (or the mean over photos), against the clean gray."""

    psnr: float  # dB, on the 8-bit gray (peak 255)
    ssim: float  # on the 8-bit gray


@dataclass
class RestoreResult:
    """One photo's restoration scores."""

    name: str  # relative to the evaluated folder; with the seed, it also picks the damage
    width: int
    height: int
    scores: dict[str, LightnessScores]  # method (RESTORE_METHODS) -> scores


@dataclass
class RestoreReport:
    """Everything one restoration evaluation found; `to_dict` is the JSON report, `table` the terminal one."""

    weights: str
    learned: bool  # whether `ours` ran the learned model (the weights can restore) or restore's classical steps only
    seed: int
    images: list[RestoreResult]
    skipped: dict[str, str]  # name -> why it was not scored
    sheet: list[tuple[Image.Image, ...]] = field(default_factory=list, repr=False)  # RESTORE_SHEET_COLUMNS thumbnails
    sheet_columns: ClassVar[tuple[str, ...]] = RESTORE_SHEET_COLUMNS

    @property
    def ours(self) -> str:
        """What the `ours` rows are, for people."""
        if self.learned:
            return "ours = restore_lightness: auto levels, scratch removal, then the learned model"
        return ("ours = restore_lightness's classical steps only (auto levels, scratch removal): "
                "these weights were not trained to restore")

    def mean(self) -> dict[str, LightnessScores]:
        return _mean_scores(self.images, RESTORE_METHODS)

    def verdict(self) -> dict[str, bool]:
        """The issue's bar, judged on the means: ours above no restoration and both classical baselines."""
        mean = self.mean()
        ours, *baselines = RESTORE_METHODS
        return {f"{metric}_above_baselines":
                getattr(mean[ours], metric) > max(getattr(mean[b], metric) for b in baselines)
                for metric in ("psnr", "ssim")}

    def to_dict(self) -> dict:
        return {
            "mode": "restoration",
            "weights": self.weights,
            "learned": self.learned,
            "ours": self.ours,
            "scored_on": "lightness as 8-bit sRGB gray (0-255, PSNR peak 255) against the clean gray",
            "seed": self.seed,
            "degradation": asdict(DegradeConfig()),
            "images": [asdict(r) for r in self.images],
            "mean": {m: asdict(s) for m, s in self.mean().items()},
            "verdict": self.verdict(),
            "skipped": [{"name": n, "reason": r} for n, r in self.skipped.items()],
        }

    def table(self) -> str:
        """What ours is, then per photo and mean: one row per method."""
        width = max(len(r.name) for r in self.images) + 2
        lines = [self.ours, "", f"{'image':<{width}}{'method':<16}{'PSNR':>7}{'SSIM':>7}"]
        blocks = [(r.name, r.scores) for r in self.images] + [(f"mean of {len(self.images)}", self.mean())]
        for name, scores in blocks:
            lines.append("")
            for method, s in scores.items():
                lines.append(f"{name:<{width}}{method:<16}{s.psnr:7.2f}{s.ssim:7.3f}")
                name = ""
        verdict = ", ".join(f"{k}: {'yes' if v else 'no'}" for k, v in self.verdict().items())
        return "\n".join([*lines, "", f"weights: {self.weights}; lightness (8-bit gray) against the clean photo; "
                                      f"damage seed {self.seed}", verdict])


def _mean_scores(results: list, methods: tuple[str, ...]) -> dict:
    """Per method, each score averaged over photos (PSNR in dB, as papers report it).

    `results` are ImageResults or RestoreResults; the mean has their scores' type.
    """
    kind = type(results[0].scores[methods[0]])
    return {m: kind(**{f.name: float(np.mean([getattr(r.scores[m], f.name) for r in results]))
                       for f in fields(kind)}) for m in methods}


def _readable_images(root: Path, skipped: dict[str, str], desc: str, progress: bool
                     ) -> Iterator[tuple[Path, str, Image.Image]]:
    """(path, name relative to root, decoded image) of every image under root, recursively.

    Files that cannot be read go to `skipped` with the reason. Raises ColorizerError if root is no folder.
    """
    if not root.is_dir():
        raise ColorizerError(f"{root}: no such folder")
    for path in tqdm(find_images([str(root)])[0], desc=desc, unit="photo", disable=not progress):
        name = str(path.relative_to(root))
        try:
            image = open_image(path)
        except ImageError as err:
            skipped[name] = str(err).removeprefix(f"{path}: ")
            continue
        yield path, name, image


def evaluate(images_dir: str | Path, colorizer: Colorizer, render_size: int = DEFAULT_RENDER_SIZE,
             sheet_rows: int = 0, progress: bool = False) -> Report:
    """Score `colorizer` and both baselines on every colour photo under `images_dir` (recursive).

    Unreadable files and photos that are black-and-white already are skipped and listed in
    `Report.skipped`. The first `sheet_rows` photos keep thumbnails for `contact_sheet`.
    Raises ColorizerError if fewer than two colour photos remain (the mean-chroma baseline
    needs another photo to take its colour from).
    """
    root = Path(images_dir)
    skipped: dict[str, str] = {}
    photos: list[tuple[Path, torch.Tensor]] = []  # (path, mean ab (2,)) of each colour photo
    for path, name, image in _readable_images(root, skipped, "scanning", progress):
        scan = image.convert("RGB")
        scan.thumbnail((SCAN_SIZE, SCAN_SIZE))
        scan_rgb = np.asarray(scan)
        if (cf := metrics.colorfulness(scan_rgb)) < GRAYISH_CF:
            skipped[name] = f"black-and-white already (colourfulness {cf:.1f} < {GRAYISH_CF:g}): nothing to compare to"
            continue
        photos.append((path, _mean_ab(scan_rgb)))
    if len(photos) < 2:
        raise ColorizerError(f"{root}: {len(photos)} usable colour photo(s); evaluation needs at least two")

    render_size = check_render_size(render_size)
    total_ab = torch.stack([ab for _, ab in photos]).sum(dim=0)
    results, sheet = [], []
    for path, ab in tqdm(photos, desc="evaluating", unit="photo", disable=not progress):
        prior_ab = (total_ab - ab) / (len(photos) - 1)  # leave-one-out mean
        result, outputs = _evaluate_one(colorizer, path, str(path.relative_to(root)), prior_ab, render_size)
        results.append(result)
        if len(sheet) < sheet_rows:
            sheet.append(tuple(thumbnail(outputs[column]) for column in SHEET_COLUMNS))
    return Report(colorizer.description, render_size, results, skipped, sheet)


def _mean_ab(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (2,) mean a and b in Lab units."""
    lab = color.rgb_to_lab(torch.tensor(rgb).permute(2, 0, 1).double() / 255.0)  # (3, H, W)
    return lab[1:].mean(dim=(1, 2))


def _gray_input(original: np.ndarray) -> Photo:
    """The colour photo (H, W, 3) uint8 as the colorizer gets it: `imaging.gray_image`, decoded."""
    return read_photo(gray_image(Image.fromarray(original)))


def _evaluate_one(colorizer: Colorizer, path: Path, name: str, prior_ab: torch.Tensor,
                  render_size: int) -> tuple[ImageResult, dict[str, np.ndarray]]:
    """Score every method on one photo; also return the images (method or "original" -> (H, W, 3) uint8)."""
    original = np.asarray(open_image(path).convert("RGB"))
    photo = _gray_input(original)
    ab = {  # (2, h, w) at any size: join_lightness upsamples it to the photo
        "ours": colorizer.predict_ab([photo], render_size)[0],
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


def evaluate_restoration(images_dir: str | Path, colorizer: Colorizer, seed: int = 0, sheet_rows: int = 0,
                         progress: bool = False) -> RestoreReport:
    """Damage every photo under `images_dir` (recursive, colour or gray), restore it, score each method.

    Unreadable files and photos smaller than an SSIM window are skipped and listed in
    `RestoreReport.skipped`. The first `sheet_rows` photos keep thumbnails for `contact_sheet`.
    Raises ColorizerError if no photo remains.
    """
    root = Path(images_dir)
    skipped: dict[str, str] = {}
    results, sheet = [], []
    for _, name, image in _readable_images(root, skipped, "restoring", progress):
        if min(image.size) < MIN_SIDE:
            skipped[name] = f"{image.width}x{image.height} is too small to score (SSIM needs {MIN_SIDE} px a side)"
            continue
        result, outputs = _restore_one(colorizer, image, name, seed)
        results.append(result)
        if len(sheet) < sheet_rows:
            sheet.append(tuple(thumbnail(np.asarray(outputs[column])) for column in RESTORE_SHEET_COLUMNS))
    if not results:
        raise ColorizerError(f"{root}: no usable photos")
    return RestoreReport(colorizer.description, colorizer.can_restore, seed, results, skipped, sheet)


def damage_rng(seed: int, name: str) -> np.random.Generator:
    """The generator that damages photo `name` (its path relative to the folder) for `seed`.

    Seeded by the name, not by the photo's place in the folder, so adding or removing photos
    changes no other photo's damage. sha256 rather than hash(), which Python salts per process;
    "/" separators, so a folder gets the same damage on every system.
    """
    digest = hashlib.sha256(PurePath(name).as_posix().encode("utf-8")).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])


def _restore_one(colorizer: Colorizer, image: Image.Image, name: str, seed: int
                 ) -> tuple[RestoreResult, dict[str, Image.Image]]:
    """Score every restoration method on one photo; also return the "L" images (method, "clean", "degraded")."""
    clean = gray_image(image)
    damaged = degrade(clean, DegradeConfig(), damage_rng(seed, name))
    lightness = image_to_lightness(damaged)  # (1, H, W) L in [0, 100]
    every_classical_step = RestoreOptions(auto_levels=True, remove_scratches=True, learned=False)
    restore = functools.partial(restore_lightness, lightness, colorizer.generator, colorizer.device)
    outputs = {  # in RESTORE_METHODS order, each an 8-bit "L" image the size of the photo
        "ours": lightness_to_image(restore()),
        "none": damaged,
        "classical": classical.denoise_nlm(damaged),
        "classical_full": lightness_to_image(restore(every_classical_step)),
    }
    reference = np.asarray(clean)
    scores = {m: LightnessScores(metrics.psnr(np.asarray(out), reference), metrics.ssim(np.asarray(out), reference))
              for m, out in outputs.items()}
    return RestoreResult(name, *clean.size, scores), {**outputs, "clean": clean, "degraded": damaged}


def thumbnail(pixels: np.ndarray) -> Image.Image:
    """(H, W, 3) RGB or (H, W) gray uint8 -> RGB thumbnail THUMB_HEIGHT high."""
    image = Image.fromarray(pixels).convert("RGB")
    width = max(1, round(image.width * THUMB_HEIGHT / image.height))
    return image.resize((width, THUMB_HEIGHT), Image.Resampling.LANCZOS)


def contact_sheet(rows: list[tuple[Image.Image, ...]], labels: tuple[str, ...] = SHEET_COLUMNS) -> Image.Image:
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


@dataclass
class Options:
    """What one evaluation run does; each field is one command-line option."""

    images: Path
    weights: str | None = None
    render_size: int = DEFAULT_RENDER_SIZE
    device: str | None = None
    out: Path | None = None
    contact_sheet: Path | None = None
    sheet_rows: int = 8
    degrade: bool = False  # score restoration instead of colorization
    seed: int = 0  # of the damage, with each file name (restoration only)
    hints: str | None = None  # hint counts, e.g. "0,1,5,20": score colour hints instead (colorizer.hint_eval)


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
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... [cuda if available, else cpu]")
    p.add_argument("--out", type=Path, default=None, metavar="JSON", help="write the full report as JSON here")
    p.add_argument("--contact-sheet", type=Path, default=None, metavar="PNG",
                   help="where to write the contact sheet [--out with .png, else ./evaluation.png]")
    p.add_argument("--sheet-rows", type=int, default=8, metavar="N",
                   help="photos on the contact sheet; 0 writes none [%(default)s]")
    p.add_argument("--hints", default=None, metavar="N[,N...]",
                   help="score colour hints instead: N random points per photo, coloured from the original, "
                   "spread edge-aware and by a plain Gaussian (see colorizer.hint_eval); e.g. 0,1,5,20; "
                   "--seed places the points")
    return Options(**vars(p.parse_args(argv)))


def _seed(text: str) -> int:
    seed = int(text)
    if seed < 0:
        raise argparse.ArgumentTypeError(f"the seed must be 0 or more, not {seed}")
    return seed


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    opts = parse_args(argv)
    try:
        colorizer = Colorizer.from_pretrained(opts.weights, device=opts.device)
        if colorizer.weights.fallback_reason:  # scoring other weights than asked for would mislead
            raise ColorizerError(colorizer.weights.fallback_reason)
        if opts.hints is not None:
            from colorizer import hint_eval

            try:
                counts = hint_eval.parse_counts(opts.hints)
            except ValueError as err:
                raise ColorizerError(str(err)) from None
            report = hint_eval.evaluate_hints(opts.images, colorizer, counts, opts.render_size, opts.seed,
                                              progress=True)
        elif opts.degrade:
            report = evaluate_restoration(opts.images, colorizer, opts.seed, opts.sheet_rows, progress=True)
        else:
            report = evaluate(opts.images, colorizer, opts.render_size, opts.sheet_rows, progress=True)
    except ColorizerError as err:
        log.error("%s", err)
        return 1
    print(report.table())
    for name, reason in report.skipped.items():
        log.warning("skipped %s: %s", name, reason)
    if opts.out:
        opts.out.parent.mkdir(parents=True, exist_ok=True)
        opts.out.write_text(json.dumps(report.to_dict(), indent=2))
        log.info("report: %s", opts.out)
    if report.sheet:
        default = opts.out.with_suffix(".png") if opts.out else Path("evaluation.png")
        sheet = contact_sheet(report.sheet, report.sheet_columns)
        log.info("contact sheet: %s", save_image(sheet, opts.contact_sheet or default))
    return 0


if __name__ == "__main__":
    sys.exit(main())
