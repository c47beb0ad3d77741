"""The models, their optimizers and one training step of each kind (the phases and bench/bench_train.py
call them), plus what the loop measures: metric windows, image grids, data counters.

Tensors at this module's boundary:
    batch.inputs   (B, 1, S, S) degraded lightness as L / 50 - 1
    batch.targets  (B, 3, S, S) (L / 50 - 1, a / AB_SCALE, b / AB_SCALE)
    predictions    (B, 2 or 3, S, S) what the generator returns: ab / AB_SCALE [+ restored L]
"""

from __future__ import annotations

import time

import torch
from accelerate import Accelerator
from torchvision.utils import make_grid

from colorizer.models.generator import Generator
from train.critic import Critic
from train.data import Batch, StreamState
from train.losses import FeatureLoss, FeatureLossConfig, adversarial_loss, critic_loss, prediction_lab, to_rgb

GRID_SAMPLES = 4
# torch.compile modes the steps may run under ("no": eager). On a GPU, reduce-overhead replays each step's
# kernels as CUDA graphs, the cure for a launch-bound step; the others fuse kernels without graphs.
# "capture" traces the steps into graphs and runs them eagerly (aot_eager, no kernels compiled): whether a
# run compiles cleanly, checked in seconds rather than the minutes the kernel compiler takes on a CPU.
COMPILE_MODES = ("no", "capture", "default", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")


class Trainer:
    """The generator and critic with one Adam each, prepared by `accelerator`, and their update steps.

    `compile` (one of COMPILE_MODES) and `channels_last` change speed, not results: the steps call
    compiled twins of the models and the loss, while `generator` and `critic` stay the modules that
    checkpoints, exports and evaluation see, so their state dicts keep their keys (no `_orig_mod.`).
    """

    def __init__(self, loss: FeatureLossConfig, accelerator: Accelerator, generator: Generator, critic: Critic, *,
                 encoder_lr_scale: float, compile: str = "no", channels_last: bool = False,
                 rarity: torch.Tensor | None = None):
        self.acc = accelerator
        self.encoder_lr_scale = encoder_lr_scale
        self.compiled = compile != "no"
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.loss = FeatureLoss(loss, rarity).to(accelerator.device, memory_format=self.memory_format)
        generator.to(memory_format=self.memory_format)  # before the optimizers: Adam's moments take this layout
        critic.to(memory_format=self.memory_format)
        # One optimizer per model for the whole run: each phase resets its state and sets its
        # hyper-parameters, so `save_state` always sees the same two optimizers.
        # fused: one kernel over all parameters, several times faster than the default loop (CPU and GPU).
        # Two groups: the pretrained encoder learns at encoder_lr_scale times the decoder's rate.
        encoder = list(generator.encoder.parameters())
        ids = {id(p) for p in encoder}
        rest = [p for p in generator.parameters() if id(p) not in ids]
        opt_g = torch.optim.Adam([{"params": encoder}, {"params": rest}], lr=1e-4, fused=True)
        opt_c = torch.optim.Adam(critic.parameters(), lr=1e-4, fused=True)
        for opt in (opt_g, opt_c):
            opt.register_load_state_dict_post_hook(_match_param_layout)
        accelerator.register_save_state_pre_hook(_contiguous_weights)
        self.generator, self.critic, self.opt_g, self.opt_c = accelerator.prepare(generator, critic, opt_g, opt_c)
        # What the steps call. The critic judging the generator is the unwrapped one (no DDP reduction).
        self._generator = _compiled(self.generator, compile)
        self._critic = _compiled(self.critic, compile)
        self._judge = _compiled(accelerator.unwrap_model(self.critic), compile)
        self._loss = _compiled(self.loss, compile)

    def start_phase(self, betas: tuple[float, float]) -> None:
        """Fresh optimizer state for a phase (moments from another loss would only mislead)."""
        for opt in (self.opt_g, self.opt_c):
            opt.state.clear()
            for group in opt.param_groups:
                group["betas"] = betas

    def set_lrs(self, lr_generator: float, lr_critic: float) -> None:
        encoder_group, decoder_group = self.opt_g.param_groups
        encoder_group["lr"] = lr_generator * self.encoder_lr_scale
        decoder_group["lr"] = lr_generator
        for group in self.opt_c.param_groups:
            group["lr"] = lr_critic

    def freeze_encoder(self, frozen: bool) -> None:
        """Keep the generator's encoder fixed (no gradient, ImageNet batch-norm statistics) or release it."""
        self.acc.unwrap_model(self.generator).freeze_encoder(frozen)

    def _to_device(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch on the device, in the models' memory layout; with compile, a new step for CUDA graphs
        (the previous step's graph outputs may be overwritten from here on)."""
        if self.compiled:
            torch.compiler.cudagraph_mark_step_begin()
        device, layout = self.acc.device, self.memory_format
        return batch.inputs.to(device, memory_format=layout), batch.targets.to(device, memory_format=layout)

    def generator_step(self, batch: Batch, adversarial_weight: float = 0.0) -> tuple[dict[str, torch.Tensor],
                                                                                    torch.Tensor]:
        """One generator update (perceptual loss, plus the critic's verdict when adversarial_weight > 0);
        returns its losses and the prediction (B, 2 or 3, S, S)."""
        inputs, targets = self._to_device(batch)
        self.generator.train()
        with self.acc.autocast():
            pred = self._generator(inputs)
            loss, parts = self._loss(pred, targets)
            metrics = {"loss_perceptual": loss.detach(), **parts}
            if adversarial_weight > 0:
                # The critic judges, it does not learn here: unwrapped (no DDP reduction), frozen, eval.
                critic = self.acc.unwrap_model(self.critic).eval().requires_grad_(False)
                adv = adversarial_loss(self._judge(prediction_lab(pred, targets)))
                critic.requires_grad_(True)
                loss = loss + adversarial_weight * adv
                metrics["loss_adversarial"] = adv.detach()
        self.opt_g.zero_grad(set_to_none=True)
        self.acc.backward(loss)
        self.opt_g.step()
        metrics["loss_generator"] = loss.detach()
        return metrics, pred.detach()

    def critic_step(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """One critic update on real vs generated; returns its loss (mean over processes) and the fake ab."""
        inputs, targets = self._to_device(batch)
        self.generator.eval()
        with torch.no_grad(), self.acc.autocast():
            fake = self._generator(inputs).float()
        self.critic.train()
        with self.acc.autocast():
            # One batch for both (the critic has no batch norm): one forward, one DDP reduction.
            logits = self._critic(torch.cat([targets, prediction_lab(fake, targets)]))
        real_logits, fake_logits = logits.chunk(2)
        loss = critic_loss(real_logits, fake_logits)
        self.opt_c.zero_grad(set_to_none=True)
        self.acc.backward(loss)
        self.opt_c.step()
        return self.acc.reduce(loss.detach(), reduction="mean"), fake


def _compiled(module: torch.nn.Module, mode: str) -> torch.nn.Module:
    """`module` itself, or a compiled twin sharing its parameters. Static shapes: a run has a few crop and
    batch sizes, each compiled once at its first step, into kernels specialised for it."""
    if mode == "no":
        return module
    if mode == "capture":
        return torch.compile(module, backend="aot_eager", dynamic=False)
    return torch.compile(module, mode=mode, dynamic=False)


def _contiguous_weights(models: list[torch.nn.Module], weights: list[dict[str, torch.Tensor]], output_dir: str) -> None:
    """accelerate's save_state hook: safetensors stores only contiguous tensors, so channels_last weights
    are written in the plain layout, which a run with or without channels_last loads alike."""
    for state in weights:
        for name, value in state.items():
            state[name] = value.contiguous()


def _match_param_layout(optimizer: torch.optim.Optimizer) -> None:
    """After loading optimizer state: each moment in its parameter's memory layout. Fused Adam walks both
    in memory order, so a channels_last moment beside a plain parameter (a checkpoint resumed with the
    other setting) would update the wrong elements, silently."""
    for param, state in optimizer.state.items():
        for name, value in state.items():
            if torch.is_tensor(value) and value.shape == param.shape and value.stride() != param.stride():
                state[name] = torch.empty_like(param, dtype=value.dtype).copy_(value)


def sample_grid(batch: Batch, pred: torch.Tensor) -> torch.Tensor:
    """Rows of (damaged input, prediction, target) as one (3, H, W) image in [0, 1]."""
    n = min(GRID_SAMPLES, pred.shape[0])
    inputs, targets, pred = batch.inputs[:n].float(), batch.targets[:n].float(), pred[:n].float().cpu()
    gray = to_rgb(torch.cat([inputs, torch.zeros_like(targets[:, 1:])], dim=1))
    rows = torch.stack([gray, to_rgb(prediction_lab(pred, targets)), to_rgb(targets)], dim=1)  # (n, 3, 3, S, S)
    return make_grid(rows.flatten(0, 1), nrow=3, padding=2)


class Window:
    """Metrics of the steps since the last log line, averaged over steps and processes."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.steps = self.images = 0
        self.started = time.perf_counter()

    def add(self, metrics: dict[str, torch.Tensor], images: int) -> None:
        for name, value in metrics.items():
            self.sums[name] = self.sums.get(name, 0.0) + value.detach().float().cpu()
        self.steps += 1
        self.images += images

    def means(self, accelerator: Accelerator) -> dict[str, float]:
        names = sorted(self.sums)
        local = torch.stack([self.sums[n] / self.steps for n in names]).to(accelerator.device)
        values = accelerator.reduce(local, reduction="mean").tolist()
        seconds = time.perf_counter() - self.started
        out = dict(zip(names, values))
        out["images_per_s"] = self.images * accelerator.num_processes / max(seconds, 1e-9)
        return out


def data_totals(accelerator: Accelerator, state: StreamState) -> StreamState:
    """The data counters summed over all processes (a collective: every rank must call it)."""
    local = torch.tensor([state.used, state.grayscale, state.unreadable, state.too_small], device=accelerator.device)
    used, grayscale, unreadable, too_small = accelerator.reduce(local, reduction="sum").tolist()
    return StreamState(used=used, grayscale=grayscale, unreadable=unreadable, too_small=too_small)
