"""The NoGAN training configuration: one dataclass tree, filled from defaults, then a YAML file
(`--config`), then command-line options, in that order.

The command line is generated from the dataclasses, so there is no second list of options to
keep in step: a field `gan.lr_critic` is `--gan-lr-critic`, a field of a section whose prefix is
empty (the data section) is just `--dataset`, and nested sections chain their prefixes
(`--degrade-noise-sigma 0.01 0.05`). In YAML the same fields nest as they do in the dataclasses.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from colorizer.evaluate.degrade import DegradeConfig
from colorizer.errors import first_line
from colorizer.models.generator import PRESETS, GeneratorConfig, preset
from train.critic import CriticConfig
from train.data import DataConfig
from train.losses import FeatureLossConfig

PHASES = ("pretrain-g", "pretrain-critic", "gan")
HELD_OUT_PHOTOS = Path(__file__).resolve().parents[1] / "tests" / "data" / "holdout"  # never trained on
PHASE_CHOICES = ("all", *PHASES)
PRECISIONS = ("auto", "no", "bf16", "fp16")


MIN_CROP = 32  # the smallest crop the generators' downsampling leaves a feature map for


def _check_stage(where: str, size: int, batch_size: int, steps: int, lr: float) -> None:
    """ValueError for a stage no training could run: a numpy or torch error deep in a phase otherwise."""
    if size < MIN_CROP:
        raise ValueError(f"{where}: crop size must be at least {MIN_CROP} px, not {size}")
    if batch_size < 1 or steps < 0:
        raise ValueError(f"{where}: batch size must be at least 1 and steps 0 or more, not {batch_size} and {steps}")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"{where}: learning rate must be a positive number, not {lr}")


@dataclass
class GeneratorPretrainConfig:
    """Phase 1: the generator alone, perceptual loss only, on progressively larger crops."""

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


@dataclass
class CriticPretrainConfig:
    """Phase 2: the critic alone, real photos vs the pretrained generator's output."""

    size: int = field(default=192, metadata={"help": "crop size (px)"})
    batch_size: int = field(default=16, metadata={"help": "batch size per process"})
    steps: int = field(default=2000, metadata={"help": "optimizer steps"})
    lr: float = field(default=1e-4, metadata={"help": "learning rate"})

    def __post_init__(self) -> None:
        _check_stage("critic_pretrain", self.size, self.batch_size, self.steps, self.lr)


@dataclass
class GanConfig:
    """Phase 3: the short adversarial phase; the useful window is brief, so checkpoint often."""

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


@dataclass
class TrainConfig:
    """Everything `train/nogan.py` does; `--help` lists each field as an option."""

    output_dir: str = field(default="runs/nogan", metadata={
        "help": "run folder: checkpoints/, logs/, one export folder per phase"})
    phase: str = field(default="all", metadata={"help": f"what to run: {', '.join(PHASE_CHOICES)}"})
    cycles: int = field(default=1, metadata={
        "help": "with --phase all: run critic pretraining + GAN phase this many times"})
    seed: int = field(default=42, metadata={"help": "seed for weights, data order and augmentation"})
    generator_preset: str | None = field(default=None, metadata={
        "help": f"shortcut for the generator section: start it from this preset ({', '.join(PRESETS)}); "
                "--generator-* options (or the YAML generator section) then change single fields. "
                "Without it the generator section's defaults are the 'stable' preset"})
    init_generator: str | None = field(default=None, metadata={
        "help": "start the generator from these weights (folder or Hub id); default: the previous phase's "
                "export in output_dir, or ImageNet encoder weights for phase 1"})
    init_critic: str | None = field(default=None, metadata={
        "help": "start the critic from these weights (folder or Hub id); default: the previous critic export"})
    cpu: bool = field(default=False, metadata={
        "help": "train on CPU even if a GPU is present (chosen anyway when there is none)"})
    mixed_precision: str = field(default="auto", metadata={
        "help": f"{', '.join(PRECISIONS)}; auto: bf16 where the GPU supports it, else full precision"})
    log_every: int = field(default=20, metadata={"help": "log losses, learning rates and images/s every N steps"})
    image_every: int = field(default=200, metadata={
        "help": "log an image grid (input, prediction, target) every N steps"})
    checkpoint_every: int = field(default=1000, metadata={
        "help": "checkpoint every N steps in the pretraining phases (the GAN phase: --gan-checkpoint-every)"})
    checkpoints_total_limit: int = field(default=3, metadata={"help": "keep only the last K checkpoints"})
    resume: str | None = field(default=None, metadata={
        "help": "'latest' or a checkpoint folder: continue that phase and step, same data order and RNG"})
    overwrite: bool = field(default=False, metadata={
        "help": "start afresh in an --output-dir that holds checkpoints of an earlier run past this run's start, "
                "deleting them (without it the run refuses: --resume latest continues that run instead)"})
    push_to_hub: str | None = field(default=None, metadata={
        "help": "Hub repo id: upload the exported generator at each phase end and every --push-every'th "
                "checkpoint, in the background (token from HF_TOKEN)"})
    push_critic: bool = field(default=False, metadata={"help": "also upload the critic (to critic/ in the repo)"})
    push_every: int = field(default=5, metadata={"help": "upload every Kth checkpoint's generator"})
    hub_private: bool = field(default=True, metadata={"help": "create the Hub repo as private"})
    card_photos: str = field(default=str(HELD_OUT_PHOTOS), metadata={
        "help": "folder of held-out colour photos that each exported generator colorizes for its model card "
                "(samples.png and scores beside the card); empty: no pictures"})
    debug: bool = field(default=False, metadata={"help": "show the full traceback of an error, not just its message"})
    generator: GeneratorConfig = field(default_factory=GeneratorConfig, metadata={
        "prefix": "generator", "aliases": {"restore": ("--restore",)}})
    data: DataConfig = field(default_factory=DataConfig, metadata={"prefix": ""})
    degrade: DegradeConfig = field(default_factory=DegradeConfig, metadata={"prefix": "degrade"})
    loss: FeatureLossConfig = field(default_factory=FeatureLossConfig, metadata={"prefix": "feature"})
    critic: CriticConfig = field(default_factory=CriticConfig, metadata={"prefix": "critic"})
    pretrain: GeneratorPretrainConfig = field(default_factory=GeneratorPretrainConfig, metadata={"prefix": "pretrain"})
    critic_pretrain: CriticPretrainConfig = field(default_factory=CriticPretrainConfig,
                                                  metadata={"prefix": "critic-pretrain"})
    gan: GanConfig = field(default_factory=GanConfig, metadata={"prefix": "gan"})

    def __post_init__(self) -> None:
        if self.phase not in PHASE_CHOICES:
            raise ValueError(f"phase must be one of {PHASE_CHOICES}, not {self.phase!r}")
        if self.cycles < 1 or (self.cycles > 1 and self.phase != "all"):
            raise ValueError("cycles must be >= 1, and above 1 only with --phase all")
        if self.generator_preset is not None and self.generator_preset not in PRESETS:
            raise ValueError(f"generator_preset must be one of {sorted(PRESETS)}")
        if self.mixed_precision not in PRECISIONS:
            raise ValueError(f"mixed_precision must be one of {PRECISIONS}")
        if self.seed < 0:
            raise ValueError(f"seed must be 0 or more, not {self.seed}")
        for name in ("log_every", "image_every", "checkpoint_every", "checkpoints_total_limit", "push_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


# ---- dataclasses <-> plain dicts (YAML) ----

def _hints(cls: type) -> dict[str, object]:
    return typing.get_type_hints(cls)


def _coerce(kind: object, value: object, where: str) -> object:
    """A YAML or CLI value -> the field's type (YAML reads `1e-4` as a string, tuples as lists)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (kind,) = [a for a in args if a is not type(None)]
        return _coerce(kind, value, where)
    if dataclasses.is_dataclass(kind):
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a mapping")
        return from_dict(kind, value, where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        items = [_coerce(args[0] if origin is list else args[i], v, where) for i, v in enumerate(value)]
        if origin is tuple and len(items) != len(args):
            raise ValueError(f"{where}: expected {len(args)} values, got {len(items)}")
        return items if origin is list else tuple(items)
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true or false, got {value!r}")
        return value
    try:
        return kind(value)  # type: ignore[operator]
    except (TypeError, ValueError):
        raise ValueError(f"{where}: expected {getattr(kind, '__name__', kind)}, got {value!r}") from None


def from_dict(cls: type, data: dict, where: str = "config") -> object:
    """Build dataclass `cls` from a (partial) nested dict; unknown keys are errors, not ignored."""
    hints = _hints(cls)
    unknown = set(data) - set(hints)
    if unknown:
        raise ValueError(f"{where}: unknown option(s) {sorted(unknown)}; known: {sorted(hints)}")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = _coerce(hints[f.name], data[f.name], f"{where}.{f.name}")
    return cls(**kwargs)


def to_dict(config: object) -> dict:
    """The plain nested dict of a config (tuples as lists), ready for YAML and JSON."""
    return _plain(dataclasses.asdict(config))


def _plain(value: object) -> object:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def flatten(config: object) -> dict[str, object]:
    """{"gan.lr_critic": 1e-4, ...} with scalar values only (lists as strings): for TensorBoard."""
    out: dict[str, object] = {}

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            out[prefix] = value if isinstance(value, (int, float, str, bool)) else str(value)

    walk("", to_dict(config))
    return out


# ---- the command line ----

@dataclass
class _Option:
    flag: str
    path: tuple[str, ...]
    kind: object
    default: object
    help: str
    section: type  # the dataclass that holds the field: its docstring heads the --help group
    aliases: tuple[str, ...] = ()  # shorter flags for the same field (--restore)


def _options(cls: type, prefix: str = "", path: tuple[str, ...] = (),
             aliases: dict[str, tuple[str, ...]] | None = None) -> list[_Option]:
    """One option per leaf field; a section's metadata may give some of its fields extra flags."""
    hints, defaults, out = _hints(cls), cls(), []
    for f in dataclasses.fields(cls):
        kind, default = hints[f.name], getattr(defaults, f.name)
        if dataclasses.is_dataclass(kind):
            sub = f.metadata.get("prefix", f.name.replace("_", "-"))
            sub_prefix = "-".join(p for p in (prefix, sub) if p)
            out += _options(kind, sub_prefix, (*path, f.name), f.metadata.get("aliases"))
            continue
        name = "-".join(p for p in (prefix, f.name.replace("_", "-")) if p)
        if "help" not in f.metadata:  # every option explains itself in --help
            raise TypeError(f"{cls.__qualname__}.{f.name} has no help text (field metadata 'help')")
        out.append(_Option(f"--{name}", (*path, f.name), kind, default, f.metadata["help"], cls,
                           (aliases or {}).get(f.name, ())))
    return out


def _add(parser: argparse._ActionsContainer, option: _Option) -> None:
    kind = option.kind
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        kind = [a for a in args if a is not type(None)][0]
        origin, args = typing.get_origin(kind), typing.get_args(kind)
    shown = option.default if not isinstance(option.default, (list, tuple)) else " ".join(map(str, option.default))
    help_text = f"{option.help} (default: {shown})".replace("%", "%%")
    dest = ".".join(option.path)
    if kind is bool:
        parser.add_argument(option.flag, *option.aliases, dest=dest, action=argparse.BooleanOptionalAction,
                            help=help_text)
    elif origin is list:
        parser.add_argument(option.flag, *option.aliases, dest=dest, nargs="+", type=args[0], metavar="V",
                            help=help_text)
    elif origin is tuple:
        parser.add_argument(option.flag, *option.aliases, dest=dest, nargs=len(args), type=args[0],
                            metavar=("LOW", "HIGH")[:len(args)] if len(args) == 2 else "V", help=help_text)
    else:
        parser.add_argument(option.flag, *option.aliases, dest=dest, type=kind, metavar=option.path[-1].upper(),
                            help=help_text)


def build_parser(description: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description, argument_default=argparse.SUPPRESS,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="YAML file with any of these options, nested as in train/configs/*.yaml; "
                             "command-line options override it")
    groups: dict[type, argparse._ArgumentGroup] = {}
    for option in _options(TrainConfig):
        if option.section not in groups:
            doc = (option.section.__doc__ or "").strip().splitlines()[0]
            groups[option.section] = parser.add_argument_group(option.section.__name__, doc)
        _add(groups[option.section], option)
    return parser


def parse_args(argv: list[str] | None = None, description: str | None = None) -> TrainConfig:
    """defaults <- --config YAML <- command-line options; a generator_preset (from either) is the base
    of the generator section, whose fields given in either override it."""
    args = vars(build_parser(description).parse_args(argv))
    data: dict = {}
    config_file = args.pop("config", None)
    if config_file is not None:
        try:
            data = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:  # missing, a folder, binary, not YAML
            raise SystemExit(f"--config {config_file}: cannot read it as YAML "
                             f"({getattr(err, 'strerror', None) or first_line(err)})") from None
        if not isinstance(data, dict):
            raise SystemExit(f"{config_file}: expected a YAML mapping of options")
    for dest, value in args.items():
        node = data
        *parents, leaf = dest.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    name = data.get("generator_preset")
    if name is not None and name in PRESETS:  # the shortcut: the preset, then any generator field given
        data["generator"] = {**to_dict(preset(name)), **data.get("generator", {})}
    try:
        return from_dict(TrainConfig, data)  # type: ignore[return-value]
    except (ValueError, TypeError) as err:
        raise SystemExit(f"invalid configuration: {err}") from None
