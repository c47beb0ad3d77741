"""train/nogan.py end to end: real 2-process CPU runs under torchrun, kills and resumes, Hub uploads.

The runs use train/configs/tiny-cpu.yaml (tiny generator, 32-64 px, a few steps per phase) on a
folder of real photo crops that also holds a grayscale photo and two broken files.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
import yaml
from PIL import Image
from safetensors.torch import load_file
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from test_data import SKIMAGE_DATA, make_photo_folder

from colorizer.models.generator import Generator
from colorizer.pipelines.colorizer import Colorizer
from train.checkpoints import KILL_AT
from train.critic import Critic

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "train" / "configs" / "tiny-cpu.yaml"
RUN_TIMEOUT = 400
EXPORTS = ("pretrain-g/generator", "pretrain-critic-1/critic", "gan-1/generator", "gan-1/critic")


def nogan(output: Path, photos: Path, *extra: str) -> list[str]:
    # --standalone: a free rendezvous port, so runs of other people on this machine do not collide.
    return ["torchrun", "--standalone", "--nproc_per_node", "2", "train/nogan.py", "--cpu", "true", "--config",
            str(CONFIG), "--data.dataset", str(photos), "--output_dir", str(output), *extra]


def one_process(output: Path, photos: Path, *extra: str) -> list[str]:
    return [sys.executable, "train/nogan.py", "--config", str(CONFIG), "--data.dataset", str(photos), "--output_dir",
            str(output), *extra]


def run_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **extra}


def run(cmd: list[str], log: Path, **env: str) -> int:
    """Run a training command to its end; returns its exit status, which must be 0 unless told otherwise."""
    expected = int(env.pop("returncode", "0"))
    with log.open("a") as out:
        result = subprocess.run(cmd, cwd=REPO, env=run_env(**env), stdout=out, stderr=subprocess.STDOUT,
                                timeout=RUN_TIMEOUT)
    assert result.returncode == expected, log.read_text()[-4000:]
    return result.returncode


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    return make_photo_folder(tmp_path_factory.mktemp("photos"), colour=24)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, photos: Path) -> Path:
    """All three phases, two processes, never interrupted."""
    output = tmp_path_factory.mktemp("full-run")
    run(nogan(output, photos), output / "run.log")
    return output


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "model.safetensors")


def scalars(run_dir: Path) -> EventAccumulator:
    events = EventAccumulator(str(run_dir / "logs" / "nogan"), size_guidance={"images": 0, "scalars": 0})
    return events.Reload()


def test_every_phase_exports_models_that_load_strictly_and_colorize(full_run: Path) -> None:
    for export in EXPORTS:
        assert {"config.json", "model.safetensors", "README.md"} <= {p.name for p in (full_run / export).iterdir()}
    generator = Generator.from_pretrained(full_run / "gan-1" / "generator", strict=True).eval()
    with torch.no_grad():
        ab = generator(torch.zeros(1, 1, 40, 56))
    assert ab.shape == (1, 2, 40, 56) and ab.abs().max() <= 1
    Critic.from_pretrained(full_run / "gan-1" / "critic", strict=True)
    photo = Image.open(SKIMAGE_DATA / "coffee.png").convert("L").resize((120, 80))
    colorized = Colorizer.from_pretrained(str(full_run / "gan-1" / "generator"), device="cpu").colorize(photo)
    assert colorized.size == (120, 80) and colorized.mode == "RGB"
    # The GAN phase moved the generator away from its pretrained weights.
    before, after = weights(full_run / "pretrain-g" / "generator"), weights(full_run / "gan-1" / "generator")
    assert before.keys() == after.keys() and any(not torch.equal(before[k], after[k]) for k in before)


def test_model_cards_state_config_data_and_losses(full_run: Path, photos: Path) -> None:
    card = (full_run / "gan-1" / "generator" / "README.md").read_text()
    assert "phase `gan-1`" in card and str(photos) in card
    assert "| loss_generator |" in card and "| loss_adversarial |" in card
    front = yaml.safe_load(card.split("---")[1])
    assert front["library_name"] == "colorizer"
    config = yaml.safe_load(card.split("```yaml")[1].split("```")[0])
    assert config["gan"]["steps"] == yaml.safe_load(CONFIG.read_text())["gan"]["steps"]
    # held-out photos colorized by the export itself: the picture beside the card, and their scores
    assert "![held-out results](samples.png)" in card and "| ours |" in card and "| gray |" in card
    assert "| method | hue hits | colourfulness gap | mean absolute gap | PSNR (dB) | SSIM |" in card
    assert re.search(r"\| gray \| 0\.000 \| -\d+\.\d \| \d+\.\d \|", card)  # gray never has the hue
    assert "hue hits: of the pixels whose true chroma C*ab is at least 15" in card
    assert re.search(r"better than gray \(PSNR\) on \d+ of the \d+ photos", card)
    samples = Image.open(full_run / "gan-1" / "generator" / "samples.png")
    assert samples.height > 3 * 128 and samples.width > 3 * 128  # rows of gray | ours | original thumbnails
    assert "samples.png" not in (full_run / "gan-1" / "critic" / "README.md").read_text()


def test_tensorboard_has_losses_rates_speed_and_image_grids(full_run: Path) -> None:
    events = scalars(full_run)
    tags = events.Tags()
    assert {"samples/pretrain-g", "samples/gan"} <= set(tags["images"])
    assert {"pretrain-g/loss_generator", "pretrain-g/lr_generator", "pretrain-g/images_per_s",
            "pretrain-critic/loss_critic", "gan/loss_critic", "gan/loss_adversarial", "gan/lr_critic",
            "gan/critic_steps"} <= set(tags["scalars"])
    grid = events.Images("samples/gan")[0]
    assert grid.width > grid.height  # rows of (input, prediction, target)


def test_a_log_file_gets_whole_lines_with_losses_and_progress(full_run: Path) -> None:
    """Written to a file, the run logs one line per message: no progress-bar redraws run into them."""
    lines = (full_run / "run.log").read_text().split("\n")
    assert not [line for line in lines if "\r" in line or "it/s]" in line]
    ours = [line for line in lines if " nogan: " in line]
    assert ours and all(line[:4].isdigit() and "[rank " in line for line in ours)  # each starts with its timestamp
    for phase in ("pretrain-g", "pretrain-critic-1", "gan-1"):
        progress = [line for line in ours if re.search(rf" {phase} step \d+ \(\d+/\d+, eta [\d:]+\): loss_", line)]
        assert progress, f"no progress line for {phase}"
    assert re.search(r"\(\d+/\d+, eta 00:00\): ", "\n".join(ours))  # each phase's last line: nothing left
    assert "model card: colorizing the held-out photos in" in "\n".join(lines)  # its slowest part, announced


def test_grayscale_and_broken_photos_are_skipped_and_counted(full_run: Path) -> None:
    events = scalars(full_run)
    assert events.Scalars("data/unreadable")[-1].value >= 2
    assert events.Scalars("data/grayscale")[-1].value >= 1
    assert "skipping an unreadable image" in (full_run / "run.log").read_text()


def _kill_tree(pid: int) -> None:
    parent = psutil.Process(pid)
    for process in parent.children(recursive=True) + [parent]:
        process.kill()
    parent.wait(timeout=30)


def test_a_run_killed_in_the_gan_phase_resumes_to_the_same_weights(full_run: Path, photos: Path,
                                                                    tmp_path: Path) -> None:
    config = yaml.safe_load(CONFIG.read_text())
    first_gan_checkpoint = (sum(config["pretrain"]["steps"]) + config["critic_pretrain"]["steps"]
                            + config["gan"]["checkpoint_every"])
    output, log = tmp_path / "killed", tmp_path / "run.log"
    with log.open("w") as out:
        process = subprocess.Popen(nogan(output, photos), cwd=REPO, env=run_env(), stdout=out,
                                   stderr=subprocess.STDOUT)
    deadline = time.monotonic() + RUN_TIMEOUT
    try:
        while not (output / "checkpoints" / f"checkpoint-{first_gan_checkpoint}").is_dir():
            assert process.poll() is None, log.read_text()[-4000:]
            assert time.monotonic() < deadline, "no GAN checkpoint in time"
            time.sleep(0.02)
    finally:
        _kill_tree(process.pid)
    assert not (output / "gan-1").exists(), "the run finished before it could be killed"

    run(nogan(output, photos, "--resume", "latest"), log)
    assert "resuming gan-1 at step" in log.read_text()
    for export in ("gan-1/generator", "gan-1/critic"):
        resumed, uninterrupted = weights(output / export), weights(full_run / export)
        assert resumed.keys() == uninterrupted.keys()
        different = [k for k in resumed if not torch.equal(resumed[k], uninterrupted[k])]
        assert not different, f"{export}: {len(different)} tensors differ, e.g. {different[:3]}"


@pytest.fixture(scope="module")
def one_process_run(tmp_path_factory, photos: Path) -> Path:
    """All three phases in one process, never interrupted: what every killed and resumed run must equal."""
    output = tmp_path_factory.mktemp("one-process")
    run(one_process(output, photos), output / "run.log")
    return output


# (moment, the how-many-th time the run passes it): checkpoints at global steps 4, 5 (pretrain-g's end),
# 7 (pretrain-critic's end), 9, 11 and 13 (gan-1's steps 2, 4 and its end).
KILL_POINTS = {
    "mid-phase, after gan-1's first checkpoint": "step:10",
    "between the files of gan-1's first checkpoint": "checkpoint-files:4",
    "at pretrain-g's last step, after its checkpoint, before its export": "step:5",
    "during pretrain-g's export": "export:1",
    "at the phase change from pretrain-critic-1 to gan-1": "phase-change:2",
}


@pytest.mark.parametrize("moment", KILL_POINTS)
def test_a_run_killed_at_any_moment_resumes_to_the_same_weights(moment: str, one_process_run: Path, photos: Path,
                                                                 tmp_path: Path) -> None:
    """SIGKILL at an exact moment (the run kills itself there, as `kill -9` would), then --resume latest:
    every export equals the uninterrupted run's bit for bit, and no temporary folder is left."""
    output, log = tmp_path / "killed", tmp_path / "run.log"
    run(one_process(output, photos), log, returncode=str(-signal.SIGKILL), **{KILL_AT: KILL_POINTS[moment]})
    assert not (output / "gan-1").exists()
    run(one_process(output, photos, "--resume", "latest"), log)
    for export in EXPORTS:
        resumed, uninterrupted = weights(output / export), weights(one_process_run / export)
        assert resumed.keys() == uninterrupted.keys()
        different = [k for k in resumed if not torch.equal(resumed[k], uninterrupted[k])]
        assert not different, f"{moment}: {export}: {len(different)} tensors differ, e.g. {different[:3]}"
    assert not [p for p in output.rglob(".*") if p.name.endswith((".tmp", ".old"))]


def test_push_to_hub_uploads_only_exported_generators(tmp_path: Path, photos: Path, monkeypatch) -> None:
    """In-process, one process; only the network boundary (HfApi) is replaced."""
    from accelerate.state import AcceleratorState
    from huggingface_hub import HfApi

    from train.nogan import main

    uploads, repos = [], []

    def upload_folder(self, *, repo_id, folder_path, path_in_repo=None, commit_message=None, **kwargs):
        uploads.append((repo_id, sorted(p.name for p in Path(folder_path).iterdir()), path_in_repo, commit_message,
                        (Path(folder_path) / "README.md").read_text()))

    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: repos.append((repo_id, kw)))
    monkeypatch.setattr(sys, "argv", ["nogan.py"])
    try:
        main(["--config", str(CONFIG), "--data.dataset", str(photos), "--output_dir", str(tmp_path / "run"),
              "--phase", "pretrain-g", "--pretrain.steps", "[2, 1]", "--checkpoint_every", "1", "--push_every", "2",
              "--push_to_hub", "someone/colorizer-test", "--loss.net", "none"])
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)
    assert repos == [("someone/colorizer-test", {"private": True, "exist_ok": True})]
    # checkpoint 2 (every 2nd) and the phase's final export; never optimizer or RNG state
    assert [u[3] for u in uploads] == ["pretrain-g: generator at step 2", "pretrain-g: generator"]
    for repo_id, files, path_in_repo, _, _ in uploads:
        assert repo_id == "someone/colorizer-test" and path_in_repo is None
        assert set(files) <= {"config.json", "model.safetensors", "README.md", "samples.png"}
        assert "model.safetensors" in files
    assert all("phase `pretrain-g`" in u[4] for u in uploads)  # checkpoint uploads carry the real card too
    assert not [p for p in (tmp_path / "run" / ".hub-staging").rglob("*") if p.is_file()]  # staging cleaned up


def test_restore_training_exports_a_generator_that_restores(tmp_path: Path, photos: Path) -> None:
    output = tmp_path / "restore-run"
    restore = tmp_path / "restore.yaml"
    restore.write_text("generator:\n  restore: true\n")  # a recipe on top of the tiny one: shapes are YAML-only
    cmd = [*one_process(output, photos, "--phase", "pretrain-g", "--loss.net", "none"), "--config", str(restore)]
    run(cmd, output.parent / "restore.log")
    colorizer = Colorizer.from_pretrained(str(output / "pretrain-g" / "generator"), device="cpu")
    assert colorizer.can_restore
    photo = Image.open(SKIMAGE_DATA / "camera.png").resize((90, 70))
    assert colorizer.colorize(photo, render_size=64, restore=True).size == (90, 70)


def _fails(cmd: list[str]) -> str:
    """Run a training command that must fail; return its stderr (a message, never a traceback)."""
    result = subprocess.run(cmd, cwd=REPO, env=run_env(), capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result.stderr


def test_a_bad_dataset_is_one_clear_line_and_debug_shows_where(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    cmd = one_process(tmp_path / "run", tmp_path / "empty", "--phase", "pretrain-g")
    assert "error: dataset" in _fails(cmd).strip().splitlines()[-1]
    debug = subprocess.run([*cmd, "--debug", "true"], cwd=REPO, env=run_env(), capture_output=True, text=True,
                           timeout=RUN_TIMEOUT)
    assert debug.returncode != 0 and "Traceback" in debug.stderr



def test_photos_too_small_to_crop_are_counted_and_a_folder_of_only_those_refused(tmp_path: Path) -> None:
    """A 1x1 photo is no training data: a folder whose only colour photo it is stops with one line, not
    weights trained on a flat colour; beside real photos it is skipped and counted, like a gray one."""
    tiny = make_photo_folder(tmp_path / "tiny", colour=0)
    Image.new("RGB", (1, 1), (200, 30, 40)).save(tiny / "pixel.png")
    refused = _fails(one_process(tmp_path / "refused", tiny, "--phase", "pretrain-g", "--loss.net", "none"))
    assert re.search(r"error: dataset .*no usable colour photo .*\d+ too small to crop at 32 px",
                     refused.strip().splitlines()[-1])
    assert not (tmp_path / "refused" / "pretrain-g").exists()
    mixed = make_photo_folder(tmp_path / "mixed", colour=8)
    Image.new("RGB", (1, 1), (200, 30, 40)).save(mixed / "pixel.png")
    run(one_process(tmp_path / "run", mixed, "--phase", "pretrain-g", "--loss.net", "none", "--card_photos", ""),
        tmp_path / "run.log")
    assert "skipping a photo too small to crop (1 so far)" in (tmp_path / "run.log").read_text()
    assert scalars(tmp_path / "run").Scalars("data/too_small")[-1].value >= 1
    assert re.search(r"skipped: \d+ grayscale, [1-9]\d* too small to crop",
                     (tmp_path / "run" / "pretrain-g" / "generator" / "README.md").read_text())

def test_resume_refuses_another_generator_or_a_shorter_plan(tmp_path: Path, photos: Path) -> None:
    output = tmp_path / "run"
    cmd = one_process(output, photos, "--phase", "pretrain-g", "--loss.net", "none")
    run(cmd, tmp_path / "first.log")
    other = _fails([*cmd, "--resume", "latest", "--generator_preset", "lite"])
    assert "holds a generator made with" in other
    assert "decoder_channels=[32, 24, 16, 16]" in other and "decoder_channels=[128, 96, 64, 32]" in other
    shorter = _fails([*cmd, "--resume", "latest", "--pretrain.steps", "[1, 1]"])
    assert "is at step 5 of pretrain-g, but this run plans only 2 steps" in shorter


def test_a_fresh_run_refuses_to_delete_an_earlier_runs_checkpoints_unless_told(tmp_path: Path, photos: Path) -> None:
    """Forgetting --resume must not cost a finished run: its checkpoints and exports stay until --overwrite."""
    output = tmp_path / "run"
    cmd = one_process(output, photos, "--phase", "pretrain-g", "--loss.net", "none")
    run(cmd, tmp_path / "first.log")
    saved = sorted(p.name for p in (output / "checkpoints").iterdir())
    exported = weights(output / "pretrain-g" / "generator")
    refused = _fails([*cmd, "--seed", "7"])
    assert f"holds {len(saved)} checkpoint(s) of an earlier run (the latest: {saved[-1]})" in refused
    assert "--resume latest" in refused and "--overwrite" in refused
    assert sorted(p.name for p in (output / "checkpoints").iterdir()) == saved
    assert all(torch.equal(v, exported[k]) for k, v in weights(output / "pretrain-g" / "generator").items())
    run([*cmd, "--seed", "7", "--overwrite", "true"], tmp_path / "second.log")
    assert "starting afresh (--overwrite true): removed" in (tmp_path / "second.log").read_text()
    assert not all(torch.equal(v, exported[k]) for k, v in weights(output / "pretrain-g" / "generator").items())


def test_damaged_or_wrong_starting_weights_are_one_line(tmp_path: Path, photos: Path) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(REPO / "colorizer" / "weights" / "default", damaged)
    (damaged / "model.safetensors").write_bytes((damaged / "model.safetensors").read_bytes()[:1000])
    base = one_process(tmp_path / "run", photos)
    assert "model.safetensors: damaged or not a safetensors file" in _fails([*base, "--init_generator", str(damaged)])
    not_a_critic = _fails([*base, "--phase", "gan", "--init_generator", str(REPO / "colorizer" / "weights" / "default"),
                           "--init_critic", str(REPO / "colorizer" / "weights" / "default")])
    assert "cannot load it" in not_a_critic.strip().splitlines()[-1]
