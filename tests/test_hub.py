"""Weights sources: embedded default, local folders, the Hub (mocked at its boundary), damage."""

import json
import logging
import shutil
import subprocess
import sys
import textwrap

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from colorizer.errors import WeightsError
from colorizer.models import hub
from colorizer.models.generator import Generator, build_encoder
from colorizer.pipelines.colorizer import Colorizer
from tests.conftest import CHECKOUT_ENV, REPO, real_photo, run_cli


def test_embedded_default_loads_strictly():
    model, weights = hub.load_generator(None)
    assert weights.folder == hub.EMBEDDED_WEIGHTS and weights.fallback_reason is None
    assert weights.description == "embedded default"
    assert isinstance(model, Generator)


def test_local_folder_is_used(tiny_weights):
    weights = hub.resolve(str(tiny_weights))
    assert weights.folder == tiny_weights and "local folder" in weights.description


def test_offline_hub_falls_back_to_embedded_with_reason(monkeypatch, caplog):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with caplog.at_level(logging.WARNING):
        colorizer = Colorizer.from_pretrained("someone/not-cached-anywhere", device="cpu")
    assert colorizer.weights.folder == hub.EMBEDDED_WEIGHTS
    assert "someone/not-cached-anywhere" in colorizer.weights.fallback_reason
    assert "embedded default" in caplog.text


def test_hub_download_is_used_when_it_works(monkeypatch, tiny_weights):
    calls = []

    def fake_snapshot_download(repo_id, revision=None, allow_patterns=None):
        calls.append((repo_id, revision, tuple(allow_patterns)))
        return str(tiny_weights)  # what huggingface_hub returns: the cached snapshot folder

    monkeypatch.setattr("huggingface_hub.snapshot_download", fake_snapshot_download)
    colorizer = Colorizer.from_pretrained("user/weights", device="cpu", revision="v1")
    assert calls == [("user/weights", "v1", ("config.json", "model.safetensors"))]
    assert colorizer.description == "Hub user/weights"
    assert colorizer.generator.config.encoder == "efficientnet_lite0"


def test_half_precision_export_round_trips(tmp_path, tiny_weights):
    model = Generator.from_pretrained(tiny_weights, strict=True).eval()
    hub.export(model, tmp_path / "half", "# card\n", half=True)
    loaded, _ = hub.load_generator(tmp_path / "half")
    x = torch.rand(1, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        assert (model(x) - loaded(x)).abs().max() < 1e-2
    assert (tmp_path / "half" / "README.md").read_text() == "# card\n"


def test_missing_folder_and_files_are_clear_errors(tmp_path):
    with pytest.raises(WeightsError, match="no such folder"):
        hub.resolve(str(tmp_path / "nope" / "deeper"))
    with pytest.raises(WeightsError, match="has no config.json"):
        hub.resolve(str(tmp_path))


@pytest.mark.parametrize("damage", ["truncated", "garbage", "wrong-shape", "bad-json"])
def test_damaged_checkpoint_is_a_clear_error(tmp_path, tiny_weights, damage):
    folder = shutil.copytree(tiny_weights, tmp_path / damage)
    weights_file = folder / "model.safetensors"
    if damage == "truncated":
        weights_file.write_bytes(weights_file.read_bytes()[:5000])
    elif damage == "garbage":
        weights_file.write_bytes(b"\x00" * 64)
    elif damage == "wrong-shape":
        save_file({"stem.0.weight": torch.zeros(3)}, str(weights_file))
    else:
        (folder / "config.json").write_text("{not json")
    with pytest.raises(WeightsError) as err:
        Colorizer.from_pretrained(str(folder), device="cpu")
    assert str(folder) in str(err.value)


def test_embedded_default_colorizes_a_real_photo():
    colorizer = Colorizer.from_pretrained(device="cpu")
    photo = real_photo("camera.png", size=128)
    assert colorizer.colorize(photo, render_size=128).size == photo.size


@pytest.mark.parametrize(("key", "value"), [("middle_channels", 3_000_000), ("final_channels", -1),
                                            ("decoder_channels", [32, 24, 0, 16]), ("restore", "yes"),
                                            ("middle_channels", 2.5), ("chroma_gain", 0), ("chroma_gain", "1"),
                                            ("chroma_gain", 7.5), ("decoder_channels", [4096] * 4),
                                            ("middle_channels", hub.MAX_CHANNELS + 1)])
def test_absurd_config_values_are_refused_before_building_anything(tmp_path, tiny_weights, key, value):
    folder = shutil.copytree(tiny_weights, tmp_path / "w")
    config = json.loads((folder / "config.json").read_text())
    config[key] = value
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(WeightsError, match=f"invalid generator config: {key} must be") as err:
        Colorizer.from_pretrained(str(folder), device="cpu")
    assert str(folder) in str(err.value) and repr(value) in str(err.value)



def test_an_encoder_the_weights_file_does_not_hold_is_refused_before_it_is_built(tmp_path, tiny_weights):
    """A config naming EfficientNet-L2 (468 M parameters, 1.9 GB) beside a tiny model's tensors: one
    WeightsError that says so, found from the file's header while the process holds a fraction of that."""
    folder = shutil.copytree(tiny_weights, tmp_path / "w")
    config = json.loads((folder / "config.json").read_text())
    config["encoder"] = "efficientnet_l2"
    (folder / "config.json").write_text(json.dumps(config))
    with torch.device("meta"):
        encoder_bytes = 4 * sum(p.numel() for p in build_encoder("efficientnet_l2").state_dict().values())
    probe = textwrap.dedent(f"""
        import resource
        from colorizer.errors import WeightsError
        from colorizer.models import hub
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        try:
            hub.load_generator({str(folder)!r})
        except WeightsError as err:
            print(err)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before)
    """)
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300,
                            env=CHECKOUT_ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    message, grown = result.stdout.strip().splitlines()
    assert "model.safetensors: weights do not match config.json's encoder efficientnet_l2" in message
    assert "missing" in message and "encoder." in message
    assert int(grown) < encoder_bytes / 10


def test_an_encoder_the_u_net_cannot_take_is_one_clear_error(tmp_path, tiny_weights):
    folder = shutil.copytree(tiny_weights, tmp_path / "w")
    config = json.loads((folder / "config.json").read_text())
    config["encoder"] = "convnext_atto"  # features from 1/4 on: no 1/2 skip for the U-Net
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(WeightsError, match="encoder 'convnext_atto' cannot be the U-Net's: .*strides"):
        hub.load_generator(folder)


def test_a_huge_or_deeply_nested_config_is_one_clear_line(tmp_path, tiny_weights):
    huge = shutil.copytree(tiny_weights, tmp_path / "huge")
    config = json.loads((huge / "config.json").read_text())
    (huge / "config.json").write_text(json.dumps({**config, "notes": "x" * 2_000_000}))
    with pytest.raises(WeightsError, match=f"more than the {hub.MAX_CONFIG_BYTES} bytes"):
        hub.load_generator(huge)
    nested = shutil.copytree(tiny_weights, tmp_path / "nested")
    (nested / "config.json").write_text('{"config": ' + "[" * 20_000 + "]" * 20_000 + "}")
    result = run_cli(str(REPO / "examples" / "camera.jpg"), "-o", str(tmp_path / "out"), "--weights", str(nested))
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert f"{nested / 'config.json'}: nested too deeply for a generator config" in result.stderr

def test_config_that_does_not_match_its_tensors_says_which_differ(tmp_path, tiny_weights):
    folder = shutil.copytree(tiny_weights, tmp_path / "w")
    config = json.loads((folder / "config.json").read_text())
    config["decoder_channels"] = [40, 24, 16, 16]  # the file holds tensors for [32, 24, 16, 16]
    (folder / "config.json").write_text(json.dumps(config))
    built = Generator(hub.read_config(folder)).state_dict()
    stored = load_file(folder / "model.safetensors")
    differing = [k for k in built if k in stored and built[k].shape != stored[k].shape]
    with pytest.raises(WeightsError) as err:
        hub.load_generator(folder)
    message = str(err.value)
    assert f"{len(differing)} with other shapes" in message
    key = differing[0]
    assert f"{key} {tuple(stored[key].shape)} instead of {tuple(built[key].shape)}" in message


@pytest.mark.parametrize("part", ["decoder", "encoder"])
def test_missing_and_unexpected_tensors_are_named(tmp_path, tiny_weights, part):
    """The encoder's tensors are checked from the file's header before anything is built, so there the
    message names what the encoder misses; the rest is checked against the built model, all of it named."""
    folder = shutil.copytree(tiny_weights, tmp_path / "w")
    state = load_file(folder / "model.safetensors")
    dropped = sorted(k for k in state if k.startswith("encoder.") == (part == "encoder"))[3]
    extra = f"{part}.extra.weight" if part == "encoder" else "extra.weight"
    state[extra] = state.pop(dropped)
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(WeightsError) as err:
        hub.load_generator(folder)
    assert f"missing 1 tensors ({dropped})" in str(err.value)
    assert f"1 unexpected tensors ({extra})" in str(err.value)


def test_weights_holding_nan_are_refused_where_they_load_and_where_they_are_written(tmp_path, tiny_weights):
    """A diverged run's NaN would turn every photo into NaN colour: a clear WeightsError instead."""
    broken = tmp_path / "broken"
    shutil.copytree(tiny_weights, broken)
    state = load_file(broken / hub.WEIGHTS_FILE)
    name = next(k for k, v in state.items() if v.is_floating_point() and v.numel() > 1)
    state[name][0] = float("nan")
    save_file(state, str(broken / hub.WEIGHTS_FILE))
    with pytest.raises(WeightsError, match=f"weight {name} holds NaN or infinite values"):
        hub.load_generator(broken)
    model = Generator.from_pretrained(tiny_weights)
    with torch.no_grad():
        next(model.parameters()).fill_(float("inf"))
    with pytest.raises(WeightsError, match="NaN or infinite"):
        hub.export(model, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / ".out.tmp").exists()


def test_a_model_whose_colour_comes_out_nan_is_a_clear_error(tiny_weights):
    """What is not checked at load (an ONNX file) is checked on its output."""
    colorizer = Colorizer.from_pretrained(str(tiny_weights), device="cpu")
    with torch.no_grad():
        colorizer.generator.head[-1].bias.fill_(float("nan"))
    with pytest.raises(WeightsError, match="the model's colour holds NaN or infinite values"):
        colorizer.colorize(Image.new("L", (32, 24), 100))
