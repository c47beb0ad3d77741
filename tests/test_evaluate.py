"""The evaluation, run for real: `python -m colorizer.evaluate` on a folder of small photos.

These tests check the bookkeeping and the baselines, whose numbers can be worked out without the
model; tests/test_default_quality.py holds the shipped weights to their measured quality.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata
from skimage.color import rgb2lab

from colorizer.errors import ColorizerError
from colorizer.evaluate import photos as ev
from colorizer.evaluate import report as rp
from colorizer.pipelines.colorizer import Colorizer

PHOTOS = {  # name in the test folder -> scikit-image sample; one in a subfolder (folders are searched)
    "astronaut.png": "astronaut",
    "chelsea.png": "chelsea",
    "coffee.png": "coffee",
    "more/rocket.png": "rocket",
}
SHEET_ROWS = 3


def small(name: str) -> Image.Image:
    image = Image.fromarray(getattr(skdata, name)())
    image.thumbnail((128, 128))
    return image


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    (root / "more").mkdir()
    for name, sample in PHOTOS.items():
        small(sample).save(root / name)
    small("astronaut").convert("L").save(root / "black_and_white.png")
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n but not really")
    small("coffee").resize((120, 10)).save(root / "strip.png")  # colour, but under SSIM's 11 px window
    return root


@pytest.fixture(scope="module")
def run(folder, tmp_path_factory):
    """One CLI run: (completed process, JSON report, output folder)."""
    out = tmp_path_factory.mktemp("out")
    proc = subprocess.run(
        [sys.executable, "-m", "colorizer.evaluate", "--images", str(folder), "--render-size", "64",
         "--out", str(out / "report.json"), "--sheet-rows", str(SHEET_ROWS)],
        capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[1],
    )
    assert proc.returncode == 0, proc.stderr
    return proc, json.loads((out / "report.json").read_text()), out


def photo(folder: Path, name: str) -> np.ndarray:
    return np.asarray(Image.open(folder / name).convert("RGB"))


def test_report_scores_every_colour_photo_with_every_method(run):
    _, report, _ = run
    assert sorted(r["name"] for r in report["images"]) == sorted(PHOTOS)
    per_image = [r["scores"][m] for r in report["images"] for m in ev.METHODS]
    for s in per_image + [report["mean"][m] for m in ev.METHODS]:
        assert set(s) == {"psnr", "ssim", "ab_error", "hue_hits", "colorfulness", "delta_cf"}
        assert all(math.isfinite(v) for v in s.values())  # every sample photo has clearly coloured pixels
    psnrs = [r["scores"]["mean_chroma"]["psnr"] for r in report["images"]]
    assert report["mean"]["mean_chroma"]["psnr"] == pytest.approx(np.mean(psnrs))
    assert set(report["verdict"]) == {"psnr_above_baselines", "colorfulness_closer_than_gray"}


def test_corrupt_and_black_and_white_files_are_skipped_with_a_reason(run):
    proc, report, _ = run
    reasons = {s["name"]: s["reason"] for s in report["skipped"]}
    assert set(reasons) == {"broken.png", "black_and_white.png", "strip.png"}
    assert "not an image" in reasons["broken.png"]
    assert reasons["strip.png"] == "120x10 is too small to score (SSIM needs 11 px a side)"
    assert "black-and-white already" in reasons["black_and_white.png"]
    assert "skipped broken.png" in proc.stderr


def test_gray_baseline_loses_all_the_colour(run):
    # A gray image has colourfulness 0, so its difference is minus the original's.
    _, report, _ = run
    for result in report["images"]:
        gray = result["scores"]["gray"]
        assert gray["colorfulness"] == pytest.approx(0.0, abs=0.1)
        assert gray["delta_cf"] == pytest.approx(-result["original_colorfulness"], abs=0.1)
        assert result["original_colorfulness"] > 20


def test_gray_baseline_has_no_hue_hits_and_ours_is_scored_on_its_output(run, folder):
    _, report, _ = run
    for result in report["images"]:
        assert result["scores"]["gray"]["hue_hits"] == 0.0
        assert 0.0 < result["scores"]["ours"]["hue_hits"] < 1.0
    summary = report["summary"]
    assert set(summary) == set(ev.METHODS)
    assert summary["gray"] == {"hue_hits": 0.0, "hue_hits_over_sources": None, "delta_cf": pytest.approx(
        -np.mean([r["original_colorfulness"] for r in report["images"]]), abs=0.1), "abs_delta_cf": pytest.approx(
        np.mean([r["original_colorfulness"] for r in report["images"]]), abs=0.1), "psnr_gain_db": 0.0,
        "better_than_gray": 0, "better_than_gray_share": 0.0}
    ours = summary["ours"]
    assert ours["hue_hits"] == pytest.approx(report["mean"]["ours"]["hue_hits"])
    assert ours["abs_delta_cf"] == pytest.approx(np.mean([abs(r["scores"]["ours"]["delta_cf"])
                                                          for r in report["images"]]))
    assert ours["psnr_gain_db"] == pytest.approx(report["mean"]["ours"]["psnr"] - report["mean"]["gray"]["psnr"])
    assert ours["better_than_gray"] == report["ours_better_than_gray"]
    assert ours["better_than_gray_share"] == report["ours_better_than_gray"] / len(PHOTOS)


def test_gray_baseline_psnr_matches_an_independent_computation(run, folder):
    # Gray of the same CIE lightness = sRGB-encode the photo's linear luminance Y.
    _, report, _ = run
    for result in report["images"]:
        rgb = photo(folder, result["name"]) / 255.0
        linear = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
        y = linear @ np.array([0.212671, 0.715160, 0.072169])
        gray = np.where(y > 0.0031308, 1.055 * y ** (1 / 2.4) - 0.055, 12.92 * y)
        mse = np.mean((np.round(gray * 255)[..., None] - rgb * 255) ** 2)
        assert result["scores"]["gray"]["psnr"] == pytest.approx(10 * np.log10(255**2 / mse), abs=1e-3)


def test_mean_chroma_baseline_takes_its_colour_from_the_other_photos(run, folder):
    _, report, _ = run
    mean_ab = {name: rgb2lab(photo(folder, name))[..., 1:].mean(axis=(0, 1)) for name in PHOTOS}
    for result in report["images"]:
        others = [ab for name, ab in mean_ab.items() if name != result["name"]]
        assert result["mean_chroma_ab"] == pytest.approx(np.mean(others, axis=0), abs=0.01)
        assert result["scores"]["mean_chroma"]["colorfulness"] > 5  # it does add colour


def test_terminal_table_and_contact_sheet(run, folder):
    proc, report, out = run
    assert "mean of 4" in proc.stdout
    better = sum(r["scores"]["ours"]["psnr"] > r["scores"]["gray"]["psnr"] for r in report["images"])
    assert report["ours_better_than_gray"] == better
    assert f"ours is better than gray (PSNR) on {better} of 4 photos" in proc.stdout
    assert "mean_chroma" in proc.stdout
    assert "hue hits: of the pixels whose true chroma C*ab is at least 15, the share given the true hue within 30 " \
           "degrees and at least a third of the true chroma" in proc.stdout
    assert report["hue_hits_definition"] in proc.stdout
    ours = report["summary"]["ours"]
    summary_row = (f"{'ours':<13}{ours['hue_hits']:9.3f}{'-':>14}{ours['delta_cf']:+8.1f}{ours['abs_delta_cf']:7.1f}"
                   f"{ours['psnr_gain_db']:+18.2f}")
    assert summary_row in proc.stdout
    sheet = Image.open(out / "report.png")  # default: next to --out
    widths = [round(photo(folder, n).shape[1] * rp.THUMB_HEIGHT / photo(folder, n).shape[0])
              for n in sorted(PHOTOS)[:SHEET_ROWS]]
    assert sheet.size == (3 * max(widths) + 4 * rp.SHEET_GAP,
                          rp.LABEL_HEIGHT + SHEET_ROWS * (rp.THUMB_HEIGHT + rp.SHEET_GAP) + rp.SHEET_GAP)


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer.from_pretrained(device="cpu")


def test_evaluate_as_a_function_keeps_thumbnails_for_the_sheet(tmp_path, colorizer):
    for sample in ("chelsea", "coffee"):
        small(sample).save(tmp_path / f"{sample}.png")
    report = ev.evaluate(tmp_path, colorizer, render_size=64, sheet_rows=1)
    assert [r.name for r in report.images] == ["chelsea.png", "coffee.png"] and len(report.sheet) == 1
    gray, ours, original = report.sheet[0]
    assert gray.size == ours.size == original.size == (193, rp.THUMB_HEIGHT)  # 128 x 85 scaled to height 128
    assert np.ptp(np.asarray(gray).astype(int), axis=-1).max() <= 1  # the gray column is gray
    assert np.ptp(np.asarray(original).astype(int), axis=-1).max() > 50  # the original is not


def test_a_collected_folder_is_also_scored_per_source(tmp_path, colorizer):
    for name, sample in (("sporco__a.png", "chelsea"), ("sporco__b.png", "coffee"), ("scipy__c.png", "astronaut")):
        small(sample).save(tmp_path / name)
    report = ev.evaluate(tmp_path, colorizer, render_size=64)
    rows = report.by_source()
    assert list(rows) == ["scipy", "sporco"] and [r["photos"] for r in rows.values()] == [1, 2]
    gains = {r.name: r.scores["ours"].psnr - r.scores["gray"].psnr for r in report.images}
    assert rows["sporco"]["gain_db"] == pytest.approx((gains["sporco__a.png"] + gains["sporco__b.png"]) / 2)
    assert rows["sporco"]["better_than_gray"] == sum(gains[n] > 0 for n in ("sporco__a.png", "sporco__b.png"))
    assert "mean of 2 sources" in report.table() and report.to_dict()["by_source"] == rows
    (tmp_path / "scipy__c.png").rename(tmp_path / "c.png")  # not every file named by a source: no rows
    assert ev.evaluate(tmp_path, colorizer, render_size=64).by_source() == {}


def toned(sample: str) -> Image.Image:
    """A sample turned gray and faintly warm-toned: a colour photo (not black-and-white by is_grayscale) with no
    pixel as colourful as hue hits asks (chroma under 7 everywhere)."""
    g = np.asarray(small(sample).convert("L")).astype(int)
    return Image.fromarray(np.clip(np.stack([g + 8, g + 2, g - 6], axis=-1), 0, 255).astype(np.uint8))


def test_cli_reports_hue_hits_per_photo_per_source_and_in_the_means(tmp_path):
    """A collected folder (SOURCE__name): the toned photo has no hue to get right, so its hue hits are none
    (null, "-") and stay out of every mean, rather than counting as 0."""
    photos = tmp_path / "photos"
    photos.mkdir()
    small("chelsea").save(photos / "alpha__chelsea.png")
    toned("astronaut").save(photos / "alpha__toned.png")
    small("coffee").save(photos / "beta__coffee.png")
    proc = subprocess.run([sys.executable, "-m", "colorizer.evaluate", "--images", str(photos), "--render-size", "64",
                           "--out", str(tmp_path / "report.json"), "--sheet-rows", "0"],
                          capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[1])
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    hits = {r["name"]: {m: r["scores"][m]["hue_hits"] for m in ev.METHODS} for r in report["images"]}
    assert hits["alpha__toned.png"] == {m: None for m in ev.METHODS}
    assert hits["alpha__chelsea.png"]["gray"] == hits["beta__coffee.png"]["gray"] == 0.0
    for m in ev.METHODS:
        scored = [hits["alpha__chelsea.png"][m], hits["beta__coffee.png"][m]]
        assert report["mean"][m]["hue_hits"] == pytest.approx(np.mean(scored))  # two photos, not three
        assert report["by_source"]["alpha"]["hue_hits"][m] == pytest.approx(scored[0])
        assert report["summary"][m]["hue_hits_over_sources"] == pytest.approx(np.mean(scored))
    gaps = {r["name"]: r["scores"]["ours"]["delta_cf"] for r in report["images"]}
    alpha = report["by_source"]["alpha"]
    cat, toned_gap = gaps["alpha__chelsea.png"], gaps["alpha__toned.png"]
    assert alpha["photos"] == 2 and alpha["delta_cf"] == pytest.approx((cat + toned_gap) / 2)
    assert alpha["abs_delta_cf"] == pytest.approx((abs(cat) + abs(toned_gap)) / 2)
    assert report["summary"]["ours"]["abs_delta_cf"] == pytest.approx(np.mean([abs(g) for g in gaps.values()]))
    toned_row = next(line for line in proc.stdout.splitlines() if line.startswith("alpha__toned.png"))
    assert toned_row.split()[:2] == ["alpha__toned.png", "ours"] and toned_row.split()[5] == "-"
    assert f"{hits['beta__coffee.png']['ours']:.3f}" in next(line for line in proc.stdout.splitlines()
                                                            if line.startswith("beta__coffee.png"))
    assert "mean of 2 sources" in proc.stdout and "hue hits" in proc.stdout and "|dCF|" in proc.stdout


def scores(psnr: float, delta_cf: float) -> ev.Scores:
    return ev.Scores(psnr=psnr, ssim=0.9, ab_error=10.0, hue_hits=0.5, colorfulness=30.0 + delta_cf, delta_cf=delta_cf)


@pytest.mark.parametrize("ours, expected", [
    (scores(25.0, -10.0), {"psnr_above_baselines": True, "colorfulness_closer_than_gray": True}),
    (scores(23.0, 10.0), {"psnr_above_baselines": False, "colorfulness_closer_than_gray": True}),
    (scores(25.0, -31.0), {"psnr_above_baselines": True, "colorfulness_closer_than_gray": False}),
])
def test_verdict_is_the_issues_bar(ours, expected):
    # Baselines: gray at 22 dB and mean chroma at 24 dB; the originals have CF 30, gray 0.
    result = ev.ImageResult("a.png", 8, 8, 30.0, (0.0, 0.0),
                            {"ours": ours, "gray": scores(22.0, -30.0), "mean_chroma": scores(24.0, -20.0)})
    assert ev.Report("test", 64, [result]).verdict() == expected


def test_strength_scales_the_colour_as_the_cli_does(folder, colorizer):
    """Strength 0 is the gray photo; 1.5 is the colour the CLI writes at --strength 1.5."""
    at = {x: ev.evaluate(folder, colorizer, render_size=64, strength=x) for x in (0.0, 1.0, 1.5)}
    for gray_run, vivid, plain in zip(at[0.0].images, at[1.5].images, at[1.0].images):
        assert gray_run.scores["ours"].psnr == pytest.approx(gray_run.scores["gray"].psnr)
        assert vivid.scores["ours"].colorfulness > plain.scores["ours"].colorfulness > 0
    assert at[1.5].strength == 1.5 and at[1.5].to_dict()["strength"] == 1.5
    assert at[0.0].better_than_gray() == 0


def test_emulsion_changes_what_the_model_sees_not_what_is_scored(folder, colorizer):
    """The model colours the old film's gray; every method keeps the eye's lightness, so the gray
    baseline scores exactly as without --emulsion while ours changes."""
    eye = ev.evaluate(folder, colorizer, render_size=64)
    film = ev.evaluate(folder, colorizer, render_size=64, emulsion="blue-sensitive")
    for plain, old in zip(eye.images, film.images):
        assert old.scores["gray"] == plain.scores["gray"]
        assert old.scores["mean_chroma"] == plain.scores["mean_chroma"]
        assert old.scores["ours"].ab_error != plain.scores["ours"].ab_error
    assert film.to_dict()["emulsion"] == "blue-sensitive" and eye.to_dict()["emulsion"] is None
    assert "the model saw the blue-sensitive gray" in film.table()
    with pytest.raises(ColorizerError, match="unknown emulsion 'sepia'; choose one of blue-sensitive"):
        ev.evaluate(folder, colorizer, emulsion="sepia")


def test_evaluation_needs_two_colour_photos(tmp_path, colorizer):
    small("coffee").save(tmp_path / "coffee.png")
    small("coffee").convert("L").save(tmp_path / "gray.png")
    with pytest.raises(ColorizerError, match="1 usable colour photo"):
        ev.evaluate(tmp_path, colorizer)


@pytest.mark.parametrize("args, message", [
    (["--out", "{tmp}/afile/report.json"], "afile is a file, not a folder"),
    (["--out", "{tmp}"], "is a folder; give a file name"),
    (["--out", "{tmp}/report.png"], "the report is JSON; give it a name ending in .json"),
    (["--contact-sheet", "{tmp}/sheet.txt"], "unknown image extension '.txt'"),
    (["--hints", "0,5,1000000"], "hint counts must be whole numbers from 0 to 1000"),
    (["--degrade", "--strength", "1.2"], "--strength scores colorization"),
    (["--hints", "0,1", "--emulsion", "orthochromatic"], "--emulsion scores colorization"),
    (["--strength", "nan"], "colour strength must be a finite number"),
])
def test_output_paths_and_hint_counts_that_cannot_work_are_one_line_errors(tmp_path, folder, args, message):
    (tmp_path / "afile").write_text("not a folder")
    argv = ["--images", str(folder), "--render-size", "64", *(a.format(tmp=tmp_path) for a in args)]
    proc = subprocess.run([sys.executable, "-m", "colorizer.evaluate", *argv], capture_output=True, text=True,
                          timeout=300, cwd=Path(__file__).parents[1])
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert message in proc.stderr and "evaluating" not in proc.stderr  # refused before any photo was scored
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]



def test_an_unknown_emulsion_is_refused_with_the_choices(folder):
    proc = subprocess.run([sys.executable, "-m", "colorizer.evaluate", "--images", str(folder), "--emulsion", "sepia"],
                          capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[1])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "invalid choice: 'sepia'" in proc.stderr and "orthochromatic" in proc.stderr
