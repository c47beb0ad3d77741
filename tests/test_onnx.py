"""ONNX export and the ONNX Runtime backend: the embedded default exported for real, run on real
photos against PyTorch, through the library, the CLI and the app's weights setting; the Hub mocked
at its boundary."""

import hashlib
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from PIL import Image

from colorizer import color
from colorizer.errors import WeightsError
from colorizer.io import provenance
from colorizer.io.images import read_photo
from colorizer.models import hub
from colorizer.models.onnx_model import OnnxGenerator
from colorizer.pipelines.colorizer import Colorizer
from tests.conftest import REPO, real_photo, run_cli
from tools.test_film import FilmScript, default_photos, write_film

HOLDOUT = sorted((REPO / "tests" / "data" / "holdout").glob("*.jpg"))


@pytest.fixture(scope="module")
def default_onnx(tmp_path_factory):
    """The embedded default, exported by the command with its default options (once for this module)."""
    model = tmp_path_factory.mktemp("onnx") / "model.onnx"
    result = run_export("--onnx", str(model))
    assert result.returncode == 0, result.stderr
    return model


def test_default_export_matches_pytorch_on_a_landscape_photo(default_onnx):
    """The command's default is the pipeline's dynamic size: a landscape photo is neither squeezed nor padded."""
    photo = real_photo("coffee.png", size=320)
    assert photo.width > photo.height
    ours = Colorizer.from_pretrained(str(default_onnx)).predict_ab([read_photo(photo)], render_size=384)[0]
    theirs = Colorizer.from_pretrained(device="cpu", backend="pytorch").predict_ab([read_photo(photo)], render_size=384)[0]
    assert ours.shape == theirs.shape and ours.shape[-1] > ours.shape[-2]
    assert float((ours - theirs).abs().mean()) < 0.5


def test_export_matches_pytorch_on_real_photos(default_onnx):
    torch_colorizer = Colorizer.from_pretrained(device="cpu", backend="pytorch")
    onnx_colorizer = Colorizer.from_pretrained(str(default_onnx))
    assert isinstance(onnx_colorizer.generator, OnnxGenerator)
    assert onnx_colorizer.can_restore == torch_colorizer.can_restore
    assert onnx_colorizer.generator.config.chroma_gain == torch_colorizer.generator.config.chroma_gain != 1.0
    photos = [read_photo(path) for path in HOLDOUT]
    assert len(photos) >= 5
    ours = onnx_colorizer.predict_ab(photos, render_size=256)  # one batch, several aspect ratios
    theirs = torch_colorizer.predict_ab(photos, render_size=256)
    for path, a, b in zip(HOLDOUT, ours, theirs):
        assert a.shape == b.shape
        assert b.abs().max() > 5, f"{path.name}: the reference is gray, the check would prove nothing"
        assert (a - b).abs().max() < 0.5, f"{path.name}: max |dab| {(a - b).abs().max():.3f} Lab units"


def test_render_size_is_capped_for_onnx_with_a_note(default_onnx):
    """The ONNX graph's attention is one block: render sizes above its limit are lowered, and said so."""
    from colorizer.models.onnx_model import MAX_ONNX_RENDER_SIZE
    colorizer = Colorizer.from_pretrained(str(default_onnx))
    checked, notes = colorizer.check_settings(render_size=2048, strength=1.0)
    assert checked.render_size == MAX_ONNX_RENDER_SIZE
    assert notes == [f"render size 2048 lowered to {MAX_ONNX_RENDER_SIZE}, the most this model runs at"]
    assert Colorizer.from_pretrained(device="cpu", backend="pytorch")._render_limit is None


def test_restore_output_matches_pytorch(default_onnx):
    """The restored lightness (third output) comes through too, on tiles whose size is not a multiple of 32."""
    torch_gen = Colorizer.from_pretrained(device="cpu", backend="pytorch").generator
    if not torch_gen.config.restore:
        pytest.skip("the embedded default was not trained to restore")
    lightness = read_photo(real_photo("camera.png", size=150)).lightness
    x = color.normalize_l(lightness)[None]  # (1, 1, 150, 150)
    with torch.inference_mode():
        ours, theirs = OnnxGenerator(default_onnx)(x), torch_gen(x)
    assert ours.shape == theirs.shape == (1, 3, 150, 150)
    assert (color.denormalize_l(ours[:, 2]) - color.denormalize_l(theirs[:, 2])).abs().max() < 0.5


def test_cli_runs_onnx_weights_into_a_real_file(default_onnx, tmp_path):
    photo = real_photo("coffee.png", size=160).convert("L")
    photo.save(tmp_path / "coffee.jpg")
    result = run_cli(str(tmp_path / "coffee.jpg"), "-o", str(tmp_path / "out"),
                     "--weights", str(default_onnx), "--render-size", "128", "--restore")
    assert result.returncode == 0, result.stderr
    assert f"ONNX file {default_onnx}" in result.stderr
    with Image.open(tmp_path / "out" / "coffee.png") as out:
        assert out.size == photo.size and out.mode == "RGB"
        rgb = np.asarray(out, dtype=np.int16)
    assert np.abs(rgb[..., 0] - rgb[..., 2]).mean() > 2  # coloured, not the gray input back
    facts = provenance.read(tmp_path / "out" / "coffee.png")
    assert facts.weights == "ONNX file model.onnx" and facts.weights_sha256 == hashlib.sha256(
        default_onnx.read_bytes()).hexdigest()


def test_folder_and_hub_repo_with_backend_onnx(default_onnx, monkeypatch):
    folder = default_onnx.parent
    assert Colorizer.from_pretrained(str(folder), backend="onnx").weights.onnx_file == default_onnx
    calls = []

    def fake_snapshot_download(repo_id, revision=None, allow_patterns=None):
        calls.append((repo_id, revision, tuple(allow_patterns)))
        return str(folder)  # the cached snapshot: it holds only model.onnx

    monkeypatch.setattr("huggingface_hub.snapshot_download", fake_snapshot_download)
    colorizer = Colorizer.from_pretrained("user/weights", revision="v1", backend="onnx")
    assert calls == [("user/weights", "v1", ("model.onnx",))]
    assert colorizer.description == "Hub user/weights (ONNX)"
    assert colorizer.colorize(real_photo("chelsea.png", size=64), render_size=64).size == (64, 43)


def test_push_uploads_model_onnx_beside_the_safetensors(default_onnx, monkeypatch):
    calls = []
    monkeypatch.setattr("huggingface_hub.HfApi.create_repo", lambda self, repo_id, **kw: calls.append(("create", repo_id)))
    monkeypatch.setattr("huggingface_hub.HfApi.upload_file",
                        lambda self, **kw: calls.append(("upload", kw["repo_id"], kw["path_in_repo"],
                                                         kw["path_or_fileobj"])) or "https://hub/commit/1")
    assert hub.push_onnx(default_onnx, "user/weights") == "https://hub/commit/1"
    assert calls == [("create", "user/weights"), ("upload", "user/weights", "model.onnx", str(default_onnx))]


def test_app_setting_takes_an_onnx_file(default_onnx, monkeypatch):
    import app

    monkeypatch.setenv(app.WEIGHTS_ENV, str(default_onnx))
    colorizers = app.load_colorizers(app.weights_from_env())
    assert isinstance(colorizers[str(default_onnx)].generator, OnnxGenerator)


def run_export(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "colorizer.export", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def test_fixed_size_export_from_the_command_line_runs_at_its_size(tiny_weights, tmp_path):
    model = tmp_path / "fixed.onnx"
    result = run_export("--onnx", str(model), "--weights", str(tiny_weights), "--fixed-size", "64")
    assert result.returncode == 0, result.stderr
    assert f"wrote {model}" in result.stderr and "max |ab| difference from PyTorch" in result.stderr
    colorizer = Colorizer.from_pretrained(str(model))
    assert colorizer.generator.fixed_shape == (64, 64)
    photo = read_photo(real_photo("chelsea.png", size=90))
    assert colorizer.predict_ab([photo], render_size=512)[0].shape == (2, 64, 64)
    assert colorizer.colorize(real_photo("chelsea.png", size=90)).size == (90, 60)
    with pytest.raises(WeightsError, match="exported for 64x64 pixels and cannot take 96x96"):
        colorizer.generator(torch.zeros(1, 1, 96, 96))
    film = tmp_path / "reel.mp4"  # 64x48 frames through the 64x64 model: films run at the model's shape too
    write_film(film, FilmScript.from_photos(*default_photos(), 64, 48, still=3, pan=0, after_cut=2), grain=0.0)
    assert colorizer.colorize_video(film, tmp_path / "out.mp4", hints=[(10, 10, "#3366cc")]).frames == 5



def test_the_export_says_what_it_is_doing_and_names_every_file_it_wrote(tiny_weights, tmp_path):
    """Tens of seconds of tracing on a CPU: a line before each step, and every file in the folder named."""
    folder = tmp_path / "out"
    result = run_export("--onnx", str(folder / "tiny.onnx"), "--weights", str(tiny_weights))
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    steps = ["loading ", "exporting ", "traced and converted in ", "checking it against PyTorch",
             "max |ab| difference from PyTorch"]
    at = [next((i for i, line in enumerate(lines) if line.startswith(step)), None) for step in steps]
    assert None not in at and at == sorted(at), result.stderr
    written = sorted(folder.iterdir())
    assert [p.name for p in written] == ["tiny.encoder.onnx", "tiny.onnx"]
    for file in written:
        assert any(line.startswith(f"wrote {file} (") for line in lines), f"{file.name} not named:\n{result.stderr}"

@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_damaged_onnx_file_is_a_clear_error(default_onnx, tmp_path, damage):
    bad = tmp_path / "bad.onnx"
    data = default_onnx.read_bytes()
    bad.write_bytes(data[: len(data) // 3] if damage == "truncated" else b"\x00not onnx at all" * 8)
    with pytest.raises(WeightsError, match=f"{bad}: damaged or not an ONNX model"):
        Colorizer.from_pretrained(str(bad))
    if damage == "truncated":
        return  # one CLI run (below) shows how the message reaches a user
    result = run_cli(str(REPO / "examples" / "camera.jpg"), "-o", str(tmp_path / "out"), "--weights", str(bad))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{bad}: damaged or not an ONNX model" in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--opset", "12"], "error: --opset 12: the exporter writes opsets 18 to"),
    (["--opset", "999"], "error: --opset 999: the exporter writes opsets 18 to"),
    (["--size", "100"], "error: --size 100: must be a render size the pipeline runs at, a multiple of 32"),
    (["--weights", "no/such/folder/here"], "error: weights 'no/such/folder/here': no such folder"),
])
def test_export_command_line_errors_are_one_line(tmp_path, args, message):
    result = run_export("--onnx", str(tmp_path / "model.onnx"), *args)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert message in result.stderr and not (tmp_path / "model.onnx").exists()


def test_model_with_other_shapes_is_refused(tmp_path):
    """An ONNX model that is not L -> ab (here RGB in, RGB out) is refused by name, before any photo."""
    rgb = helper.make_tensor_value_info("rgb", TensorProto.FLOAT, ["n", 3, "h", "w"])
    out = helper.make_tensor_value_info("out", TensorProto.FLOAT, ["n", 3, "h", "w"])
    graph = helper.make_graph([helper.make_node("Relu", ["rgb"], ["out"])], "other", [rgb], [out])
    other = tmp_path / "other.onnx"
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), other)
    with pytest.raises(WeightsError, match=f"{other}: not a colorizer model"):
        Colorizer.from_pretrained(str(other))


def test_missing_onnxruntime_and_missing_files_are_clear_errors(default_onnx, tmp_path, monkeypatch):
    with pytest.raises(WeightsError, match="no such ONNX file"):
        Colorizer.from_pretrained(str(tmp_path / "nope.onnx"))
    with pytest.raises(WeightsError, match="has no model.onnx"):
        Colorizer.from_pretrained(str(tmp_path), backend="onnx")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    with pytest.raises(WeightsError, match="pip install onnxruntime=="):
        Colorizer.from_pretrained(str(default_onnx))
