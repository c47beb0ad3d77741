"""Command line: colorize photos, files, folders or globs, into an output folder.

    python -m colorizer old_photos/ scan.tif -o colorized/
"""

from __future__ import annotations

import argparse
import glob
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from colorizer.errors import ColorizerError

from colorizer.defaults import DEFAULT_MAX_PIXELS, DEFAULT_RENDER_SIZE  # no torch: --help stays instant

log = logging.getLogger("colorizer")
IMAGE_SUFFIXES = {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}


@dataclass
class Options:
    """What one CLI run does; each field is one command-line option."""

    inputs: list[str]
    output: Path
    weights: str | None = None
    render_size: int = DEFAULT_RENDER_SIZE
    strength: float = 1.0
    device: str | None = None
    batch_size: int = 4
    format: str = "png"
    overwrite: bool = False
    restore: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS


def parse_args(argv: list[str] | None = None) -> Options:
    p = argparse.ArgumentParser(
        prog="python -m colorizer",
        description="Colorize black-and-white photos. Each INPUT (a file, a folder, or a glob) is written "
        "to OUTDIR/<name>.png at its full original resolution. Inputs are never modified.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders (searched recursively) or globs")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUTDIR", help="folder for the results")
    p.add_argument("--weights", default=None, metavar="SRC",
                   help="Hub repo id (user/name) or local folder with config.json + model.safetensors; "
                   "default: the weights embedded in this package")
    p.add_argument("--render-size", type=int, default=DEFAULT_RENDER_SIZE, metavar="N",
                   help="long side, in pixels, at which the model sees the photo (rounded to a multiple of 32; "
                   "higher = finer colour detail, slower; output size is unaffected) [%(default)s]")
    p.add_argument("--strength", type=float, default=1.0, metavar="X",
                   help="colour strength: 0 gray, 1 as predicted, >1 more vivid [%(default)s]")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... [cuda if available, else cpu]")
    p.add_argument("--batch-size", type=int, default=4, metavar="N", help="photos per model call [%(default)s]")
    p.add_argument("--format", choices=("png", "jpg"), default="png", help="output format [%(default)s]")
    p.add_argument("--overwrite", action="store_true", help="replace results that already exist in OUTDIR")
    p.add_argument("--restore", action="store_true",
                   help="repair old-photo damage first: the model's own clean-up of fading, scratches, dust, "
                   "grain, blur and JPEG when the weights were trained for it (else classical auto levels and "
                   "scratch removal), then denoising; slower (seconds per megapixel)")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, metavar="N",
                   help="refuse images larger than this many pixels [%(default)s]")
    return Options(**vars(p.parse_args(argv)))


def find_images(inputs: list[str]) -> tuple[list[Path], list[str]]:
    """Expand files, folders and globs into image paths; also return inputs that matched nothing."""
    found: list[Path] = []
    missing: list[str] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            found.append(path)
        elif matches := sorted(glob.glob(item, recursive=True)):
            found += [Path(m) for m in matches if Path(m).is_file()]
        else:
            missing.append(item)
    return list(dict.fromkeys(found)), missing


def plan_outputs(images: list[Path], outdir: Path, suffix: str) -> list[Path]:
    """OUTDIR/<stem>.<suffix>, with -2, -3 ... when two inputs share a stem."""
    taken: set[Path] = set()
    outputs = []
    for image in images:
        target, n = outdir / f"{image.stem}.{suffix}", 1
        while target in taken:
            n += 1
            target = outdir / f"{image.stem}-{n}.{suffix}"
        taken.add(target)
        outputs.append(target)
    return outputs


def run(opts: Options) -> int:
    """Colorize everything; returns the exit status (1 if any input failed)."""
    images, missing = find_images(opts.inputs)
    failures = len(missing)
    for item in missing:
        log.error("skipped %s: no such file, folder or match", item)
    outputs = plan_outputs(images, opts.output, opts.format)
    todo = []
    for image, target in zip(images, outputs):
        if target.resolve() == image.resolve():
            log.error("skipped %s: the result would overwrite the input; choose another OUTDIR", image)
            failures += 1
        elif target.exists() and not opts.overwrite:
            log.warning("kept %s: it already exists (use --overwrite to replace it)", target)
        else:
            todo.append((image, target))
    if not todo:
        log.info("nothing to do")
        return 1 if failures else 0
    from colorizer.imaging import save_image
    from colorizer.pipeline import Colorizer

    try:
        colorizer = Colorizer.from_pretrained(opts.weights, device=opts.device)
    except ColorizerError as err:
        log.error("%s", err)
        return 1
    log.info("weights: %s", colorizer.description)
    if opts.restore and not colorizer.can_restore:
        log.warning("these weights were not trained to restore: --restore does the classical steps only")
    results = colorizer.colorize_many((i for i, _ in todo), opts.render_size, opts.strength,
                                      opts.batch_size, opts.max_pixels, opts.restore)
    params = {"compress_level": 1} if opts.format == "png" else {"quality": 95}
    written = 0
    with tqdm(total=len(todo), unit="photo", desc="colorizing") as bar:
        for (image, target), result in zip(todo, results):
            if isinstance(result, ColorizerError):
                tqdm.write(f"skipped: {result}", file=sys.stderr)
                failures += 1
            else:
                try:
                    save_image(result, target, **params)
                    written += 1
                except OSError as err:
                    tqdm.write(f"could not write {target}: {err}", file=sys.stderr)
                    failures += 1
            bar.update()
    log.info("%d written to %s, %d failed", written, opts.output, failures)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return run(parse_args(argv))
