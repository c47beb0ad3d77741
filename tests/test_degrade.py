"""The damage model: each transform stays within its configured range, and seeds reproduce."""

from __future__ import annotations

import json
from dataclasses import asdict, fields, replace
from pathlib import Path

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image
from scipy import ndimage

from colorizer import color
from colorizer.evaluate.degrade import DegradeConfig, degrade, degrade_rgb

PHOTO = Path(skimage.data.__file__).parent / "camera.png"
STEPS = [f.name for f in fields(DegradeConfig)]


def only(name: str, **settings) -> DegradeConfig:
    """A config where just `name` fires, always, with `settings` overriding its defaults."""
    config = DegradeConfig()
    off = {f.name: replace(getattr(config, f.name), p=0.0) for f in fields(config)}
    off[name] = replace(getattr(config, name), **{"p": 1.0, **settings})
    return DegradeConfig(**off)


def all_on() -> DegradeConfig:
    config = DegradeConfig()
    return DegradeConfig(**{f.name: replace(getattr(config, f.name), p=1.0) for f in fields(config)})


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return Image.open(PHOTO).convert("L").resize((160, 128))


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float64)


def run(image: Image.Image, config: DegradeConfig, seed: int = 0) -> np.ndarray:
    return pixels(degrade(image, config, np.random.default_rng(seed)))


def test_config_is_plain_data():
    # The training config embeds this one and is loaded from YAML.
    restored = json.loads(json.dumps(asdict(DegradeConfig())))
    assert set(restored) == set(STEPS)
    assert all(0.0 <= settings["p"] <= 1.0 for settings in restored.values())


def test_seed_reproduces_and_seeds_differ(photo):
    config = all_on()
    assert np.array_equal(run(photo, config, seed=3), run(photo, config, seed=3))
    assert not np.array_equal(run(photo, config, seed=3), run(photo, config, seed=4))


def test_same_generator_gives_fresh_damage_each_call(photo):
    rng = np.random.default_rng(0)
    assert not np.array_equal(pixels(degrade(photo, all_on(), rng)), pixels(degrade(photo, all_on(), rng)))


def test_switching_a_transform_off_leaves_the_others_alone(photo):
    noise = run(photo, only("noise"))
    noise_and_identity_fade = only("noise")
    noise_and_identity_fade.fade = replace(
        noise_and_identity_fade.fade, p=1.0, black=(0.0, 0.0), white=(1.0, 1.0), midtones=(0.0, 0.0)
    )
    assert np.array_equal(noise, run(photo, noise_and_identity_fade))


def test_nothing_fires_gives_the_image_back(photo):
    assert np.array_equal(run(photo, only("noise", p=0.0)), pixels(photo))


@pytest.mark.parametrize("size", [(1, 1), (7, 5), (200, 61)])
@pytest.mark.parametrize("seed", [0, 1])
def test_any_size_keeps_mode_and_size(size, seed):
    image = Image.new("L", size, 128)
    out = degrade(image, all_on(), np.random.default_rng(seed))
    assert (out.mode, out.size) == ("L", size)
    rgb = degrade_rgb(image.convert("RGB"), all_on(), np.random.default_rng(seed))
    assert (rgb.mode, rgb.size) == ("RGB", size)


def test_rejects_colour_input(photo):
    with pytest.raises(ValueError, match="'L'"):
        degrade(photo.convert("RGB"), DegradeConfig(), np.random.default_rng(0))


def test_fade_maps_into_the_drawn_levels(photo):
    out = run(photo, only("fade", black=(0.2, 0.2), white=(0.8, 0.8), midtones=(0.0, 0.0)))
    expected = np.round(51 + 0.6 * pixels(photo))
    assert np.abs(out - expected).max() <= 1
    wide = run(photo, only("fade"))
    config = DegradeConfig().fade
    assert wide.min() >= 255 * config.black[0] - 1 and wide.max() <= 255 * config.white[1] + 1


def test_tone_dulls_unevenly_within_range(photo):
    uneven = (0.2, 0.3)
    ratio = run(photo, only("tone", uneven=uneven), seed=2)[10:] / np.maximum(pixels(photo)[10:], 1)
    bright = pixels(photo)[10:] > 100  # where rounding can't hide the ratio
    assert ratio[bright].max() <= 1.01
    assert ratio[bright].min() >= 1 - uneven[1] - 0.02
    assert ratio[bright].min() <= 1 - 0.8 * uneven[0]  # the most aged patch reaches the drawn level
    assert ratio[bright].std() > 0.02  # uneven, not a flat gain


def test_sepia_is_warm_and_keeps_lightness(photo):
    config = only("tone", sepia=(1.0, 1.0), uneven=(0.0, 0.0))
    toned = np.asarray(degrade_rgb(photo.convert("RGB"), config, np.random.default_rng(0)), dtype=np.float64)
    red, green, blue = toned[..., 0].mean(), toned[..., 1].mean(), toned[..., 2].mean()
    assert red > green > blue + 20
    lightness = color.rgb_to_l(torch.from_numpy(toned).permute(2, 0, 1) / 255.0)
    gray_lightness = color.gray_to_l(torch.from_numpy(pixels(photo)) / 255.0)
    assert (lightness - gray_lightness).abs().mean() < 1.0  # L units, of 100


def test_stain_only_darkens_soft_blotches(photo):
    out = run(photo, only("stain", count=(3, 3), strength=(0.3, 0.3)), seed=1)
    change = out - pixels(photo)
    assert change.max() <= 1
    assert 0.01 < (change < -3).mean() < 0.9
    assert change.min() >= -255 * 0.3 * 1.8 - 1  # the tide line is the darkest part


@pytest.mark.parametrize("bright", [0.0, 1.0])
def test_scratches_are_thin_broken_lines_of_one_polarity(bright):
    flat = Image.new("L", (160, 128), 128)
    one_scratch = only("scratch", count=(1, 1), length=(0.8, 0.8), strength=(0.9, 0.9), bright=bright)
    broken = 0
    for seed in range(20):
        change = (run(flat, one_scratch, seed) - 128) * (1 if bright else -1)
        assert change.min() >= 0
        marked = change > 10
        assert 0 < marked.mean() < 0.05  # a line, not an area
        broken += ndimage.label(marked, structure=np.ones((3, 3)))[1] >= 2
    assert broken >= 3  # worn scratches come and go along their length (unbroken: always 0)


def test_dust_marks_few_small_specks_of_both_polarities():
    flat = Image.new("L", (256, 256), 128)
    out = run(flat, only("dust", count=(40, 40), fibres=(0, 0), spots=(0, 0), radius=(0.005, 0.005)))
    change = out - 128
    assert (change > 10).any() and (change < -10).any()
    labels, specks = ndimage.label(np.abs(change) > 10)
    assert 20 <= specks <= 40
    assert np.bincount(labels.ravel())[1:].max() <= 20  # radius 1.3 px: a handful of pixels each


def test_blur_matches_a_gaussian_of_the_drawn_sigma(photo):
    big = photo.resize((400, 320))
    for sigma in (0.003, 0.02):  # 1 px, done directly; 6.4 px, done small and grown back
        out = run(big, only("blur", sigma=(sigma, sigma)))

        def error(px: float) -> float:
            gaussian = ndimage.gaussian_filter(pixels(big), px, mode="nearest")
            return float(np.abs(out - gaussian)[20:-20, 20:-20].mean())

        assert error(sigma * 320) < min(1.5, error(0.8 * sigma * 320), error(1.2 * sigma * 320))
        assert np.abs(out - pixels(big)).mean() > 1


@pytest.mark.parametrize("sigma", [0.02, 0.06])
def test_noise_has_the_drawn_strength_and_grain(sigma):
    flat = Image.new("L", (256, 256), 128)  # midtones: full strength
    fine = run(flat, only("noise", sigma=(sigma, sigma), grain=(0.0, 0.0)))
    assert fine.std() == pytest.approx(255 * sigma, rel=0.15)
    clumped = run(flat, only("noise", sigma=(sigma, sigma), grain=(0.02, 0.02)))
    assert clumped.std() == pytest.approx(255 * sigma, rel=0.25)

    def neighbour_correlation(x: np.ndarray) -> float:
        return float(np.corrcoef(x[:, 1:].ravel(), x[:, :-1].ravel())[0, 1])

    assert neighbour_correlation(fine) < 0.2 < 0.8 < neighbour_correlation(clumped)


def test_resize_loses_fine_detail():
    stripes = Image.fromarray(np.tile(np.array([0, 255], dtype=np.uint8), (64, 32)))
    out = run(stripes, only("resize", scale=(2.0, 3.0)))
    assert np.ptp(out[8:-8, 8:-8]) < 160
    assert out.mean() == pytest.approx(127.5, abs=10)


def test_jpeg_error_grows_as_quality_drops(photo):
    def error(quality: int) -> float:
        return float(np.abs(run(photo, only("jpeg", quality=(quality, quality))) - pixels(photo)).mean())

    assert 0 < error(95) < error(40) < error(10)
