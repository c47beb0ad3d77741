"""The three NoGAN phases, each a class next to its configuration section.

    1. pretrain-g       the generator alone on the perceptual loss, crops growing stage by stage
    2. pretrain-critic  the critic alone: real colour photos vs the pretrained generator's output
    3. gan              critic steps until its loss is under a threshold, then one generator step on
                        perceptual + weighted adversarial loss

A phase knows its schedule (stages of crop size, batch size and learning rates), its optimizer betas,
one training step, where a phase run on its own finds its starting weights, and what it exports.
The run (train/run.py) strings them into a plan; the phase names below are the only spelling of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import torch

from train.data import Batch, PairStream
from train.trainer import Trainer

MIN_CROP = 32  # the smallest crop the generators' downsampling leaves a feature map for
PRETRAIN_BETAS = (0.9, 0.99)
GAN_BETAS = (0.0, 0.9)  # no momentum against a moving target, as usual for GANs


def _check_stage(where: str, size: int, batch_size: int, steps: int, lr: float) -> None:
    """ValueError for a stage no training could run: a numpy or torch error deep in a phase otherwise."""
    if size < MIN_CROP:
        raise ValueError(f"{where}: crop size must be at least {MIN_CROP} px, not {size}")
    if batch_size < 1 or steps < 0:
        raise ValueError(f"{where}: batch size must be at least 1 and steps 0 or more, not {batch_size} and {steps}")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"{where}: learning rate must be a positive number, not {lr}")


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

    metrics: dict[str, torch.Tensor]  # scalars
    batch: Batch  # a batch of this step
    pred: torch.Tensor  # the ab predicted for it, (B, 2 or 3, S, S) as ab / AB_SCALE
    batches: int  # batches the step used (images/s)


class Phase:
    """One entry of the run's plan; subclasses hold one kind of phase and its config section."""

    name: ClassVar[str]
    betas: ClassVar[tuple[float, float]] = PRETRAIN_BETAS
    exports: ClassVar[tuple[str, ...]]  # the models written (and uploaded) at the phase's end
    # Exports of earlier phases (in output_dir) a phase run on its own starts from, per model.
    starts_from: ClassVar[dict[str, str]] = {}

    def __init__(self, config: object, checkpoint_every: int, cycle: int, start: int):
        self.config = config  # the phase's own section of the run configuration
        self.checkpoint_every = checkpoint_every
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


@dataclass
class GeneratorPretrainConfig:
    """Phase 1, pretrain-g: the generator alone, perceptual loss only, on progressively larger crops."""

    sizes: list[int] = field(default_factory=lambda: [64, 128, 192], metadata={"help": "crop size of each stage (px)"})
    batch_sizes: list[int] = field(default_factory=lambda: [88, 22, 11], metadata={
        "help": "batch size per process of each stage"})
    steps: list[int] = field(default_factory=lambda: [10000, 5000, 3000], metadata={
        "help": "optimizer steps of each stage"})
    lrs: list[float] = field(default_factory=lambda: [1e-3, 3e-4, 1e-4], metadata={
        "help": "learning rate of each stage"})
    freeze_encoder_steps: int = field(default=2000, metadata={
        "help": "the first N steps train the decoder alone: the ImageNet encoder keeps its weights and "
                "batch-norm statistics until the decoder has settled"})
    encoder_lr_scale: float = field(default=0.1, metadata={
        "help": "once released, the encoder learns at this fraction of the learning rate (all phases)"})

    def __post_init__(self) -> None:
        if self.freeze_encoder_steps < 0 or not 0.0 <= self.encoder_lr_scale <= 1.0:
            raise ValueError("pretrain: freeze_encoder_steps must be >= 0 and encoder_lr_scale in [0, 1]")
        lengths = {len(self.sizes), len(self.batch_sizes), len(self.steps), len(self.lrs)}
        if lengths != {len(self.sizes)} or not self.sizes:
            raise ValueError("pretrain: sizes, batch_sizes, steps and lrs need one value per stage")
        for stage in zip(self.sizes, self.batch_sizes, self.steps, self.lrs):
            _check_stage("pretrain", *stage)


class PretrainGenerator(Phase):
    """1. The generator alone on the perceptual loss, crops growing stage by stage."""

    name, exports = "pretrain-g", ("generator",)
    config: GeneratorPretrainConfig

    def stages(self) -> list[Stage]:
        p, end, out = self.config, 0, []
        for size, batch, steps, lr in zip(p.sizes, p.batch_sizes, p.steps, p.lrs):
            end += steps
            out.append(Stage(size, batch, end, lr_generator=lr, lr_critic=0.0))
        return out

    def encoder_frozen(self, step: int) -> bool:
        return step < self.config.freeze_encoder_steps

    def step(self, trainer: Trainer, stream: PairStream) -> StepResult:
        batch = next(stream)
        metrics, pred = trainer.generator_step(batch)
        return StepResult(metrics, batch, pred, 1)

    def learning_rates(self, stage: Stage) -> dict[str, float]:
        return {"lr_generator": stage.lr_generator}


@dataclass
class CriticPretrainConfig:
    """Phase 2, pretrain-critic: the critic alone, real photos vs the pretrained generator's output."""

    size: int = field(default=192, metadata={"help": "crop size (px)"})
    batch_size: int = field(default=16, metadata={"help": "batch size per process"})
    steps: int = field(default=2000, metadata={"help": "optimizer steps"})
    lr: float = field(default=1e-4, metadata={"help": "learning rate"})

    def __post_init__(self) -> None:
        _check_stage("critic_pretrain", self.size, self.batch_size, self.steps, self.lr)


class PretrainCritic(Phase):
    """2. The critic alone: real photos vs the pretrained generator's output."""

    name, exports = "pretrain-critic", ("critic",)
    starts_from = {"generator": "pretrain-g/generator"}
    config: CriticPretrainConfig

    def stages(self) -> list[Stage]:
        c = self.config
        return [Stage(c.size, c.batch_size, c.steps, lr_generator=0.0, lr_critic=c.lr)]

    def step(self, trainer: Trainer, stream: PairStream) -> StepResult:
        batch = next(stream)
        loss, fake = trainer.critic_step(batch)
        return StepResult({"loss_critic": loss}, batch, fake, 1)

    def learning_rates(self, stage: Stage) -> dict[str, float]:
        return {"lr_critic": stage.lr_critic}


@dataclass
class GanConfig:
    """Phase 3, gan: the short adversarial phase; the useful window is brief, so checkpoint often."""

    size: int = field(default=192, metadata={"help": "crop size (px)"})
    batch_size: int = field(default=8, metadata={"help": "batch size per process"})
    steps: int = field(default=1500, metadata={"help": "generator steps"})
    lr_generator: float = field(default=2e-5, metadata={"help": "generator learning rate"})
    lr_critic: float = field(default=1e-4, metadata={
        "help": "critic learning rate (two-time-scale update rule: higher than the generator's)"})
    critic_threshold: float = field(default=0.65, metadata={
        "help": "the critic trains until its loss is below this, then the generator takes one step"})
    max_critic_steps: int = field(default=10, metadata={
        "help": "at most this many critic steps before each generator step"})
    adversarial_weight: float = field(default=1.0, metadata={
        "help": "generator loss = perceptual + this x adversarial"})
    checkpoint_every: int = field(default=100, metadata={"help": "checkpoint every N generator steps"})

    def __post_init__(self) -> None:
        _check_stage("gan", self.size, self.batch_size, self.steps, self.lr_generator)
        if not all(math.isfinite(v) and v >= 0 for v in (self.critic_threshold, self.adversarial_weight)):
            raise ValueError("gan: critic_threshold and adversarial_weight must be numbers 0 or more")
        if self.lr_critic <= self.lr_generator:
            raise ValueError("gan: lr_critic must be higher than lr_generator (two-time-scale update rule)")
        if self.max_critic_steps < 1:
            raise ValueError("gan: max_critic_steps must be at least 1")
        if self.checkpoint_every < 1:
            raise ValueError("gan: checkpoint_every must be at least 1")


class Gan(Phase):
    """3. Critic steps until its loss is under the threshold, then one generator step on perceptual +
    adversarial loss; no momentum against a moving target, and frequent checkpoints (the window is short)."""

    name, exports, betas = "gan", ("generator", "critic"), GAN_BETAS
    starts_from = {"generator": "pretrain-g/generator", "critic": "pretrain-critic-1/critic"}
    config: GanConfig

    def stages(self) -> list[Stage]:
        g = self.config
        return [Stage(g.size, g.batch_size, g.steps, lr_generator=g.lr_generator, lr_critic=g.lr_critic)]

    def step(self, trainer: Trainer, stream: PairStream) -> StepResult:
        """The critic's loss is averaged over processes, so all of them stop at the same step."""
        gan, critic_steps = self.config, 0
        while True:
            critic_loss_value, _ = trainer.critic_step(next(stream))
            critic_steps += 1
            if critic_loss_value.item() < gan.critic_threshold or critic_steps == gan.max_critic_steps:
                break
        batch = next(stream)
        metrics, pred = trainer.generator_step(batch, adversarial_weight=gan.adversarial_weight)
        metrics.update(loss_critic=critic_loss_value, critic_steps=torch.tensor(float(critic_steps)))
        return StepResult(metrics, batch, pred, critic_steps + 1)

    def learning_rates(self, stage: Stage) -> dict[str, float]:
        return {"lr_generator": stage.lr_generator, "lr_critic": stage.lr_critic}


KINDS: tuple[type[Phase], ...] = (PretrainGenerator, PretrainCritic, Gan)  # in the order a run goes through them
PHASES = tuple(kind.name for kind in KINDS)
