"""tools/average_weights.py, run as a user runs it: the average of two weights folders, with spectral norm's
estimate of each layer's largest singular value made anew for the averaged weight."""

from __future__ import annotations

import json

import torch
from torch.nn.utils import parametrize

from colorizer.models.generator import Generator
from colorizer.models.hub import load_generator
from tests.conftest import run_tool


def _other_weights(tiny_weights, folder):
    """The tiny weights with every float tensor moved far (new random decoder weights), and another gain."""
    model, _ = load_generator(tiny_weights)
    torch.manual_seed(1)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point() and name.endswith("original"):
                tensor.copy_(torch.randn_like(tensor) * tensor.std() * 3)
    model.config.chroma_gain = 0.8
    model.save_pretrained(folder)
    return folder


def _assert_weights_close(actual: dict, expected: dict) -> None:
    """Every float tensor but spectral norm's vectors (_u, _v, made anew for any result) within float16's precision."""
    for name, tensor in actual.items():
        if tensor.is_floating_point() and not name.endswith(("_u", "_v")):
            torch.testing.assert_close(tensor, expected[name], atol=2e-3, rtol=2e-3)


def test_the_average_is_halfway_and_its_spectral_norms_are_true(tiny_weights, tmp_path):
    other = _other_weights(tiny_weights, tmp_path / "other")
    run = run_tool("average_weights.py", str(tiny_weights), str(other), "--out", str(tmp_path / "soup"))
    assert run.returncode == 0, run.stderr
    assert "chroma_gain 0.9" in run.stdout and json.loads((tmp_path / "soup" / "config.json").read_text())["chroma_gain"] == 0.9

    first, second, soup = (load_generator(f)[0].state_dict() for f in (tiny_weights, other, tmp_path / "soup"))
    _assert_weights_close(soup, {name: (first[name] + second[name]) / 2 for name in first})

    model, checked = load_generator(tmp_path / "soup")[0], 0
    for module in model.modules():
        if parametrize.is_parametrized(module, "weight"):
            original = module.parametrizations.weight.original
            norm = module.parametrizations.weight[0]
            largest = torch.linalg.matrix_norm(norm._reshape_weight_to_matrix(original.detach()), ord=2)
            used = (original.norm() / module.weight.norm()).detach()  # weight = original / sigma: the sigma the layer uses
            assert abs(float(used / largest) - 1) < 0.02, (float(used), float(largest))
            checked += 1
    assert checked > 5


def test_share_1_keeps_the_second_alone_in_half_the_bytes(tiny_weights, tmp_path):
    other = _other_weights(tiny_weights, tmp_path / "other")
    run = run_tool("average_weights.py", str(tiny_weights), str(other), "--share", "1", "--out", str(tmp_path / "kept"))
    assert run.returncode == 0, run.stderr
    assert json.loads((tmp_path / "kept" / "config.json").read_text())["chroma_gain"] == 0.8
    size = {f: (f / "model.safetensors").stat().st_size for f in (other, tmp_path / "kept")}
    assert size[tmp_path / "kept"] < 0.6 * size[other]  # float16 against the export's float32
    second, kept = (load_generator(f)[0].state_dict() for f in (other, tmp_path / "kept"))
    _assert_weights_close(kept, second)


def test_weights_of_two_architectures_are_refused_and_nothing_is_written(tiny_weights, tmp_path):
    Generator.from_preset("compact").save_pretrained(tmp_path / "compact")
    run = run_tool("average_weights.py", str(tiny_weights), str(tmp_path / "compact"), "--out", str(tmp_path / "soup"))
    assert run.returncode == 1 and "different architectures" in run.stderr and "encoder" in run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "soup").exists()
    run = run_tool("average_weights.py", str(tiny_weights), str(tiny_weights), "--share", "1.5", "--out", str(tmp_path / "soup"))
    assert run.returncode == 1 and "between 0 and 1" in run.stderr and not (tmp_path / "soup").exists()


def test_out_replaces_an_earlier_weights_folder_but_never_other_files(tiny_weights, tmp_path):
    keep = tmp_path / "photos"
    (keep / "sub").mkdir(parents=True)
    (keep / "a.jpg").write_bytes(b"a photo")
    (tmp_path / "afile").write_text("text")
    for out, message in ((keep, "is not a weights folder"), (tmp_path / "afile", "is not a weights folder"),
                         (tmp_path / "afile" / "soup", "cannot write there")):
        run = run_tool("average_weights.py", str(tiny_weights), str(tiny_weights), "--out", str(out))
        assert run.returncode == 1 and "Traceback" not in run.stderr and message in run.stderr
    assert (keep / "a.jpg").read_bytes() == b"a photo" and (keep / "sub").is_dir()
    assert (tmp_path / "afile").read_text() == "text"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "photos"]  # no temporary folder left behind
    soup = tmp_path / "soup"
    for _ in range(2):  # the second run replaces the first's folder
        assert run_tool("average_weights.py", str(tiny_weights), str(tiny_weights), "--out", str(soup)).returncode == 0
    assert sorted(p.name for p in soup.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "photos", "soup"]
