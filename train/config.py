"""The NoGAN training configuration: one tree of dataclasses, read by jsonargparse.

Values come from the defaults, then a YAML recipe (`--config train/configs/tiny-cpu.yaml`), then
command-line options named after the fields (`--gan.lr_critic 3e-4`, `--pretrain.steps [3,2]`), in
that order; `--print_config` shows the result. In YAML the same fields nest as in the dataclasses.
Help texts are the fields' `help` metadata (the convention of colorizer's own config dataclasses).

The network shapes (generator, critic) and the degradations are YAML-only: a recipe states them
once, a command line does not change them (`generator_preset` picks a shape on either). Every
option and YAML-only knob, with its default, is in docs/training-config.md: `python -m train.config`
writes that page from these dataclasses.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from jsonargparse import ActionConfigFile, ArgumentParser

from colorizer.errors import first_line
from colorizer.evaluate.degrade import DegradeConfig
from colorizer.models.generator import PRESETS, GeneratorConfig, preset
from train.critic import CriticConfig
from train.data import DataConfig
from train.losses import FeatureLossConfig
from train.phases import PHASES, CriticPretrainConfig, GanConfig, GeneratorPretrainConfig
from train.trainer import COMPILE_MODES

REPO = Path(__file__).resolve().parents[1]
HELD_OUT_PHOTOS = REPO / "tests" / "data" / "holdout"  # never trained on
PHASE_CHOICES = ("all", *PHASES)
PRECISIONS = ("auto", "no", "bf16", "fp16")
YAML_ONLY = ("generator", "critic", "degrade")  # TrainConfig sections set in the recipe, not on the command line


@dataclass
class TrainConfig:
    """The run: what to train, from which weights, where to write, how often to log and checkpoint."""

    output_dir: str = field(default="runs/nogan", metadata={
        "help": "run folder: checkpoints/, logs/, one export folder per phase"})
    phase: str = field(default="all", metadata={"help": f"what to run: {', '.join(PHASE_CHOICES)}"})
    cycles: int = field(default=1, metadata={
        "help": "with phase all: run critic pretraining + GAN phase this many times"})
    seed: int = field(default=42, metadata={"help": "seed for weights, data order and augmentation"})
    generator_preset: str | None = field(default=None, metadata={
        "help": f"the generator's shape: one of {', '.join(PRESETS)}; the recipe's generator section then "
                "changes single fields. Without it that section starts from the 'stable' preset"})
    init_generator: str | None = field(default=None, metadata={
        "help": "start the generator from these weights (folder or Hub id); default: the previous phase's "
                "export in output_dir, or ImageNet encoder weights for phase 1"})
    init_critic: str | None = field(default=None, metadata={
        "help": "start the critic from these weights (folder or Hub id); default: the previous critic export"})
    cpu: bool = field(default=False, metadata={
        "help": "train on CPU even if a GPU is present (chosen anyway when there is none)"})
    mixed_precision: str = field(default="auto", metadata={
        "help": f"{', '.join(PRECISIONS)}; auto: bf16 where the GPU supports it, else full precision"})
    compile: str = field(default="no", metadata={
        "help": f"torch.compile the models and the loss with this mode: {', '.join(COMPILE_MODES)} "
                "(reduce-overhead: CUDA graphs, for GPUs that wait on kernel launches); each crop size and "
                "kind of step compiles at its first step. Speed only: the same maths, the same checkpoints"})
    channels_last: bool = field(default=False, metadata={
        "help": "models and batches in the channels_last memory layout (faster convolutions on GPUs with "
                "tensor cores); checkpoints and exports stay in the plain layout"})
    log_every: int = field(default=20, metadata={"help": "log losses, learning rates and images/s every N steps"})
    image_every: int = field(default=200, metadata={
        "help": "log an image grid (input, prediction, target) every N steps"})
    checkpoint_every: int = field(default=1000, metadata={
        "help": "checkpoint every N steps in the pretraining phases (the GAN phase: --gan.checkpoint_every)"})
    checkpoints_total_limit: int = field(default=3, metadata={"help": "keep only the last K checkpoints"})
    resume: str | None = field(default=None, metadata={
        "help": "'latest' or a checkpoint folder: continue that phase and step, same data order and RNG"})
    overwrite: bool = field(default=False, metadata={
        "help": "start afresh in an output_dir that holds checkpoints of an earlier run past this run's start, "
                "deleting them (without it the run refuses: --resume latest continues that run instead)"})
    push_to_hub: str | None = field(default=None, metadata={
        "help": "Hub repo id: upload the exported generator at each phase end and every push_every'th "
                "checkpoint, in the background (token from HF_TOKEN)"})
    push_critic: bool = field(default=False, metadata={"help": "also upload the critic (to critic/ in the repo)"})
    push_every: int = field(default=5, metadata={"help": "upload every Kth checkpoint's generator"})
    hub_private: bool = field(default=True, metadata={"help": "create the Hub repo as private"})
    card_photos: str = field(default=str(HELD_OUT_PHOTOS), metadata={
        "help": "folder of held-out colour photos that each exported generator colorizes for its model card "
                "(samples.png and scores beside the card); empty: no pictures"})
    debug: bool = field(default=False, metadata={"help": "show the full traceback of an error, not just its message"})
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)  # YAML only
    critic: CriticConfig = field(default_factory=CriticConfig)  # YAML only
    degrade: DegradeConfig = field(default_factory=DegradeConfig)  # YAML only
    data: DataConfig = field(default_factory=DataConfig)
    loss: FeatureLossConfig = field(default_factory=FeatureLossConfig)
    pretrain: GeneratorPretrainConfig = field(default_factory=GeneratorPretrainConfig)
    critic_pretrain: CriticPretrainConfig = field(default_factory=CriticPretrainConfig)
    gan: GanConfig = field(default_factory=GanConfig)

    def __post_init__(self) -> None:
        if self.phase not in PHASE_CHOICES:
            raise ValueError(f"phase must be one of {PHASE_CHOICES}, not {self.phase!r}")
        if self.cycles < 1 or (self.cycles > 1 and self.phase != "all"):
            raise ValueError("cycles must be >= 1, and above 1 only with --phase all")
        if self.generator_preset is not None and self.generator_preset not in PRESETS:
            raise ValueError(f"generator_preset must be one of {sorted(PRESETS)}")
        if self.mixed_precision not in PRECISIONS:
            raise ValueError(f"mixed_precision must be one of {PRECISIONS}")
        if self.compile not in COMPILE_MODES:
            raise ValueError(f"compile must be one of {COMPILE_MODES}, not {self.compile!r}")
        if self.seed < 0:
            raise ValueError(f"seed must be 0 or more, not {self.seed}")
        for name in ("log_every", "image_every", "checkpoint_every", "checkpoints_total_limit", "push_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


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


def _fields(cls: type, prefix: str = "") -> dict[str, dataclasses.Field]:
    """Every leaf field of a config dataclass by its dotted name ("gan.lr_critic")."""
    hints, out = typing.get_type_hints(cls), {}
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            out.update(_fields(hints[f.name], f"{prefix}{f.name}."))
        else:
            out[f"{prefix}{f.name}"] = f
    return out


def _yaml_only(name: str) -> bool:
    return name.split(".")[0] in YAML_ONLY


def build_parser(description: str | None = None) -> ArgumentParser:
    """jsonargparse's parser of TrainConfig: one option per field outside the YAML-only sections,
    grouped by section (the run, data, loss, then the phases), each with the field's help text."""
    parser = ArgumentParser(prog="train/nogan.py", usage="%(prog)s [--config RECIPE.yaml] [options]",
                            description=description,
                            formatter_class=argparse.RawDescriptionHelpFormatter, exit_on_error=False)
    parser.add_argument("--config", action=ActionConfigFile,
                        help="YAML recipe (train/configs/*.yaml) with any of these options and the YAML-only "
                             "sections (generator, critic, degrade: docs/training-config.md); options given "
                             "after it override it")
    parser.add_class_arguments(TrainConfig, as_group=True)
    helps = {name: f.metadata.get("help") for name, f in _fields(TrainConfig).items()}
    sections = {f.name for f in dataclasses.fields(TrainConfig) if dataclasses.is_dataclass(f.default_factory)}
    for action in parser._actions:
        name = action.dest
        # The YAML-only sections are read from the recipe, never offered; `--gan FILE` (a section's own
        # YAML file) stays out of --help, which it would only lengthen.
        if _yaml_only(name) or name in sections:
            action.help = argparse.SUPPRESS
        elif name in helps:
            action.help = helps[name].replace("%", "%%")
            action.metavar = name.rsplit(".", 1)[-1].upper() if action.metavar is None else action.metavar
    return parser


def _refuse_yaml_only(argv: list[str]) -> None:
    for arg in argv:
        flag = arg.split("=", 1)[0]
        if flag.startswith("--") and _yaml_only(flag[2:]):
            raise SystemExit(f"{flag}: the {flag[2:].split('.')[0]} section is set in the YAML recipe (--config), "
                             "not on the command line; docs/training-config.md lists its fields")


def _check_recipes(argv: list[str]) -> None:
    """One line naming a --config file that is missing, a folder, binary or not YAML (jsonargparse's own
    message for it may span lines and leave the file out)."""
    for flag, value in zip(argv, argv[1:]):
        if flag == "--config":
            try:
                yaml.safe_load(Path(value).read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
                raise SystemExit(f"--config {value}: cannot read it as YAML "
                                 f"({getattr(err, 'strerror', None) or first_line(err)})") from None


def parse_args(argv: list[str] | None = None, description: str | None = None) -> TrainConfig:
    """defaults <- --config YAML <- command-line options; a generator_preset (from either) is the base
    of the generator section, whose fields in the recipe override it."""
    argv = sys.argv[1:] if argv is None else list(argv)
    _refuse_yaml_only(argv)
    _check_recipes(argv)
    parser = build_parser(description)
    try:
        namespace = parser.parse_args(argv)
        if namespace.generator_preset in PRESETS:  # parse again with the preset as the section's defaults
            parser.set_defaults({f"generator.{k}": v for k, v in to_dict(preset(namespace.generator_preset)).items()})
            namespace = parser.parse_args(argv)
        namespace = namespace.clone(with_meta=False)
        namespace.pop("config", None)
        return TrainConfig(**vars(parser.instantiate(namespace)))  # the sections' __post_init__ checks run here
    except (argparse.ArgumentError, ValueError, TypeError) as err:
        raise SystemExit(f"invalid configuration: {' '.join(str(err).split())}") from None


def reference() -> str:
    """docs/training-config.md: every option and YAML-only knob with its default and help text."""
    defaults = flatten(TrainConfig())
    lines = ["# Training configuration", "",
             "Every field of `train/nogan.py`'s configuration, with its default. Generated by "
             "`python -m train.config > docs/training-config.md` from the dataclasses in `train/config.py`, "
             "`train/phases.py`, `train/data.py`, `train/losses.py`, `train/critic.py`, "
             "`colorizer/models/generator.py` and `colorizer/evaluate/degrade.py`; do not edit by hand.", "",
             "A field `gan.lr_critic` is the command-line option `--gan.lr_critic` and, in a YAML recipe "
             "(`--config`), the key `lr_critic` under `gan:`. Fields of the YAML-only sections (`generator`, "
             "`critic`, `degrade`) are set in the recipe only. Lists are written `[3,2]` on the command line.", ""]
    section = None
    for name, f in _fields(TrainConfig).items():
        head = name.split(".")[0] if "." in name else ""
        if head != section:
            section = head
            kind = "YAML only" if _yaml_only(name) else "option and YAML"
            title = f"`{head}` ({kind})" if head else "The run (option and YAML)"
            lines += ["", f"## {title}", "", "| field | default | what it does |", "|---|---|---|"]
        default = str(defaults[name]).replace(f"{REPO}/", "")  # the held-out photos: the same page from any checkout
        text = (f.metadata.get("help") or "").replace("|", "\\|")
        lines.append(f"| `{name}` | `{default}` | {text} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(reference(), end="")
