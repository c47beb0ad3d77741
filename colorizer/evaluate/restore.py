"""Score restoration on held-out photos (`python -m colorizer.evaluate --degrade`).

Every photo, colour or gray, becomes the same clean 8-bit gray (`imaging.gray_image`), is damaged
by `degrade.degrade` with the default `DegradeConfig` and a generator seeded from --seed and the file
name (`damage_rng`: the same seed gives the same damage, whatever else the folder holds), and is then
restored by four methods:
    ours            `restore.restore_lightness` with the default `RestoreOptions`: the learned
                    model on the damaged scan as it is (no auto levels or scratch removal: it was
                    trained on untouched damage), then non-local means. Weights not trained to
                    restore (`Colorizer.can_restore` False) get the classical steps instead (auto
                    levels, scratch removal, non-local means); the report (`ours`, `learned`) and
                    the table's first line say which (`restore.describe_steps`).
    none            the damaged photo as it is
    classical       non-local means denoising of the damaged photo (`classical.denoise_nlm`)
    classical_full  restore without the model: auto levels, scratches, then non-local means
Each result is scored against the clean gray by PSNR and SSIM of its lightness, measured on the
8-bit gray image that encodes it (sRGB gray 0-255, peak 255; `metrics` on (H, W) arrays). That
image is what the damaged input, the classical methods and a saved restoration all are, so no
method's output is converted before it is scored, and it is the convention of gray-image
restoration papers, so the numbers read alike. (L in [0, 100] would serve too: it and the sRGB
gray code are both near-perceptual encodings of the same luminance; 8-bit gray needs no conversion.)
Restoration should beat every baseline in mean PSNR and in mean SSIM (`RestoreReport.verdict`).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path, PurePath
from typing import ClassVar

import numpy as np
from PIL import Image

from colorizer.color import lightness_of, lightness_to_image
from colorizer.errors import ColorizerError
from colorizer.evaluate import metrics
from colorizer.evaluate.degrade import DegradeConfig, degrade
from colorizer.evaluate.report import EvaluationReport, mean_scores, readable_images, thumbnail, verdict_line
from colorizer.io.images import gray_image
from colorizer.pipelines import classical
from colorizer.pipelines.colorizer import Colorizer
from colorizer.pipelines.restore import RestoreOptions, describe_steps, restore_lightness

RESTORE_METHODS = ("ours", "none", "classical", "classical_full")  # the first is scored against the rest
RESTORE_SHEET_COLUMNS = ("clean", "degraded", "classical", "ours")


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
class RestoreReport(EvaluationReport):
    """What one restoration evaluation found: per photo, ours and the baselines, on the lightness."""

    learned: bool  # whether `ours` ran the learned model (the weights can restore) or restore's classical steps only
    seed: int
    images: list[RestoreResult]
    mode: ClassVar[str] = "restoration"
    sheet_columns: ClassVar[tuple[str, ...]] = RESTORE_SHEET_COLUMNS

    @property
    def ours(self) -> str:
        """What the `ours` rows are, for people."""
        steps = describe_steps(RestoreOptions().resolved(self.learned))
        if self.learned:
            return f"ours = restore_lightness: {steps}"
        return f"ours = restore_lightness's classical steps only ({steps}): these weights were not trained to restore"

    def mean(self) -> dict[str, LightnessScores]:
        return mean_scores(self.images, RESTORE_METHODS)

    def verdict(self) -> dict[str, bool]:
        """Whether restoration did its job, judged on the means: ours above no restoration and both classical
        baselines."""
        mean = self.mean()
        ours, *baselines = RESTORE_METHODS
        return {f"{metric}_above_baselines":
                getattr(mean[ours], metric) > max(getattr(mean[b], metric) for b in baselines)
                for metric in ("psnr", "ssim")}

    def scores(self) -> dict:
        return {
            "learned": self.learned,
            "ours": self.ours,
            "scored_on": "lightness as 8-bit sRGB gray (0-255, PSNR peak 255) against the clean gray",
            "seed": self.seed,
            # the damage done to each photo's gray (the eye's: restoration scores no emulsion)
            "degradation": {k: v for k, v in asdict(DegradeConfig()).items() if k != "emulsion"},
            "images": [asdict(r) for r in self.images],
            "mean": {m: asdict(s) for m, s in self.mean().items()},
            "verdict": self.verdict(),
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
        verdict = verdict_line(self.verdict())
        return "\n".join([*lines, "", f"weights: {self.weights}; lightness (8-bit gray) against the clean photo; "
                                      f"damage seed {self.seed}", verdict])


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
    for _, name, image in readable_images(root, skipped, "restoring", progress):
        result, outputs = _restore_one(colorizer, image, name, seed)
        results.append(result)
        if len(sheet) < sheet_rows:
            sheet.append(tuple(thumbnail(np.asarray(outputs[column])) for column in RESTORE_SHEET_COLUMNS))
    if not results:
        raise ColorizerError(f"{root}: no usable photos")
    return RestoreReport(colorizer.description, colorizer.can_restore, seed, results, skipped=skipped, sheet=sheet)


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
    lightness = lightness_of(damaged)  # (1, H, W) L in [0, 100]
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
