"""Checkpoints: written whole or not at all, pruned to the last K, restored exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState

from colorizer.io.files import atomic_folder
from colorizer.models.hub import export
from train import checkpoints
from train.critic import Critic, CriticConfig
from train.data import StreamState

torch.set_num_threads(1)


@pytest.fixture
def accelerator():
    yield Accelerator(cpu=True)
    AcceleratorState._reset_state(reset_partial_state=True)


def _complete(root: Path, step: int) -> Path:
    folder = root / "checkpoints" / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / checkpoints.TRAIN_STATE).write_text("{}")
    return folder


def test_latest_is_the_newest_complete_checkpoint(tmp_path: Path) -> None:
    _complete(tmp_path, 5)
    newest = _complete(tmp_path, 12)
    (tmp_path / "checkpoints" / ".checkpoint-14.tmp").mkdir()  # a save that was killed half-way
    (tmp_path / "checkpoints" / "checkpoint-20").mkdir()  # no train state: not complete either
    assert checkpoints.resolve(tmp_path, "latest") == newest
    assert [p.name for p in checkpoints.complete_checkpoints(tmp_path)] == ["checkpoint-5", "checkpoint-12"]


def test_a_fresh_run_removes_only_later_checkpoints(tmp_path: Path) -> None:
    for step in (5, 7, 9):
        _complete(tmp_path, step)
    removed = checkpoints.remove_after(tmp_path, 7)
    assert [p.name for p in removed] == ["checkpoint-9"]
    assert [p.name for p in checkpoints.complete_checkpoints(tmp_path)] == ["checkpoint-5", "checkpoint-7"]


def test_resume_without_a_checkpoint_says_so(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no complete checkpoint"):
        checkpoints.resolve(tmp_path, "latest")
    with pytest.raises(SystemExit, match="not a complete checkpoint"):
        checkpoints.resolve(tmp_path, str(tmp_path))


def test_a_damaged_checkpoint_is_named_with_the_one_before_it(tmp_path: Path) -> None:
    _complete(tmp_path, 5)
    newest = _complete(tmp_path, 9)
    (newest / checkpoints.TRAIN_STATE).write_text("{not json")
    with pytest.raises(SystemExit, match=rf"checkpoint-9: damaged checkpoint \(.*\); resume from an earlier one "
                                         rf"with --resume {tmp_path / 'checkpoints' / 'checkpoint-5'}$"):
        checkpoints.read_state(checkpoints.resolve(tmp_path, "latest"))


def test_save_prunes_replaces_leftovers_and_load_restores(tmp_path: Path, accelerator: Accelerator) -> None:
    torch.manual_seed(0)
    critic = Critic(CriticConfig(channels=4, depth=1))
    optimizer = torch.optim.Adam(critic.parameters())
    critic, optimizer = accelerator.prepare(critic, optimizer)
    stale = tmp_path / "checkpoints" / ".checkpoint-3.tmp"
    stale.mkdir(parents=True)
    (stale / "half-written.bin").write_bytes(b"x")
    for step in (1, 2, 3):
        with torch.no_grad():
            next(critic.parameters()).add_(1.0)
        state = StreamState(epoch=step, position=10 * step, used=step)
        checkpoints.save(accelerator, tmp_path, step, {"step": step, "world_size": 1}, state, critic,
                         f"# card at step {step}\n", keep=2)
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["checkpoint-2", "checkpoint-3"]
    saved = tmp_path / "checkpoints" / "checkpoint-3"
    assert not (saved / "half-written.bin").exists()
    assert json.loads((saved / "data_state_0.json").read_text())["position"] == 30
    assert (saved / "generator" / "model.safetensors").is_file()  # the exported model, for picking by eye
    assert (saved / "generator" / "README.md").read_text() == "# card at step 3\n"

    expected = next(critic.parameters()).detach().clone()
    with torch.no_grad():
        next(critic.parameters()).zero_()
    train_state, data_state = checkpoints.load(accelerator, checkpoints.resolve(tmp_path, "latest"))
    assert train_state["step"] == 3 and data_state == StreamState(epoch=3, position=30, used=3)
    assert torch.equal(next(critic.parameters()), expected)


def test_a_checkpoint_from_another_world_size_is_refused(tmp_path: Path, accelerator: Accelerator) -> None:
    folder = _complete(tmp_path, 4)
    (folder / checkpoints.TRAIN_STATE).write_text(json.dumps({"world_size": 8}))
    with pytest.raises(SystemExit, match="8 processes"):
        checkpoints.load(accelerator, folder)


def test_export_replaces_the_folder_whole(tmp_path: Path) -> None:
    folder = tmp_path / "gan-1" / "critic"
    export(Critic(CriticConfig(channels=4, depth=1)), folder, "# first card\n")
    export(Critic(CriticConfig(channels=8, depth=1)), folder, "# second card\n")
    assert json.loads((folder / "config.json").read_text())["channels"] == 8
    assert (folder / "README.md").read_text() == "# second card\n"
    assert sorted(p.name for p in folder.parent.iterdir()) == ["critic"]  # no temporary folder left


def test_atomic_folder_swaps_in_the_new_folder_only_when_the_block_succeeds(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    with atomic_folder(folder) as tmp:
        assert tmp.is_dir() and tmp.parent == tmp_path and not folder.exists()
        (tmp / "a.txt").write_text("first")
    assert (folder / "a.txt").read_text() == "first"
    with pytest.raises(RuntimeError):
        with atomic_folder(folder) as tmp:
            (tmp / "a.txt").write_text("half")
            assert (folder / "a.txt").read_text() == "first"  # the old folder stays until the swap
            raise RuntimeError("killed mid-write")
    assert (folder / "a.txt").read_text() == "first"
    with atomic_folder(folder) as tmp:
        (tmp / "b.txt").write_text("second")
    assert sorted(p.name for p in folder.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary or set-aside folder left


def test_a_checkpoint_without_its_random_states_is_refused(tmp_path: Path, accelerator: Accelerator) -> None:
    """accelerate would quietly skip the missing RNG state and resume with other random draws."""
    critic = accelerator.prepare(Critic(CriticConfig(channels=4, depth=1)))
    folder = checkpoints.save(accelerator, tmp_path, 1, {"step": 1, "world_size": 1}, StreamState(), critic,
                              "# card\n", keep=2)
    (folder / "random_states_0.pkl").unlink()
    with pytest.raises(SystemExit, match=r"damaged checkpoint \(no random_states_0.pkl\)"):
        checkpoints.load(accelerator, folder)


def test_pruning_leaves_the_kept_checkpoints_and_nothing_set_aside(tmp_path: Path, accelerator: Accelerator) -> None:
    """An old checkpoint is renamed out of the checkpoint names before it is deleted: no kill leaves a
    half-deleted one that still holds its train state (and so passes for complete)."""
    critic = accelerator.prepare(Critic(CriticConfig(channels=4, depth=1)))
    for step in (1, 2, 3):
        checkpoints.save(accelerator, tmp_path, step, {"step": step, "world_size": 1}, StreamState(), critic,
                         "# card\n", keep=1)
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["checkpoint-3"]
