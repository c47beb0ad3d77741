"""NoGAN training of the colorizer generator: pretrain it alone, pretrain a critic on its
output, then a short GAN phase that adds realistic colour without GAN instability.

Phases (`--phase all` runs them in order; `--cycles N` repeats phases 2 and 3 N times):
  1. pretrain-g       the generator alone, perceptual (VGG16 feature) loss, crops growing 64 -> 128 -> 192 px
  2. pretrain-critic  the critic alone, a binary classifier: real colour photos vs the generator's output
  3. gan              192 px; the critic (higher learning rate: TTUR) trains until its loss is under a
                      threshold, then the generator takes one step on perceptual + weighted adversarial loss

Launch (options come from --config FILE.yaml, overridden by any option below):
  # CPU, one process
  python train/nogan.py --config train/configs/tiny-cpu.yaml --dataset ./photos
  # CPU, two processes over gloo (`accelerate launch --cpu --num_processes 2` starts only one)
  torchrun --nproc_per_node 2 train/nogan.py --cpu --config train/configs/tiny-cpu.yaml --dataset ./photos
  # one GPU (bf16 where supported); ImageNet streamed from the Hub, token from HF_TOKEN
  accelerate launch train/nogan.py --config train/configs/imagenet-gpu.yaml --output-dir runs/imagenet
  # 8 GPUs on one machine
  accelerate launch --multi_gpu --num_processes 8 train/nogan.py --config train/configs/imagenet-gpu.yaml
  # 2 machines x 8 GPUs: run on each machine with its --machine_rank (0 and 1); the run folder on a shared disk
  accelerate launch --multi_gpu --num_machines 2 --num_processes 16 --machine_rank 0 \\
      --main_process_ip 10.0.0.1 --main_process_port 29500 train/nogan.py --config train/configs/imagenet-gpu.yaml
  # after a crash or a kill: the same command plus
  ... --resume latest

The run folder (--output-dir) gets checkpoints/checkpoint-<step> (the last K), logs/ (TensorBoard:
`tensorboard --logdir <output-dir>/logs`), config.yaml, and one export per phase:
pretrain-g/generator, pretrain-critic-<cycle>/critic, gan-<cycle>/{generator,critic}, each loadable with
`from_pretrained` and described by its README.md (a generator's also shows held-out photos it colorized,
samples.png, with their scores: --card-photos). Degradation options (--degrade-*) set, per
transform of colorizer/evaluate/degrade.py, its probability p and LOW HIGH ranges drawn uniformly.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
import yaml
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, ProjectConfiguration, set_seed
from safetensors import SafetensorError
from torchvision.utils import make_grid
from tqdm.auto import tqdm

from colorizer.errors import ColorizerError, WeightsError, first_line
from colorizer.evaluate import Report
from colorizer.models.generator import Generator, GeneratorConfig
from colorizer.models.hub import export, load_generator
from train import checkpoints
from train.config import TrainConfig, flatten, parse_args, to_dict
from train.critic import Critic
from train.data import Batch, PairStream, StreamState, open_source
from train.hub_upload import HubUploader
from train.losses import FeatureLoss, FeatureNetError, adversarial_loss, critic_loss, prediction_lab, to_rgb
from train.model_card import SAMPLES_FILE, held_out_results, model_card

log = logging.getLogger("nogan")

PRETRAIN_BETAS = (0.9, 0.99)
GAN_BETAS = (0.0, 0.9)  # no momentum against a moving target, as usual for GANs
GRID_SAMPLES = 4


class Trainer:
    """The models, their optimizers and one training step of each kind (the benchmark uses them too)."""

    def __init__(self, config: TrainConfig, accelerator: Accelerator, generator: Generator, critic: Critic):
        self.config, self.acc = config, accelerator
        self.loss = FeatureLoss(config.loss).to(accelerator.device)
        # One optimizer per model for the whole run: each phase resets its state and sets its
        # hyper-parameters, so `save_state` always sees the same two optimizers.
        # fused: one kernel over all parameters, several times faster than the default loop (CPU and GPU).
        # Two groups: the pretrained encoder learns at encoder_lr_scale times the decoder's rate.
        encoder = list(generator.encoder.parameters())
        ids = {id(p) for p in encoder}
        rest = [p for p in generator.parameters() if id(p) not in ids]
        opt_g = torch.optim.Adam([{"params": encoder}, {"params": rest}], lr=1e-4, betas=PRETRAIN_BETAS, fused=True)
        opt_c = torch.optim.Adam(critic.parameters(), lr=1e-4, betas=PRETRAIN_BETAS, fused=True)
        self.generator, self.critic, self.opt_g, self.opt_c = accelerator.prepare(generator, critic, opt_g, opt_c)

    def start_phase(self, phase: Phase) -> None:
        """Fresh optimizer state for a phase (moments from another loss would only mislead)."""
        for opt in (self.opt_g, self.opt_c):
            opt.state.clear()
            for group in opt.param_groups:
                group["betas"] = phase.betas

    def set_lrs(self, stage: Stage) -> None:
        encoder_group, decoder_group = self.opt_g.param_groups
        encoder_group["lr"] = stage.lr_generator * self.config.pretrain.encoder_lr_scale
        decoder_group["lr"] = stage.lr_generator
        for group in self.opt_c.param_groups:
            group["lr"] = stage.lr_critic

    def freeze_encoder(self, frozen: bool) -> None:
        """Keep the generator's encoder fixed (no gradient, ImageNet batch-norm statistics) or release it."""
        self.acc.unwrap_model(self.generator).freeze_encoder(frozen)

    def _to_device(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        return batch.inputs.to(self.acc.device), batch.targets.to(self.acc.device)

    def generator_step(self, batch: Batch, adversarial: bool) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """One generator update; returns its losses and the prediction (B, 2 or 3, S, S)."""
        inputs, targets = self._to_device(batch)
        self.generator.train()
        with self.acc.autocast():
            pred = self.generator(inputs)
            loss, parts = self.loss(pred, targets)
            metrics = {"loss_perceptual": loss.detach(), **parts}
            if adversarial:
                # The critic judges, it does not learn here: unwrapped (no DDP reduction), frozen, eval.
                critic = self.acc.unwrap_model(self.critic).eval().requires_grad_(False)
                adv = adversarial_loss(critic(prediction_lab(pred, targets)))
                critic.requires_grad_(True)
                loss = loss + self.config.gan.adversarial_weight * adv
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
            fake = self.generator(inputs).float()
        self.critic.train()
        with self.acc.autocast():
            # One batch for both (the critic has no batch norm): one forward, one DDP reduction.
            logits = self.critic(torch.cat([targets, prediction_lab(fake, targets)]))
        real_logits, fake_logits = logits.chunk(2)
        loss = critic_loss(real_logits, fake_logits)
        self.opt_c.zero_grad(set_to_none=True)
        self.acc.backward(loss)
        self.opt_c.step()
        return self.acc.reduce(loss.detach(), reduction="mean"), fake


@dataclass
class Stage:
    """A stretch of a phase with one crop size, batch size and learning rate(s)."""

    size: int
    batch_size: int
    end: int  # phase step at which the stage ends
    lr_generator: float
    lr_critic: float


@dataclass
class StepResult:
    """What one step of a phase hands back for logging and the image grid."""

    metrics: dict[str, torch.Tensor]
    batch: Batch  # a batch of this step and the ab predicted for it (B, 2 or 3, S, S)
    pred: torch.Tensor
    batches: int  # batches the step used (images/s)


class Phase:
    """One entry of the run's plan. Each kind of phase says what it trains and how (schedule, optimizer
    betas, one step), where a phase run on its own finds its starting weights, and what it exports."""

    name: ClassVar[str]
    betas: ClassVar[tuple[float, float]] = PRETRAIN_BETAS
    exports: ClassVar[tuple[str, ...]]  # the models written (and uploaded) at the phase's end
    # Exports of earlier phases (in output_dir) a phase run on its own starts from, per model.
    starts_from: ClassVar[dict[str, str]] = {}

    def __init__(self, config: TrainConfig, cycle: int, start: int):
        self.config = config
        self.cycle = cycle  # 1, 2, ... for the critic and GAN phases; 0 for generator pretraining
        self.start = start  # global step before this phase's first step

    @property
    def label(self) -> str:
        return self.name if self.cycle == 0 else f"{self.name}-{self.cycle}"

    @property
    def steps(self) -> int:
        return self.stages()[-1].end

    @property
    def trains_generator(self) -> bool:
        """Whether its checkpoints hold a new generator worth uploading."""
        return "generator" in self.exports

    @property
    def checkpoint_every(self) -> int:
        return self.config.checkpoint_every

    def stages(self) -> list[Stage]:
        raise NotImplementedError

    def encoder_frozen(self, step: int) -> bool:
        """Whether the generator's encoder stays fixed at this phase step."""
        return False

    def step(self, trainer: Trainer, stream: PairStream) -> StepResult:
        raise NotImplementedError

    def learning_rates(self, stage: Stage) -> dict[str, float]:
        """The learning rates this phase uses, for the logs."""
        raise NotImplementedError


class PretrainGenerator(Phase):
    """1. The generator alone on the perceptual loss, crops growing stage by stage."""

    name, exports = "pretrain-g", ("generator",)

    def stages(self) -> list[Stage]:
        p, end, out = self.config.pretrain, 0, []
        for size, batch, steps, lr in zip(p.sizes, p.batch_sizes, p.steps, p.lrs):
            end += steps
            out.append(Stage(size, batch, end, lr_generator=lr, lr_critic=0.0))
        return out

    def encoder_frozen(self, step: int) -> bool:
        return step < self.config.pretrain.freeze_encoder_steps

    def step(self, trainer: Trainer, stream: PairStream) -> StepResult:
        batch = next(stream)
        metrics, pred = trainer.generator_step(batch, adversarial=False)
        return StepResult(metrics, batch, pred, 1)

    def learning_rates(self, stage: Stage) -> dict[str, float]:
        return {"lr_generator": stage.lr_generator}


class PretrainCritic(Phase):
    """2. The critic alone: real photos vs the pretrained generator's output."""

    name, exports = "pretrain-critic", ("critic",)
    starts_from = {"generator": "pretrain-g/generator"}

    def stages(self) -> list[Stage]:
        c = self.config.critic_pretrain
        return [Stage(c.size, c.batch_size, c.steps, lr_generator=0.0, lr_critic=c.lr)]

    def step(self, trainer: Trainer, stream: PairStream) -> StepResult:
        batch = next(stream)
        loss, fake = trainer.critic_step(batch)
        return StepResult({"loss_critic": loss}, batch, fake, 1)

    def learning_rates(self, stage: Stage) -> dict[str, float]:
        return {"lr_critic": stage.lr_critic}


class Gan(Phase):
    """3. Critic steps until its loss is under the threshold, then one generator step on perceptual +
    adversarial loss; no momentum against a moving target, and frequent checkpoints (the window is short)."""

    name, exports, betas = "gan", ("generator", "critic"), GAN_BETAS
    starts_from = {"generator": "pretrain-g/generator", "critic": "pretrain-critic-1/critic"}

    @property
    def checkpoint_every(self) -> int:
        return self.config.gan.checkpoint_every

    def stages(self) -> list[Stage]:
        g = self.config.gan
        return [Stage(g.size, g.batch_size, g.steps, lr_generator=g.lr_generator, lr_critic=g.lr_critic)]

    def step(self, trainer: Trainer, stream: PairStream) -> StepResult:
        """The critic's loss is averaged over processes, so all of them stop at the same step."""
        gan, critic_steps = self.config.gan, 0
        while True:
            critic_loss_value, _ = trainer.critic_step(next(stream))
            critic_steps += 1
            if critic_loss_value.item() < gan.critic_threshold or critic_steps == gan.max_critic_steps:
                break
        batch = next(stream)
        metrics, pred = trainer.generator_step(batch, adversarial=True)
        metrics.update(loss_critic=critic_loss_value, critic_steps=torch.tensor(float(critic_steps)))
        return StepResult(metrics, batch, pred, critic_steps + 1)

    def learning_rates(self, stage: Stage) -> dict[str, float]:
        return {"lr_generator": stage.lr_generator, "lr_critic": stage.lr_critic}


PHASE_KINDS: dict[str, type[Phase]] = {kind.name: kind for kind in (PretrainGenerator, PretrainCritic, Gan)}


def plan(config: TrainConfig) -> list[Phase]:
    """The phases to run, numbered as in `--phase all`: a phase run on its own gets the labels and
    global steps it would have there, so phases run one by one into one folder line up (exports,
    checkpoint numbers, TensorBoard steps)."""
    kinds = [PretrainGenerator] + [PretrainCritic, Gan] * config.cycles
    phases: list[Phase] = []
    start, cycles = 0, {PretrainCritic: 0, Gan: 0}
    for kind in kinds:
        if kind in cycles:
            cycles[kind] += 1
        phase = kind(config, cycles.get(kind, 0), start)
        phases.append(phase)
        start += phase.steps
    return phases if config.phase == "all" else [next(p for p in phases if p.name == config.phase)]


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
    local = torch.tensor([state.used, state.grayscale, state.unreadable], device=accelerator.device)
    used, grayscale, unreadable = accelerator.reduce(local, reduction="sum").tolist()
    return StreamState(used=used, grayscale=grayscale, unreadable=unreadable)


def initial_generator(config: TrainConfig, first: Phase) -> tuple[Generator, str]:
    """The generator the run starts from, and where its encoder's weights came from (for the card)."""
    source = config.init_generator or _earlier_export(config, first, "generator")
    if source is not None:
        log.info("generator: starting from %s", source)
        generator, weights = load_generator(source)  # WeightsError (one line) for a damaged folder
        if weights.fallback_reason:  # training from other weights than asked for would mislead
            raise WeightsError(f"--init-generator {source}: {weights.fallback_reason}")
        return generator, "carried over from the starting weights"
    shape = GeneratorConfig(**to_dict(config.generator))  # a copy: the run's config stays as given
    generator = Generator(shape)
    if config.resume:  # the checkpoint brings every weight
        return generator, "carried over from the starting weights"
    encoder_source = generator.load_imagenet_encoder() or "random init (no ImageNet weights found)"
    log.info("generator encoder %s: %s", shape.encoder, encoder_source)
    return generator, encoder_source


def initial_critic(config: TrainConfig, first: Phase) -> Critic:
    source = config.init_critic or _earlier_export(config, first, "critic")
    if source is not None:
        log.info("critic: starting from %s", source)
        try:
            return Critic.from_pretrained(source, strict=True)
        except (OSError, ValueError, TypeError, RuntimeError, SafetensorError) as err:  # missing, damaged, not a critic
            raise WeightsError(f"critic {source}: cannot load it ({first_line(err)})") from None
    return Critic(config.critic)


def _earlier_export(config: TrainConfig, first: Phase, kind: str) -> str | None:
    """The export of an earlier phase in output_dir that `first`, run on its own, starts `kind` from."""
    if kind not in first.starts_from:
        return None
    folder = Path(config.output_dir) / first.starts_from[kind]
    if not folder.is_dir():
        raise SystemExit(f"--phase {first.name} needs a pretrained {kind}: pass --init-{kind}, or run the phases "
                         f"before it into {config.output_dir} first (there is no {folder})")
    return str(folder)


def generator_shape(generator: Generator) -> dict[str, object]:
    """What a checkpoint records of the generator, so a resume cannot continue another one: the built
    model's config (with --init-generator it is the starting weights', not the --generator-* options)."""
    return to_dict(generator.config)


def check_resumable(generator: Generator, phases: list[Phase], folder: Path, state: dict) -> None:
    """Refuse, before anything is restored, a checkpoint this run's options cannot continue."""
    if state["plan"] != [p.label for p in phases]:
        raise SystemExit(f"{folder} was written by a run of phases {state['plan']}, this run has "
                         f"{[p.label for p in phases]}: resume with that run's --phase and --cycles, "
                         "or start this one afresh (without --resume)")
    shape = generator_shape(generator)
    saved = state.get("generator", shape)
    if saved != shape:
        differ = sorted(k for k in shape.keys() | saved.keys() if shape.get(k) != saved.get(k))
        theirs = ", ".join(f"{k}={saved.get(k)!r}" for k in differ)
        ours = ", ".join(f"{k}={shape.get(k)!r}" for k in differ)
        raise SystemExit(f"{folder} holds a generator made with {theirs}; this run asks for {ours}: resume with the "
                         "same generator options (--generator-preset, --generator-*, --restore, --init-generator), "
                         "or start afresh (without --resume)")
    phase = phases[state["phase_index"]]
    if state["step"] > phase.steps:
        raise SystemExit(f"{folder} is at step {state['step']} of {phase.label}, but this run plans only "
                         f"{phase.steps} steps for it: give that phase at least {state['step']} steps to go on, "
                         "or start afresh (without --resume)")


class Publisher:
    """What a run leaves behind: checkpoints, each phase's exports with their model cards, Hub uploads."""

    def __init__(self, config: TrainConfig, accelerator: Accelerator, trainer: Trainer, phases: list[Phase],
                 encoder_source: str):
        self.config, self.acc, self.trainer, self.phases = config, accelerator, trainer, phases
        self.output = Path(config.output_dir)
        self.encoder_source = encoder_source
        self.shape = generator_shape(accelerator.unwrap_model(trainer.generator))  # fixed for the run
        self.uploader = None
        if config.push_to_hub and accelerator.is_main_process:
            self.uploader = HubUploader(config.push_to_hub, self.output / ".hub-staging", private=config.hub_private)

    def checkpoint(self, index: int, done: int, data_state: StreamState, metrics: dict[str, float]) -> None:
        """Checkpoint phase `index` after `done` steps; every --push-every'th one's generator is uploaded."""
        phase = self.phases[index]
        global_step = phase.start + done
        generator = self.acc.unwrap_model(self.trainer.generator)
        train_state = {"phase_index": index, "phase": phase.label, "step": done, "global_step": global_step,
                       "world_size": self.acc.num_processes, "plan": [p.label for p in self.phases],
                       "metrics": metrics, "generator": self.shape}
        card = self._card("generator", phase, global_step, data_totals(self.acc, data_state), metrics)
        folder = checkpoints.save(self.acc, self.config.output_dir, global_step, train_state, data_state, generator,
                                  card, keep=self.config.checkpoints_total_limit)
        log.info("saved %s", folder)
        push = (done // phase.checkpoint_every) % self.config.push_every == 0
        if push and self.uploader is not None and phase.trains_generator:
            self.uploader.submit(folder / "generator", f"{phase.label}: generator at step {global_step}")

    def export(self, phase: Phase, data_state: StreamState, metrics: dict[str, float]) -> None:
        """Export the phase's models (with model cards) and queue their upload."""
        totals = data_totals(self.acc, data_state)
        if self.acc.is_main_process:
            models = {"generator": self.trainer.generator, "critic": self.trainer.critic}
            for kind in phase.exports:
                model = self.acc.unwrap_model(models[kind])
                held_out, images = None, {}
                if kind == "generator" and self.config.card_photos:
                    if results := held_out_results(model, self.config.card_photos):
                        held_out, images[SAMPLES_FILE] = results
                card = self._card(kind, phase, phase.start + phase.steps, totals, metrics, held_out)
                folder = export(model, self.output / phase.label / kind, card, images=images)
                log.info("exported %s", folder)
                if self.uploader is not None and (kind == "generator" or self.config.push_critic):
                    self.uploader.submit(folder, f"{phase.label}: {kind}", "" if kind == "generator" else "critic")
        self.acc.wait_for_everyone()

    def close(self) -> None:
        """Wait for queued uploads."""
        if self.uploader is not None:
            self.uploader.close()

    def _card(self, kind: str, phase: Phase, global_step: int, totals: StreamState, metrics: dict[str, float],
              held_out: Report | None = None) -> str:
        return model_card(kind=kind, phase=phase.label, global_step=global_step, config=to_dict(self.config),
                          shape=self.shape, data=totals,
                          world_size=self.acc.num_processes, metrics=metrics,
                          loss_source=self.trainer.loss.source, encoder_source=self.encoder_source,
                          held_out=held_out)


class Run:
    """A whole training run: the plan, resuming, and the phase loop with its logging."""

    def __init__(self, config: TrainConfig, accelerator: Accelerator):
        self.config, self.acc = config, accelerator
        self.output = Path(config.output_dir)
        self.phases = plan(config)
        self.source = open_source(config.data, seed=config.seed, rank=accelerator.process_index,
                                  world_size=accelerator.num_processes)  # fails fast on a bad --dataset
        set_seed(config.seed)
        generator, encoder_source = initial_generator(config, self.phases[0])
        self.trainer = Trainer(config, accelerator, generator, initial_critic(config, self.phases[0]))
        self.publisher = Publisher(config, accelerator, self.trainer, self.phases, encoder_source)
        self.last_metrics: dict[str, float] = {}  # the last logged losses, for checkpoints and model cards
        self.phase_clock = (time.monotonic(), 0)  # when the current phase started here, and at which step

    def run(self) -> None:
        acc, config = self.acc, self.config
        start_index, start_step, data_state = 0, 0, StreamState()
        if config.resume:
            folder = checkpoints.resolve(config.output_dir, config.resume)
            train_state = checkpoints.read_state(folder)
            check_resumable(acc.unwrap_model(self.trainer.generator), self.phases, folder, train_state)
            train_state, data_state = checkpoints.load(acc, folder, train_state)
            start_index, start_step = train_state["phase_index"], train_state["step"]
            self.last_metrics = train_state.get("metrics", {})
            log.info("resuming %s at step %d of %d from %s", train_state["phase"], start_step,
                     self.phases[start_index].steps, folder)
        else:
            # Checkpoints past this run's start are from an earlier run: they would pass for "latest", and hours
            # of training are not deleted because --resume was forgotten. Every process checks, so all stop.
            earlier = checkpoints.after(config.output_dir, self.phases[0].start)
            if earlier and not config.overwrite:
                raise SystemExit(f"{checkpoints.checkpoints_dir(config.output_dir)} holds {len(earlier)} checkpoint(s) "
                                 f"of an earlier run (the latest: {earlier[-1].name}): continue it with --resume "
                                 "latest, or pass --overwrite to delete them and start afresh")
            if earlier and acc.is_main_process:
                checkpoints.remove_after(config.output_dir, self.phases[0].start)
                log.warning("starting afresh (--overwrite): removed %d checkpoint(s) of an earlier run in %s",
                            len(earlier), checkpoints.checkpoints_dir(config.output_dir))
        if acc.is_main_process:
            self.output.mkdir(parents=True, exist_ok=True)
            (self.output / "config.yaml").write_text(yaml.safe_dump(to_dict(config), sort_keys=False))
        acc.init_trackers("nogan", config=flatten(config))
        try:
            for index in range(start_index, len(self.phases)):
                phase = self.phases[index]
                data_state = self._run_phase(index, start_step if index == start_index else 0, data_state)
                self.publisher.export(phase, data_state, self.last_metrics)
        finally:
            self.publisher.close()
        log.info("done: exports in %s", self.output)

    def _run_phase(self, index: int, start_step: int, data_state: StreamState) -> StreamState:
        acc, config, phase = self.acc, self.config, self.phases[index]
        if start_step == 0:
            self.trainer.start_phase(phase)
            self.last_metrics = {}
        log.info("phase %s: steps %d to %d (global %d to %d)", phase.label, start_step, phase.steps,
                 phase.start + start_step, phase.start + phase.steps)
        # A live bar only on a terminal: in a log file its redraws would run into the log lines, which say the same.
        bar = tqdm(total=phase.steps, initial=start_step, desc=phase.label, dynamic_ncols=True,
                   disable=not (acc.is_local_main_process and sys.stderr.isatty()))
        self.phase_clock = (time.monotonic(), start_step)
        try:
            for stage in phase.stages():
                if start_step >= stage.end:
                    continue
                self.trainer.set_lrs(stage)
                stream = PairStream(self.source, config.data, config.degrade, size=stage.size,
                                    batch_size=stage.batch_size, seed=config.seed, rank=acc.process_index,
                                    state=data_state)
                window = Window()
                try:
                    for step in range(start_step, stage.end):
                        self.trainer.freeze_encoder(phase.encoder_frozen(step))
                        result = phase.step(self.trainer, stream)
                        window.add(result.metrics, result.batches * stage.batch_size)
                        done, global_step = step + 1, phase.start + step + 1
                        bar.update(1)
                        if done % config.log_every == 0 or done == stage.end:
                            self._log(phase, stage, window, stream.state, global_step, bar)
                            window = Window()
                        if global_step % config.image_every == 0 and acc.is_main_process:
                            tracker = acc.get_tracker("tensorboard")
                            tracker.log_images({f"samples/{phase.name}": sample_grid(result.batch, result.pred)[None]},
                                               step=global_step)
                        if done % phase.checkpoint_every == 0 or done == phase.steps:
                            self.publisher.checkpoint(index, done, stream.state, self.last_metrics)
                finally:
                    data_state = stream.state
                    stream.close()
                start_step = stage.end
        finally:
            bar.close()  # before any error message, so the message is the last line
        return data_state

    def _log(self, phase: Phase, stage: Stage, window: Window, data_state: StreamState, global_step: int,
             bar: tqdm) -> None:
        means = window.means(self.acc)
        totals = data_totals(self.acc, data_state)
        self.last_metrics = {k: v for k, v in means.items() if k.startswith("loss")}
        values = {f"{phase.name}/{k}": v for k, v in {**means, **phase.learning_rates(stage)}.items()}
        values.update({"data/used": totals.used, "data/grayscale": totals.grayscale,
                       "data/unreadable": totals.unreadable, "data/epoch": data_state.epoch,
                       f"{phase.name}/size": stage.size})
        self.acc.log(values, step=global_step)
        shown = {k: f"{v:.3g}" for k, v in means.items() if k.startswith("loss_") or k == "images_per_s"}
        bar.set_postfix(shown, refresh=False)
        if bar.disable:  # no live bar (a log file, or another process): a line instead, on the main process
            log.info("%s step %d (%s): %s", phase.label, global_step, self._progress(phase, global_step),
                     ", ".join(f"{k}={v}" for k, v in shown.items()))

    def _progress(self, phase: Phase, global_step: int) -> str:
        """'done/total, eta H:MM:SS' from this process's own pace in the phase, for logs without a bar."""
        started, first = self.phase_clock
        done = global_step - phase.start
        eta = (time.monotonic() - started) / max(done - first, 1) * (phase.steps - done)
        return f"{done}/{phase.steps}, eta {tqdm.format_interval(eta)}"


def make_accelerator(config: TrainConfig) -> Accelerator:
    # Without CUDA, Accelerator() under torchrun gives unconnected processes; cpu=True gives gloo DDP.
    cpu = config.cpu or not torch.cuda.is_available()
    precision = config.mixed_precision
    if precision == "auto":
        precision = "bf16" if not cpu and torch.cuda.is_bf16_supported() else "no"
    project = ProjectConfiguration(project_dir=config.output_dir, logging_dir=str(Path(config.output_dir) / "logs"))
    # A frozen encoder takes no gradient for a while: DDP must not wait for its buckets then.
    # (A phase freezes it for its first steps, if at all: pretrain-g's --pretrain-freeze-encoder-steps.)
    frozen = any(phase.encoder_frozen(0) for phase in plan(config))
    ddp = DistributedDataParallelKwargs(find_unused_parameters=frozen)
    return Accelerator(cpu=cpu, mixed_precision=precision, log_with="tensorboard", project_config=project,
                       kwargs_handlers=[ddp])


def main(argv: list[str] | None = None) -> None:
    config = parse_args(argv, description=__doc__)
    accelerator = make_accelerator(config)
    logging.basicConfig(format=f"%(asctime)s [rank {accelerator.process_index}] %(levelname)s %(name)s: %(message)s",
                        level=logging.INFO if accelerator.is_main_process else logging.WARNING)
    logging.getLogger("accelerate").setLevel(logging.WARNING)  # one line per file saved is too much
    log.info("%d process(es) on %s, mixed precision %s", accelerator.num_processes, accelerator.device,
             accelerator.mixed_precision)
    try:
        Run(config, accelerator).run()
    except (ColorizerError, FeatureNetError) as err:  # bad dataset, no ImageNet weights: the message says it all
        if config.debug:
            raise
        raise SystemExit(f"error: {err} (--debug shows where)") from None
    finally:
        accelerator.end_training()


if __name__ == "__main__":
    main()
