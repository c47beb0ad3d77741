"""Colour hints (colorizer.pipelines.hints): the API, the CLI with a real hints file, bad input, no bleeding."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch
from PIL import Image

from colorizer import color
from colorizer.errors import HintError
from colorizer.pipelines.colorizer import Colorizer
from colorizer.io.hints import Point, Stroke, load_hints_file, parse_hints
from colorizer.pipelines.hints import apply_hints, hint_ab
from tests.conftest import REPO, lab_of, lightness_of, real_photo, run_cli

OFFLINE = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}  # the CLI's entire environment: offline, nothing inherited


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer.from_pretrained(None)


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    """A real colour photo (coffee, 128x85) and its gray version."""
    return real_photo("coffee.png", 128)


def test_no_hints_is_bit_for_bit_the_plain_result(colorizer, photo):
    gray = photo.convert("L")
    plain = np.asarray(colorizer.colorize(gray, render_size=128))
    assert np.array_equal(np.asarray(colorizer.colorize(gray, render_size=128, hints=None)), plain)
    assert np.array_equal(np.asarray(colorizer.colorize(gray, render_size=128, hints=[])), plain)
    # Batched, against the same batch without hints: one photo alone and two in a batch round differently
    # when torch runs on several threads.
    many_plain = [np.asarray(m) for m in colorizer.colorize_many([gray, gray], render_size=128)]
    many = list(colorizer.colorize_many([gray, gray], render_size=128, hints=[None, []]))
    assert all(np.array_equal(np.asarray(m), p) for m, p in zip(many, many_plain, strict=True))


def test_hint_colour_is_reached_and_lightness_kept(colorizer, photo):
    gray = photo.convert("L")
    original = np.asarray(photo)
    hints = [(30, 40, tuple(int(v) for v in original[40, 30])), (100, 20, "#%02x%02x%02x" % tuple(original[20, 100]))]
    out = colorizer.colorize(gray, render_size=128, hints=hints)
    lab, want = lab_of(out), lab_of(photo)
    for x, y, _ in hints:
        assert np.hypot(*(lab[1:, y, x] - want[1:, y, x])) < 5  # the hinted chroma, within 5 ab units
    assert np.abs(lightness_of(out) - lightness_of(gray)).max() < 1.5  # lightness untouched (8-bit rounding)
    assert np.abs(np.asarray(out, dtype=int) - np.asarray(colorizer.colorize(gray, render_size=128), dtype=int)).max() > 10


def _srgb_of(lightness: float, a: float, b: float) -> tuple[int, int, int]:
    """The 8-bit sRGB colour of Lab (lightness, a, b) (its chroma reduced if out of gamut)."""
    lab = torch.tensor([lightness, a, b], dtype=torch.float64).view(3, 1, 1)
    return tuple(int(v) for v in color.lab_to_rgb(lab).mul(255).round().view(3))


def _in_gamut_colour(gray: Image.Image, x: int, y: int, a: float, b: float) -> tuple[int, int, int]:
    """An sRGB colour with the lightness of gray's pixel (x, y) and chroma (a, b): reachable there."""
    return _srgb_of(float(lightness_of(gray)[y, x]), a, b)


def test_a_stroke_colours_its_region_and_colorize_many_takes_hints(colorizer, photo):
    gray = photo.convert("L")
    model_ab = lab_of(colorizer.colorize(gray, render_size=128))[1:, 70, 20:50].mean(axis=1)
    # a chroma the model did not pick there: opposite to what it painted (teal where it chose red)
    away = -30.0 * model_ab / max(float(np.hypot(*model_ab)), 1e-6) if np.hypot(*model_ab) > 3 else np.array([-30.0, -10.0])
    colour = _in_gamut_colour(gray, 35, 70, *away)
    stroke = Stroke(((10.0, 70.0), (60.0, 70.0)), colour)
    plain, hinted = colorizer.colorize_many([gray, gray], render_size=128, hints=[None, [stroke]])
    assert np.hypot(*(lab_of(hinted)[1:, 70, 35] - hint_ab(colour))) < 5  # where the colour fits the lightness
    distance = {name: np.hypot(*(lab_of(out)[1:, 70, 20:50].mean(axis=1) - hint_ab(colour)))
                for name, out in (("plain", plain), ("hinted", hinted))}
    assert distance["hinted"] < distance["plain"] - 5, distance


def test_no_bleeding_across_a_strong_edge():
    """Dark left half, light right half; a hint 20 px left of the edge leaves the right half alone."""
    h, w = 96, 160
    lightness = torch.full((1, h, w), 30.0)
    lightness[..., 80:] = 75.0
    model_ab = torch.zeros(2, h, w)
    out = apply_hints(model_ab, lightness, [Point(60, 48, (0, 160, 255))], (w, h))
    change = torch.linalg.vector_norm(out - model_ab, dim=0)  # (h, w) ab units
    assert change[:, 80:].max() < 2  # the other region: under 2 ab units everywhere
    assert change[48, 60] > 40 and change[:, 40:80].mean() > 10  # while its own region took the colour


def test_a_lone_hint_colours_its_own_place_of_a_flat_region_and_not_the_rest():
    """One point says what is there, not what the whole photo is: full strength beside it, nothing far off."""
    h = w = 256
    out = apply_hints(torch.zeros(2, h, w), torch.full((1, h, w), 50.0), [Point(5, 5, (220, 40, 40))], (w, h))
    change = torch.linalg.vector_norm(out, dim=0)
    assert change[5, 5] > 50 and change[15, 15] > 0.9 * change[5, 5]  # full strength near the hint
    assert change[128:, 128:].max() < 2  # the far half of the photo keeps the model's colour


def test_one_short_stroke_colours_its_place_on_a_real_photo_and_leaves_the_rest(colorizer):
    """A red stroke w/20 long on the coffee photo's table: the stroke's place turns red, and most of the
    photo (the cup, the saucer, the rest of the table) keeps the automatic colour."""
    gray = real_photo("coffee.png", 256).convert("L")
    stroke = Stroke(((200.0, 20.0), (213.0, 20.0)), "#b02010")
    plain, hinted = (lab_of(colorizer.colorize(gray, render_size=256, hints=h)) for h in (None, [stroke]))
    moved = np.hypot(*(hinted[1:] - plain[1:])) > 10
    assert moved.mean() < 0.3, moved.mean()  # the spread of before moved half of this photo
    assert np.hypot(*(hinted[1:, 20, 200:214].mean(axis=1) - hint_ab((0xB0, 0x20, 0x10)))) < 15
    assert moved[20, 200:214].all()


def test_twenty_true_colours_still_carry_across_a_real_photo(colorizer):
    """Points of many colours that agree the model is off the same way correct the photo far beyond
    themselves: the error drops over the whole photo, not only beside the points."""
    photo = real_photo("astronaut.png", 192)
    original, gray = np.asarray(photo), photo.convert("L")
    rng = np.random.default_rng(0)
    xs, ys = rng.integers(0, photo.width, 20), rng.integers(0, photo.height, 20)
    given = [(int(x), int(y), tuple(int(v) for v in original[y, x])) for x, y in zip(xs, ys)]
    truth = lab_of(photo)[1:]
    far = np.ones(truth.shape[1:], bool)
    for x, y in zip(xs, ys):
        far[max(0, y - 12):y + 13, max(0, x - 12):x + 13] = False  # more than 12 px from every point
    error = {name: np.hypot(*(lab_of(colorizer.colorize(gray, render_size=192, hints=h))[1:] - truth))[far].mean()
             for name, h in (("plain", None), ("hinted", given))}
    assert error["hinted"] < 0.85 * error["plain"], error


def test_many_scattered_hints_each_hold_their_own_neighbourhood():
    """Sixteen hints, red and blue like a chessboard: each spreads less far than a lone hint would, so the
    pixels beside a red hint are red, not the board's average purple."""
    h = w = 256
    red, blue = (200, 40, 40), (40, 80, 220)
    given = [Point(32 + 64 * i, 32 + 64 * j, red if (i + j) % 2 == 0 else blue) for i in range(4) for j in range(4)]
    out = apply_hints(torch.zeros(2, h, w), torch.full((1, h, w), 50.0), given, (w, h))
    beside = out[:, 32, 38].numpy()  # 6 px from a red hint, 58 px from the nearest blue ones
    to_red, to_blue = (np.hypot(*(beside - np.array(hint_ab(c)))) for c in (red, blue))
    assert to_red < 0.5 * to_blue, (to_red, to_blue)


STRIPE_L = (20.0, 35.0, 50.0, 65.0, 80.0)  # five stripes, strong edges between them
STRIPE_AB = ((10.0, 10.0), (-10.0, 20.0), (20.0, -15.0), (-15.0, -15.0), (5.0, 30.0))  # the model's colour in each


def _stripes(h: int = 60, w: int = 200) -> tuple[torch.Tensor, torch.Tensor]:
    """(1, h, w) lightness and (2, h, w) model ab of five vertical stripes, each its own lightness and colour."""
    lightness, ab = torch.empty(1, h, w), torch.empty(2, h, w)
    for i, (l, model) in enumerate(zip(STRIPE_L, STRIPE_AB)):
        lightness[..., i * w // 5:(i + 1) * w // 5] = l
        ab[:, :, i * w // 5:(i + 1) * w // 5] = torch.tensor(model)[:, None, None]
    return lightness, ab


def test_hints_that_agree_on_a_cast_correct_the_whole_photo():
    """The model's colours are all off the same way (a turn of hue, a gain, a shift); hints in four stripes
    correct a fifth that none touches, across strong edges and with a model colour none of them has."""
    lightness, model_ab = _stripes()
    turn = np.radians(35.0)
    cast = 1.3 * np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    truth = [cast @ np.array(ab) + np.array([6.0, -4.0]) for ab in STRIPE_AB]
    given = [Point(x, y, _srgb_of(STRIPE_L[i], *truth[i])) for i in range(4) for x, y in ((i * 40 + 10, 15), (i * 40 + 30, 45))]
    out = apply_hints(model_ab, lightness, given, (200, 60))
    before = np.hypot(*(np.array(STRIPE_AB[4]) - truth[4]))
    after = np.hypot(*(out[:, :, 160:].mean(dim=(1, 2)).numpy() - truth[4]))
    assert before > 12 and after < 0.3 * before, (before, after)


def test_one_colour_or_contradicting_hints_leave_the_rest_alone():
    """Strokes of one colour say what that thing is, not that the photo has a cast; hints that contradict
    each other (the same model colour is red here, blue there) confirm none. Either way the stripe no hint
    reaches keeps the model's colour."""
    lightness, model_ab = _stripes()
    red = Stroke(((5.0, 30.0), (35.0, 30.0)), (200, 40, 40))
    one_colour = [red, Stroke(((85.0, 10.0), (115.0, 50.0)), (200, 40, 40))]
    lightness[..., 40:80] = STRIPE_L[0] + 25.0  # stripe 1 gets its own lightness, stripe 0's colour
    model_ab[:, :, 40:80] = torch.tensor(STRIPE_AB[0])[:, None, None]
    contradicting = [red, Stroke(((45.0, 30.0), (75.0, 30.0)), (40, 80, 220))]
    for given in (one_colour, contradicting):
        out = apply_hints(model_ab, lightness, given, (200, 60))
        assert torch.linalg.vector_norm(out - model_ab, dim=0)[:, 160:].max() < 2, given


@pytest.mark.parametrize(("hints", "message"), [
    ([(10, 10, "red")], "hint 0: colour 'red'"),
    ([(10, 10, "#12345")], "hint 0: colour '#12345'"),
    ([(1, 1, (0, 0, 0)), (10, 10, (300, 0, 0))], "hint 1: colour (300, 0, 0)"),
    ([(float("nan"), 10, "#ff0000")], "hint 0: coordinate nan"),
    ([{"points": [], "color": "#ff0000"}], "hint 0: \"points\""),
    ([{"x": 1, "color": "#ff0000"}], "hint 0: a point needs"),
    ("#ff0000", "hints must be a list"),
])
def test_malformed_hints_are_named(hints, message):
    with pytest.raises(HintError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_hints(hints)


def test_hints_outside_the_image_are_named(colorizer, photo):
    gray = photo.convert("L")
    with pytest.raises(HintError, match=r"hint 1 at \(128, 5\) is outside image \(128x85 pixels"):
        colorizer.colorize(gray, render_size=64, hints=[(0, 0, "#ff0000"), (128, 5, "#ff0000")])
    results = list(colorizer.colorize_many([gray, gray], render_size=64,
                                           hints=[[Stroke(((0, 0), (10, 90)), (9, 9, 9))], None]))
    assert isinstance(results[0], HintError) and "hint 0 at (10, 90)" in str(results[0])
    assert isinstance(results[1], Image.Image)  # the other photo is still colorized


def test_hints_file_errors_name_the_file(tmp_path):
    with pytest.raises(HintError, match="missing.json: cannot be read"):
        load_hints_file(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("[{\"x\": 1,")
    with pytest.raises(HintError, match="broken.json: not valid JSON"):
        load_hints_file(broken)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"a.jpg": [{"x": 1, "y": 2, "color": "#zzzzzz"}]}))
    with pytest.raises(HintError, match="bad.json: a.jpg: hint 0: colour '#zzzzzz'"):
        load_hints_file(bad)


def test_cli_applies_a_hints_file_per_photo(tmp_path, photo):
    photos = tmp_path / "in"
    photos.mkdir()
    photo.convert("L").save(photos / "a.png")
    photo.convert("L").save(photos / "b.png")
    hints = tmp_path / "hints.json"
    rose = _in_gamut_colour(photo.convert("L"), 35, 70, 30.0, 10.0)
    hints.write_text(json.dumps({"a.png": [{"points": [[10, 70], [60, 70]], "color": list(rose)}]}))
    run = run_cli(str(photos), "-o", str(tmp_path / "out"), "--render-size", "128", "--hints", str(hints), env=OFFLINE)
    assert run.returncode == 0, run.stderr
    a, b = (lab_of(Image.open(tmp_path / "out" / name)) for name in ("a.png", "b.png"))
    assert np.hypot(*(a[1:, 70, 35] - hint_ab(rose))) < 5  # a got its hint
    assert np.hypot(*(b[1:, 70, 35] - hint_ab(rose))) > 10  # b had none


def test_cli_refuses_hints_for_photos_not_in_the_batch(tmp_path, photo):
    photo.convert("L").save(tmp_path / "a.png")
    hints = tmp_path / "hints.json"
    hints.write_text(json.dumps({"a.png": [], "grandma.jpg": [[1, 1, "#ffffff"]]}))
    run = run_cli(str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--hints", str(hints), env=OFFLINE)
    assert run.returncode == 2
    assert "'grandma.jpg' is not among the photos being colorized" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "out" / "a.png").exists()
    run = run_cli(str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--hints", str(tmp_path / "none.json"),
                  env=OFFLINE)
    assert run.returncode == 2 and "none.json: cannot be read" in run.stderr


def test_evaluate_hints_scores_each_count(tmp_path):
    from colorizer import evaluate

    out = tmp_path / "hints.json"
    assert evaluate.main(["--images", str(REPO / "tests" / "data" / "holdout"), "--hints", "0,5", "--render-size",
                          "64", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    photos = sorted(p.name for p in (REPO / "tests" / "data" / "holdout").glob("*.jpg"))
    assert report["mode"] == "hints" and report["photos"] == photos
    none, five = report["mean"]["0"]["edge_aware"], report["mean"]["5"]
    assert none["hint_ab_error"] == 0 and set(five) == {"edge_aware", "gaussian"}
    assert five["edge_aware"]["ab_error"] < none["ab_error"]  # five true colours bring it closer
    assert five["edge_aware"]["hue_hits"] > none["hue_hits"] > 0  # and give more of the photo its hue
    assert evaluate.main(["--images", str(tmp_path), "--hints", "a,b"]) == 1


def test_too_many_hints_are_refused_in_one_line_before_any_work(colorizer, photo, tmp_path):
    """A cap on points and on stroke points, the same for the Python API and the CLI; a hundred thousand
    points are refused in well under a second, JSON parse included."""
    from colorizer.io.hints import MAX_HINTS, MAX_STROKE_POINTS

    points = [[i % 128, i % 85, "#ff0000"] for i in range(100_000)]
    long_stroke = [{"points": [[10, 5]] * (MAX_STROKE_POINTS // 2 + 1), "color": "#ff0000"}] * 2
    gray = photo.convert("L")
    started = time.monotonic()
    with pytest.raises(HintError, match=f"100000 hints is more than {MAX_HINTS}"):
        colorizer.colorize(gray, render_size=64, hints=json.loads(json.dumps(points)))
    with pytest.raises(HintError, match=f"the strokes have {MAX_STROKE_POINTS + 2} points together, more than"):
        colorizer.colorize(gray, render_size=64, hints=long_stroke)
    assert time.monotonic() - started < 2
    parse_hints(points[:MAX_HINTS])  # at the cap: fine
    gray.save(tmp_path / "a.png")
    hints = tmp_path / "hints.json"
    hints.write_text(json.dumps(points[:10_000]))  # a hundred thousand are refused on the file's size first
    run = run_cli(str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--hints", str(hints), env=OFFLINE)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert f"10000 hints is more than {MAX_HINTS}" in run.stderr
    assert not (tmp_path / "out" / "a.png").exists()
