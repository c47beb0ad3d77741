"""Generator: shapes and ranges for every preset, Hub-format round trip, inference baking."""

import json

import pytest
import torch

from colorizer.models.generator import PRESETS, Generator, GeneratorConfig, preset


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_maps_l_to_bounded_ab(name):
    torch.manual_seed(0)
    model = Generator.from_preset(name).eval()
    torch.nn.init.normal_(model.head[-1].weight)  # so the bound is actually exercised
    with torch.no_grad():
        out = model(torch.rand(2, 1, 64, 96) * 2 - 1)
    assert out.shape == (2, 2, 64, 96)
    assert out.abs().max() <= 1.0 and out.std() > 0


@pytest.mark.parametrize("height,width", [(33, 47), (1, 1), (97, 31), (250, 7)])
def test_odd_sizes_come_back_at_their_own_size(height, width):
    model = Generator.from_preset("tiny").eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 1, height, width)).shape == (1, 2, height, width)


@pytest.mark.parametrize("encoder", ["resnet18", "resnet50", "efficientnet_lite1", "efficientnet_lite2"])
def test_encoders_are_selectable(encoder):
    config = GeneratorConfig(encoder=encoder, decoder_channels=[16, 16, 16, 16], middle_channels=16, final_channels=8)
    with torch.no_grad():
        assert Generator(config).eval()(torch.zeros(1, 1, 64, 64)).shape == (1, 2, 64, 64)


def test_bad_config_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="not a timm model name"):
        GeneratorConfig(encoder="no_such_net")
    with pytest.raises(ValueError, match="strides"):  # ConvNeXt starts at 1/4: no 1/2 skip for the U-Net
        Generator(GeneratorConfig(encoder="convnext_atto", decoder_channels=[8, 8, 8, 8], middle_channels=8))
    with pytest.raises(ValueError, match="unknown preset"):
        preset("nope")


def test_untrained_generator_predicts_gray():
    with torch.no_grad():
        assert Generator.from_preset("tiny").eval()(torch.rand(1, 1, 64, 64)).abs().max() == 0


def test_save_pretrained_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(1)
    model = Generator.from_preset("tiny")
    torch.nn.init.normal_(model.head[-1].weight)
    model(torch.rand(2, 1, 64, 64))  # a training-mode step moves BN stats and spectral-norm vectors
    model.eval()
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["encoder"] == "efficientnet_lite0"
    loaded = Generator.from_pretrained(tmp_path, strict=True).eval()
    assert loaded.config == model.config
    x = torch.rand(1, 1, 80, 48) * 2 - 1
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


def test_baking_keeps_outputs_and_folds_normalisation_away():
    torch.manual_seed(2)
    model = Generator.from_preset("tiny")
    torch.nn.init.normal_(model.head[-1].weight)
    model(torch.rand(2, 1, 64, 64))
    model.eval()
    x = torch.rand(1, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        before = model(x)
        model.bake()
        after = model(x)
    assert torch.allclose(before, after, atol=1e-5)
    assert not any(type(m).__name__ == "ParametrizationList" for m in model.modules())
    # only the skip connections' BN is left (it follows no convolution it could fold into)
    leftover = [name for name, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert leftover and all(name.endswith("skip_norm") for name in leftover)


def test_frozen_encoder_takes_no_gradient_and_keeps_its_statistics():
    model = Generator.from_preset("tiny").train()
    model.freeze_encoder(True)
    assert not model.encoder.training and model.up8.training
    stats = model.encoder.bn1.running_mean.clone()
    model(torch.rand(2, 1, 64, 64) * 2 - 1).square().mean().backward()
    assert all(p.grad is None for p in model.encoder.parameters())
    assert model.up2.conv1[0].parametrizations.weight.original.grad is not None
    assert torch.equal(stats, model.encoder.bn1.running_mean)
    model.freeze_encoder(False)
    assert model.encoder.training
    model(torch.rand(2, 1, 64, 64) * 2 - 1).square().mean().backward()
    assert model.encoder.conv_stem.weight.grad is not None


def test_restore_variant_predicts_lightness_as_a_correction():
    config = preset("tiny")
    config.restore = True
    model = Generator(config).eval()
    x = torch.rand(1, 1, 40, 56) * 2 - 1
    with torch.no_grad():
        out = model(x)
        assert out.shape == (1, 3, 40, 56)
        assert torch.equal(out[:, 2:], x)  # untrained: the lightness passes through unchanged
        torch.nn.init.normal_(model.head[-1].weight)
        out = model(x)
    assert not torch.equal(out[:, 2:], x) and out[:, 2:].abs().max() <= 1.0
