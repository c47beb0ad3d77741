"""Each metric against a case small enough to work out by hand (the sums are in the comments)."""

import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from colorizer import color
from colorizer.evaluate import metrics

RED, GREEN, BLACK = (255, 0, 0), (0, 255, 0), (0, 0, 0)


def image(*rows: tuple) -> np.ndarray:
    """Rows of RGB tuples -> (H, W, 3) uint8."""
    return np.array(rows, dtype=np.uint8)


def test_psnr_of_a_one_level_error_everywhere():
    # Every value off by 1: MSE = 1, PSNR = 10 log10(255^2 / 1) = 20 log10(255) = 48.1308 dB.
    a = np.full((2, 2, 3), 100, np.uint8)
    assert metrics.psnr(a, a + 1) == pytest.approx(48.1308, abs=1e-4)


def test_psnr_of_a_single_wrong_value():
    # One of 2 * 2 * 3 = 12 values off by 10: MSE = 100 / 12, PSNR = 10 log10(65025 * 12 / 100)
    # = 10 log10(7803) = 38.9226 dB. The same images as floats in [0, 1] score the same.
    a = np.full((2, 2, 3), 50, np.uint8)
    b = a.copy()
    b[1, 0, 2] = 60
    assert metrics.psnr(a, b) == pytest.approx(38.9226, abs=1e-4)
    assert metrics.psnr(a / 255.0, b / 255.0) == pytest.approx(38.9226, abs=1e-4)


def test_psnr_of_identical_images_is_infinite():
    a = np.full((2, 2, 3), 7, np.uint8)
    assert metrics.psnr(a, a) == math.inf


def test_ssim_of_two_flat_images():
    # Flat images have no variance, so only the luminance term is left (the contrast-structure
    # term is c2 / c2 = 1): (2 * 100 * 110 + c1) / (100^2 + 110^2 + c1) with c1 = (0.01 * 255)^2
    # = 6.5025, i.e. 22006.5025 / 22106.5025 = 0.995476.
    a = np.full((11, 11, 3), 100, np.uint8)
    b = np.full((11, 11, 3), 110, np.uint8)
    assert metrics.ssim(a, b) == pytest.approx(0.995476, abs=1e-6)
    assert metrics.ssim(a, a) == pytest.approx(1.0)


def test_ssim_matches_the_reference_definition():
    # Not a hand computation: scikit-image, set to Wang et al.'s Gaussian window, on noisy images.
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (23, 31, 3), dtype=np.uint8)
    b = np.clip(a + rng.integers(-40, 40, a.shape), 0, 255).astype(np.uint8)
    expected = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                     data_range=255, channel_axis=-1)
    assert metrics.ssim(a, b) == pytest.approx(expected, abs=1e-6)
    assert metrics.ssim(a, b) < 0.99  # the noise is visible to it


def test_ssim_refuses_images_smaller_than_its_window():
    a = np.zeros((10, 40, 3), np.uint8)
    with pytest.raises(ValueError, match="11 pixels"):
        metrics.ssim(a, a)


def test_ab_error_between_red_and_gray():
    # sRGB red is Lab (53.24, 80.09, 67.20) (D65); any gray has a = b = 0. Its ab distance is
    # sqrt(80.09^2 + 67.20^2) = 104.55. Two of four pixels differ, so the mean is 104.55 / 2.
    gray = np.full((2, 2, 3), 128, np.uint8)
    assert metrics.ab_error(np.full((2, 2, 3), RED, np.uint8), gray) == pytest.approx(104.55, abs=0.02)
    half_red = image((RED, (128, 128, 128)), ((128, 128, 128), RED))
    assert metrics.ab_error(half_red, gray) == pytest.approx(104.55 / 2, abs=0.01)


def test_ab_error_ignores_lightness():
    # Black and white are both neutral: far apart in L, zero apart in ab.
    assert metrics.ab_error(image((BLACK,)), image(((255, 255, 255),))) == pytest.approx(0.0, abs=0.01)


def test_colorfulness_of_red_and_green():
    # rg = R - G = (255, -255), yb = (R + G) / 2 - B = (127.5, 127.5).
    # std(rg) = 255, std(yb) = 0, mean(rg) = 0, mean(yb) = 127.5.
    # CF = sqrt(255^2 + 0^2) + 0.3 * sqrt(0^2 + 127.5^2) = 255 + 38.25 = 293.25.
    assert metrics.colorfulness(image((RED, GREEN))) == pytest.approx(293.25)


def test_colorfulness_of_one_red_pixel_among_black():
    # rg = (255, 0, 0, 0): mean 63.75, std sqrt(255^2 / 4 - 63.75^2) = sqrt(12192.1875)
    # yb = rg / 2:          mean 31.875, std sqrt(3048.046875)
    # CF = sqrt(12192.1875 + 3048.046875) + 0.3 * sqrt(63.75^2 + 31.875^2)
    #    = 123.4513 + 0.3 * 71.2747 = 144.8337
    a = image((RED, BLACK), (BLACK, BLACK))
    assert metrics.colorfulness(a) == pytest.approx(144.8337, abs=1e-4)
    assert metrics.colorfulness(a / 255.0) == pytest.approx(144.8337, abs=1e-4)


def test_colorfulness_of_a_flat_colour_and_of_gray():
    # (200, 100, 50) everywhere: no spread; rg = 100, yb = 150 - 50 = 100, CF = 0.3 * sqrt(2) * 100.
    assert metrics.colorfulness(np.full((3, 3, 3), (200, 100, 50), np.uint8)) == pytest.approx(42.4264, abs=1e-4)
    assert metrics.colorfulness(image(((9, 9, 9), (200, 200, 200)))) == 0.0


def test_metrics_refuse_mismatched_or_non_rgb_arrays():
    with pytest.raises(ValueError, match="shape"):
        metrics.psnr(np.zeros((2, 2, 3), np.uint8), np.zeros((2, 3, 3), np.uint8))
    with pytest.raises(ValueError, match="RGB"):
        metrics.colorfulness(np.zeros((2, 2), np.uint8))


# Gray (H, W) arrays: restoration scores lightness as one 8-bit gray channel.

def test_psnr_of_a_gray_image_with_one_wrong_value():
    # One of 2 * 2 = 4 values off by 10: MSE = 100 / 4 = 25, PSNR = 10 log10(65025 / 25)
    # = 10 log10(2601) = 34.1514 dB (a quarter of the values, not a twelfth as in RGB).
    a = np.full((2, 2), 50, np.uint8)
    b = a.copy()
    b[1, 1] = 60
    assert metrics.psnr(a, b) == pytest.approx(34.1514, abs=1e-4)
    assert metrics.psnr(a / 255.0, b / 255.0) == pytest.approx(34.1514, abs=1e-4)


def test_ssim_of_two_flat_gray_images():
    # As for RGB: only the luminance term is left, (2 * 100 * 110 + c1) / (100^2 + 110^2 + c1)
    # with c1 = 6.5025, i.e. 22006.5025 / 22106.5025 = 0.995476.
    a = np.full((11, 11), 100, np.uint8)
    assert metrics.ssim(a, a + 10) == pytest.approx(0.995476, abs=1e-6)


def test_gray_scores_match_the_reference_and_a_gray_rgb_copy():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (23, 31), dtype=np.uint8)
    b = np.clip(a + rng.integers(-40, 40, a.shape), 0, 255).astype(np.uint8)
    expected = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                     data_range=255)
    assert metrics.ssim(a, b) == pytest.approx(expected, abs=1e-6)
    as_rgb = [np.repeat(x[..., None], 3, axis=-1) for x in (a, b)]
    assert metrics.ssim(a, b) == pytest.approx(metrics.ssim(*as_rgb), abs=1e-12)
    assert metrics.psnr(a, b) == pytest.approx(metrics.psnr(*as_rgb), abs=1e-12)


def test_only_psnr_and_ssim_take_gray_arrays():
    gray = np.zeros((11, 11), np.uint8)
    with pytest.raises(ValueError, match="RGB"):
        metrics.ab_error(gray, gray)
    with pytest.raises(ValueError, match=r"\(H, W\) gray"):
        metrics.psnr(np.zeros((2, 2, 2), np.uint8), np.zeros((2, 2, 2), np.uint8))


# Hue hits, on ab planes built from (chroma, hue in degrees): counted where the true chroma is at least 15;
# a hit has the true hue within 30 degrees and at least a third of the true chroma.

def ab(*pixels: tuple[float, float]) -> torch.Tensor:
    """(chroma, hue in degrees) per pixel -> (2, 1, N) float64 ab in Lab units."""
    c, h = torch.tensor(pixels, dtype=torch.float64).T
    return torch.stack([c * torch.cos(torch.deg2rad(h)), c * torch.sin(torch.deg2rad(h))])[:, None]


@pytest.mark.parametrize("true_hue, predicted_hue, hit", [
    (350.0, 10.0, True),  # 20 degrees apart across 0: a hit, though 340 apart as numbers
    (10.0, 350.0, True),
    (355.0, 24.0, True),  # 29 apart across 0
    (355.0, 26.0, False),  # 31 apart across 0
    (120.0, 149.0, True),
    (120.0, 151.0, False),
    (120.0, 89.5, False),
    (0.0, 180.0, False),  # the opposite hue
])
def test_hue_hits_measures_the_hue_difference_round_the_circle(true_hue, predicted_hue, hit):
    assert metrics.hue_hits_ab(ab((40.0, predicted_hue)), ab((40.0, true_hue))) == (1.0 if hit else 0.0)


def test_hue_hits_needs_a_third_of_the_true_chroma():
    # True chroma 60: a predicted chroma of 20.5 is enough, 19.5 is not, whatever the hue; so a threshold
    # of a half (30) or a quarter (15) would score these differently.
    true = ab((60.0, 200.0), (60.0, 200.0), (60.0, 200.0), (60.0, 200.0))
    predicted = ab((20.5, 200.0), (19.5, 200.0), (31.0, 215.0), (16.0, 185.0))
    assert metrics.hue_hits_ab(predicted, true) == pytest.approx(2 / 4)


def test_hue_hits_counts_only_clearly_coloured_pixels():
    # Chroma 14.9 is left out whatever is predicted there; 15.1 counts. One hit of two counted pixels.
    true = ab((14.9, 90.0), (15.1, 90.0), (15.1, 90.0), (5.0, 270.0))
    predicted = ab((0.0, 0.0), (15.1, 90.0), (15.1, 270.0), (5.0, 90.0))
    assert metrics.hue_hits_ab(predicted, true) == pytest.approx(1 / 2)
    assert metrics.hue_hits_ab(predicted, ab((14.9, 90.0), (3.0, 0.0), (0.0, 0.0), (5.0, 270.0))) is None


def test_hue_hits_of_gray_and_of_the_true_colour():
    # sRGB photos: the original scores 1 against itself, its gray copy (same lightness) 0.
    rng = np.random.default_rng(2)
    original = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    lab = color.lab_of_rgb8(original, torch.float64)
    assert (lab[1:].norm(dim=0) >= metrics.HUE_MIN_CHROMA).float().mean() > 0.5  # most pixels are counted
    gray = color.lab_to_rgb8(torch.cat([lab[:1], torch.zeros_like(lab[1:])])).permute(1, 2, 0).numpy()
    assert np.ptp(gray.astype(int), axis=-1).max() == 0
    assert metrics.hue_hits(original, original) == 1.0
    assert metrics.hue_hits(gray, original) == 0.0
    assert metrics.hue_hits(original, gray) is None  # nothing to get right on a gray original
    assert metrics.hue_hits(original / 255.0, original) == 1.0  # floats in [0, 1] score the same
