"""Colour-rarity weights: rare colours count more than common ones, the weights average 1 over the
photos' colours, and the pixel loss and a training run use them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from colorizer import color
from train.losses import (FeatureLoss, FeatureLossConfig, ab_histogram, measure_prior, pixel_weights, smoothed_prior,
                          weights_from_histogram)

torch.set_num_threads(1)
BROWN, GREEN = (130, 100, 70), (40, 150, 50)


def _ab(rgb: tuple[int, int, int], side: int = 4) -> torch.Tensor:
    """(1, 2, side, side) normalised ab of one colour."""
    lab = color.lab_of_rgb8(np.full((side, side, 3), rgb, dtype=np.uint8))
    return color.normalize_ab(lab[1:]).unsqueeze(0)


def _photos() -> list[Image.Image]:
    return [Image.new("RGB", (32, 32), BROWN)] * 9 + [Image.new("RGB", (32, 32), GREEN)]


def test_a_rare_colour_weighs_more_than_a_common_one_and_the_mean_is_one() -> None:
    counts = ab_histogram(_photos())
    assert counts.sum() == 10 * 32 * 32
    weights = weights_from_histogram(counts, mix=0.5)
    brown, green = pixel_weights(weights, _ab(BROWN)).mean(), pixel_weights(weights, _ab(GREEN)).mean()
    assert green > 1.5 * brown
    assert (smoothed_prior(counts) * weights).sum().item() == pytest.approx(1.0, rel=1e-4)
    assert 0.6 < (0.9 * brown + 0.1 * green).item() < 1.1  # about 1 over the photos' own pixels too
    uniform = weights_from_histogram(counts, mix=1.0)
    assert pixel_weights(uniform, _ab(GREEN)).mean() == pytest.approx(pixel_weights(uniform, _ab(BROWN)).mean())


def test_the_prior_is_measured_on_colour_photos_only_and_refuses_none() -> None:
    records = ["broken", "gray", "brown", "green"]
    images = {"gray": Image.new("RGB", (8, 8), (90, 90, 90)), "brown": Image.new("RGB", (8, 8), BROWN),
              "green": Image.new("RGB", (8, 8), GREEN)}

    def decode(record, side):
        if record == "broken":
            raise OSError("truncated")
        return images[record]

    weights = measure_prior(records, decode, count=2, mix=0.5)
    assert pixel_weights(weights, _ab(GREEN)).mean() > 0
    with pytest.raises(ValueError, match="no colour pixel"):
        measure_prior(["gray"], decode, count=2, mix=0.5)


def test_the_rebalanced_pixel_loss_punishes_a_miss_on_a_rare_colour_more() -> None:
    weights = weights_from_histogram(ab_histogram(_photos()), mix=0.5)
    config = FeatureLossConfig(net="none", rebalance=0.5)
    loss = FeatureLoss(config, weights)
    lightness = torch.zeros(1, 1, 4, 4)
    brown_target, green_target = (torch.cat([lightness, _ab(c)], 1) for c in (BROWN, GREEN))
    miss = torch.full((1, 2, 4, 4), 0.05)
    brown_miss = loss(brown_target[:, 1:] + miss, brown_target)[0]
    green_miss = loss(green_target[:, 1:] + miss, green_target)[0]
    assert green_miss > 1.5 * brown_miss
    plain = FeatureLoss(FeatureLossConfig(net="none"))
    assert plain(green_target[:, 1:] + miss, green_target)[0] == pytest.approx(
        plain(brown_target[:, 1:] + miss, brown_target)[0].item(), rel=1e-4)
    with pytest.raises(ValueError, match="colour-rarity weights"):
        FeatureLoss(config)


def test_a_run_with_balanced_sources_and_rarity_weights_trains_and_exports(tmp_path) -> None:
    from test_data import make_photo_folder
    from test_train import one_process, run

    from colorizer.pipelines.colorizer import Colorizer

    photos = make_photo_folder(tmp_path / "photos", colour=10)
    for i, photo in enumerate(sorted(photos.glob("photo-*.jpg"))):
        photo.rename(photos / f"{'big' if i < 8 else 'small'}__{photo.name}")
    output, log = tmp_path / "run", tmp_path / "run.log"
    run(one_process(output, photos, "--phase", "pretrain-g", "--loss.rebalance", "0.5", "--data.max_source_share",
                    "0.5"), log)
    text = log.read_text()
    # big 8, small 2 and the three unnamed files: small and the unnamed repeated once each
    assert "balanced 13 photos of 3 sources into an epoch of 18; largest source 'big' at 44%" in text
    # the balanced epoch's colour photos (the small source's twice), gray and broken ones skipped
    assert "colour-rarity weights from 12 photos" in text
    photo = Image.open(photos / "gray.png").convert("RGB")
    assert Colorizer.from_pretrained(str(output / "pretrain-g" / "generator"), device="cpu").colorize(
        photo, render_size=64).size == photo.size
