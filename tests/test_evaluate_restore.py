"""Restoration scoring, run for real: `python -m colorizer.evaluate --degrade` on a folder of small photos.

The restore weights here are untrained, so their learned step is the identity and `ours` is
restore's classical steps: these tests check the bookkeeping, the reproducible damage and the
baselines, whose numbers can be worked out without the model.
"""

import hashlib
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import structural_similarity

from colorizer import evaluate as cli
from colorizer.evaluate import restore as ev
from colorizer.evaluate import report as rp
from colorizer.evaluate.degrade import DegradeConfig, degrade
from colorizer.io.images import gray_image
from colorizer.models.generator import Generator, preset
from colorizer.pipelines.colorizer import Colorizer
from tests.conftest import REPO, SKIMAGE_DATA

PHOTOS = ("astronaut.png", "camera.png", "coffee.png")  # camera.png is a gray photo: scored too
SEED = 7


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    for name in PHOTOS:
        image = Image.open(SKIMAGE_DATA / name)
        image.thumbnail((128, 128), Image.Resampling.LANCZOS)  # NLM is slow: small photos
        image.save(root / name)
    Image.new("L", (8, 40), 128).save(root / "tiny.png")
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n but not really")
    return root


@pytest.fixture(scope="module")
def restore_weights(tmp_path_factory) -> Path:
    config = preset("tiny")
    config.restore = True
    folder = tmp_path_factory.mktemp("restore-weights")
    Generator(config).save_pretrained(folder)  # untrained: passes lightness through exactly
    return folder


def run_cli(folder: Path, weights: Path, out: Path, seed: int = SEED) -> tuple[subprocess.CompletedProcess, dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "colorizer.evaluate", "--images", str(folder), "--degrade", "--seed", str(seed),
         "--weights", str(weights), "--out", str(out / "report.json"), "--contact-sheet", str(out / "sheet.png")],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    return proc, json.loads((out / "report.json").read_text())


@pytest.fixture(scope="module")
def run(folder, restore_weights, tmp_path_factory):
    """One CLI run: (completed process, JSON report, output folder)."""
    out = tmp_path_factory.mktemp("out")
    proc, report = run_cli(folder, restore_weights, out)
    return proc, report, out


def numbers(report: dict) -> dict:
    return {"images": report["images"], "mean": report["mean"], "verdict": report["verdict"]}


def test_the_same_seed_gives_the_same_numbers_in_another_process(run, folder, restore_weights, tmp_path):
    _, first, _ = run
    _, second = run_cli(folder, restore_weights, tmp_path)
    assert numbers(second) == numbers(first)


def test_every_photo_colour_or_gray_is_scored_by_every_method(run):
    _, report, _ = run
    assert [r["name"] for r in report["images"]] == list(PHOTOS)
    assert report["seed"] == SEED and report["learned"] is True
    for scores in [r["scores"] for r in report["images"]] + [report["mean"]]:
        assert list(scores) == list(ev.RESTORE_METHODS)
        for s in scores.values():
            assert set(s) == {"psnr", "ssim"} and all(math.isfinite(v) for v in s.values())
    for method in ev.RESTORE_METHODS:
        for metric in ("psnr", "ssim"):
            values = [r["scores"][method][metric] for r in report["images"]]
            assert report["mean"][method][metric] == pytest.approx(np.mean(values))
    assert set(report["verdict"]) == {"psnr_above_baselines", "ssim_above_baselines"}


def test_unreadable_and_too_small_files_are_skipped_with_a_reason(run):
    proc, report, _ = run
    reasons = {s["name"]: s["reason"] for s in report["skipped"]}
    assert set(reasons) == {"broken.png", "tiny.png"}
    assert "not an image" in reasons["broken.png"] and "too small" in reasons["tiny.png"]
    assert "skipped tiny.png" in proc.stderr


def test_gray_image_is_the_photos_lightness_in_8_bits(folder):
    # Gray of the same CIE lightness = sRGB-encode the photo's linear luminance Y (rounding
    # may differ by a level where the float maths lands near a half).
    for name in PHOTOS:
        image = Image.open(folder / name)
        clean = np.asarray(gray_image(image)).astype(int)
        if image.mode == "L":
            assert np.array_equal(clean, np.asarray(image))  # a gray photo is its own clean gray
            continue
        rgb = np.asarray(image.convert("RGB")) / 255.0
        linear = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
        y = linear @ np.array([0.212671, 0.715160, 0.072169])
        gray = np.round(255 * np.where(y > 0.0031308, 1.055 * y ** (1 / 2.4) - 0.055, 12.92 * y))
        assert np.abs(clean - gray).max() <= 1 and np.mean(clean != gray) < 0.002


def damaged(folder: Path, name: str, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """(clean, damaged) (H, W) uint8, the damage drawn as documented: seed, then sha256 of the name."""
    clean = gray_image(Image.open(folder / name))
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")
    return np.asarray(clean), np.asarray(degrade(clean, DegradeConfig(), np.random.default_rng([seed, key])))


def test_no_restoration_scores_match_an_independent_computation(run, folder):
    _, report, _ = run
    for result in report["images"]:
        clean, damage = damaged(folder, result["name"])
        mse = np.mean((clean.astype(float) - damage) ** 2)
        ssim = structural_similarity(clean, damage, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                     data_range=255)
        assert result["scores"]["none"]["psnr"] == pytest.approx(10 * np.log10(255**2 / mse), abs=1e-6)
        assert result["scores"]["none"]["ssim"] == pytest.approx(ssim, abs=1e-6)
        assert result["scores"]["none"]["psnr"] < 40  # the damage is there


def test_ours_with_an_identity_model_is_the_denoised_scan(run):
    # weights that can restore get the damaged scan as trained (no auto levels or scratch removal by
    # default), then denoising; the untrained model passes lightness through, to float precision
    _, report, _ = run
    for result in report["images"]:
        ours, denoised = result["scores"]["ours"], result["scores"]["classical"]
        assert ours["psnr"] == pytest.approx(denoised["psnr"], abs=0.1)
        assert ours["ssim"] == pytest.approx(denoised["ssim"], abs=0.005)


def test_terminal_table_and_contact_sheet(run):
    proc, _, out = run
    first = proc.stdout.splitlines()[0]
    # weights that can restore: no auto levels or scratch removal (RestoreOptions.resolved), NLM after the model
    assert first == "ours = restore_lightness: the learned model, then non-local means"
    assert "mean of 3" in proc.stdout and "classical_full" in proc.stdout
    sheet = Image.open(out / "sheet.png")
    widest = round(128 * rp.THUMB_HEIGHT / 85)  # coffee.png, 128 x 85, is the widest at 128 px high
    assert sheet.size == (4 * widest + 5 * rp.SHEET_GAP,
                          rp.LABEL_HEIGHT + len(PHOTOS) * (rp.THUMB_HEIGHT + rp.SHEET_GAP) + rp.SHEET_GAP)


def test_the_damage_depends_on_the_seed_and_the_name_only(run, folder, restore_weights, tmp_path):
    # In this process (not the CLI's), from a folder holding one of the photos: the same damage.
    _, report, _ = run
    shutil.copy(folder / "coffee.png", tmp_path / "coffee.png")
    colorizer = Colorizer.from_pretrained(str(restore_weights), device="cpu")
    alone = ev.evaluate_restoration(tmp_path, colorizer, seed=SEED).to_dict()
    assert alone["images"] == [r for r in report["images"] if r["name"] == "coffee.png"]
    other_seed = ev.evaluate_restoration(tmp_path, colorizer, seed=SEED + 1).to_dict()
    assert other_seed["images"][0]["scores"]["none"] != alone["images"][0]["scores"]["none"]


def test_weights_that_cannot_restore_say_ours_is_classical_only(folder, tiny_weights, tmp_path):
    shutil.copy(folder / "camera.png", tmp_path / "camera.png")
    colorizer = Colorizer.from_pretrained(str(tiny_weights), device="cpu")
    assert not colorizer.can_restore
    report = ev.evaluate_restoration(tmp_path, colorizer, seed=SEED, sheet_rows=1)
    assert report.learned is False and report.to_dict()["learned"] is False
    assert report.table().splitlines()[0] == ("ours = restore_lightness's classical steps only (auto levels, then "
                                              "scratch removal, then non-local means): these weights were not "
                                              "trained to restore")
    assert [len(row) for row in report.sheet] == [len(ev.RESTORE_SHEET_COLUMNS)]


def lightness_scores(psnr: float, ssim: float) -> ev.LightnessScores:
    return ev.LightnessScores(psnr=psnr, ssim=ssim)


@pytest.mark.parametrize("ours, expected", [
    (lightness_scores(26.0, 0.90), {"psnr_above_baselines": True, "ssim_above_baselines": True}),
    (lightness_scores(24.5, 0.90), {"psnr_above_baselines": False, "ssim_above_baselines": True}),
    (lightness_scores(26.0, 0.84), {"psnr_above_baselines": True, "ssim_above_baselines": False}),
])
def test_verdict_is_the_issues_bar(ours, expected):
    # Baselines: none 22 dB / 0.80, classical 24 dB / 0.85, classical_full 25 dB / 0.83.
    scores = {"ours": ours, "none": lightness_scores(22.0, 0.80), "classical": lightness_scores(24.0, 0.85),
              "classical_full": lightness_scores(25.0, 0.83)}
    report = ev.RestoreReport("test", True, 0, [ev.RestoreResult("a.png", 16, 16, scores)])
    assert report.verdict() == expected


def test_the_seed_must_not_be_negative(capsys):
    with pytest.raises(SystemExit):
        cli.parse_args(["--images", ".", "--degrade", "--seed", "-1"])
    assert "0 or more" in capsys.readouterr().err
