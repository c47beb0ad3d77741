"""`python -m colorizer.evaluate`: the command line over every evaluation (colour, restoration, hints,
references). It checks what the user asked for before any photo is scored, runs the one evaluation asked
for, prints its table and writes its JSON and contact sheet; the scoring lives in each evaluation's module."""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from colorizer import settings
from colorizer.errors import ColorizerError
from colorizer.evaluate import hints as evaluate_hints
from colorizer.evaluate.emulsion import EMULSIONS
from colorizer.evaluate.photos import evaluate
from colorizer.evaluate.reference import evaluate_reference
from colorizer.evaluate.restore import evaluate_restoration
from colorizer.io.files import image_format, save_image, write_atomically
from colorizer.pipelines.colorizer import Colorizer
from colorizer.settings import DEFAULT_RENDER_SIZE

log = logging.getLogger("colorizer")


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
        "original (hue hits, colourfulness, PSNR, SSIM, ab error) beside two baselines: the gray photo and a constant "
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

