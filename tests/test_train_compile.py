"""The GPU speed options (torch.compile, channels_last) change how fast the training steps run, not what they
compute or what a checkpoint holds. Run on the CPU with the smallest models, the steps traced by torch.compile
into the graphs a GPU run compiles (its "capture" mode: no kernels are compiled)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from PIL import Image
from safetensors.torch import load_file

from colorizer.models.generator import Generator
from colorizer.pipelines.colorizer import Colorizer
from tests.conftest import real_photo
from train import checkpoints
from train.critic import Critic, CriticConfig
from train.data import Batch, StreamState
from train.losses import FeatureLossConfig
from train.phases import PRETRAIN_BETAS
from train.trainer import Trainer

# 64 px, 4 photos: at 32 px the encoder's last batch norms would see 1x1 maps of 2 photos, whose
# statistics turn rounding into large differences even in plain eager runs.
SIZE, BATCH = 64, 4
# "capture": the same graphs as a GPU compile, run without compiling kernels (which takes a CPU minutes)
FAST = {"compile": "capture", "channels_last": True}


@pytest.fixture(autouse=True)
def fresh_accelerator_state():
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


def _trainer(**speed) -> Trainer:
    """Tiny generator and critic, the same weights for every call; the pixel loss, the cheapest to compile."""
    torch.manual_seed(0)
    generator = Generator.from_preset("tiny")
    critic = Critic(CriticConfig(channels=8, depth=2))
    trainer = Trainer(FeatureLossConfig(net="none"), Accelerator(cpu=True), generator, critic, encoder_lr_scale=0.1,
                      **speed)
    trainer.start_phase(PRETRAIN_BETAS)
    trainer.set_lrs(1e-3, 1e-3)
    return trainer


def _batch(seed: int) -> Batch:
    g = torch.Generator().manual_seed(seed)
    lab = torch.cat([torch.rand(BATCH, 1, SIZE, SIZE, generator=g) * 2 - 1,
                     (torch.rand(BATCH, 2, SIZE, SIZE, generator=g) - 0.5) * 0.6], dim=1)
    return Batch(inputs=lab[:, :1].clone(), targets=lab)


def _state(trainer: Trainer) -> dict[str, torch.Tensor]:
    models = {"generator": trainer.generator, "critic": trainer.critic}
    return {f"{name}.{k}": v.detach().clone(memory_format=torch.contiguous_format) for name, model in models.items()
            for k, v in trainer.acc.unwrap_model(model).state_dict().items()}


def _close(fast: dict[str, torch.Tensor], plain: dict[str, torch.Tensor], atol: float) -> list[str]:
    assert fast.keys() == plain.keys()
    return [k for k in plain if not torch.allclose(fast[k].float(), plain[k].float(), rtol=1e-3, atol=atol)]


def _steps(trainer: Trainer) -> torch.Tensor:
    """A generator step with the encoder frozen, then one with it released (each compiles on CPU for
    minutes of a shared core, so the critic's steps, built of the same layers, are left out); their losses."""
    trainer.freeze_encoder(True)
    frozen, _ = trainer.generator_step(_batch(1))
    trainer.freeze_encoder(False)
    released, pred = trainer.generator_step(_batch(2))
    assert pred.shape == (BATCH, 2, SIZE, SIZE)
    return torch.stack([frozen["loss_generator"], released["loss_generator"]])


@pytest.fixture(scope="module")
def runs() -> dict[str, tuple[Trainer, torch.Tensor]]:
    """The same steps, plain and compiled in channels_last (each compiled graph is built once, here)."""
    return {name: (trainer, _steps(trainer)) for name, trainer in (("plain", _trainer()), ("fast", _trainer(**FAST)))}


def test_compiled_channels_last_steps_compute_what_plain_ones_do(runs) -> None:
    """The same losses and the same weights after each step, within float rounding (the compiler sums in
    another order)."""
    (plain, plain_losses), (fast, fast_losses) = runs["plain"], runs["fast"]
    assert torch.allclose(fast_losses, plain_losses, rtol=1e-4), (fast_losses, plain_losses)
    # Adam moves each weight by about the learning rate (1e-3) per step, whatever the gradient's size:
    # a tolerance well under that catches a wrong update, and leaves room for rounding.
    differ = _close(_state(fast), _state(plain), atol=1e-4)
    assert not differ, f"{len(differ)} tensors differ, e.g. {differ[:3]}"


def _save(trainer: Trainer, root: Path) -> Path:
    return checkpoints.save(trainer.acc, root, 1, {"step": 1, "world_size": 1}, StreamState(),
                            trainer.acc.unwrap_model(trainer.generator), "# card\n", keep=1)


def test_checkpoints_resume_across_the_settings_and_export_plain_weights(runs, tmp_path: Path) -> None:
    """A checkpoint of a compiled channels_last run resumes in a plain run and back, with the same keys in
    every file; the resumed run's next step is the one the saving run takes (Adam's moments included).
    The generator it holds loads strictly and colorizes."""
    plain, fast = _trainer(), runs["fast"][0]  # a new accelerator first: the shared state is reset after each test
    from_fast = _save(fast, tmp_path / "fast")
    saved = _state(fast)
    checkpoints.load(plain.acc, from_fast)
    assert not _close(_state(plain), saved, atol=0.0)
    fast.generator_step(_batch(4))
    plain.generator_step(_batch(4))
    differ = _close(_state(plain), _state(fast), atol=1e-4)
    assert not differ, f"{len(differ)} tensors differ after resuming, e.g. {differ[:3]}"
    from_plain = _save(plain, tmp_path / "plain")
    checkpoints.load(_trainer(**FAST).acc, from_plain)

    for file in ("model.safetensors", "model_1.safetensors", "generator/model.safetensors"):
        assert load_file(from_fast / file).keys() == load_file(from_plain / file).keys(), file
    assert not [k for k in load_file(from_fast / "model.safetensors") if "_orig_mod" in k]
    exported = Generator.from_pretrained(from_fast / "generator", strict=True).state_dict()
    assert not _close(exported, {k.removeprefix("generator."): v for k, v in saved.items()
                                 if k.startswith("generator.")}, atol=0.0)
    colorized = Colorizer.from_pretrained(str(from_fast / "generator"), device="cpu").colorize(
        real_photo(size=48).convert("L"))
    assert isinstance(colorized, Image.Image) and colorized.mode == "RGB"
