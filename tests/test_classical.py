"""Classical restoration steps, each on a real photo with damage made in the test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image, ImageDraw
from scipy import ndimage

from colorizer.pipelines.classical import auto_levels, denoise_nlm, detect_scratches, inpaint

PHOTO = Path(skimage.data.__file__).parent / "camera.png"


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return Image.open(PHOTO).convert("L")  # 512 x 512


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float64)


def scratched(photo: Image.Image) -> tuple[Image.Image, np.ndarray]:
    """The photo with a bright and a dark scratch and some dust, and where it changed."""
    damaged = photo.copy()
    draw = ImageDraw.Draw(damaged)
    draw.line([(60, 40), (200, 480)], fill=255, width=2)
    draw.line([(300, 30), (330, 400)], fill=10, width=2)
    for x, y in np.random.default_rng(0).integers(20, 490, (12, 2)):
        draw.ellipse([x, y, x + 3, y + 3], fill=int(x) % 2 * 250)
    return damaged, np.abs(pixels(damaged) - pixels(photo)) > 15


def test_auto_levels_widens_a_faded_histogram(photo):
    faded = Image.fromarray((70 + 0.45 * pixels(photo)).astype(np.uint8))
    faded.putpixel((0, 0), 0)  # a speck or two must not pin the range
    faded.putpixel((1, 0), 255)
    restored = pixels(auto_levels(faded))
    low, high = np.percentile(restored, [1, 99])
    assert high - low > 1.8 * np.subtract(*np.percentile(pixels(faded), [99, 1]))
    assert np.abs(restored - pixels(photo)).mean() < 12


def test_auto_levels_leaves_a_flat_image_alone():
    flat = Image.new("L", (8, 8), 90)
    assert np.array_equal(pixels(auto_levels(flat)), pixels(flat))


def test_detects_scratches_and_dust_on_a_photo(photo):
    damaged, truth = scratched(photo)
    mask = detect_scratches(damaged)
    assert mask.shape == truth.shape and mask.dtype == bool
    assert (mask & truth).sum() / truth.sum() > 0.85
    near_damage = ndimage.binary_dilation(truth, iterations=2)
    assert (mask & ~near_damage).mean() < 0.04  # the photo's own detail is mostly left alone


def test_grain_alone_is_not_damage():
    noisy = np.random.default_rng(0).normal(128, 8, (200, 300))
    assert not detect_scratches(Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))).any()


def test_inpainting_brings_scratched_pixels_back(photo):
    damaged, truth = scratched(photo)
    restored = pixels(inpaint(damaged, detect_scratches(damaged)))
    damaged_error = np.abs(pixels(damaged) - pixels(photo))[truth].mean()
    restored_error = np.abs(restored - pixels(photo))[truth].mean()
    assert restored_error < 0.25 * damaged_error


def test_inpainting_keeps_unmasked_pixels_and_fills_holes_smoothly():
    ramp = np.tile(np.linspace(20, 230, 300), (200, 1))
    mask = np.zeros(ramp.shape, dtype=bool)
    mask[80:130, 100:160] = True
    mask[:, 250] = True
    image = Image.fromarray(np.where(mask, 0, ramp).astype(np.uint8))
    filled = pixels(inpaint(image, mask))
    assert np.array_equal(filled[~mask], pixels(image)[~mask])
    assert np.abs(filled - ramp)[mask].max() < 12


def test_inpainting_checks_the_mask_shape(photo):
    with pytest.raises(ValueError, match="mask shape"):
        inpaint(photo, np.zeros((3, 3), dtype=bool))


def test_nlm_lowers_the_error_of_a_noisy_photo(photo):
    clean = pixels(photo.resize((128, 128)))
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 12, clean.shape), 0, 255).astype(np.uint8)
    denoised = pixels(denoise_nlm(Image.fromarray(noisy)))
    assert np.sqrt(((denoised - clean) ** 2).mean()) < 0.7 * np.sqrt(((noisy - clean) ** 2).mean())


@pytest.mark.parametrize("size", [(1, 1), (1, 7), (7, 2), (2, 2)])
def test_nlm_leaves_a_photo_too_small_to_have_neighbourhoods_as_it_is(size):
    tiny = Image.fromarray(np.arange(size[0] * size[1], dtype=np.uint8).reshape(size[1], size[0]) * 30, "L")
    out = denoise_nlm(tiny)
    assert out.size == size and np.array_equal(np.asarray(out), np.asarray(tiny))


@pytest.mark.parametrize("step", [auto_levels, detect_scratches, denoise_nlm])
def test_rejects_colour_input(photo, step):
    with pytest.raises(ValueError, match="'L'"):
        step(photo.convert("RGB"))
