"""The pipeline keeps every photo's size and lightness, whatever its mode, orientation or size."""

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from colorizer import color
from colorizer.errors import DeviceError, ImageError, SettingsError
from colorizer.io.images import read_photo
from colorizer.pipelines.colorizer import Colorizer
from colorizer.pipelines.photo import render_shape, resize_lightness, resolve_device
from colorizer.settings import check_settings
from tests.conftest import lightness_of, real_photo


@pytest.fixture(scope="module")
def colorizer(tiny_weights):
    return Colorizer.from_pretrained(str(tiny_weights), device="cpu")


def _as_mode(mode: str) -> Image.Image:
    rgb = real_photo("chelsea.png", size=80)
    if mode == "I;16":
        gray = np.asarray(rgb.convert("L"), dtype=np.uint16) * 257
        return Image.fromarray(gray, "I;16")
    if mode == "P":
        return rgb.quantize(64)
    return rgb.convert(mode)


def _expected_lightness(mode: str) -> np.ndarray:
    """Lightness of the input as the pipeline should see it (gray modes via their gray value)."""
    image = _as_mode(mode)
    if mode == "I;16":
        image = Image.fromarray((np.asarray(image, dtype=np.float64) / 257).round().astype(np.uint8), "L")
    return lightness_of(image.convert("RGBA").convert("RGB") if mode != "CMYK" else image.convert("RGB"))


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "LA", "P", "CMYK", "I;16", "1"])
def test_every_mode_keeps_size_and_lightness(colorizer, mode):
    image = _as_mode(mode)
    out = colorizer.colorize(image, render_size=64)
    assert out.size == image.size
    diff = np.abs(lightness_of(out) - _expected_lightness(mode))
    assert diff.mean() < 0.3 and diff.max() < 1.5  # 8-bit rounding of RGB, nothing more


def test_output_really_is_coloured(colorizer):
    out = np.asarray(colorizer.colorize(real_photo("astronaut.png", size=96).convert("L"), render_size=64))
    assert np.abs(out[..., 0].astype(int) - out[..., 2]).mean() > 1


def test_alpha_is_kept(colorizer):
    image = real_photo("coffee.png", size=64).convert("RGBA")
    image.putalpha(Image.linear_gradient("L").resize(image.size))
    out = colorizer.colorize(image, render_size=64)
    assert out.mode == "RGBA"
    assert np.array_equal(np.asarray(out.getchannel("A")), np.asarray(image.getchannel("A")))


def test_exif_orientation_is_applied(colorizer):
    upright = real_photo("rocket.jpg", size=96).convert("L")  # portrait
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what a camera writes, landscape
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    buffer = io.BytesIO()
    stored.save(buffer, format="PNG", exif=exif)
    out = colorizer.colorize(buffer.getvalue(), render_size=64)
    assert out.size == upright.size
    assert np.abs(lightness_of(out) - lightness_of(upright)).mean() < 0.3


def test_already_coloured_photo_is_recoloured_from_its_lightness(colorizer):
    photo = real_photo("coffee.png", size=96)
    from_colour = colorizer.colorize(photo, render_size=64)
    from_gray = colorizer.colorize(photo.convert("RGB"), render_size=64)
    assert np.array_equal(np.asarray(from_colour), np.asarray(from_gray))
    assert np.abs(lightness_of(from_colour) - lightness_of(photo)).mean() < 0.3


@pytest.mark.parametrize("size", [(1, 1), (3, 200), (1000, 2)])
def test_tiny_and_extreme_shapes(colorizer, size):
    image = Image.new("L", size, 128)
    assert colorizer.colorize(image, render_size=64).size == size


def test_strength_scales_chroma(colorizer):
    photo = real_photo("astronaut.png", size=64).convert("L")
    gray = np.asarray(colorizer.colorize(photo, render_size=64, strength=0.0)).astype(int)
    assert np.abs(gray[..., 0] - gray[..., 1]).max() <= 1
    weak = np.asarray(colorizer.colorize(photo, render_size=64, strength=0.5)).astype(int)
    full = np.asarray(colorizer.colorize(photo, render_size=64, strength=1.0)).astype(int)
    assert np.abs(weak[..., 0] - weak[..., 2]).mean() < np.abs(full[..., 0] - full[..., 2]).mean()


def test_the_weights_chroma_gain_scales_the_models_ab(tiny_weights, tmp_path):
    folder = tmp_path / "gain"
    folder.mkdir()
    config = json.loads((tiny_weights / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "chroma_gain": 0.5}))
    (folder / "model.safetensors").write_bytes((tiny_weights / "model.safetensors").read_bytes())
    photo = real_photo("astronaut.png", size=64).convert("L")
    plain, halved = (Colorizer.from_pretrained(str(w), device="cpu") for w in (tiny_weights, folder))
    [ab], [ab_half] = (c.predict_ab([read_photo(photo)], 64) for c in (plain, halved))
    assert ab.abs().mean() > 1.0 and torch.allclose(ab_half, ab * 0.5, atol=1e-5)


def test_batches_give_the_same_pictures_as_single_calls(colorizer):
    photos = [real_photo(n, size=64).convert("L") for n in ("coffee.png", "chelsea.png", "camera.png")]
    photos.append(Image.new("L", (30, 50), 90))  # another shape in the same batch
    batched = list(colorizer.colorize_many(photos, render_size=64, batch_size=3))
    for photo, result in zip(photos, batched):
        single = colorizer.colorize(photo, render_size=64)
        assert np.abs(np.asarray(result, dtype=int) - np.asarray(single, dtype=int)).max() <= 1


def test_bad_inputs_become_errors_in_order(colorizer):
    items = [b"not an image", real_photo("coffee.png", size=48), b"\x89PNG\r\n\x1a\n broken"]
    results = list(colorizer.colorize_many(items, render_size=64))
    assert isinstance(results[0], ImageError) and isinstance(results[2], ImageError)
    assert results[1].size == items[1].size


def test_pixel_limit_refuses_decompression_bombs(colorizer, tmp_path):
    bomb = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(bomb)  # 400 MP that compresses to a few KB
    with pytest.raises(ImageError, match="above the limit of 120 megapixels"):
        colorizer.colorize(bomb)
    with pytest.raises(ImageError, match="3000x1000 is 3 megapixels, above the limit of 1 megapixels"):
        colorizer.colorize(Image.new("L", (3000, 1000)), max_pixels=1_000_000)


def test_truncated_file_is_a_clear_error(colorizer, tmp_path):
    buffer = io.BytesIO()
    real_photo("coffee.png", size=200).save(buffer, format="JPEG")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ImageError, match="damaged or truncated"):
        colorizer.colorize(broken)


def test_render_shape_keeps_aspect_in_multiples_of_32():
    assert render_shape(4000, 3000, 512) == (384, 512)
    assert render_shape(3000, 4000, 512) == (512, 384)
    assert render_shape(10000, 10, 512) == (32, 512)


def test_render_sizes_are_rounded_to_32_and_clamped_with_a_note():
    assert [check_settings(render_size=n)[0].render_size for n in (500, 10, 99999)] == [512, 64, 2048]
    assert check_settings(render_size=500)[1] == []
    assert check_settings(render_size=10)[1] == ["render size 10 is below the minimum of 64: used 64"]


def test_a_mirrored_photo_gets_exactly_the_mirrored_colour(colorizer):
    """The colour is the mean of the model's guesses for the photo and for its mirror image, so a
    mirrored photo gets the mirrored colour to the bit, which the model alone does not give."""
    photo = read_photo(real_photo("chelsea.png", size=128).convert("L"))
    small = resize_lightness(photo.lightness, colorizer.model_shape(*photo.size, 128))
    [ab], [ab_of_mirror] = colorizer.predict_ab_at([small]), colorizer.predict_ab_at([small.flip(-1)])
    assert ab.abs().mean() > 1.0 and torch.equal(ab_of_mirror, ab.flip(-1))
    with torch.inference_mode():
        x = color.normalize_l(small.unsqueeze(0))
        alone, alone_of_mirror = colorizer.generator(x)[:, :2], colorizer.generator(x.flip(-1))[:, :2]
    assert (alone_of_mirror - alone.flip(-1)).abs().max() > 1e-3


def test_model_never_sees_more_than_the_render_size(colorizer, monkeypatch):
    seen = []
    passes = colorizer.generator.with_features  # every pass, plain or with its features, goes through it
    monkeypatch.setattr(colorizer.generator, "with_features", lambda x: seen.append(x.shape) or passes(x))
    out = colorizer.colorize(Image.new("L", (1200, 900), 100), render_size=128)
    assert out.size == (1200, 900) and seen == [torch.Size([1, 1, 96, 128])] * 2  # the photo and its mirror image


@pytest.mark.parametrize("kwargs", [{"strength": float("nan")}, {"strength": float("inf")},
                                    {"render_size": float("nan")}, {"render_size": "big"}, {"max_pixels": None}])
def test_python_api_refuses_non_numbers_like_the_cli_and_the_app(colorizer, kwargs):
    photo = real_photo("coffee.png", size=48)
    with pytest.raises(SettingsError, match="must be a"):
        colorizer.colorize(photo, **kwargs)
    with pytest.raises(SettingsError, match="must be a"):
        list(colorizer.colorize_many([photo], **kwargs))


def test_python_api_clamps_out_of_range_numbers_with_notes(colorizer):
    photo = real_photo("coffee.png", size=48).convert("L")
    out = colorizer.colorize(photo, render_size=10, strength=1e9)
    assert out.info["notes"] == ["render size 10 is below the minimum of 64: used 64",
                                 "colour strength 1e+09 is above the maximum of 2: used 2"]
    assert np.array_equal(np.asarray(out), np.asarray(colorizer.colorize(photo, render_size=64, strength=2.0)))
    [many] = colorizer.colorize_many([photo], render_size=64, strength=-1, batch_size=0)
    assert many.info["notes"] == ["colour strength -1 is below the minimum of 0: used 0",
                                  "batch size 0 is below the minimum of 1: used 1"]


def test_a_large_batch_never_sends_more_than_one_maximum_render_to_the_model(colorizer, monkeypatch):
    """Batch size multiplies the model's memory: photos per call are capped by pixels, not count."""
    import colorizer.pipelines.photo as pipeline

    monkeypatch.setattr(pipeline, "MAX_MODEL_PIXELS", 2 * 128 * 96)  # two 128 x 96 renders per call
    calls = []
    passes = colorizer.generator.with_features  # every pass, plain or with its features, goes through it
    monkeypatch.setattr(colorizer.generator, "with_features", lambda x: calls.append(tuple(x.shape)) or passes(x))
    photos = [real_photo(name, size=128) for name in ("coffee.png", "chelsea.png", "astronaut.png")]
    photos = [p.resize((128, 96)) for p in photos] * 2  # six photos of one shape
    results = list(colorizer.colorize_many(photos, render_size=128, batch_size=64))
    assert calls == [(2, 1, 96, 128)] * 6  # three calls, each on the photos and on their mirror images
    for photo, result in zip(photos, results):
        assert result.size == photo.size
        assert np.array_equal(np.asarray(result), np.asarray(colorizer.colorize(photo, render_size=128)))


def test_animated_and_multi_page_files_say_only_the_first_frame_was_used(colorizer, tmp_path):
    frames = [real_photo("coffee.png", size=64).rotate(angle) for angle in (0, 90, 180, 270)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    frames[0].save(tmp_path / "pages.tif", save_all=True, append_images=frames[1:2])
    assert colorizer.colorize(tmp_path / "anim.gif", render_size=64).info["notes"] == [
        "the file holds 4 frames (an animation or several pages): only the first was colorized"]
    assert "holds 2 frames" in colorizer.colorize(tmp_path / "pages.tif", render_size=64).info["notes"][0]
    assert colorizer.colorize(frames[0], render_size=64).info["notes"] == []


@pytest.mark.parametrize("device, message", [("gpu", "unknown device 'gpu': use cpu, cuda, cuda:N or mps"),
                                             ("cuda:x", "unknown device 'cuda:x'"),
                                             ("meta", "only cpu, cuda and mps are supported")])
def test_a_device_torch_does_not_run_on_is_named_in_a_clear_error(device, message):
    with pytest.raises(DeviceError, match=message):
        resolve_device(device)


def test_a_gpu_this_machine_lacks_is_a_clear_error_before_any_weights_load():
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    with pytest.raises(DeviceError, match=f"device 'cuda:{gpus}': "):
        Colorizer.from_pretrained("/nonexistent/weights", device=f"cuda:{gpus}")  # the device is checked first


def test_no_device_means_the_gpu_only_when_there_is_one():
    assert resolve_device(None).type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")

