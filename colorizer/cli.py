"""Command line: colorize photos, files, folders or globs, into an output folder.

    python -m colorizer old_photos/ scan.tif -o colorized/
"""

from __future__ import annotations

import argparse
import glob
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, PngImagePlugin
from tqdm import tqdm

from colorizer import settings
from colorizer.defaults import DEFAULT_MAX_PIXELS, DEFAULT_RENDER_SIZE  # no torch: --help stays instant
from colorizer.errors import ColorizerError

log = logging.getLogger("colorizer")
IMAGE_SUFFIXES = {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}
# Written into every result (PNG text chunk, JPEG comment), so a later run whose inputs include
# OUTDIR never takes our own results for photos to colorize.
MARK_KEY, MARK_VALUE = "Colorized-By", "colorizer"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C


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
    hints: Path | None = None


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
                   help="colour strength from 0 to 2: 0 gray, 1 as predicted, >1 more vivid [%(default)s]")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... [cuda if available, else cpu]")
    p.add_argument("--batch-size", type=int, default=4, metavar="N", help="photos per model call [%(default)s]")
    p.add_argument("--format", choices=("png", "jpg"), default="png", help="output format [%(default)s]")
    p.add_argument("--overwrite", action="store_true", help="replace results that already exist in OUTDIR")
    p.add_argument("--restore", action="store_true",
                   help="repair old-photo damage first: the model's own clean-up of fading, scratches, dust, "
                   "grain, blur and JPEG when the weights were trained for it (else classical auto levels and "
                   "scratch removal), then denoising; slower (seconds per megapixel)")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, metavar="N",
                   help="refuse images larger than this many pixels (at most 1e9) [%(default)s]")
    p.add_argument("--hints", type=Path, default=None, metavar="FILE",
                   help="colour hints, a JSON file. For one photo, a list of points and strokes in the photo's "
                   "pixels (x right, y down from the top-left corner): "
                   '[{"x": 120, "y": 340, "color": "#8b1a1a"}, {"points": [[10, 5], [60, 5]], "color": [40, 90, 160]}]. '
                   'For a batch, an object mapping file names (or paths as given) to such lists: {"a.jpg": [...]}. '
                   "Only a hint's chroma is used; the photo's lightness is kept")
    return Options(**vars(p.parse_args(argv)))


def check_settings(opts: Options) -> list[str]:
    """Check every number (colorizer.settings), in place; returns notes on values that were clamped.
    Raises SettingsError for NaN, infinity and the like."""
    notes = []
    for name, check in (("render_size", settings.check_render_size), ("strength", settings.check_strength),
                        ("batch_size", settings.check_batch_size), ("max_pixels", settings.check_max_pixels)):
        value, note = check(getattr(opts, name))
        setattr(opts, name, value)
        notes += [note] if note else []
    return notes


def find_images(inputs: list[str]) -> tuple[list[Path], list[str]]:
    """Expand files, folders and globs into image paths; also return a message for each input
    that could not be used (matched nothing, or is a symlink to nothing).

    The same file under two spellings (relative, absolute, through a symlink) is taken once.
    Results of this command (they carry our mark) found in folders or globs are never inputs, so
    OUTDIR may be, or be inside, an input folder; a result named explicitly is taken.
    """
    found: dict[Path, Path] = {}  # real path -> the spelling first given
    problems: list[str] = []

    def add(path: Path, expanded: bool) -> None:
        if path.is_symlink() and not path.exists():
            problems.append(f"skipped {path}: a symlink to {os.readlink(path)}, which does not exist")
        elif not (expanded and _is_our_result(path)):
            found.setdefault(path.resolve(), path)

    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for p in sorted(path.rglob("*")):
                if p.suffix.lower() in IMAGE_SUFFIXES and (p.is_file() or p.is_symlink()):
                    add(p, expanded=True)
        elif path.is_file() or path.is_symlink():
            add(path, expanded=False)
        elif matches := sorted(glob.glob(item, recursive=True)):
            for m in map(Path, matches):
                if m.is_file() or (m.is_symlink() and not m.exists()):
                    add(m, expanded=True)
        else:
            problems.append(f"skipped {item}: no such file, folder or match")
    return list(found.values()), problems


def _is_our_result(path: Path) -> bool:
    """Whether `path` is an image this command wrote (see MARK_KEY)."""
    try:
        with Image.open(path) as image:
            mark = image.info.get(MARK_KEY) or image.info.get("comment", b"")
    except Exception:  # unreadable: not ours; it is reported when colorized
        return False
    if isinstance(mark, bytes):
        mark = mark.decode("latin-1")
    return MARK_VALUE in str(mark)


def save_params(fmt: str) -> dict:
    """Encoder settings for results, with our mark in them."""
    if fmt == "png":
        info = PngImagePlugin.PngInfo()
        info.add_text(MARK_KEY, MARK_VALUE)
        return {"compress_level": 1, "pnginfo": info}
    return {"quality": 95, "comment": f"{MARK_KEY}: {MARK_VALUE}".encode()}


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
    """Colorize everything; returns the exit status (1 if any input failed, 2 for a bad setting,
    130 when interrupted)."""
    try:
        for note in check_settings(opts):
            log.warning("%s", note)
    except ColorizerError as err:
        log.error("error: %s", err)
        return 2
    try:
        return _run(opts)
    except KeyboardInterrupt:  # before any photo was started (e.g. while the model loads)
        log.error("interrupted: nothing written")
        return EXIT_INTERRUPTED


def _run(opts: Options) -> int:
    from colorizer.imaging import remove_stale_temps

    for temp in remove_stale_temps(opts.output):
        log.warning("removed %s, left by an earlier run that was killed while writing", temp)
    images, problems = find_images(opts.inputs)
    failures = len(problems)
    for problem in problems:
        log.error("%s", problem)
    outputs = plan_outputs(images, opts.output, opts.format)
    try:
        per_image = _hints_per_image(opts.hints, images)
    except ColorizerError as err:
        log.error("error: %s", err)
        return 2
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
                                      opts.batch_size, opts.max_pixels, opts.restore,
                                      [per_image[image] for image, _ in todo])
    params = save_params(opts.format)
    written: list[Path] = []
    try:
        with tqdm(total=len(todo), unit="photo", desc="colorizing") as bar:
            for (image, target), result in zip(todo, results):
                if isinstance(result, ColorizerError):
                    tqdm.write(f"skipped: {result}", file=sys.stderr)
                    failures += 1
                else:
                    for note in result.info.get("notes", []):
                        tqdm.write(f"note: {image}: {note}", file=sys.stderr)
                    try:
                        save_image(result, target, **params)
                        written.append(target)
                    except OSError as err:
                        tqdm.write(f"could not write {target}: {err}", file=sys.stderr)
                        failures += 1
                bar.update()
    except KeyboardInterrupt:
        done = set(written)
        not_written = [image for image, target in todo if target not in done]
        log.error("interrupted: %d written to %s, %d not written:", len(written), opts.output, len(not_written))
        for image in not_written:
            log.error("  not written: %s", image)
        return EXIT_INTERRUPTED
    log.info("%d written to %s, %d failed", len(written), opts.output, failures)
    return 1 if failures else 0


def _hints_per_image(hints_file: Path | None, images: list[Path]) -> dict[Path, list]:
    """image -> its hints from --hints (empty without); HintError when the file or a key is wrong."""
    if hints_file is None:
        return {image: [] for image in images}
    from colorizer import hints

    return dict(zip(images, hints.hints_per_image(hints.load_hints_file(hints_file), images, str(hints_file))))


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    opts = parse_args(argv)
    from colorizer.memory import return_freed_memory_to_the_os

    return_freed_memory_to_the_os()  # peaks stay those of docs/BENCHMARKS.md (see colorizer.memory)
    return run(opts)
