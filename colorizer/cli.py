"""Command line: colorize photos and films, files, folders or globs, into an output folder.

    python -m colorizer old_photos/ scan.tif -o colorized/
    python -m colorizer old_film.mp4 scans/ -o out/      # films come out as out/old_film.mp4
    python -m colorizer grandpa.jpg -o out/ --reference grandpa-1958-colour.jpg  # colour it like this photo
    torchrun --nproc_per_node 2 -m colorizer archive/ -o out/   # an archive split between 2 processes
    accelerate launch -m colorizer archive/ -o out/             # ... between the GPUs (colorizer.processes)

A rerun skips the results that already exist (writes are atomic: one that exists is complete).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path

from tqdm import tqdm

from colorizer import settings
from colorizer.errors import ColorizerError, ReferenceImageError, WeightsError
from colorizer.io import provenance
from colorizer.processes import Processes, launched
from colorizer.settings import DEFAULT_CRF, DEFAULT_MAX_PIXELS, DEFAULT_RENDER_SIZE  # no torch: --help stays instant

log = logging.getLogger("colorizer")
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
    mark: bool = False
    c2pa_cert: Path | None = None
    c2pa_key: Path | None = None
    backend: str = "auto"
    crf: int = DEFAULT_CRF
    hints: Path | None = None
    max_frames: int | None = None
    reference: list[Path] | None = None


def _folder(text: str) -> Path:
    """An output folder argument; an empty one (an unset shell variable) would silently mean here."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty folder name (use . for the current folder)")
    return Path(text)


def _pixel_count(text: str) -> int:
    """A whole number of pixels, as people write large ones: 50000000, 50_000_000 or 5e7."""
    try:
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not number.is_integer():
        raise argparse.ArgumentTypeError(f"not a whole number of pixels: {text!r}")
    return int(number)


def parse_args(argv: list[str] | None = None) -> Options:
    p = argparse.ArgumentParser(
        prog="python -m colorizer",
        description="Colorize black-and-white photos and films. Each INPUT (a file, a folder, or a glob) is "
        "written to OUTDIR/<name>.png at its full original resolution; a film (recognised by its content, "
        "not only its name) to OUTDIR/<name>.mp4, flicker-free, with its frame rate, time stamps and sound. "
        "Inputs are never modified.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders (searched recursively) or globs")
    p.add_argument("-o", "--output", type=_folder, required=True, metavar="OUTDIR", help="folder for the results")
    p.add_argument("--weights", default=None, metavar="SRC",
                   help="Hub repo id (user/name) or local folder with config.json + model.safetensors, or an .onnx "
                   "file (python -m colorizer.export; runs with ONNX Runtime on the CPU); "
                   "default: the weights embedded in this package")
    p.add_argument("--backend", choices=("auto", "pytorch", "onnx"), default="auto",
                   help="onnx: run the model.onnx of the weights (the embedded default ships one; a --weights folder "
                   "or Hub repo may hold one) with ONNX Runtime; pytorch: their safetensors; auto: ONNX Runtime for "
                   "the embedded default on the CPU (faster, same colours), else PyTorch [%(default)s]")
    p.add_argument("--render-size", type=int, default=DEFAULT_RENDER_SIZE, metavar="N",
                   help="long side, in pixels, at which the model sees the photo (rounded to a multiple of 32; "
                   "higher = slower, and with the embedded weights no better: the default measured best; never "
                   "above the photo's own size, to which a larger one is lowered with a note; output size is "
                   "unaffected) [%(default)s]")
    p.add_argument("--strength", type=float, default=1.0, metavar="X",
                   help="colour strength from 0 to 2: 0 gray, 1 as predicted, >1 more vivid [%(default)s]")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... [cuda if available, else cpu]")
    p.add_argument("--batch-size", type=int, default=4, metavar="N", help="photos per model call [%(default)s]")
    p.add_argument("--format", choices=("png", "jpg"), default="png", help="output format [%(default)s]")
    p.add_argument("--overwrite", action="store_true",
                   help="replace results that already exist in OUTDIR (by default they are skipped: a rerun "
                   "finishes what an interrupted one left)")
    p.add_argument("--restore", action="store_true",
                   help="repair old-photo damage first: the model's own clean-up of fading, scratches, dust, "
                   "grain, blur and JPEG when the weights were trained for it (else classical auto levels and "
                   "scratch removal), then denoising; slower (seconds per megapixel)")
    p.add_argument("--max-pixels", type=_pixel_count, default=DEFAULT_MAX_PIXELS, metavar="N",
                   help="refuse images larger than this many pixels, e.g. 5e7 (at most 1e9); for films, per frame "
                   "[%(default)s]")
    p.add_argument("--crf", type=int, default=DEFAULT_CRF, metavar="N",
                   help="film quality, H.264 constant rate factor from 0 (lossless, huge) to 51 (worst); "
                   "18 looks like the source, +6 halves the size [%(default)s]")
    p.add_argument("--max-frames", type=int, default=None, metavar="N",
                   help="refuse films longer than N frames, before any work (a raw stream's header states no "
                   "count: its packets are counted) [no limit]")
    p.add_argument("--mark", action="store_true",
                   help="put a small visible 'AI colorized' mark in the bottom-right corner (every result "
                   "carries its provenance in its metadata anyway: see python -m colorizer.inspect)")
    p.add_argument("--c2pa-cert", type=Path, default=None, metavar="PEM",
                   help="also embed a signed C2PA manifest, with this certificate chain (signer first, then its "
                   "CA certificates); needs --c2pa-key and c2pa-python (pip install -r requirements-c2pa.txt)")
    p.add_argument("--c2pa-key", type=Path, default=None, metavar="PEM", help="the private key for --c2pa-cert")
    p.add_argument("--hints", type=Path, default=None, metavar="FILE",
                   help="colour hints, a JSON file. For one photo, a list of points and strokes in the photo's "
                   "pixels (x right, y down from the top-left corner): "
                   '[{"x": 120, "y": 340, "color": "#8b1a1a"}, {"points": [[10, 5], [60, 5]], "color": [40, 90, 160]}]. '
                   'For a batch, an object mapping file names (or paths as given) to such lists: {"a.jpg": [...]}. '
                   "A film's hints are in its first frame's pixels and hold through its first shot. "
                   "Only a hint's chroma is used; the photo's lightness is kept")
    p.add_argument("--reference", type=Path, action="append", default=None, metavar="FILE_OR_FOLDER",
                   help="a colour photo of the same place, people or things (or a folder of them; repeatable, "
                   "at most 16 in all): its colour is lent where it matches, to every photo and every frame of "
                   "a film (a film's references are a set: each frame uses those that match it). Hints win "
                   "where they are; the lightness is kept")
    return Options(**vars(p.parse_args(argv)))


def check_settings(opts: Options) -> list[str]:
    """Check every number (colorizer.settings), in place; returns notes on values that were clamped.
    Raises SettingsError for NaN, infinity and the like."""
    names = [f.name for f in fields(settings.Settings)]
    checked, notes = settings.check_settings(**{name: getattr(opts, name) for name in names})
    for name in names:
        setattr(opts, name, getattr(checked, name))
    return notes


def save_params(fmt: str) -> dict:
    """Encoder settings for results (their metadata comes from colorizer.io.provenance)."""
    return {"compress_level": 1} if fmt == "png" else {"quality": 95}


def c2pa_signing(opts: Options) -> provenance.C2paSigning | None:
    """The C2PA signing asked for, checked before any photo is colorized; None when not asked."""
    if opts.c2pa_cert is None and opts.c2pa_key is None:
        return None
    if opts.c2pa_cert is None or opts.c2pa_key is None:
        raise ColorizerError("--c2pa-cert and --c2pa-key go together: give both, or neither")
    signing = provenance.C2paSigning(opts.c2pa_cert, opts.c2pa_key)
    signing.check()  # a refused certificate is reported now, not after the first photo
    return signing


@dataclass
class Tally:
    """What one process did with its share of the inputs, gathered for the run's one summary."""

    written: int = 0
    failed: int = 0
    done: int = 0  # results that already existed: skipped
    status: int = 0


def run(opts: Options) -> int:
    """Colorize everything; returns the exit status (1 if any input failed, 2 for a bad setting,
    130 when interrupted). Under a launcher each process colorizes its share of the inputs, and the
    main process prints the summary of all."""
    try:
        for note in check_settings(opts):
            log.warning("%s", note)
        signing = c2pa_signing(opts)
    except ColorizerError as err:
        log.error("error: %s", err)
        return 2
    processes = Processes.start(opts.device)
    tally = Tally()
    try:
        tally.status = _run(opts, signing, processes, tally)
    except KeyboardInterrupt:  # before any photo was started (e.g. while the model loads)
        log.error("interrupted: nothing written")
        return EXIT_INTERRUPTED
    if tally.status in (2, EXIT_INTERRUPTED):  # said already; a launcher stops the other processes
        return tally.status
    tallies = processes.gather(tally)
    processes.close()
    if processes.is_main:
        log.info("%s", summary(tallies, opts.output))
    return max(t.status for t in tallies)


def summary(tallies: list[Tally], output: Path) -> str:
    """The run's one line: written (per process when there are several), failed, already done."""
    written = sum(t.written for t in tallies)
    shares = f" ({', '.join(f'{t.written} by process {rank}' for rank, t in enumerate(tallies))})" \
        if len(tallies) > 1 else ""
    done = sum(t.done for t in tallies)
    skipped = f", {done} already done, skipped (--overwrite redoes them)" if done else ""
    return f"{written} written to {output}{shares}, {sum(t.failed for t in tallies)} failed{skipped}"


def _run(opts: Options, signing: provenance.C2paSigning | None, processes: Processes, tally: Tally) -> int:
    from colorizer.io.files import remove_stale_temps
    from colorizer.io.inputs import find_images
    from colorizer.io.outputs import plan_outputs, result_target

    for temp in remove_stale_temps(opts.output):  # a live process's temporary files are left alone
        log.warning("removed %s, left by an earlier run that was killed while writing", temp)
    images, problems = find_images(opts.inputs)  # in the same order in every process
    problems = problems if processes.is_main else []  # each problem said and counted once
    failures = len(problems)
    for problem in problems:
        log.error("%s", problem)
    from colorizer.io.video import is_video

    films = {path for path in images if is_video(path)}
    photos = [path for path in images if path not in films]
    images = photos + [path for path in images if path in films]
    plans = plan_outputs(photos, opts.output, opts.format) + plan_outputs(images[len(photos):], opts.output, "mp4")
    try:
        per_image = _hints_per_image(opts.hints, images)
    except ColorizerError as err:
        log.error("error: %s", err)
        return 2
    try:
        references = _reference_files(opts.reference)
    except ColorizerError as err:
        log.error("error: %s", err)
        return 2
    todo = []
    inputs = {image.resolve() for image in images}
    planned = list(zip(images, plans))
    # shared before anything is checked: which process takes a file never depends on what the others wrote
    mine = processes.share(planned[:len(photos)]) + processes.share(planned[len(photos):])
    for image, (plain, first) in mine:
        target = result_target(image, plain, first)
        if target != plain:
            log.info("%s: its result is %s (%s is another input's)", image, target.name, plain.name)
        if target.resolve() in inputs:  # its own input, or another's (a.jpg's result is a.png, also an input)
            log.error("skipped %s: its result %s would overwrite an input; choose another OUTDIR", image, target)
            failures += 1
        elif target.exists() and not opts.overwrite:  # written atomically: one that exists is complete
            tally.done += 1
        else:
            todo.append((image, target))
    tally.failed = failures
    if not todo:
        return 1 if failures else 0
    from colorizer.pipelines.colorizer import Colorizer

    try:
        colorizer = Colorizer.from_pretrained(opts.weights, device=processes.device or opts.device,
                                              backend=opts.backend)
    except ColorizerError as err:
        log.error("%s", err)
        tally.failed += len(todo)
        return 1
    log.info("weights: %s", colorizer.description)
    if opts.restore and not colorizer.can_restore:
        log.warning("these weights were not trained to restore: --restore does the classical steps only")
    film_todo = [(film, target) for film, target in todo if film in films]
    photo_todo = [(image, target) for image, target in todo if image not in films]
    results = colorizer.colorize_many((i for i, _ in photo_todo), opts.render_size, opts.strength,
                                      opts.batch_size, opts.max_pixels, opts.restore,
                                      [per_image[image] for image, _ in photo_todo], references)
    params = save_params(opts.format)
    written: list[Path] = []
    try:
        with tqdm(total=len(photo_todo), unit="photo", desc="colorizing",
                  disable=not photo_todo or not processes.is_main) as bar, ticking(bar):  # the main process's share
            for (image, target), result in zip(photo_todo, results):
                if isinstance(result, ColorizerError):
                    tqdm.write(f"skipped: {result}", file=sys.stderr)
                    failures += 1
                else:
                    for note in result.info.get("notes", []):
                        tqdm.write(f"note: {image}: {note}", file=sys.stderr)
                    try:
                        provenance.save(result, target, mark=opts.mark, c2pa=signing, **params)
                        written.append(target)
                    except (OSError, ColorizerError) as err:
                        tqdm.write(f"could not write {target}: {err}", file=sys.stderr)
                        failures += 1
                bar.update()
        failures += _colorize_films(colorizer, film_todo, opts, written, per_image, references)
    except ReferenceImageError as err:  # found when the references are read, before any photo
        log.error("error: %s", err)
        return 2
    except WeightsError as err:  # found only when they ran (an ONNX file's NaN): no later photo would fare better
        log.error("error: %s; %d written to %s before this", err, len(written), opts.output)
        tally.written, tally.failed = len(written), failures + 1
        return 1
    except KeyboardInterrupt:
        done = set(written)
        not_written = [image for image, target in todo if target not in done]
        log.error("interrupted: %d written to %s, %d not written:", len(written), opts.output, len(not_written))
        for image in not_written:
            log.error("  not written: %s", image)
        return EXIT_INTERRUPTED
    tally.written, tally.failed = len(written), failures
    return 1 if failures else 0


@contextlib.contextmanager
def ticking(bar: tqdm, every_s: float = 1.0) -> Iterator[None]:
    """Redraw `bar` every second while the block runs: its clock keeps moving through a photo that takes
    minutes (a large render size on a large photo), rather than a bar frozen at 0/1 that looks hung."""
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(every_s):
            bar.refresh()

    thread = threading.Thread(target=tick, name="progress-clock", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _colorize_films(colorizer, todo: list[tuple[Path, Path]], opts: Options, written: list[Path],
                    per_film: dict[Path, list], references: list[Path] | None) -> int:
    """Each film in turn, with a frames/s and ETA bar; appends to `written`, returns the failures."""
    from colorizer.io.video import probe

    failures = 0
    for film, target in todo:
        try:
            total = probe(film, opts.max_pixels, opts.max_frames).frames or None  # too long: refused here
            with tqdm(total=total, unit="frame", desc=film.name, dynamic_ncols=True) as bar:
                report = colorizer.colorize_video(film, target, opts.render_size, opts.strength, opts.max_pixels,
                                                  opts.restore, opts.crf, opts.batch_size,
                                                  progress=lambda done: bar.update(done - bar.n),
                                                  hints=per_film[film], max_frames=opts.max_frames,
                                                  reference=references)
        except ColorizerError as err:
            tqdm.write(f"skipped: {err}", file=sys.stderr)
            failures += 1
            continue
        except OSError as err:
            tqdm.write(f"could not write {target}: {err}", file=sys.stderr)
            failures += 1
            continue
        for note in report.notes:
            tqdm.write(f"note: {film}: {note}", file=sys.stderr)
        written.append(target)
        failures += report.ended_early  # written as far as it goes, but not the whole film: exit status 1
    return failures


def _reference_files(given: list[Path] | None) -> list[Path] | None:
    """--reference's files and folders (their images, sorted) as one list; None without any.
    ReferenceImageError for one that is not there or a folder without images."""
    if not given:
        return None
    from colorizer.io.images import IMAGE_SUFFIXES

    files: list[Path] = []
    for path in given:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            if not found:
                raise ReferenceImageError(f"--reference {path}: the folder holds no images")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise ReferenceImageError(f"--reference {path}: no such file or folder")
    return files


def _hints_per_image(hints_file: Path | None, images: list[Path]) -> dict[Path, list]:
    """image -> its hints from --hints (empty without); HintError when the file or a key is wrong."""
    if hints_file is None:
        return {image: [] for image in images}
    from colorizer.io import hints

    return dict(zip(images, hints.hints_per_image(hints.load_hints_file(hints_file), images, str(hints_file))))


def main(argv: list[str] | None = None) -> int:
    rank = f"[process {os.environ.get('RANK', 0)}] " if launched() else ""  # whose line, when several write
    logging.basicConfig(level=logging.INFO, format=f"{rank}%(message)s")
    opts = parse_args(argv)
    from colorizer.pipelines.memory import return_freed_memory_to_the_os

    return_freed_memory_to_the_os()  # peaks stay those of docs/BENCHMARKS.md (see colorizer.pipelines.memory)
    return run(opts)
