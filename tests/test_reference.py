"""Reference colour ("colour it like this photo") through the real default model: API, CLI, app, evaluation,
films and bad references. Pictures are small (render size 128) and cut from real colour photos as the
reference protocol cuts them (colorizer.evaluate.reference.views): a target and a reframed view of it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from colorizer import color
from colorizer.errors import ReferenceImageError
from colorizer.evaluate.reference import views
from colorizer.io import provenance
from colorizer.io.images import open_image
from colorizer.pipelines import reference as referencing
from colorizer.pipelines.colorizer import Colorizer
from colorizer.pipelines.film import MotionAwareAverage
from colorizer.pipelines.photo import resize_lightness
from tests.conftest import lab_of, real_photo, run_cli
from tools.test_film import FilmScript, ab_of, frames_of, packets_of, write_film

RENDER = 384
JUST_NOTICEABLE = 2.3  # mean ab difference (Delta E in chroma) below which two colourings look the same


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer.from_pretrained(device="cpu")


@pytest.fixture(scope="module")
def scene() -> tuple[Image.Image, Image.Image, Image.Image]:
    """(target in colour, its gray, a reframed colour view of the same scene) from scikit-image's astronaut."""
    target, reference = views(real_photo("astronaut.png", 384))
    return target, color.gray_of(target), reference


@pytest.fixture(scope="module")
def automatic(colorizer, scene) -> Image.Image:
    return colorizer.colorize(scene[1], RENDER)


def _ab_error(result: Image.Image, truth: Image.Image) -> float:
    return float(np.hypot(*(lab_of(result)[1:] - lab_of(truth)[1:])).mean())


def test_no_reference_is_exactly_the_automatic_result(colorizer, scene, automatic):
    for none in (None, []):
        result = colorizer.colorize(scene[1], RENDER, reference=none)
        assert np.array_equal(np.asarray(result), np.asarray(automatic))
        assert result.info[provenance.INFO_KEY].reference is False


def test_a_matching_reference_moves_the_colour_toward_the_truth_and_keeps_lightness(colorizer, scene, automatic):
    target, gray, reference = scene
    result = colorizer.colorize(gray, RENDER, reference=reference)
    assert _ab_error(result, target) < 0.8 * _ab_error(automatic, target)
    assert np.abs(lab_of(result)[0] - lab_of(automatic)[0]).max() < 1.5  # 8-bit rounding only
    assert result.info[provenance.INFO_KEY].reference is True
    saved = provenance.Provenance.from_dict(result.info[provenance.INFO_KEY].as_dict())
    assert saved.reference is True


def test_an_unrelated_reference_keeps_the_automatic_colour(colorizer, scene, automatic):
    def change(reference: Image.Image) -> float:
        result = colorizer.colorize(scene[1], RENDER, reference=reference)
        return float(np.hypot(*(lab_of(result)[1:] - lab_of(automatic)[1:])).mean())

    unrelated, matching = change(real_photo("coffee.png", 384)), change(scene[2])
    print(unrelated, matching)
    assert unrelated < 0.3 * matching


def test_references_are_a_set_and_each_picture_takes_the_one_that_matches(colorizer, scene, automatic):
    target, gray, reference = scene
    alone = colorizer.colorize(gray, RENDER, reference=reference)
    among = colorizer.colorize(gray, RENDER, reference=[real_photo("coffee.png", 384), reference])
    assert abs(_ab_error(among, target) - _ab_error(alone, target)) < 0.5


def test_hints_win_where_they_are(colorizer, scene):
    target, gray, reference = scene
    x, y = target.width // 2, target.height // 3
    hint = [(x, y, "#c03020")]
    both = lab_of(colorizer.colorize(gray, RENDER, hints=hint, reference=reference))[1:, y, x]
    hints_only = lab_of(colorizer.colorize(gray, RENDER, hints=hint))[1:, y, x]
    reference_only = lab_of(colorizer.colorize(gray, RENDER, reference=reference))[1:, y, x]
    assert np.hypot(*(both - hints_only)) < 0.2 * np.hypot(*(reference_only - hints_only))


def test_colorize_many_lends_the_references_to_every_photo(colorizer, scene, automatic):
    target, gray, reference = scene
    results = list(colorizer.colorize_many([gray, b"not an image", gray], RENDER, reference=[reference]))
    assert isinstance(results[1], Exception)
    for result in (results[0], results[2]):
        assert result.info[provenance.INFO_KEY].reference is True
        assert _ab_error(result, target) < 0.8 * _ab_error(automatic, target)


def test_bad_references_get_one_line_and_a_gray_one_a_note(colorizer, scene, automatic):
    gray = scene[1]
    with pytest.raises(ReferenceImageError, match="reference") as unreadable:
        colorizer.colorize(gray, RENDER, reference=b"not an image")
    assert "\n" not in str(unreadable.value)
    with pytest.raises(ReferenceImageError, match=f"more than {referencing.MAX_REFERENCES}"):
        colorizer.colorize(gray, RENDER, reference=[scene[2]] * (referencing.MAX_REFERENCES + 1))
    with pytest.raises(ReferenceImageError, match="megapixels"):
        colorizer.colorize(gray, RENDER, max_pixels=10_000, reference=Image.new("RGB", (200, 100), "red"))
    result = colorizer.colorize(gray, RENDER, reference=real_photo("coffee.png", 384).convert("L"))
    assert np.array_equal(np.asarray(result), np.asarray(automatic))
    assert any("black-and-white" in note for note in result.info["notes"])


def test_a_large_reference_is_read_reduced_upright_and_lends_the_same_colour(colorizer, scene, tmp_path):
    """A reference four or more times the render size is decoded reduced (a JPEG at 1/2 to 1/8 scale,
    anything else box-reduced before it is turned or copied): still upright, the caller's image untouched,
    and the colour it lends the same as from the picture at its own size."""
    big = scene[2].resize((scene[2].width * 6, scene[2].height * 6), Image.Resampling.BICUBIC)
    exif = Image.Exif()
    exif[0x0112] = 6  # EXIF orientation: turn 90 degrees clockwise to show it
    turned = big.transpose(Image.Transpose.ROTATE_90)  # stored turned, as a camera held upright stores it
    path = tmp_path / "reference.jpg"
    turned.save(path, quality=95, exif=exif)
    before = np.asarray(big).copy()
    for source in (path, big):
        image = open_image(source, long_side=RENDER)
        assert image.size[0] / image.size[1] == pytest.approx(big.width / big.height, rel=0.02)  # upright
        assert 2 * RENDER <= max(image.size) <= 4 * RENDER
    assert np.array_equal(np.asarray(big), before)
    lent = [colorizer.colorize(scene[1], RENDER, reference=source) for source in (scene[2], path, big)]
    for result in lent[1:]:
        assert float(np.hypot(*(lab_of(result)[1:] - lab_of(lent[0])[1:])).mean()) < JUST_NOTICEABLE


def test_cli_takes_reference_files_and_folders(scene, automatic, tmp_path):
    target, gray, reference = scene
    gray.save(tmp_path / "gray.png")
    (tmp_path / "refs").mkdir()
    reference.save(tmp_path / "refs" / "colour.png")
    done = run_cli(str(tmp_path / "gray.png"), "-o", str(tmp_path / "out"), "--render-size", str(RENDER),
                   "--reference", str(tmp_path / "refs"))
    assert done.returncode == 0, done.stderr
    assert provenance.read(tmp_path / "out" / "gray.png").reference is True
    assert _ab_error(Image.open(tmp_path / "out" / "gray.png"), target) < 0.8 * _ab_error(automatic, target)


def test_cli_refuses_an_unreadable_reference_in_one_line(scene, tmp_path, caplog):
    from colorizer.cli import main

    scene[1].save(tmp_path / "gray.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    assert main([str(tmp_path / "gray.png"), "-o", str(tmp_path / "out"), "--device", "cpu",
                 "--reference", str(tmp_path / "broken.jpg")]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "broken.jpg" in errors[0]
    assert not (tmp_path / "out" / "gray.png").exists()


def test_cli_names_a_missing_reference_or_an_empty_folder(tmp_path):
    from colorizer.cli import _reference_files

    with pytest.raises(ReferenceImageError, match="no such file"):
        _reference_files([tmp_path / "no.jpg"])
    with pytest.raises(ReferenceImageError, match="holds no images"):
        _reference_files([tmp_path])
    assert _reference_files(None) is None


def test_evaluate_has_a_reference_protocol(tmp_path, capsys):
    from colorizer.evaluate.cli import main

    for name in ("astronaut.png", "coffee.png"):
        real_photo(name, 128).save(tmp_path / name)
    assert main(["--images", str(tmp_path), "--reference-protocol", "--render-size", "96", "--sheet-rows", "1",
                 "--device", "cpu", "--out", str(tmp_path / "r.json")]) == 0
    shown = capsys.readouterr().out
    assert "| matching |" in shown and "| wrong |" in shown and "| hue hits |" in shown
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["mode"] == "reference"
    assert report["mean"]["matching"]["hue_hits"] > report["mean"]["wrong"]["hue_hits"]  # its own colours help more
    sheet = np.asarray(Image.open(tmp_path / "r.png").convert("RGB")).astype(int)
    gray_cell = sheet[30:100, 10:90]  # the first column: the target as the user has it
    assert np.ptp(gray_cell, axis=-1).max() <= 2 and sheet.shape[1] > 5 * 128


def test_a_film_draws_on_whichever_reference_matches_each_shot(colorizer, tmp_path):
    first, second = real_photo("coffee.png", None), real_photo("astronaut.png", None)
    script = FilmScript.from_photos(first, second, 96, 64, still=3, pan=0, after_cut=3)
    film = tmp_path / "reel.mp4"
    write_film(film, script, grain=4.0)
    # one still per shot, framed differently (zoomed in on the middle), given in the opposite order
    stills = [Image.fromarray(script.clean(i)).crop((8, 6, 88, 58)).resize((120, 78)) for i in (script.cut, 0)]
    for name, reference in (("plain", None), ("reference", stills)):
        colorizer.colorize_video(film, tmp_path / f"{name}.mp4", render_size=192, crf=1, reference=reference)
    plain, guided = frames_of(tmp_path / "plain.mp4"), frames_of(tmp_path / "reference.mp4")
    for shot in (range(0, script.cut), range(script.cut, script.frames)):
        error = {name: np.mean([np.hypot(*(ab_of(frames[i]) - ab_of(script.clean(i)))).mean() for i in shot])
                 for name, frames in (("plain", plain), ("reference", guided))}
        assert error["reference"] < 0.8 * error["plain"]
    assert provenance.read(tmp_path / "reference.mp4").reference is True
    assert packets_of(tmp_path / "reference.mp4") == packets_of(film)  # the sound, bit for bit
    assert len(guided) == script.frames


def test_app_endpoints_take_references(tmp_path, scene):
    from gradio_client import Client, handle_file

    from tools.app_server import running_app

    target, gray, reference = scene
    gray.save(tmp_path / "gray.png")
    reference.save(tmp_path / "reference.png")
    (tmp_path / "app").mkdir()
    with running_app(tmp_path / "app") as (url, _):
        client = Client(url, verbose=False, download_files=str(tmp_path / "downloads"))
        endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        assert "reference" in [p["parameter_name"] for p in endpoints["/colorize_film"]["parameters"]]
        _, plain, _ = client.predict(handle_file(tmp_path / "gray.png"), RENDER, api_name="/colorize")
        _, guided, _ = client.predict(handle_file(tmp_path / "gray.png"), RENDER,
                                      reference=[handle_file(tmp_path / "reference.png")], api_name="/colorize")
    assert _ab_error(Image.open(guided), target) < 0.8 * _ab_error(Image.open(plain), target)


def _lightness(image: Image.Image, shape: tuple[int, int]) -> torch.Tensor:
    """(1, h, w) L in [0, 100] of an image resized to shape, as the model sees a picture."""
    return resize_lightness(color.lab_of_rgb8(np.asarray(image.convert("RGB")))[:1].float(), shape)


def test_the_colorizing_pass_gives_the_features_matching_uses(colorizer, scene):
    """The picture's descriptors come from the pass that colours it, and are those the encoder gives alone."""
    small = _lightness(scene[1], colorizer.model_shape(*scene[1].size, RENDER))
    [(_, features)] = colorizer.predict_at([small])
    assert features is not None
    references, _ = colorizer.read_references(scene[2], RENDER, 10**8)
    from_pass = references.describe(small, features)
    with torch.inference_mode():
        alone = referencing.describe(referencing._default_generator().encode(color.normalize_l(small[None])),
                                     small.shape[-2:])
    assert float((from_pass * alone).sum(dim=0).min()) > 0.999  # cosine similarity of each cell's descriptor
    onnx = colorizer.generator.onnx  # the default CPU engine: the encoder's own file gives the same features
    for ours, whole in zip(onnx.encode(color.normalize_l(small[None])),
                           onnx.with_features(color.normalize_l(small[None]))[1]):
        assert torch.allclose(ours, whole, atol=1e-4)


def test_a_reference_costs_one_encoder_pass_per_reference_not_per_picture(colorizer, scene, monkeypatch):
    target, gray, reference = scene
    shapes = []
    encode = type(colorizer.generator).encode
    monkeypatch.setattr(type(colorizer.generator), "encode", lambda self, x: shapes.append(x.shape) or encode(self, x))
    colorizer.colorize(gray, RENDER, reference=reference)
    assert len(shapes) == 1  # the reference's: the picture's features came from its colorizing pass
    assert all(_ab_error(r, target) < 0.8 * _ab_error(colorizer.colorize(gray, RENDER), target)
               for r in colorizer.colorize_many([gray, gray], RENDER, reference=reference))
    assert len(shapes) == 2


def test_a_match_lands_between_cells_when_the_scene_moved_by_part_of_one():
    """Half a cell's shift is found as half a cell (_subcell), not rounded to a whole one: else a slow pan's
    lent colour jumps a cell every few frames."""
    photo = real_photo("astronaut.png", 320)
    lightness = _lightness(photo, (256, 256 + referencing.STRIDE))
    half = referencing.STRIDE // 2
    generator = referencing._default_generator()

    def describe(window: torch.Tensor) -> torch.Tensor:
        return referencing.describe(generator.encode(color.normalize_l(window[None])), window.shape[-2:])

    with torch.inference_mode():  # the gray picture shows the reference's pixel x + half at its pixel x
        target, reference = describe(lightness[..., half : half + 256]), describe(lightness[..., :256])
        best, confidence, offset = referencing.match(target, reference)
    columns = torch.arange(best.shape[1])[None, :].expand_as(best)
    shift = (best % reference.shape[-1] - columns + offset[1])[confidence > 0]
    assert len(shift) > 0.5 * best.numel()
    assert abs(float(shift.median()) - 0.5) < 0.2
    assert float((best // reference.shape[-1] - torch.arange(best.shape[0])[:, None] + offset[0])[confidence > 0]
                 .abs().median()) < 0.2


def test_a_reference_that_anchors_lends_every_mutual_match_and_one_that_does_not_lends_none():
    """Made-up descriptors: a gray picture whose left half is the reference seen a cell aside (a coherent
    patch: the anchor) and whose right half shows other reference cells in scattered places (mutual matches
    that do not move together). Anchored, the scattered cells lend too; without the anchor (the left half
    unrelated), they are chance for all the matcher can tell, and nothing is lent."""
    generator = torch.Generator().manual_seed(0)
    reference = F.normalize(torch.randn(128, 10, 10, generator=generator), dim=0)
    cells = reference.flatten(1)
    unused = [row * 10 + col for row in range(10) for col in (0, 6, 7, 8, 9)]  # not in the left half's view
    scattered = cells[:, torch.tensor(unused)[torch.randperm(50, generator=generator)]].view(128, 10, 5)
    anchored = torch.cat([reference[:, :, 1:6], scattered], dim=2)
    unrelated = torch.cat([F.normalize(torch.randn(128, 10, 5, generator=generator), dim=0), scattered], dim=2)
    _, confidence, _ = referencing.match(anchored, reference)
    assert float(confidence[:, :5].min()) > 0.9 and float(confidence[:, 5:].min()) > 0.9
    _, confidence, _ = referencing.match(unrelated, reference)
    assert float(confidence.max()) == 0.0


def test_a_film_is_matched_on_its_features_averaged_where_the_picture_stays(colorizer):
    """Grain changes each frame's features; the film matches on their running mean, which holds still, and a cut
    starts afresh."""
    photo = real_photo("coffee.png", 256)
    clean = _lightness(photo, (160, 224))
    references, _ = colorizer.read_references(photo, 224, 10**8)
    lend = referencing.FilmReferences(references, MotionAwareAverage(memory=0.85, motion=2.0))
    generator = torch.Generator().manual_seed(0)
    frames = [(clean + 4 * torch.randn(clean.shape, generator=generator)).clamp(0, 100) for _ in range(6)]
    own = [references.describe(f) for f in frames]
    steady = [lend.descriptors(f, None, cut=i == 0) for i, f in enumerate(frames)]
    steps = [float((b - a).norm(dim=0).mean()) for a, b in zip(steady[2:], steady[3:])]
    own_steps = [float((b - a).norm(dim=0).mean()) for a, b in zip(own[2:], own[3:])]
    assert max(steps) < 0.5 * min(own_steps)
    assert torch.allclose(lend.descriptors(frames[0], None, cut=True), own[0], atol=1e-6)  # a cut starts afresh
