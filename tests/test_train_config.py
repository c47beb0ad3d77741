"""The training configuration: defaults <- YAML recipe <- command line, through jsonargparse; validated;
the network shapes and degradations YAML-only; a short --help; the recipes mean what they say."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from colorizer.models.generator import preset
from tests.conftest import REPO
from train.config import YAML_ONLY, TrainConfig, _fields, parse_args, reference, to_dict
from train.phases import GAN_BETAS, PHASES, PRETRAIN_BETAS, Gan, PretrainCritic, PretrainGenerator
from train.run import plan

MAX_OPTIONS = 62  # what a run is tuned by; past this, a field belongs in a YAML-only section


def test_yaml_then_command_line(tmp_path: Path) -> None:
    config_file = tmp_path / "run.yaml"
    # YAML 1.1 reads 3e-4 as a string; the config still gets a float.
    config_file.write_text("gan:\n  lr_critic: 3e-4\n  steps: 7\ndata:\n  dataset: ./photos\n"
                           "degrade:\n  noise:\n    sigma: [0.01, 0.02]\n  jpeg:\n    p: 0\n")
    config = parse_args(["--config", str(config_file), "--gan.lr_critic", "5e-4"])
    assert config.gan.lr_critic == 5e-4 and config.gan.steps == 7
    assert config.data.dataset == "./photos"
    assert config.degrade.noise.sigma == (0.01, 0.02) and config.degrade.jpeg.p == 0.0
    assert config.gan.lr_generator == TrainConfig().gan.lr_generator  # untouched fields keep their default


def test_lists_and_switches_on_the_command_line() -> None:
    config = parse_args(["--pretrain.sizes", "[32, 64]", "--pretrain.batch_sizes", "[4, 2]", "--pretrain.steps",
                         "[3, 2]", "--pretrain.lrs", "[1e-3, 3e-4]", "--cpu", "true", "--loss.net", "none",
                         "--resume", "latest"])
    assert config.pretrain.sizes == [32, 64] and config.pretrain.lrs == [1e-3, 3e-4]
    assert config.cpu is True and config.loss.net == "none" and config.resume == "latest"


@pytest.mark.parametrize("flag", ["--degrade.noise.sigma", "--degrade", "--generator.final_channels",
                                  "--critic.self_attention", "--critic.depth=2"])
def test_shapes_and_degradations_are_yaml_only(flag: str) -> None:
    with pytest.raises(SystemExit, match=r"section is set in the YAML recipe \(--config\), not on the command line"):
        parse_args([flag, "1"])


@pytest.mark.parametrize("argv, message", [
    (["--gan.lr_critic", "1e-6"], "two-time-scale"),
    (["--pretrain.sizes", "[32]"], "one value per stage"),
    (["--phase", "gan", "--cycles", "2"], "cycles"),
    (["--loss.net", "alexnet"], "feature net"),
    (["--gan.batch_size", "0"], "gan: batch size must be at least 1"),
    (["--pretrain.steps", "[-1, 2, 3]"], "pretrain: batch size must be at least 1 and steps 0 or more"),
    (["--gan.lr_generator", "nan"], "gan.lr_generator"),
    (["--critic_pretrain.lr", "-1"], "critic_pretrain: learning rate must be a positive number"),
    (["--gan.size", "7"], "gan: crop size must be at least 32 px, not 7"),
    (["--gan.adversarial_weight", "inf"], "gan.adversarial_weight"),
    (["--gan.adversarial_weight", "-1"], "adversarial_weight must be numbers 0 or more"),
    (["--seed", "-1"], "seed must be 0 or more, not -1"),
    (["--phase", "gan-2"], "phase must be one of"),
    (["--compile", "fast"], "compile must be one of"),
    (["--gan.size", "large"], "gan.size"),
])
def test_invalid_settings_are_refused_with_the_reason(argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        parse_args(argv)


def test_invalid_yaml_only_settings_are_refused_with_the_reason(tmp_path: Path) -> None:
    config_file = tmp_path / "sepia.yaml"
    config_file.write_text("degrade:\n  emulsion:\n    kinds: [sepia]\n")
    with pytest.raises(SystemExit, match="emulsion kinds: choose one or more of blue-sensitive"):
        parse_args(["--config", str(config_file)])


def test_unknown_yaml_keys_are_errors(tmp_path: Path) -> None:
    config_file = tmp_path / "typo.yaml"
    config_file.write_text("gan:\n  lr_critc: 1e-4\n")
    with pytest.raises(SystemExit, match="does not accept option 'lr_critc'"):
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
    with pytest.raises(SystemExit, match=f"--config {config_file}: cannot read it as YAML") as raised:
        parse_args(["--config", str(config_file)])
    assert "\n" not in str(raised.value)


def _help_options(text: str) -> list[str]:
    """The options --help offers: each line that starts an option's entry."""
    return re.findall(r"^  (-h|--[\w.]+)", text, flags=re.MULTILINE)


def test_help_offers_few_options_grouped_by_phase_each_explained() -> None:
    result = subprocess.run([sys.executable, "train/nogan.py", "--help"], cwd=REPO, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    text = result.stdout
    options = _help_options(text)
    assert len(options) <= MAX_OPTIONS, f"{len(options)} options in --help"
    assert len(options) == len(set(options))
    for name, field in _fields(TrainConfig).items():
        if name.split(".")[0] in YAML_ONLY:
            assert f"--{name} " not in text and f"--{name}\n" not in text
        else:
            assert f"--{name}" in options and field.metadata["help"].split()[0] in text
    groups = [line for line in text.splitlines() if line.startswith("Phase ")]
    assert [g.split(",")[1].split(":")[0].strip() for g in groups] == list(PHASES)
    assert "docs/training-config.md" in text


def test_the_reference_page_lists_every_field_with_its_default() -> None:
    """docs/training-config.md is what `python -m train.config` writes now, and covers every field."""
    page = (REPO / "docs" / "training-config.md").read_text()
    assert page == reference()
    for name in _fields(TrainConfig):
        assert f"| `{name}` |" in page
    row = next(line for line in page.splitlines() if line.startswith("| `degrade.noise.sigma` |"))
    assert "`[0.01, 0.05]`" in row and "grain standard deviation" in row


def test_the_generator_section_takes_a_preset_then_single_fields(tmp_path: Path) -> None:
    assert TrainConfig().generator == preset("stable")  # the default without a preset
    assert parse_args(["--generator_preset", "tiny"]).generator == preset("tiny")
    config_file = tmp_path / "run.yaml"
    config_file.write_text("generator_preset: lite\ngenerator:\n  middle_channels: 64\n  restore: true\n")
    config = parse_args(["--config", str(config_file)])
    assert (config.generator.decoder_channels, config.generator.middle_channels) == (preset("lite").decoder_channels, 64)
    assert config.generator.restore is True and config.generator.encoder == preset("lite").encoder
    # the command line's preset replaces the recipe's; the recipe's single fields still apply
    config = parse_args(["--config", str(config_file), "--generator_preset", "tiny"])
    assert config.generator.encoder == preset("tiny").encoder and config.generator.middle_channels == 64
    config_file.write_text("generator:\n  encoder: no_such_net\n")
    with pytest.raises(SystemExit, match="not a timm model"):
        parse_args(["--config", str(config_file)])


def test_plan_repeats_critic_pretraining_and_gan_for_each_cycle() -> None:
    config = parse_args(["--cycles", "2", "--pretrain.steps", "[3, 2, 1]", "--critic_pretrain.steps", "4",
                         "--gan.steps", "5"])
    phases = plan(config)
    assert [p.label for p in phases] == ["pretrain-g", "pretrain-critic-1", "gan-1", "pretrain-critic-2", "gan-2"]
    assert [p.start for p in phases] == [0, 6, 10, 15, 19]
    assert [(s.size, s.end) for s in phases[0].stages()] == [(64, 3), (128, 5), (192, 6)]
    gan = phases[2].stages()[0]
    assert gan.lr_critic > gan.lr_generator


def test_each_phase_holds_its_own_behaviour() -> None:
    config = parse_args(["--pretrain.freeze_encoder_steps", "2", "--checkpoint_every", "7",
                         "--gan.checkpoint_every", "3"])
    pretrain_g, pretrain_critic, gan = plan(config)
    assert [type(p) for p in (pretrain_g, pretrain_critic, gan)] == [PretrainGenerator, PretrainCritic, Gan]
    assert PHASES == ("pretrain-g", "pretrain-critic", "gan")  # the --phase choices, spelt once in train/phases.py
    assert [p.config for p in (pretrain_g, pretrain_critic, gan)] == [config.pretrain, config.critic_pretrain,
                                                                     config.gan]
    assert [p.exports for p in (pretrain_g, pretrain_critic, gan)] == [("generator",), ("critic",),
                                                                      ("generator", "critic")]
    assert (pretrain_g.betas, pretrain_critic.betas, gan.betas) == (PRETRAIN_BETAS, PRETRAIN_BETAS, GAN_BETAS)
    assert [p.checkpoint_every for p in (pretrain_g, pretrain_critic, gan)] == [7, 7, 3]
    assert [pretrain_g.encoder_frozen(s) for s in range(3)] == [True, True, False]
    assert not gan.encoder_frozen(0) and not pretrain_critic.trains_generator
    assert set(gan.learning_rates(gan.stages()[0])) == {"lr_generator", "lr_critic"}
    assert set(pretrain_critic.learning_rates(pretrain_critic.stages()[0])) == {"lr_critic"}


def test_a_phase_run_alone_is_numbered_as_in_the_whole_plan() -> None:
    config = parse_args(["--phase", "gan", "--pretrain.steps", "[3, 2, 1]", "--critic_pretrain.steps", "4"])
    (phase,) = plan(config)
    assert (phase.label, phase.start) == ("gan-1", 10)


def _merge(base: dict, written: dict) -> dict:
    """`base` with every value of the YAML mapping `written` put in (nested mappings merged)."""
    out = dict(base)
    for key, value in written.items():
        out[key] = _merge(base[key], value) if isinstance(value, dict) else value
    return out


def _same(taken: object, expected: object) -> bool:
    if isinstance(expected, dict):
        return isinstance(taken, dict) and taken.keys() == expected.keys() and all(
            _same(taken[k], expected[k]) for k in expected)
    if isinstance(expected, (list, tuple)):
        return isinstance(taken, list) and len(taken) == len(expected) and all(map(_same, taken, expected))
    if isinstance(taken, float) and not isinstance(expected, bool):
        return taken == pytest.approx(float(expected))  # YAML 1.1 reads 3e-4 as a string
    return taken == expected


@pytest.mark.parametrize("config_file", sorted((REPO / "train" / "configs").glob("*.yaml")),
                         ids=lambda path: path.name)
def test_every_shipped_recipe_means_what_it_says(config_file: Path) -> None:
    """A recipe in train/configs is what a reader reruns. The whole configuration it gives is the defaults,
    the generator section replaced by its generator_preset, then every value the file writes, and nothing
    else: the same rule the loader before jsonargparse followed. The weights it starts from are there."""
    written = yaml.safe_load(config_file.read_text())
    expected = to_dict(TrainConfig())
    if written.get("generator_preset"):
        expected["generator"] = to_dict(preset(written["generator_preset"]))
    expected = _merge(expected, written)
    taken = to_dict(parse_args(["--config", str(config_file)]))
    differ = [k for k in expected if not _same(taken[k], expected[k])]
    assert not differ, {k: (taken[k], expected[k]) for k in differ}
    if taken["init_generator"] is not None:
        assert (REPO / taken["init_generator"] / "config.json").is_file()


def test_the_defaults_are_the_dataclasses() -> None:
    assert parse_args([]) == TrainConfig()
    assert all(dataclasses.is_dataclass(getattr(TrainConfig(), name)) for name in YAML_ONLY)


def test_help_without_the_training_requirements_says_what_to_install(tmp_path: Path) -> None:
    """A Python that lacks torch and the rest (here: one that sees no site-packages) gets one line, no traceback."""
    result = subprocess.run([sys.executable, "-S", "-s", str(REPO / "train" / "nogan.py"), "--help"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install -r requirements-train.txt" in lines[0], result.stderr
    assert not result.stdout


def test_the_script_without_the_project_installed_says_how_to_install_it(tmp_path: Path) -> None:
    """`python train/nogan.py` from the repo root, without `pip install -e .` or PYTHONPATH: one line."""
    env = {"PATH": "/usr/bin:/bin:" + str(Path(sys.executable).parent), "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "train/nogan.py", "--print_config"], cwd=REPO, capture_output=True,
                            text=True, timeout=120, env=env)
    assert result.returncode != 0 and not result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install -e ." in lines[0], result.stderr
