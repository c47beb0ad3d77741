"""tools/calibrate_chroma_gain.py, run as a user runs it: the gain it writes makes the model's colour as
vivid as the photos it was calibrated on."""

from __future__ import annotations

import json
import shutil

import numpy as np
from PIL import Image

from colorizer.evaluate import metrics
from colorizer.io.images import gray_image
from colorizer.pipelines.colorizer import Colorizer
from tests.conftest import REPO, real_photo, run_tool


def test_the_written_gain_matches_the_photos_colourfulness(tmp_path):
    weights = shutil.copytree(REPO / "colorizer" / "weights" / "default", tmp_path / "weights")
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("astronaut.png", "coffee.png", "chelsea.png"):
        real_photo(name, size=96).convert("RGB").save(photos / name)
    # the photos' own size: far below it (64) the embedded weights, trained at 256 px crops, are too dull to reach them
    run = run_tool("calibrate_chroma_gain.py", "--weights", str(weights), "--images", str(photos), "--render-size", "96",
                   "--write")
    assert run.returncode == 0, run.stderr
    gain = json.loads((weights / "config.json").read_text())["chroma_gain"]
    assert f"chroma_gain {gain}" in run.stdout and 0 < gain <= 2 and "warning" not in run.stderr

    colorizer = Colorizer.from_pretrained(str(weights), device="cpu")
    originals = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(photos.iterdir())]
    results = [np.asarray(colorizer.colorize(gray_image(Image.fromarray(o)), render_size=96).convert("RGB"))
               for o in originals]
    wanted = np.mean([metrics.colorfulness(o) for o in originals])
    got = np.mean([metrics.colorfulness(r) for r in results])
    assert abs(got - wanted) < 0.05 * wanted, (got, wanted)


def test_a_model_that_cannot_reach_the_photos_colour_is_reported(tiny_weights, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    real_photo("astronaut.png", size=96).convert("RGB").save(photos / "astronaut.png")
    run = run_tool("calibrate_chroma_gain.py", "--weights", str(tiny_weights), "--images", str(photos), "--render-size",
                   "64")
    assert run.returncode == 0 and "no gain in (0, 2.0] matches" in run.stderr


def test_a_folder_without_photos_is_a_clear_error(tiny_weights, tmp_path):
    run = run_tool("calibrate_chroma_gain.py", "--weights", str(tiny_weights), "--images", str(tmp_path), timeout=120)
    assert run.returncode != 0 and "no images in" in run.stderr and "Traceback" not in run.stderr


def test_gray_and_unreadable_photos_are_skipped_and_a_gain_of_nothing_is_never_written(tmp_path):
    weights = shutil.copytree(REPO / "colorizer" / "weights" / "default", tmp_path / "weights")
    before = (weights / "config.json").read_text()
    photos = tmp_path / "photos"
    photos.mkdir()
    real_photo("coffee.png", size=64).convert("L").save(photos / "gray.png")
    (photos / "notes.jpg").write_text("not a photo")
    run = run_tool("calibrate_chroma_gain.py", "--weights", str(weights), "--images", str(photos), "--write")
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "gray.png: black-and-white already" in run.stderr and "notes.jpg: not an image" in run.stderr
    assert "no colour photo among them could be read" in run.stderr
    assert (weights / "config.json").read_text() == before  # the folder still loads


def test_write_needs_a_local_weights_folder(tmp_path):
    run = run_tool("calibrate_chroma_gain.py", "--weights", "someone/weights", "--images", str(REPO / "examples"),
                   "--write")
    assert run.returncode == 1 and "--write needs a local weights folder" in run.stderr
    assert not (REPO / "someone").exists()
