"""Lab conversion: agreement with scikit-image on real photos, round trips, gradients."""

import numpy as np
import pytest
import torch
from skimage.color import lab2rgb, rgb2lab

from colorizer import color
from tests.conftest import real_photo


@pytest.mark.parametrize("name", ["coffee.png", "astronaut.png", "chelsea.png", "rocket.jpg"])
def test_rgb_to_lab_matches_skimage(name):
    rgb = np.asarray(real_photo(name, size=256), dtype=np.float64) / 255.0
    ours = color.rgb_to_lab(torch.from_numpy(rgb).float().permute(2, 0, 1)).permute(1, 2, 0).numpy()
    assert np.abs(ours - rgb2lab(rgb)).max() < 0.5


@pytest.mark.parametrize("name", ["coffee.png", "chelsea.png"])
def test_lab_to_rgb_matches_skimage(name):
    lab = rgb2lab(np.asarray(real_photo(name, size=256), dtype=np.float64) / 255.0)
    lab[..., 1:] *= 1.6  # push some colours out of gamut: both sides must clip the same way
    ours = color.lab_to_rgb(torch.from_numpy(lab).float().permute(2, 0, 1)).permute(1, 2, 0).numpy()
    theirs = lab2rgb(lab)
    assert np.abs(rgb2lab(ours.astype(np.float64)) - rgb2lab(theirs)).max() < 0.5


def test_round_trip_is_identity_in_batches():
    rgb = torch.rand(4, 3, 17, 23, dtype=torch.float64)
    back = color.lab_to_rgb(color.rgb_to_lab(rgb))
    assert torch.allclose(back, rgb, atol=1e-6)


def test_lightness_shortcuts_agree_with_full_lab():
    rgb = torch.rand(3, 32, 32)
    assert torch.allclose(color.rgb_to_l(rgb)[0], color.rgb_to_lab(rgb)[0], atol=1e-3)
    gray = torch.rand(1, 32, 32)
    assert torch.allclose(color.gray_to_l(gray), color.rgb_to_lab(gray.expand(3, -1, -1))[:1], atol=1e-3)
    assert torch.allclose(color.l_to_gray(color.gray_to_l(gray)), gray, atol=1e-5)


def test_keep_lightness_preserves_l_exactly_for_out_of_gamut_colours():
    lab = torch.stack([torch.linspace(1, 99, 1000), torch.full((1000,), 90.0), torch.full((1000,), -100.0)])
    lab = lab.view(3, 10, 100)
    clipped = color.rgb_to_lab(color.lab_to_rgb(lab))
    kept = color.rgb_to_lab(color.lab_to_rgb(lab, keep_lightness=True))
    assert (clipped[0] - lab[0]).abs().max() > 5  # plain clipping moves lightness ...
    assert (kept[0] - lab[0]).abs().max() < 0.05  # ... keeping it does not
    assert kept[1:].abs().mean() > 10  # and colour is still there


def test_conversions_are_differentiable_everywhere():
    rgb = torch.tensor([0.0, 0.5, 1.0]).view(3, 1, 1).expand(3, 2, 2).clone().requires_grad_()
    color.lab_to_rgb(color.rgb_to_lab(rgb)).sum().backward()
    assert torch.isfinite(rgb.grad).all()


def test_normalisation_round_trips():
    l = torch.tensor([0.0, 50.0, 100.0])
    assert torch.equal(color.normalize_l(l), torch.tensor([-1.0, 0.0, 1.0]))
    ab = torch.tensor([-110.0, 37.0])
    assert torch.allclose(color.denormalize_ab(color.normalize_ab(ab)), ab)
    assert torch.allclose(color.denormalize_l(color.normalize_l(l)), l)


def test_rgb_to_gray_is_the_neutral_colour_of_the_same_lightness():
    rgb = torch.rand(2, 3, 16, 16)
    lab = color.rgb_to_lab(rgb)
    neutral = color.lab_to_rgb(torch.cat([lab[:, :1], torch.zeros_like(lab[:, 1:])], dim=1))
    assert torch.allclose(color.rgb_to_gray(rgb).expand(-1, 3, -1, -1), neutral, atol=1e-5)


def test_8_bit_output_matches_the_float_path_to_one_level():
    lab = torch.cat([torch.rand(1, 64, 64) * 100, torch.randn(2, 64, 64) * 40])
    exact = (color.lab_to_rgb(lab, keep_lightness=True) * 255 + 0.5).to(torch.uint8).int()
    fast = color.lab_to_rgb8(lab)
    assert fast.dtype == torch.uint8 and fast.shape == lab.shape
    fast = fast.int()
    assert (fast - exact).abs().max() <= 1
    assert (fast != exact).float().mean() < 0.01
