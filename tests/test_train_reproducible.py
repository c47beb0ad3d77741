"""A run is the same run whatever this machine has cached: a first run on a fresh machine (torch's hub
folder empty, so the EfficientNet-Lite weights are converted on the way) ends on exactly the weights of
a second run that finds them converted. Otherwise a first run, killed and resumed, would not end where
it would have.

Real one-process runs of train/nogan.py with train/configs/tiny-cpu.yaml, shortened to a step or two per
phase: the critic is built after the generator's encoder weights are found, so any draw on the cold path
shows in every export from the critic pretraining on.
"""

from __future__ import annotations

from pathlib import Path

import torch
from test_data import make_photo_folder
from test_train import EXPORTS, one_process, run, weights

SHORT = ("--seed", "7", "--pretrain.steps", "[1, 1]", "--critic_pretrain.steps", "1", "--gan.steps", "2",
         "--card_photos", "")


def test_a_first_run_with_an_empty_hub_cache_ends_on_the_weights_of_a_warm_one(tmp_path: Path) -> None:
    photos = make_photo_folder(tmp_path / "photos", colour=8)
    hub = tmp_path / "torch-home"
    run(one_process(tmp_path / "cold", photos, *SHORT), tmp_path / "cold.log", TORCH_HOME=str(hub))
    assert "converted once" in (tmp_path / "cold.log").read_text()
    run(one_process(tmp_path / "warm", photos, *SHORT), tmp_path / "warm.log", TORCH_HOME=str(hub))
    assert "converted once" not in (tmp_path / "warm.log").read_text()
    for export in EXPORTS:
        cold, warm = weights(tmp_path / "cold" / export), weights(tmp_path / "warm" / export)
        assert cold.keys() == warm.keys()
        different = [k for k in cold if not torch.equal(cold[k], warm[k])]
        assert not different, f"{export}: {len(different)} tensors differ, e.g. {different[:3]}"
