"""The web app: drop an old photo, get it back in colour at its full resolution.

    python app.py                                        # http://127.0.0.1:7860
    COLORIZER_WEIGHTS=user/repo python app.py            # other Hub weights, or a local folder
    COLORIZER_WEIGHTS=user/stable,user/artistic python app.py   # several: a model menu appears

Hugging Face Spaces runs this same file with `python app.py` (configured by the header of README.md).
The weights load once, at start; requests share them through a queue with a concurrency limit.
When the Hub cannot be reached (or HF_HUB_OFFLINE=1) the embedded default is used, and the page says so.
API users call the `/colorize` endpoint (and `/colorize_batch`), e.g. with gradio_client.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

import gradio as gr
from PIL import Image

from colorizer import hub
from colorizer.errors import ColorizerError
from colorizer.imaging import gray_image, open_image, save_image
from colorizer.pipeline import DEFAULT_RENDER_SIZE, MAX_RENDER_SIZE, MIN_RENDER_SIZE, Colorizer

WEIGHTS_ENV = "COLORIZER_WEIGHTS"  # comma-separated Hub repo ids or local folders
MAX_PIXELS = 50_000_000  # ~3 GB of memory at ~60 bytes/pixel (measured); larger is refused before decoding
MAX_FILE_SIZE_MB = 50  # enforced by Gradio at upload
MAX_BATCH_FILES = 50
CONCURRENCY = 2  # requests using the model at once; the rest wait in the queue
QUEUE_SIZE = 32  # requests beyond this are turned away instead of waiting for minutes
RESULT_MAX_AGE_S = 3600
EXAMPLES = Path(__file__).resolve().parent / "examples"
WORK_ROOT = Path(tempfile.gettempdir()) / "colorizer-app"
CSS = ".gradio-container { max-width: 1200px !important; margin: auto; }"


def load_colorizers(sources: Sequence[str]) -> dict[str, Colorizer]:
    """One Colorizer per weights source, keyed by the source as configured (the model menu)."""
    return {source: Colorizer.from_pretrained(source) for source in sources}


def weights_from_env() -> list[str]:
    """The weights sources named by COLORIZER_WEIGHTS; the project's Hub repo when unset."""
    value = os.environ.get(WEIGHTS_ENV) or hub.DEFAULT_HUB_REPO
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


def _user_message(err: ColorizerError, path: str, name: str) -> str:
    """The error's own message, naming the upload by its file name rather than its server path."""
    return str(err).replace(path, name)


def _user_error(message: str) -> gr.Error:
    """An error shown to the person as it is; no server traceback, since nothing is broken."""
    return gr.Error(message, print_exception=False)


def _result_name(name: str) -> str:
    return f"{Path(name).stem}-colorized.png"


def _new_folder() -> Path:
    """A fresh folder for one request's files. Gradio serves its own copies of what we return,
    so folders older than RESULT_MAX_AGE_S are removed here: a Space running for weeks keeps its disk."""
    WORK_ROOT.mkdir(parents=True, exist_ok=True)
    for old in WORK_ROOT.iterdir():
        with contextlib.suppress(FileNotFoundError):  # another request may be pruning too
            if time.time() - old.stat().st_mtime > RESULT_MAX_AGE_S:
                shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(dir=WORK_ROOT))


def build_demo(colorizers: dict[str, Colorizer]) -> gr.Blocks:
    """The whole page; nothing runs until it is launched. colorizers: see load_colorizers."""
    variants = list(colorizers)

    def colorize(photo: dict | None, render_size: float = DEFAULT_RENDER_SIZE, strength: float = 1.0,
                 variant: str = variants[0], restore: bool = False) -> tuple[tuple[Image.Image, str], str]:
        """Colorize one photo; returns (before, after) for the slider and the full-resolution PNG.

        Inputs arrive unprocessed (preprocess=False): gr.Image would open the upload with Pillow
        before this runs, so a corrupt file or a decompression bomb would fail there with a bare
        "Error". `photo` is Gradio's upload record ({"path": ..., "orig_name": ...}); the file is
        decoded here by colorizer.imaging, under the pixel limit, with messages meant for people.
        """
        if not photo or not photo.get("path"):
            raise _user_error("Add a photo first: drop it in the box, paste it, or click to upload.")
        if variant not in colorizers:
            raise _user_error(f"Unknown model {variant!r}; choose one of {', '.join(variants)}.")
        path, name = photo["path"], photo.get("orig_name") or Path(photo["path"]).name
        try:
            image = open_image(path, MAX_PIXELS)
            after = colorizers[variant].colorize(image, int(render_size), float(strength), MAX_PIXELS, bool(restore))
            # the photo's own lightness as "before": the slider compares only the colour added, and
            # 16-bit or CMYK scans (which browsers can't show) look right
            before = gray_image(image)
        except ColorizerError as err:
            raise _user_error(_user_message(err, path, name)) from None
        result = str(save_image(after, _new_folder() / _result_name(name)))
        return (before, result), result

    def colorize_batch(files: list[str] | None, render_size: float = DEFAULT_RENDER_SIZE, strength: float = 1.0,
                       variant: str = variants[0], restore: bool = False,
                       progress: gr.Progress = gr.Progress()) -> tuple[str, str]:
        """Colorize several photos into one zip of full-resolution PNGs; bad files are listed, not fatal."""
        if not files:
            raise _user_error("Add some photos first.")
        if len(files) > MAX_BATCH_FILES:
            raise _user_error(f"{len(files)} photos is more than {MAX_BATCH_FILES} at once; please split them.")
        zip_path = _new_folder() / "colorized.zip"
        failures = []
        progress((0, len(files)), desc="Colorizing", unit="photos")
        # batch_size=1 keeps one photo in memory at a time; photos seldom share a render shape anyway
        results = colorizers[variant].colorize_many(files, int(render_size), strength, batch_size=1,
                                                    max_pixels=MAX_PIXELS, restore=bool(restore))
        with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_STORED) as archive:  # PNGs are compressed already
            for done, (path, result) in enumerate(zip(files, results), start=1):
                if isinstance(result, ColorizerError):
                    failures.append(f"- {_user_message(result, path, Path(path).name)}")
                else:
                    name, n = _result_name(path), 2
                    while name in archive.namelist():  # two uploads with the same name
                        name, n = f"{Path(path).stem}-{n}-colorized.png", n + 1
                    with archive.open(name, "w") as fh:
                        result.save(fh, format="PNG")
                progress((done, len(files)), desc="Colorizing", unit="photos")
        if len(failures) == len(files):
            raise _user_error("None of the photos could be used:\n" + "\n".join(failures))
        summary = f"Colorized {len(files) - len(failures)} of {len(files)} photos."
        if failures:
            summary += " Skipped:\n" + "\n".join(failures)
        return str(zip_path), summary

    with gr.Blocks(title="Colorize old photos", delete_cache=(RESULT_MAX_AGE_S, RESULT_MAX_AGE_S)) as demo:
        gr.Markdown(
            "# Colorize old photos\n"
            "Drop a black-and-white photo and get it back in colour, at its full resolution. "
            "Only colour is added: every detail and tone of your photo is kept, unless you ask "
            "to restore it (repair fading, scratches, dust and grain first).\n\n"
            f"{weights_note(colorizers)}\n"
            f"- **Limits:** up to {MAX_PIXELS / 1e6:.0f} megapixels and {MAX_FILE_SIZE_MB} MB per photo, "
            f"{MAX_BATCH_FILES} photos per batch."
        )
        with gr.Row():
            render_size = gr.Slider(MIN_RENDER_SIZE, MAX_RENDER_SIZE, value=DEFAULT_RENDER_SIZE, step=32,
                                    label="Render size (pixels, long side)",
                                    info="Higher gives finer colour detail but is slower; "
                                    "the result always has your photo's full size.")
            strength = gr.Slider(0.0, 2.0, value=1.0, step=0.05, label="Colour strength",
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
                    run = gr.Button("Colorize", variant="primary")
                    gr.Examples([str(p) for p in sorted(EXAMPLES.glob("*.jpg"))], inputs=photo,
                                label="Or try one of these (public-domain photos, see examples/SOURCES.md)")
                with gr.Column():
                    slider = gr.ImageSlider(label="Before / after: drag the handle", format="png",
                                            interactive=False, elem_id="result")
                    download = gr.File(label="Full-resolution PNG", interactive=False, elem_id="download")
        with gr.Tab("Many photos"):
            with gr.Row():
                files = gr.File(label="Photos", file_count="multiple", file_types=["image"], elem_id="batch-in")
                with gr.Column():
                    zip_file = gr.File(label="Colorized photos (zip)", interactive=False, elem_id="batch-out")
                    summary = gr.Markdown(label="Summary")
            run_batch = gr.Button("Colorize all", variant="primary")
        controls = [render_size, strength, variant, restore]
        run.click(colorize, [photo, *controls], [slider, download], api_name="colorize", preprocess=False,
                  concurrency_limit=CONCURRENCY, concurrency_id="model")
        run_batch.click(colorize_batch, [files, *controls], [zip_file, summary], api_name="colorize_batch",
                        concurrency_limit=CONCURRENCY, concurrency_id="model")
    return demo.queue(max_size=QUEUE_SIZE)


def launch(demo: gr.Blocks, **options) -> None:
    """Start the server with the app's upload limit and look; options go to `Blocks.launch`."""
    demo.launch(max_file_size=f"{MAX_FILE_SIZE_MB}mb", theme=gr.themes.Soft(), css=CSS, **options)


def main() -> None:
    try:
        colorizers = load_colorizers(weights_from_env())
    except ColorizerError as err:
        raise SystemExit(f"error: {err}") from None
    launch(build_demo(colorizers))


if __name__ == "__main__":
    main()
