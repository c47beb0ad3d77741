"""Restoration path: tiles cover the photo exactly, scratches are repaired end to end."""


import numpy as np
import pytest
import torch
from PIL import Image

from colorizer import color
from colorizer.color import lightness_to_image
from colorizer.evaluate.degrade import DegradeConfig, degrade
from colorizer.models.generator import Generator, preset
from colorizer.pipelines.colorizer import Colorizer
from colorizer.pipelines.restore import RestoreOptions, in_tiles, learned_step
from tests.conftest import lightness_of, real_photo, run_cli


@pytest.fixture(scope="module")
def restore_weights(tmp_path_factory):
    config = preset("tiny")
    config.restore = True
    folder = tmp_path_factory.mktemp("restore-weights")
    Generator(config).save_pretrained(folder)  # untrained: passes lightness through exactly
    return folder


def scratched_photo() -> tuple[Image.Image, Image.Image]:
    """(clean, damaged) gray versions of a real photo; the damage is scratches and dust only."""
    clean = real_photo("camera.png", size=384).convert("L")
    config = DegradeConfig()
    for name in ("fade", "tone", "stain", "blur", "noise", "resize", "jpeg"):
        getattr(config, name).p = 0.0
    config.scratch.p = config.dust.p = 1.0
    config.scratch.count = (4, 6)
    return clean, degrade(clean, config, np.random.default_rng(3))


@pytest.mark.parametrize("tile,overlap", [(64, 8), (96, 16), (512, 32)])
def test_tiles_put_every_pixel_back_in_place(restore_weights, tile, overlap):
    model = Generator.from_pretrained(restore_weights, strict=True).eval()
    lightness = color.gray_to_l(torch.rand(1, 150, 233))
    out = in_tiles(lightness, learned_step(model, torch.device("cpu")), tile=tile, overlap=overlap)
    assert torch.allclose(out, lightness, atol=1e-3)  # identity model: any misplaced tile would show


def test_a_photo_that_fits_a_tile_is_done_whole_and_larger_ones_in_equal_tiles():
    shapes = []

    def step(tile: torch.Tensor) -> torch.Tensor:
        shapes.append(tuple(tile.shape[1:]))
        return tile

    in_tiles(torch.zeros(1, 512, 512), step, tile=512, overlap=32)
    assert shapes == [(512, 512)]
    shapes.clear()
    in_tiles(torch.zeros(1, 300, 1000), step, tile=512, overlap=32)
    assert shapes == [(300, 512)] * 3  # no thin strip left over at the right edge
    with pytest.raises(ValueError, match="twice its overlap"):
        in_tiles(torch.zeros(1, 300, 1000), step, tile=64, overlap=32)


def test_a_step_that_sets_tone_per_tile_leaves_no_seam():
    """Like the learned step, which corrects fading from what its tile shows: each tile is shifted to a
    mean of 50, so neighbouring tiles disagree by several L units. They must cross-fade, not meet."""
    ramp = torch.linspace(20.0, 80.0, 1000).expand(1, 200, 1000).contiguous()
    out = in_tiles(ramp, lambda tile: tile - tile.mean() + 50.0, tile=256, overlap=32)
    disagreement = 60.0 * (1000 - 256) / 4 / 1000  # the shift between neighbouring tiles' means
    steps = out[0].diff(dim=1).abs()
    assert steps.max() < 0.25 * disagreement, (float(steps.max()), disagreement)


def test_lightness_image_round_trip():
    image = real_photo("camera.png", size=64).convert("L")
    assert np.array_equal(np.asarray(lightness_to_image(color.lightness_of(image))), np.asarray(image))


def test_restore_removes_scratches_end_to_end(restore_weights):
    clean, damaged = scratched_photo()
    colorizer = Colorizer.from_pretrained(str(restore_weights), device="cpu")
    assert colorizer.can_restore
    options = RestoreOptions(auto_levels=False, remove_scratches=True)
    plain = colorizer.colorize(damaged, render_size=64)
    restored = colorizer.colorize(damaged, render_size=64, restore=options)
    assert restored.size == clean.size
    marks = np.abs(np.asarray(damaged, dtype=float) - np.asarray(clean, dtype=float)) > 20
    truth = lightness_of(clean)
    error_plain = np.abs(lightness_of(plain) - truth)[marks].mean()
    error_restored = np.abs(lightness_of(restored) - truth)[marks].mean()
    assert error_restored < 0.7 * error_plain  # much of the damage is gone (detection is not perfect)


def test_cli_restore_with_weights_that_cannot_restore(tmp_path, tiny_weights):
    _, damaged = scratched_photo()
    damaged.save(tmp_path / "old.png")
    result = run_cli(str(tmp_path / "old.png"), "-o", str(tmp_path / "out"),
                     "--weights", str(tiny_weights), "--restore", "--render-size", "64")
    assert result.returncode == 0, result.stderr
    assert "classical steps only" in result.stderr
    out = Image.open(tmp_path / "out" / "old.png")
    assert out.size == damaged.size
    assert np.abs(lightness_of(out) - lightness_of(damaged)).mean() > 0.5  # it did change the tones


def test_classical_steps_stand_in_only_for_weights_that_cannot_restore():
    auto = RestoreOptions()
    assert auto.resolved(can_restore=True) == RestoreOptions(False, False, True, True, 512, 32)
    assert auto.resolved(can_restore=False) == RestoreOptions(True, True, False, True, 512, 32)
    explicit = RestoreOptions(auto_levels=True, learned=False, denoise=False)
    assert explicit.resolved(can_restore=True) == RestoreOptions(True, True, False, False, 512, 32)
