"""The command line, run as a user runs it: a real subprocess over real files."""

import subprocess
import sys

import numpy as np
from PIL import Image

from tests.conftest import REPO, lightness_of, real_photo


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "colorizer", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def test_folder_with_a_corrupt_file(tmp_path, tiny_weights):
    photos = tmp_path / "photos"
    (photos / "nested").mkdir(parents=True)
    real_photo("camera.png", size=120).convert("L").save(photos / "camera.png")
    real_photo("chelsea.png", size=100).save(photos / "nested" / "cat.jpg")
    (photos / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    before = {p: p.read_bytes() for p in photos.rglob("*") if p.is_file()}
    out = tmp_path / "out"

    result = run_cli(str(photos), "-o", str(out), "--weights", str(tiny_weights), "--render-size", "64")

    assert result.returncode == 1
    assert "corrupt.jpg" in result.stderr and "not an image" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["camera.png", "cat.png"]
    for name, source in (("camera.png", photos / "camera.png"), ("cat.png", photos / "nested" / "cat.jpg")):
        made, original = Image.open(out / name), Image.open(source)
        assert made.size == original.size
        assert np.abs(lightness_of(made) - lightness_of(original)).mean() < 0.5
    assert before == {p: p.read_bytes() for p in photos.rglob("*") if p.is_file()}  # inputs untouched


def test_existing_results_are_kept_unless_asked(tmp_path, tiny_weights):
    real_photo("coffee.png", size=64).save(tmp_path / "a.jpg")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"earlier work")
    kept = run_cli(str(tmp_path / "a.jpg"), "-o", str(out), "--weights", str(tiny_weights))
    assert kept.returncode == 0 and (out / "a.png").read_bytes() == b"earlier work"
    assert "already exists" in kept.stderr
    replaced = run_cli(str(tmp_path / "a.jpg"), "-o", str(out), "--weights", str(tiny_weights), "--overwrite",
                       "--format", "png")
    assert replaced.returncode == 0 and Image.open(out / "a.png").size == (64, 43)


def test_input_is_never_overwritten(tmp_path, tiny_weights):
    photo = tmp_path / "same.png"
    real_photo("coffee.png", size=48).convert("L").save(photo)
    original = photo.read_bytes()
    result = run_cli(str(photo), "-o", str(tmp_path), "--weights", str(tiny_weights), "--overwrite")
    assert result.returncode == 1 and "would overwrite the input" in result.stderr
    assert photo.read_bytes() == original


def test_globs_same_stems_and_missing_inputs(tmp_path, tiny_weights):
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        real_photo("coffee.png", size=40).save(tmp_path / folder / "photo.jpg")
    out = tmp_path / "out"
    result = run_cli(str(tmp_path / "*" / "photo.jpg"), str(tmp_path / "missing.jpg"), "-o", str(out),
                     "--weights", str(tiny_weights), "--format", "jpg")
    assert result.returncode == 1 and "missing.jpg" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["photo-2.jpg", "photo.jpg"]


def test_damaged_weights_fail_cleanly(tmp_path):
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "config.json").write_text("{}")
    (tmp_path / "w" / "model.safetensors").write_bytes(b"junk")
    real_photo("coffee.png", size=40).save(tmp_path / "a.png")
    result = run_cli(str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--weights", str(tmp_path / "w"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "not a colorizer generator config" in result.stderr


def test_help_explains_the_options():
    result = run_cli("--help")
    assert result.returncode == 0
    for option in ("--weights", "--render-size", "--strength", "--device", "--overwrite"):
        assert option in result.stdout
