"""How much colour hints help, measured: `python -m colorizer.evaluate --images DIR --hints 0,1,5,20`.

Each colour photo is turned gray and colorized as in colorizer.evaluate; then N points at random
positions (seeded by --seed and the file name) get the original's colour there as hints. Two ways
of spreading them are scored on the same points:
    edge_aware  colorizer.pipelines.hints.apply_hints: the cast the hints confirm, to look-alike pixels, then along
                regions of similar lightness
    gaussian    colorizer.pipelines.hints.gaussian_blend: the same blend with a plain Gaussian, edge-blind
Reported per N, as means over photos: PSNR (RGB, dB), ab error over the photo, hue hits (metrics.hue_hits:
how much of what is clearly coloured got its colour; photos with nothing clearly coloured left out) and ab
error at the hint points themselves (how well each hint is honoured; Lab units).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import ClassVar
from pathlib import Path, PurePath

import numpy as np
import torch

from colorizer import color
from colorizer.errors import ColorizerError
from colorizer.evaluate import metrics
from colorizer.evaluate.report import EvaluationReport, fmt, gray_input, mean_of, readable_images
from colorizer.io.hints import Point
from colorizer.io.images import is_grayscale
from colorizer.pipelines import hints
from colorizer.pipelines.colorizer import Colorizer
from colorizer.pipelines.photo import join_lightness, resize_lightness
from colorizer.settings import DEFAULT_RENDER_SIZE

METHODS = ("edge_aware", "gaussian")


@dataclass
class HintScores:
    psnr: float  # dB, RGB
    ab_error: float  # mean Euclidean ab distance over the photo, Lab units
    hue_hits: float | None  # metrics.hue_hits; None: nothing in the photo is clearly coloured
    hint_ab_error: float  # the same at the hint points only (0 hints: 0)


@dataclass
class HintReport(EvaluationReport):
    """Mean scores per hint count and method."""

    render_size: int
    seed: int
    counts: list[int]
    photos: list[str]
    per_photo: dict[int, dict[str, list[HintScores]]]  # count -> method -> one per photo
    mode: ClassVar[str] = "hints"

    def mean(self, count: int, method: str) -> HintScores:
        rows = self.per_photo[count][method]
        return HintScores(*(mean_of([getattr(r, f.name) for r in rows]) for f in fields(HintScores)))

    def table(self) -> str:
        base = self.mean(self.counts[0], METHODS[0]).psnr if self.counts and self.counts[0] == 0 else None
        lines = ["| hints | method | PSNR (dB) | gain (dB) | ab error | hue hits | ab error at hints |",
                 "|---:|---|---:|---:|---:|---:|---:|"]
        for count in self.counts:
            for method in METHODS if count else METHODS[:1]:
                m = self.mean(count, method)
                gain = f"{m.psnr - base:+.2f}" if base is not None else ""
                lines.append(f"| {count} | {method if count else 'none'} | {m.psnr:.2f} | {gain} | "
                             f"{m.ab_error:.2f} | {fmt(m.hue_hits, '.3f')} | {m.hint_ab_error:.2f} |")
        return "\n".join([*lines, "", f"{len(self.photos)} photos; weights: {self.weights}; "
                          f"render size {self.render_size}; seed {self.seed}"])

    def scores(self) -> dict:
        return {"render_size": self.render_size, "seed": self.seed, "photos": self.photos,
                "mean": {str(c): {m: asdict(self.mean(c, m)) for m in METHODS} for c in self.counts}}


MAX_COUNT = 1000  # simulated hints per photo: far more than a person gives, and each costs a solve


def parse_counts(text: str) -> list[int]:
    """"0,1,5,20" -> [0, 1, 5, 20]; ValueError for anything else."""
    try:
        counts = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        counts = []
    if not counts or counts[0] < 0 or counts[-1] > MAX_COUNT:
        raise ValueError(f"hint counts must be whole numbers from 0 to {MAX_COUNT}, like 0,1,5,20, not {text!r}")
    return counts


def point_rng(seed: int, count: int, name: str) -> np.random.Generator:
    """The generator that places `count` hints on photo `name`: the same whatever else the folder holds."""
    digest = hashlib.sha256(PurePath(name).as_posix().encode("utf-8")).digest()
    return np.random.default_rng([seed, count, int.from_bytes(digest[:8], "little")])


def evaluate_hints(images_dir: str | Path, colorizer: Colorizer, counts: Sequence[int],
                   render_size: int = DEFAULT_RENDER_SIZE, seed: int = 0, progress: bool = False) -> HintReport:
    """Score both hint methods at each count on every colour photo under images_dir (recursive)."""
    root = Path(images_dir)
    render_size = colorizer.check_settings(render_size=render_size)[0].render_size
    counts = sorted(set(counts))
    report = HintReport(colorizer.description, render_size, seed, counts, [],
                        {c: {m: [] for m in METHODS} for c in counts})
    for _, name, image in readable_images(root, report.skipped, "hints", progress):
        if is_grayscale(image):
            report.skipped[name] = "black-and-white already (imaging.is_grayscale): no colour to hint"
            continue
        report.photos.append(name)
        original = np.asarray(image.convert("RGB"))
        photo = gray_input(original)
        lightness = resize_lightness(photo.lightness, colorizer.model_shape(*photo.size, render_size))
        ab = colorizer.predict_ab_at([lightness])[0]  # (2, h, w), what the model saw: lightness
        truth = color.lab_of_rgb8(original, torch.float64)[1:].numpy()
        height, width = original.shape[:2]
        for count in counts:
            rng = point_rng(seed, count, name)
            xs, ys = rng.integers(0, width, count), rng.integers(0, height, count)
            given = [Point(float(x), float(y), tuple(int(v) for v in original[y, x])) for x, y in zip(xs, ys)]
            steered = {"edge_aware": hints.apply_hints(ab, lightness, given, (width, height)),
                       "gaussian": hints.gaussian_blend(ab, given, (width, height))}
            for method, method_ab in steered.items():
                out = join_lightness(photo.lightness, method_ab)
                out_ab = color.lab_of_rgb8(out, torch.float64)[1:].numpy()
                at_hints = np.hypot(*(out_ab[:, ys, xs] - truth[:, ys, xs])).mean() if count else 0.0
                report.per_photo[count][method].append(HintScores(
                    metrics.psnr(out, original), metrics.ab_error(out, original), metrics.hue_hits(out, original),
                    float(at_hints)))
    if not report.photos:
        raise ColorizerError(f"{root}: no colour photos to evaluate hints on")
    return report
