"""The training configuration: defaults <- YAML <- command line, validated, every field an option."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from colorizer.models.generator import preset
from tests.conftest import REPO
from train.config import PHASES, TrainConfig, _options, build_parser, flatten, parse_args, to_dict
from train.nogan import GAN_BETAS, PHASE_KINDS, PRETRAIN_BETAS, plan


def test_yaml_then_command_line(tmp_path: Path) -> None:
    config_file = tmp_path / "run.yaml"
    # YAML 1.1 reads 3e-4 as a string; the config still gets a float.
    config_file.write_text("gan:\n  lr_critic: 3e-4\n  steps: 7\ndata:\n  dataset: ./photos\n"
                           "degrade:\n  noise:\n    sigma: [0.01, 0.02]\n")
    config = parse_args(["--config", str(config_file), "--gan-lr-critic", "5e-4", "--degrade-jpeg-p", "0"])
    assert config.gan.lr_critic == 5e-4 and config.gan.steps == 7
    assert config.data.dataset == "./photos"
    assert config.degrade.noise.sigma == (0.01, 0.02) and config.degrade.jpeg.p == 0.0
    assert config.gan.lr_generator == TrainConfig().gan.lr_generator  # untouched fields keep their default


def test_lists_tuples_and_switches_on_the_command_line() -> None:
    config = parse_args(["--pretrain-sizes", "32", "64", "--pretrain-batch-sizes", "4", "2", "--pretrain-steps",
                         "3", "2", "--pretrain-lrs", "1e-3", "3e-4", "--degrade-blur-sigma", "0.001", "0.002",
                         "--no-critic-self-attention", "--feature-net", "none", "--resume", "latest"])
    assert config.pretrain.sizes == [32, 64] and config.pretrain.lrs == [1e-3, 3e-4]
    assert config.degrade.blur.sigma == (0.001, 0.002)
    assert config.critic.self_attention is False and config.loss.net == "none" and config.resume == "latest"


@pytest.mark.parametrize("argv, message", [
    (["--gan-lr-critic", "1e-6"], "two-time-scale"),
    (["--pretrain-sizes", "32"], "one value per stage"),
    (["--phase", "gan", "--cycles", "2"], "cycles"),
    (["--feature-net", "alexnet"], "feature net"),
    (["--gan-batch-size", "0"], "gan: batch size must be at least 1"),
    (["--pretrain-steps", "-1", "2", "3"], "pretrain: batch size must be at least 1 and steps 0 or more"),
    (["--gan-lr-generator", "nan"], "gan: learning rate must be a positive number, not nan"),
    (["--critic-pretrain-lr", "-1"], "critic_pretrain: learning rate must be a positive number"),
    (["--gan-size", "7"], "gan: crop size must be at least 32 px, not 7"),
    (["--gan-adversarial-weight", "inf"], "adversarial_weight must be numbers 0 or more"),
    (["--seed", "-1"], "seed must be 0 or more, not -1"),
    (["--degrade-emulsion-kinds", "sepia"], "emulsion kinds: choose one or more of blue-sensitive"),
])
def test_invalid_settings_are_refused_with_the_reason(argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        parse_args(argv)


def test_unknown_yaml_keys_are_errors(tmp_path: Path) -> None:
    config_file = tmp_path / "typo.yaml"
    config_file.write_text("gan:\n  lr_critc: 1e-4\n")
    with pytest.raises(SystemExit, match="unknown option.*lr_critc"):
        parse_args(["--config", str(config_file)])


@pytest.mark.parametrize("content", [None, "folder", b"\xff\xfe binary", "a: [1, 2\n"])
def test_a_config_file_that_cannot_be_read_is_named_in_one_line(tmp_path: Path, content) -> None:
    config_file = tmp_path / "config.yaml"
    if content == "folder":
        config_file.mkdir()
    elif isinstance(content, bytes):
        config_file.write_bytes(content)
    elif content is not None:
        config_file.write_text(content)
    with pytest.raises(SystemExit, match=f"--config {config_file}: cannot read it as YAML"):
        parse_args(["--config", str(config_file)])


def test_help_explains_every_field() -> None:
    text = build_parser().format_help()
    options = _options(TrainConfig)

    assert len(options) == len(flatten(TrainConfig()))  # one option per leaf field, none left out
    for option in options:
        assert option.flag in text and option.help.strip()
    for flag in ("--dataset", "--phase", "--cycles", "--feature-net", "--push-to-hub", "--resume", "--gan-lr-critic",
                 "--gan-critic-threshold", "--image-every", "--checkpoints-total-limit"):
        assert flag in text


def test_the_generator_section_takes_a_preset_then_single_fields(tmp_path: Path) -> None:
    assert TrainConfig().generator == preset("stable")  # the default without a preset
    config = parse_args(["--generator-preset", "tiny", "--generator-final-channels", "4", "--restore"])
    assert config.generator.encoder == preset("tiny").encoder and config.generator.final_channels == 4
    assert config.generator.restore is True  # --restore is short for --generator-restore
    config_file = tmp_path / "run.yaml"
    config_file.write_text("generator_preset: lite\ngenerator:\n  middle_channels: 64\n  restore: true\n")
    config = parse_args(["--config", str(config_file), "--no-generator-self-attention"])
    assert (config.generator.decoder_channels, config.generator.middle_channels) == (preset("lite").decoder_channels, 64)
    assert config.generator.restore is True and config.generator.self_attention is False
    with pytest.raises(SystemExit, match="not a timm model"):
        parse_args(["--generator-encoder", "no_such_net"])


def test_degradation_options_say_what_they_do() -> None:
    helps = {o.flag: o.help for o in _options(TrainConfig)}
    assert helps["--degrade-noise-sigma"].startswith("grain standard deviation")
    assert helps["--degrade-scratch-p"] == "chance that scratching is applied to a photo"
    assert not [flag for flag, text in helps.items() if "see " in text]


def test_plan_repeats_critic_pretraining_and_gan_for_each_cycle() -> None:
    config = parse_args(["--cycles", "2", "--pretrain-steps", "3", "2", "1", "--critic-pretrain-steps", "4",
                         "--gan-steps", "5"])
    phases = plan(config)
    assert [p.label for p in phases] == ["pretrain-g", "pretrain-critic-1", "gan-1", "pretrain-critic-2", "gan-2"]
    assert [p.start for p in phases] == [0, 6, 10, 15, 19]
    assert [(s.size, s.end) for s in phases[0].stages()] == [(64, 3), (128, 5), (192, 6)]
    gan = phases[2].stages()[0]
    assert gan.lr_critic > gan.lr_generator


def test_each_phase_holds_its_own_behaviour() -> None:
    config = parse_args(["--pretrain-freeze-encoder-steps", "2", "--checkpoint-every", "7", "--gan-checkpoint-every",
                         "3"])
    pretrain_g, pretrain_critic, gan = plan(config)
    assert tuple(PHASE_KINDS) == PHASES  # the config's --phase choices
    assert [p.exports for p in (pretrain_g, pretrain_critic, gan)] == [("generator",), ("critic",),
                                                                      ("generator", "critic")]
    assert (pretrain_g.betas, pretrain_critic.betas, gan.betas) == (PRETRAIN_BETAS, PRETRAIN_BETAS, GAN_BETAS)
    assert [p.checkpoint_every for p in (pretrain_g, pretrain_critic, gan)] == [7, 7, 3]
    assert [pretrain_g.encoder_frozen(s) for s in range(3)] == [True, True, False]
    assert not gan.encoder_frozen(0) and not pretrain_critic.trains_generator
    assert set(gan.learning_rates(gan.stages()[0])) == {"lr_generator", "lr_critic"}
    assert set(pretrain_critic.learning_rates(pretrain_critic.stages()[0])) == {"lr_critic"}


def test_a_phase_run_alone_is_numbered_as_in_the_whole_plan() -> None:
    config = parse_args(["--phase", "gan", "--pretrain-steps", "3", "2", "1", "--critic-pretrain-steps", "4"])
    (phase,) = plan(config)
    assert (phase.label, phase.start) == ("gan-1", 10)


def _leaves(node: object, path: tuple[str, ...] = ()):
    """(path, value) for every option a YAML mapping sets."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    else:
        yield path, node


def _same(taken: object, written: object) -> bool:
    if isinstance(written, list):
        return isinstance(taken, list) and len(taken) == len(written) and all(map(_same, taken, written))
    if isinstance(taken, float) and not isinstance(written, bool):
        return taken == pytest.approx(float(written))  # YAML 1.1 reads 3e-4 as a string
    return taken == written


@pytest.mark.parametrize("config_file", sorted((REPO / "train" / "configs").glob("*.yaml")),
                         ids=lambda path: path.name)
def test_every_shipped_recipe_runs_as_written(config_file: Path) -> None:
    """A recipe in train/configs is what a reader reruns: every option it sets reaches the run, and the
    weights it starts from are there (a misspelt option stops parse_args)."""
    taken = to_dict(parse_args(["--config", str(config_file)]))
    for path, written in _leaves(yaml.safe_load(config_file.read_text())):
        value = taken
        for key in path:
            value = value[key]
        assert _same(value, written), f"{'.'.join(path)}: {written!r} in the file, {value!r} in the run"
    if taken["init_generator"] is not None:
        assert (REPO / taken["init_generator"] / "config.json").is_file()
