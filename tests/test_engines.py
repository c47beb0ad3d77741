"""The CPU's default engine: the embedded default's shipped model.onnx with ONNX Runtime, PyTorch's colour
kept for every feature, and the result files saying which file and engine ran."""

import hashlib
import shutil
import sys

import numpy as np
import pytest
import torch

from colorizer.export import max_ab_difference
from colorizer.io.images import read_photo
from colorizer.models import engines, hub
from colorizer.models.engines import AUTO_ONNX_MAX_SIDE, AutoGenerator
from colorizer.models.generator import Generator
from colorizer.pipelines.colorizer import Colorizer
from colorizer.io.hints import Stroke
from tests.conftest import real_photo

CPU = torch.device("cpu")


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def auto() -> Colorizer:
    return Colorizer.from_pretrained(device="cpu")


@pytest.fixture(scope="module")
def pytorch() -> Colorizer:
    return Colorizer.from_pretrained(device="cpu", backend="pytorch")


def test_the_shipped_onnx_file_is_the_embedded_weights(pytorch):
    """model.onnx must be exported again whenever model.safetensors changes: this fails until it is."""
    assert max_ab_difference(hub.EMBEDDED_WEIGHTS / hub.ONNX_FILE, pytorch.generator) < 0.01


def test_auto_means_onnx_on_the_cpu_for_the_embedded_default_only(auto, tiny_weights, tmp_path, monkeypatch):
    assert isinstance(auto.generator, AutoGenerator) and auto.weights.onnx_file == hub.EMBEDDED_WEIGHTS / hub.ONNX_FILE
    assert engines.choose_backend(None, "auto", torch.device("cuda")) == "pytorch"
    assert isinstance(Colorizer.from_pretrained(str(tiny_weights), device="cpu").generator, Generator)  # no model.onnx
    copy = tmp_path / "copy"  # a folder with a model.onnx that may be older than its config: PyTorch unless asked
    shutil.copytree(hub.EMBEDDED_WEIGHTS, copy)
    assert isinstance(Colorizer.from_pretrained(str(copy), device="cpu").generator, Generator)
    assert engines.choose_backend(str(copy), "onnx", CPU) == "onnx"
    assert engines.choose_backend(None, "pytorch", CPU) == "pytorch"
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    assert engines.choose_backend(None, "auto", CPU) == "pytorch"


def test_auto_gives_pytorchs_colour_with_hints_and_restoration(auto, pytorch):
    photo = real_photo("coffee.png", size=200).convert("L")
    hints = [(40, 30, "#8b1a1a"), Stroke([(100, 80), (150, 90)], "#2050a0")]
    ours, theirs = (np.asarray(c.colorize(photo, restore=True, hints=hints), dtype=float) for c in (auto, pytorch))
    assert np.abs(ours - theirs).max() <= 2  # 8-bit rounding apart


def test_result_files_say_which_file_and_engine_ran(auto, pytorch):
    """Up to AUTO_ONNX_MAX_SIDE ONNX Runtime runs the model.onnx; above, PyTorch the safetensors, with its colour."""
    facts = auto.facts(384, 1.0, False)
    assert (facts.weights, facts.weights_sha256) == ("embedded default", sha256(hub.EMBEDDED_WEIGHTS / hub.ONNX_FILE))
    assert facts.extra["engine"].startswith("ONNX Runtime ")
    large = AUTO_ONNX_MAX_SIDE + 32
    facts = auto.facts(large, 1.0, False)
    assert facts.weights_sha256 == sha256(hub.EMBEDDED_WEIGHTS / hub.WEIGHTS_FILE)
    assert facts.extra["engine"].startswith("PyTorch ")
    photo = read_photo(real_photo("chelsea.png", size=large))
    assert torch.equal(auto.predict_ab([photo], large)[0], pytorch.predict_ab([photo], large)[0])
    assert auto._render_limit is None  # nothing lowered: every render size runs
