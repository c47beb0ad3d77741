"""The web app: drop an old photo, get it back in colour at its full resolution.

    python app.py                                        # http://127.0.0.1:7860, the embedded weights
    COLORIZER_WEIGHTS=user/repo python app.py            # other Hub weights, or a local folder
    COLORIZER_WEIGHTS=user/stable,user/artistic python app.py   # several: a model menu appears

Hugging Face Spaces runs this same file with `python app.py` (configured by the header of README.md).
The weights load once, at start; requests share them through a queue with a concurrency limit, and
each photo is admitted only while the memory it is estimated to need (colorizer.pipelines.memory) fits the
budget, so concurrent large renders wait instead of adding up (COLORIZER_MEMORY_BUDGET_MB).
Results and uploads stay for COLORIZER_RESULT_MAX_AGE_S seconds, then are deleted, those of earlier app
processes too, from the app's own marked folders only (see claim_gradio_folder); an upload waiting its
turn in the queue is kept. A film may have COLORIZER_MAX_FILM_FRAMES frames (3000), counted before any work
(its packets, when its header does not say) and again as decoded.
When the Hub cannot be reached (or HF_HUB_OFFLINE=1) the embedded default is used, and the page says so.
API users call the `/colorize` endpoint (and `/colorize_batch`, `/colorize_film`), e.g. with gradio_client; numbers
are checked by colorizer.settings (out of range: clamped, with a note; NaN or infinity: refused).
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import warnings
import zipfile
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path

import gradio as gr
from PIL import Image
from starlette.middleware import Middleware

from colorizer import settings
from colorizer.io import provenance
from colorizer.io import hints as hinting
from colorizer.settings import (DEFAULT_RENDER_SIZE, MAX_RENDER_SIZE, MAX_STRENGTH, MIN_RENDER_SIZE,
                                MIN_STRENGTH)
from colorizer.color import gray_of
from colorizer.errors import ColorizerError, HintError
from colorizer.io.files import fitted_name
from colorizer.io.images import NOTES, open_image
from colorizer.io.video import probe, read_frame
from colorizer.pipelines.colorizer import Colorizer
from colorizer.pipelines import suggest as suggesting
from colorizer.pipelines.memory import MemoryGate, estimate_request_bytes, return_freed_memory_to_the_os
from colorizer.io.request_limit import RequestSizeLimit

WEIGHTS_ENV = "COLORIZER_WEIGHTS"  # comma-separated Hub repo ids or local folders
MAX_PIXELS = 50_000_000  # at most 1.25 GiB per request (measured, docs/BENCHMARKS.md); larger is refused unread
MAX_FILE_SIZE_MB = 50  # enforced by Gradio at upload
# Any other request (an API call's JSON): refused unread when larger (colorizer/io/request_limit.py). The
# largest a call needs is a hints text (colorizer.io.hints.MAX_HINTS_TEXT) and a few numbers and file references.
MAX_REQUEST_BYTES = 2 * hinting.MAX_HINTS_TEXT
MAX_BATCH_FILES = 50
MAX_FILM_PIXELS = 1920 * 1080  # per frame: a film is many photos, so far fewer pixels each than a photo may have
# two minutes at 25 frames/s: minutes of work on a CPU Space; checked before the work (a raw .h264 stream's
# header states no count: its packets are counted) and as frames are decoded (a header may be wrong)
MAX_FILM_FRAMES = int(os.environ.get("COLORIZER_MAX_FILM_FRAMES", "3000"))
FILM_BATCH = 4  # frames per model call; the memory estimate counts them all
CONCURRENCY = 2  # requests using the model at once; the rest wait in the queue
QUEUE_SIZE = 32  # requests beyond this are turned away instead of waiting for minutes
# Memory the photos being worked on may need together, beyond the loaded model (estimates from
# colorizer.pipelines.memory). The largest request, 50 MP at render size 2048 with restore, is estimated at
# 1.4 GiB (measured: 1.25 GiB): it fits, and two of them run in turn. See docs/BENCHMARKS.md.
MEMORY_BUDGET_MB = int(os.environ.get("COLORIZER_MEMORY_BUDGET_MB", "2048"))
# Results and uploads are deleted after this (prune_gradio_files), those of earlier app processes too;
# an upload waiting in the queue, or in use, is kept however long it waits.
RESULT_MAX_AGE_S = int(os.environ.get("COLORIZER_RESULT_MAX_AGE_S", "3600"))
CLEANUP_EVERY_S = max(1, min(600, RESULT_MAX_AGE_S // 2))
WORK_MAX_AGE_S = min(RESULT_MAX_AGE_S, 600)  # our own copies: Gradio has copied them to its cache by then
EXAMPLES = Path(__file__).resolve().parent / "examples"
WORK_ROOT = Path(os.environ.get("COLORIZER_WORK_DIR") or Path(tempfile.gettempdir()) / "colorizer-app")
REQUEST_PREFIX = "request-"  # our request folders in WORK_ROOT: only these are ever pruned there
# Gradio's copies of uploads and results go to a folder of the app's own, inside the temporary folder
# Gradio would use, marked by APP_MARK: Gradio tracks its files in memory only, so after a restart
# only the mark tells this app's old files from another program's.
GRADIO_FOLDER = "colorizer-app-gradio"
APP_MARK = ".colorizer-app"
CSS = ".gradio-container { max-width: 1200px !important; margin: auto; }"


def load_colorizers(sources: Sequence[str]) -> dict[str, Colorizer]:
    """One Colorizer per weights source, keyed by the source as configured (the model menu)."""
    return {source: Colorizer.from_pretrained(source) for source in sources}


def weights_from_env() -> list[str]:
    """The weights sources named by COLORIZER_WEIGHTS (a Space variable on Spaces); the embedded ones when unset."""
    value = os.environ.get(WEIGHTS_ENV) or "default"
    return [source.strip() for source in value.split(",") if source.strip()]


def weights_note(colorizers: dict[str, Colorizer]) -> str:
    """Markdown saying which weights are in use, and why when the Hub could not be used."""
    lines = []
    for source, colorizer in colorizers.items():
        name = f"`{source}`: " if len(colorizers) > 1 else ""
        lines.append(f"- **Weights:** {name}{colorizer.description}")
        if colorizer.weights.fallback_reason:
            lines.append(f"- ⚠️ Using the embedded default weights: {colorizer.weights.fallback_reason}")
    return "\n".join(lines)


def _user_message(err: ColorizerError, path: str, name: str, reference: list[dict] | dict | None = None) -> str:
    """The error's own message, naming the upload (and each reference upload) by its file name rather
    than its server path.

    HTML-escaped: Gradio renders error messages (and Markdown) as HTML, and a file may be
    called `<img src=x onerror=...>.jpg`."""
    message = str(err).replace(path, name)
    for record in _reference_records(reference):
        server_path = str(record["path"])
        message = message.replace(server_path, str(record.get("orig_name") or Path(server_path).name))
    return html.escape(message)


def _user_error(message: str) -> gr.Error:
    """An error shown to the person as it is; no server traceback, since nothing is broken."""
    return gr.Error(message, print_exception=False)


def _result_name(name: str) -> str:
    """The result's file name, from the upload's (any name a client sends: fitted_name)."""
    return fitted_name(Path(name).stem, "-colorized.png")


def _film_name(name: str) -> str:
    return fitted_name(Path(name).stem, "-colorized.mp4")


_IN_USE: set[Path] = set()  # folders of requests still running: never pruned, however long they take


@contextlib.contextmanager
def _new_folder() -> Iterator[Path]:
    """A fresh folder for one request's files (Gradio serves its own copies of what we return)."""
    WORK_ROOT.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=REQUEST_PREFIX, dir=WORK_ROOT))
    _IN_USE.add(folder)
    try:
        yield folder
    finally:
        _IN_USE.discard(folder)


def _age_s(folder: Path) -> float:
    """Seconds since anything in `folder` (or the folder itself) last changed."""
    times = [folder.stat().st_mtime] + [entry.stat().st_mtime for entry in folder.iterdir()]
    return time.time() - max(times)


def prune_work_folders(max_age_s: float = WORK_MAX_AGE_S) -> None:
    """Remove our request folders untouched for max_age_s: a Space running for weeks keeps its disk.
    Gradio's copies (what the page links to) are removed by prune_gradio_files."""
    if not WORK_ROOT.is_dir():
        return
    for old in WORK_ROOT.glob(REQUEST_PREFIX + "*"):
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):  # another request may prune too
            if old not in _IN_USE and _age_s(old) > max_age_s:
                shutil.rmtree(old, ignore_errors=True)


def claim_gradio_folder() -> Path:
    """The app's own folder for Gradio's files, in the temporary folder Gradio would use (GRADIO_TEMP_DIR,
    else the system's), marked as the app's unless another program's files are there already (then it is
    used, never cleaned). Set it as GRADIO_TEMP_DIR before the Blocks are built."""
    folder = Path(os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir()) / GRADIO_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    if not any(folder.iterdir()):
        (folder / APP_MARK).touch()
    return folder


def _paths_in(value: object, paths: set[str]) -> None:
    """Add the "path" of every file record (Gradio's FileData, as sent) found in `value`."""
    if isinstance(value, dict):
        if isinstance(value.get("path"), str):
            paths.add(os.path.realpath(value["path"]))
        values: Iterable[object] = value.values()
    elif isinstance(value, (list, tuple)):
        values = value
    else:
        return
    for item in values:
        _paths_in(item, paths)


def _queued_paths(demo: gr.Blocks) -> set[str]:
    """Files that requests waiting in the queue or running name: never deleted, however long they wait.

    Gradio has no public view of its queue; its internals are read here, running jobs before and after
    the waiting ones so that a request moving from one to the other is seen."""
    queue = demo._queue
    events = [event for job in list(queue.active_jobs) if job for event in job]
    events += [event for waiting in list(queue.event_queue_per_concurrency_id.values())
               for event in list(waiting.queue)]
    events += [event for job in list(queue.active_jobs) if job for event in job]
    paths: set[str] = set()
    for event in events:
        if event.data is not None:
            _paths_in(event.data.data, paths)
    return paths


def prune_gradio_files(folder: Path, max_age_s: float = RESULT_MAX_AGE_S, keep: Collection[str] = frozenset()) -> None:
    """Delete the files in our Gradio folder unchanged for max_age_s (uploads and results, this process's
    and earlier ones'), but none named in `keep` (see _queued_paths); then the folders left empty.
    Nothing is deleted in a folder without the app's mark."""
    if not (folder / APP_MARK).is_file():
        return
    now = time.time()
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):  # files before their folders
        with contextlib.suppress(OSError):  # gone already, or a folder not empty
            if path.is_dir():
                path.rmdir()  # only when empty
            elif (path.name != APP_MARK and now - path.stat().st_mtime > max_age_s
                  and os.path.realpath(path) not in keep):
                path.unlink()


def _prune_forever(demo: gr.Blocks, gradio_folder: Path) -> None:
    while True:
        time.sleep(CLEANUP_EVERY_S)
        prune_work_folders()
        try:
            keep = _queued_paths(demo)
        except Exception as err:  # noqa: BLE001 - Gradio's internals changed: delete nothing a request may wait for
            logging.getLogger("colorizer.app").warning("uploads not pruned: the queue cannot be read (%r)", err)
            continue
        prune_gradio_files(gradio_folder, keep=keep)


def _photo_size(path: str) -> tuple[int, int]:
    """(width, height) from the file's header, for the memory estimate; (1, 1) if unreadable
    (the pipeline then explains what is wrong with it)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return image.size
    except Exception:  # noqa: BLE001 - any failure is reported by the pipeline
        return 1, 1


def _checked(render_size: object, strength: object) -> tuple[int, float, list[str]]:
    """The numbers, checked as everywhere else (colorizer.settings); SettingsError -> a readable error."""
    try:
        checked, notes = settings.check_settings(render_size=render_size, strength=strength)
    except ColorizerError as err:
        raise _user_error(html.escape(str(err))) from None
    return checked.render_size, checked.strength, notes


def _hints(hints_json: str | None, painted: dict | None, size: tuple[int, int]) -> list[hinting.Hint]:
    """Hints from the API's JSON string and the regions painted in the editor (its layers), for a
    photo of `size`; HintError for a text too long, malformed JSON or hints, or a layer that is no
    usable image."""
    parsed = hinting.hints_from_text(hints_json)
    for layer in (painted or {}).get("layers") or []:
        path = layer.get("path") if isinstance(layer, dict) else None
        if path:
            try:  # under the photos' guards: a layer sent through the API may be anything
                paint = open_image(path, MAX_PIXELS)
            except ColorizerError as err:
                raise HintError(f"painted hints: {str(err).replace(path, 'the painted layer')}") from None
            parsed += hinting.regions_from_paint(paint, size)
    return hinting.parse_hints(parsed)


def swatches(found: list[dict], x: float, y: float) -> str:
    """Suggested colours as a row of labelled swatches (HTML)."""
    cells = "".join(
        f'<span style="display:inline-block;margin:2px;text-align:center;font-size:12px">'
        f'<span style="display:block;width:48px;height:32px;border-radius:4px;border:1px solid #8884;'
        f'background:{html.escape(s["color"])}"></span>{html.escape(s["color"])}</span>' for s in found)
    return f"<div>Likely colours at ({x:.0f}, {y:.0f}), most likely first:</div><div>{cells}</div>"


def add_point_hint(hints_json: str | None, point: list[float], colour: str | None) -> str:
    """The hints text with a point hint of `colour` at `point` added (the text as it was when it is not
    a list of hints: the person's own text is never thrown away)."""
    if not colour or len(point) != 2:
        return hints_json or ""
    try:
        given = hinting.read_hints_text(hints_json) if hints_json and hints_json.strip() else []
    except HintError:
        return hints_json or ""
    if not isinstance(given, list):
        return hints_json or ""
    return json.dumps([*given, {"x": round(point[0]), "y": round(point[1]), "color": colour}])


def _reference_records(files: list[dict] | dict | None) -> list[dict]:
    """The reference uploads (Gradio upload records) that name a file."""
    records = [files] if isinstance(files, dict) else files or []
    return [r for r in records if isinstance(r, dict) and r.get("path")]


def _reference_paths(files: list[dict] | dict | None) -> list[str] | None:
    """The reference uploads' paths, or None for none: exactly the automatic colour."""
    return [r["path"] for r in _reference_records(files)] or None


def build_demo(colorizers: dict[str, Colorizer], memory_budget_mb: int = MEMORY_BUDGET_MB) -> gr.Blocks:
    """The whole page; nothing runs until it is launched. colorizers: see load_colorizers."""
    variants = list(colorizers)
    gate = MemoryGate(memory_budget_mb * 2**20)

    def pick(variant: object) -> Colorizer:
        if not isinstance(variant, str) or variant not in colorizers:  # the API may send a list, a number ...
            raise _user_error(html.escape(f"Unknown model {variant!r}; choose one of {', '.join(variants)}."))
        return colorizers[variant]

    def colorize(photo: dict | None, render_size: float = DEFAULT_RENDER_SIZE, strength: float = 1.0,
                 variant: str = variants[0], restore: bool = False, hints: str | None = None,
                 painted: dict | None = None, reference: list[dict] | None = None
                 ) -> tuple[tuple[Image.Image, str], str, str]:
        """Colorize one photo; returns (before, after) for the slider, the full-resolution PNG, and notes.

        Inputs arrive unprocessed (preprocess=False): gr.Image would open the upload with Pillow
        before this runs, so a corrupt file or a decompression bomb would fail there with a bare
        "Error". `photo` is Gradio's upload record ({"path": ..., "orig_name": ...}); the file is
        decoded here by colorizer.io.images, under the pixel limit, with messages meant for people.
        hints: colour hints as JSON (the CLI's --hints format for one photo); painted: the hint
        editor's value, whose painted layers become regions (colorizer.io.hints.regions_from_paint).
        reference: colour photos of the same place or people (upload records), whose colour is lent where
        they match (colorizer.pipelines.reference).
        """
        if not photo or not photo.get("path"):
            raise _user_error("Add a photo first: drop it in the box, paste it, or click to upload.")
        model = pick(variant)
        render_size, strength, notes = _checked(render_size, strength)
        path, name = photo["path"], photo.get("orig_name") or Path(photo["path"]).name
        with gate.admit(estimate_request_bytes(*_photo_size(path), render_size, bool(restore))):
            try:
                image = open_image(path, MAX_PIXELS)
                given = _hints(hints, painted, image.size)
                after = model.colorize(image, render_size, strength, MAX_PIXELS, bool(restore), given,
                                       reference=_reference_paths(reference))
                # the photo's own lightness as "before": the slider compares only the colour added, and
                # 16-bit or CMYK scans (which browsers can't show) look right
                before = gray_of(image)
            except ColorizerError as err:
                raise _user_error(_user_message(err, path, name, reference)) from None
            with _new_folder() as folder:
                result = str(provenance.save(after, folder / _result_name(name)))  # says what it is
        notes += after.info.get(NOTES, [])
        return (before, result), result, "\n".join(f"- {html.escape(note)}" for note in notes)

    def suggest_colours(photo: dict | None, x: float, y: float, variant: str = variants[0]) -> list[dict]:
        """The likely colours at pixel (x, y) of the photo (colorizer.suggest), best first, as
        [{"color": "#rrggbb", "share": ...}]: the `/suggest` endpoint, and the swatches a click shows."""
        if not photo or not photo.get("path"):
            raise _user_error("Add a photo first, then click on it where you want colours suggested.")
        model = pick(variant)
        try:
            x, y = float(x), float(y)
        except (TypeError, ValueError):
            raise _user_error(html.escape(f"x and y must be numbers, not {x!r}, {y!r}")) from None
        path, name = photo["path"], photo.get("orig_name") or Path(photo["path"]).name
        with gate.admit(estimate_request_bytes(*_photo_size(path), max(suggesting.RENDER_SIZES), False)):
            try:
                found = suggesting.suggest(open_image(path, MAX_PIXELS), x, y, model)
            except ColorizerError as err:
                raise _user_error(_user_message(err, path, name)) from None
        return [{"color": s.hex, "share": s.share} for s in found]

    def on_click(photo: dict | None, variant: str, event: gr.SelectData) -> tuple[str, dict, list[float]]:
        """A click on the photo: its likely colours as swatches, and as choices that add a hint there."""
        x, y = event.index[:2]
        found = suggest_colours(photo, x, y, variant)
        return swatches(found, x, y), gr.update(choices=[s["color"] for s in found], value=None, visible=True), [x, y]

    def colorize_batch(files: list[dict] | None, render_size: float = DEFAULT_RENDER_SIZE, strength: float = 1.0,
                       variant: str = variants[0], restore: bool = False,
                       progress: gr.Progress = gr.Progress()) -> tuple[str, str]:
        """Colorize several photos into one zip of full-resolution PNGs; bad files are listed, not fatal.

        Unprocessed inputs, as for `colorize`: upload records, and numbers Gradio has not range-checked
        (it would refuse out-of-range values where the rest of the project clamps them with a note)."""
        files = [f for f in files or [] if isinstance(f, dict) and f.get("path")]
        if not files:
            raise _user_error("Add some photos first.")
        if len(files) > MAX_BATCH_FILES:
            raise _user_error(f"{len(files)} photos is more than {MAX_BATCH_FILES} at once; please split them.")
        model = pick(variant)
        render_size, strength, notes = _checked(render_size, strength)
        with _new_folder() as folder:
            zip_path = folder / "colorized.zip"
            failures = []
            progress((0, len(files)), desc="Colorizing", unit="photos")
            with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_STORED) as archive:  # PNGs are compressed already
                for done, record in enumerate(files, start=1):
                    path, upload_name = record["path"], record.get("orig_name") or Path(record["path"]).name
                    # one photo in memory at a time, admitted like a single request
                    with gate.admit(estimate_request_bytes(*_photo_size(path), render_size, bool(restore))):
                        try:
                            result = model.colorize(path, render_size, strength, MAX_PIXELS, bool(restore))
                        except ColorizerError as err:
                            failures.append(f"- {_user_message(err, path, upload_name)}")
                            result = None
                        if result is not None:
                            notes += [f"{upload_name}: {note}" for note in result.info.get(NOTES, [])]
                            name, n = _result_name(upload_name), 2
                            while name in archive.namelist():  # two uploads with the same name
                                name, n = fitted_name(Path(upload_name).stem, f"-{n}-colorized.png"), n + 1
                            with archive.open(name, "w") as fh:
                                result.save(fh, format="PNG", **provenance.metadata_params(result, "PNG"))
                    progress((done, len(files)), desc="Colorizing", unit="photos")
        if len(failures) == len(files):
            raise _user_error("None of the photos could be used:\n" + "\n".join(failures))
        summary = f"Colorized {len(files) - len(failures)} of {len(files)} photos."
        if failures:
            summary += " Skipped:\n" + "\n".join(failures)
        if notes:
            summary += "\n\nNotes:\n" + "\n".join(f"- {html.escape(note)}" for note in notes)
        return str(zip_path), summary

    def colorize_film(film: dict | None, render_size: float = DEFAULT_RENDER_SIZE, strength: float = 1.0,
                      variant: str = variants[0], restore: bool = False, reference: list[dict] | None = None,
                      progress: gr.Progress = gr.Progress()) -> tuple[tuple[Image.Image, Image.Image], str, str, str]:
        """Colorize a film (flicker-free, sound kept); returns (before, after) of its middle frame for the
        slider, the film to play, the same film to download, and notes.

        Unprocessed input, as for `colorize`: gr.Video would run FFmpeg on the upload first; here the
        file is probed and decoded by colorizer.io.video, with messages meant for people. reference: colour
        photos (upload records), a set: each frame takes its colour from those that match it."""
        if not film or not film.get("path"):
            raise _user_error("Add a film first: drop it in the box or click to upload.")
        model = pick(variant)
        render_size, strength, notes = _checked(render_size, strength)
        path, name = film["path"], film.get("orig_name") or Path(film["path"]).name
        try:
            info = probe(path, MAX_FILM_PIXELS, MAX_FILM_FRAMES)  # a film too long is refused before it waits
            estimate = FILM_BATCH * estimate_request_bytes(info.width, info.height, render_size, bool(restore))
            with _new_folder() as folder:
                result = folder / _film_name(name)
                total = info.frames or None
                progress((0, total), desc="Colorizing", unit="frames")
                with gate.admit(estimate):
                    report = model.colorize_video(
                        path, result, render_size, strength, MAX_FILM_PIXELS, bool(restore), batch_size=FILM_BATCH,
                        progress=lambda done: progress((done, total), desc="Colorizing", unit="frames"),
                        max_frames=MAX_FILM_FRAMES, reference=_reference_paths(reference))
                middle = report.frames // 2  # the preview frame: decoding to it needs no model memory
                before = gray_of(Image.fromarray(read_frame(path, middle)))
                after = Image.fromarray(read_frame(result, middle))
        except ColorizerError as err:
            raise _user_error(_user_message(err, path, name, reference)) from None
        notes += report.notes
        return (before, after), str(result), str(result), "\n".join(f"- {html.escape(note)}" for note in notes)

    with gr.Blocks(title="Colorize old photos") as demo:  # no delete_cache: it would delete queued uploads
        gr.Markdown(
            "# Colorize old photos\n"
            "Drop a black-and-white photo and get it back in colour, at its full resolution. "
            "Only colour is added: every detail and tone of your photo is kept, unless you ask "
            "to restore it (repair fading, scratches, dust and grain first).\n\n"
            f"{weights_note(colorizers)}\n"
            f"- **Limits:** up to {MAX_PIXELS / 1e6:.0f} megapixels and {MAX_FILE_SIZE_MB} MB per photo, "
            f"{MAX_BATCH_FILES} photos per batch. Results are kept for {RESULT_MAX_AGE_S // 60} minutes."
        )
        with gr.Row():
            render_size = gr.Slider(MIN_RENDER_SIZE, MAX_RENDER_SIZE, value=DEFAULT_RENDER_SIZE, step=32,
                                    label="Render size (pixels, long side)",
                                    info="How large the model sees your photo (never larger than the photo "
                                    "itself). Higher is slower, and with the "
                                    f"built-in model no better ({DEFAULT_RENDER_SIZE} measured best); the result "
                                    "always has your photo's full size.")
            strength = gr.Slider(MIN_STRENGTH, MAX_STRENGTH, value=1.0, step=0.05, label="Colour strength",
                                 info="0 = gray, 1 = as predicted, above 1 = more vivid.")
            variant = gr.Dropdown(variants, value=variants[0], label="Model", visible=len(variants) > 1)
            restore = gr.Checkbox(False, label="Restore old-photo damage first",
                                  info=("The model repairs fading, scratches, dust, grain and blur"
                                        if all(c.can_restore for c in colorizers.values())
                                        else "Auto levels and scratch removal") + ", then denoising. Slower.")
        with gr.Tab("One photo"):
            with gr.Row():
                with gr.Column():
                    photo = gr.Image(label="Your photo", type="filepath", sources=["upload", "clipboard"],
                                     elem_id="photo", height=420)
                    photo_reference = gr.File(
                        label="Optional: colour photos of the same place, people or things (colour it like these)",
                        file_count="multiple", file_types=["image"], elem_id="photo-reference")
                    run = gr.Button("Colorize", variant="primary")
                    gr.Markdown("Click on the photo to see the colours the model finds likely there.")
                    suggested = gr.HTML(elem_id="suggestions")
                    use_colour = gr.Radio([], label="Use one as a hint at that point", visible=False,
                                          elem_id="use-suggestion")
                    clicked = gr.State([])
                    with gr.Row(visible=False):  # the `/suggest` endpoint's inputs and output, for API users
                        at_x, at_y = gr.Number(label="x"), gr.Number(label="y")
                        suggestion_list = gr.JSON()
                        suggest_button = gr.Button()
                    with gr.Accordion("Colour hints: paint the colours you know, then Colorize again", open=False):
                        painter = gr.ImageEditor(
                            label="Paint over your photo", type="filepath", sources=[], elem_id="hints-paint",
                            transforms=[], layers=False, height=420,
                            brush=gr.Brush(default_size=12, color_mode="defaults",
                                           colors=["#a52a2a", "#2e5e8c", "#3f7f3f", "#d9b38c", "#f2d16b"]))
                        hints = gr.Textbox(label="Or hints as JSON", elem_id="hints-json", lines=2,
                                           max_length=hinting.MAX_HINTS_TEXT,
                                           placeholder='[{"x": 120, "y": 340, "color": "#8b1a1a"}, '
                                           '{"points": [[10, 5], [60, 5]], "color": [40, 90, 160]}]',
                                           info="x, y in the photo's pixels; only the colour is used, "
                                           "the photo's lightness is kept.")
                    gr.Examples([str(p) for p in sorted(EXAMPLES.glob("*.jpg"))], inputs=photo,
                                label="Or try one of these (public-domain photos, see examples/SOURCES.md)")
                with gr.Column():
                    slider = gr.ImageSlider(label="Before / after: drag the handle", format="png",
                                            interactive=False, elem_id="result")
                    download = gr.File(label="Full-resolution PNG", interactive=False, elem_id="download")
                    note = gr.Markdown(elem_id="note")
        with gr.Tab("Many photos"):
            with gr.Row():
                files = gr.File(label="Photos", file_count="multiple", file_types=["image"], elem_id="batch-in")
                with gr.Column():
                    zip_file = gr.File(label="Colorized photos (zip)", interactive=False, elem_id="batch-out")
                    summary = gr.Markdown(label="Summary")
            run_batch = gr.Button("Colorize all", variant="primary")
        with gr.Tab("Film"):
            with gr.Row():
                with gr.Column():
                    film = gr.Video(label="Your film", sources=["upload"], elem_id="film-in", height=360)
                    film_reference = gr.File(
                        label="Optional: colour stills of the film's scenes (each frame uses those that match it)",
                        file_count="multiple", file_types=["image"], elem_id="film-reference")
                    run_film = gr.Button("Colorize film", variant="primary")
                    gr.Markdown(f"Up to {MAX_FILM_FRAMES} frames of up to 1920x1080. Colour stays steady from "
                                "frame to frame and starts afresh at each cut; the sound is kept.")
                with gr.Column():
                    film_slider = gr.ImageSlider(label="Before / after: the middle frame", format="png",
                                                 interactive=False, elem_id="film-frame")
                    film_out = gr.Video(label="Colorized film", interactive=False, elem_id="film-out")
                    film_download = gr.File(label="Colorized film (MP4)", interactive=False, elem_id="film-download")
                    film_note = gr.Markdown(elem_id="film-note")
        controls = [render_size, strength, variant, restore]
        photo.change(lambda path: path, photo, painter, api_name=False)  # paint over the photo itself
        photo.select(on_click, [photo, variant], [suggested, use_colour, clicked], api_name=False, preprocess=False,
                     concurrency_limit=CONCURRENCY, concurrency_id="model")
        use_colour.input(add_point_hint, [hints, clicked, use_colour], hints, api_name=False)
        suggest_button.click(suggest_colours, [photo, at_x, at_y, variant], suggestion_list, api_name="suggest",
                             preprocess=False, concurrency_limit=CONCURRENCY, concurrency_id="model")
        run.click(colorize, [photo, *controls, hints, painter, photo_reference], [slider, download, note], api_name="colorize",
                  preprocess=False,
                  concurrency_limit=CONCURRENCY, concurrency_id="model")
        run_batch.click(colorize_batch, [files, *controls], [zip_file, summary], api_name="colorize_batch",
                        preprocess=False, concurrency_limit=CONCURRENCY, concurrency_id="model")
        run_film.click(colorize_film, [film, *controls, film_reference], [film_slider, film_out, film_download, film_note],
                       api_name="colorize_film", preprocess=False, concurrency_limit=CONCURRENCY,
                       concurrency_id="model", show_progress_on=film_out)  # one bar, not one per panel
    return demo.queue(max_size=QUEUE_SIZE)


def launch(demo: gr.Blocks, **options) -> None:
    """Start the server with the app's upload limit and look; options go to `Blocks.launch`.
    Also starts the pruning of our own files, at once and then every CLEANUP_EVERY_S (prune_work_folders,
    prune_gradio_files in the folder Gradio was given: see claim_gradio_folder)."""
    gradio_folder = Path(demo.GRADIO_CACHE)
    prune_work_folders()
    prune_gradio_files(gradio_folder)
    threading.Thread(target=_prune_forever, args=(demo, gradio_folder), name="prune-results", daemon=True).start()
    too_large = (f"The request is larger than {MAX_REQUEST_BYTES:,} bytes: colour hints are at most "
                 f"{hinting.MAX_HINTS_TEXT:,} characters (paint larger strokes rather than many dots).")
    limit = Middleware(RequestSizeLimit, limit=MAX_REQUEST_BYTES, message=too_large)
    demo.launch(max_file_size=f"{MAX_FILE_SIZE_MB}mb", theme=gr.themes.Soft(), css=CSS,
                app_kwargs={"middleware": [limit]}, **options)


def main() -> None:
    return_freed_memory_to_the_os()  # before the weights load: see colorizer.pipelines.memory
    try:
        colorizers = load_colorizers(weights_from_env())
    except ColorizerError as err:
        raise SystemExit(f"error: {err}") from None
    os.environ["GRADIO_TEMP_DIR"] = str(claim_gradio_folder())  # read by Gradio when the Blocks are built
    launch(build_demo(colorizers))


if __name__ == "__main__":
    main()
