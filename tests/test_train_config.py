"""The training configuration: defaults <- YAML <- command line, validated, every field an option."""

from __future__ import annotations

from pathlib import Path

import pytest

from train.config import TrainConfig, _options, build_parser, flatten, parse_args
from train.nogan import plan, stages


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
])
def test_invalid_settings_are_refused_with_the_reason(argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        parse_args(argv)


def test_unknown_yaml_keys_are_errors(tmp_path: Path) -> None:
    config_file = tmp_path / "typo.yaml"
    config_file.write_text("gan:\n  lr_critc: 1e-4\n")
    with pytest.raises(SystemExit, match="unknown option.*lr_critc"):
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


def test_plan_repeats_critic_pretraining_and_gan_for_each_cycle() -> None:
    config = parse_args(["--cycles", "2", "--pretrain-steps", "3", "2", "1", "--critic-pretrain-steps", "4",
                         "--gan-steps", "5"])
    phases = plan(config)
    assert [p.label for p in phases] == ["pretrain-g", "pretrain-critic-1", "gan-1", "pretrain-critic-2", "gan-2"]
    assert [p.start for p in phases] == [0, 6, 10, 15, 19]
    assert [(s.size, s.end) for s in stages(config, phases[0])] == [(64, 3), (128, 5), (192, 6)]
    gan = stages(config, phases[2])[0]
    assert gan.lr_critic > gan.lr_generator


def test_a_phase_run_alone_is_numbered_as_in_the_whole_plan() -> None:
    config = parse_args(["--phase", "gan", "--pretrain-steps", "3", "2", "1", "--critic-pretrain-steps", "4"])
    (phase,) = plan(config)
    assert (phase.label, phase.start) == ("gan-1", 10)
