"""A whole training run: the plan of phases, the accelerator, the starting weights, resuming, and the
loop over phases and steps with its logging. train/nogan.py parses the configuration and calls `train`.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import torch
import yaml
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, ProjectConfiguration, set_seed
from safetensors import SafetensorError
from tqdm.auto import tqdm

from colorizer.errors import ColorizerError, WeightsError, first_line
from colorizer.models.generator import Generator, GeneratorConfig
from colorizer.models.hub import load_generator
from train import checkpoints
from train.config import TrainConfig, flatten, to_dict
from train.critic import Critic
from train.data import PairStream, StreamState, decode, open_source
from train.losses import PRIOR_PHOTOS, FeatureNetError, measure_prior
from train.phases import Gan, Phase, PretrainCritic, PretrainGenerator, Stage
from train.publish import Publisher, generator_shape
from train.trainer import Trainer, Window, data_totals, sample_grid

log = logging.getLogger("nogan")


def plan(config: TrainConfig) -> list[Phase]:
    """The phases to run, numbered as in `--phase all`: a phase run on its own gets the labels and
    global steps it would have there, so phases run one by one into one folder line up (exports,
    checkpoint numbers, TensorBoard steps)."""
    sections = {PretrainGenerator: config.pretrain, PretrainCritic: config.critic_pretrain, Gan: config.gan}
    every = {PretrainGenerator: config.checkpoint_every, PretrainCritic: config.checkpoint_every,
             Gan: config.gan.checkpoint_every}
    kinds = [PretrainGenerator] + [PretrainCritic, Gan] * config.cycles
    phases: list[Phase] = []
    start, cycles = 0, {PretrainCritic: 0, Gan: 0}
    for kind in kinds:
        if kind in cycles:
            cycles[kind] += 1
        phase = kind(sections[kind], every[kind], cycles.get(kind, 0), start)
        phases.append(phase)
        start += phase.steps
    return phases if config.phase == "all" else [next(p for p in phases if p.name == config.phase)]


def initial_generator(config: TrainConfig, first: Phase) -> tuple[Generator, str]:
    """The generator the run starts from, and where its encoder's weights came from (for the card)."""
    source = config.init_generator or _earlier_export(config, first, "generator")
    if source is not None:
        log.info("generator: starting from %s", source)
        generator, weights = load_generator(source)  # WeightsError (one line) for a damaged folder
        if weights.fallback_reason:  # training from other weights than asked for would mislead
            raise WeightsError(f"--init_generator {source}: {weights.fallback_reason}")
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
        raise SystemExit(f"--phase {first.name} needs a pretrained {kind}: pass --init_{kind}, or run the phases "
                         f"before it into {config.output_dir} first (there is no {folder})")
    return str(folder)


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
                         "same generator options (generator_preset, the recipe's generator section, --init_generator), "
                         "or start afresh (without --resume)")
    phase = phases[state["phase_index"]]
    if state["step"] > phase.steps:
        raise SystemExit(f"{folder} is at step {state['step']} of {phase.label}, but this run plans only "
                         f"{phase.steps} steps for it: give that phase at least {state['step']} steps to go on, "
                         "or start afresh (without --resume)")


class Run:
    """A whole training run: the plan, resuming, and the phase loop with its logging."""

    def __init__(self, config: TrainConfig, accelerator: Accelerator):
        self.config, self.acc = config, accelerator
        self.output = Path(config.output_dir)
        self.phases = plan(config)
        self.source = open_source(config.data, seed=config.seed, rank=accelerator.process_index,
                                  world_size=accelerator.num_processes)  # fails fast on a bad --dataset
        rarity = None
        if config.loss.rebalance:  # every process measures the whole stream's start: the same weights everywhere
            whole = open_source(config.data, seed=config.seed)
            rarity = measure_prior((r[config.data.image_column] for r in whole), decode, PRIOR_PHOTOS,
                                   config.loss.rebalance)
        set_seed(config.seed)
        generator, encoder_source = initial_generator(config, self.phases[0])
        self.trainer = Trainer(config.loss, accelerator, generator, initial_critic(config, self.phases[0]),
                               encoder_lr_scale=config.pretrain.encoder_lr_scale, compile=config.compile,
                               channels_last=config.channels_last, rarity=rarity)
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
                                 "latest, or pass --overwrite true to delete them and start afresh")
            if earlier and acc.is_main_process:
                checkpoints.remove_after(config.output_dir, self.phases[0].start)
                log.warning("starting afresh (--overwrite true): removed %d checkpoint(s) of an earlier run in %s",
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
                checkpoints.kill_point("phase-change")
        finally:
            self.publisher.close()
        log.info("done: exports in %s", self.output)

    def _run_phase(self, index: int, start_step: int, data_state: StreamState) -> StreamState:
        acc, config, phase = self.acc, self.config, self.phases[index]
        if start_step == 0:
            self.trainer.start_phase(phase.betas)
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
                self.trainer.set_lrs(stage.lr_generator, stage.lr_critic)
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
                        checkpoints.kill_point("step")
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
                       "data/unreadable": totals.unreadable, "data/too_small": totals.too_small,
                       "data/epoch": data_state.epoch,
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
    # (A phase freezes it for its first steps, if at all: pretrain-g's pretrain.freeze_encoder_steps.)
    frozen = any(phase.encoder_frozen(0) for phase in plan(config))
    ddp = DistributedDataParallelKwargs(find_unused_parameters=frozen)
    return Accelerator(cpu=cpu, mixed_precision=precision, log_with="tensorboard", project_config=project,
                       kwargs_handlers=[ddp])


def train(config: TrainConfig) -> None:
    """Run `config` in this process (one of several under torchrun or accelerate launch)."""
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
        raise SystemExit(f"error: {err} (--debug true shows where)") from None
    finally:
        accelerator.end_training()
