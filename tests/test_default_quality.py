"""The shipped default keeps its measured quality: real held-out photos (tests/data/holdout, never
trained on, chosen before the weights were trained) through the real embedded weights, scored by
`colorizer.evaluate` against the gray baseline. A retrained default that regresses fails here.

Measured on these five photos with the shipped weights (which trained on their sources, not on them), at
the default settings (render size 384, the mirror mean): PSNR +1.72 dB over gray, ab error 3.77 below
gray's, better than gray on 3 of 5 (the sea and Mont Saint-Michel miss by under 0.5 dB), colourfulness gap
+1.7 against gray's -41.4. A sixth photo, a meadow from a package reserved for independent evaluation,
lives in tests/data/reserved and is no test of quality.
The bars leave room for noise (other torch versions, CPUs), not for a model that paints sepia.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from colorizer.evaluate import evaluate
from colorizer.pipelines.colorizer import Colorizer
from tests.conftest import lab_of

HOLDOUT = Path(__file__).parent / "data" / "holdout"
PSNR_MARGIN = 1.2  # dB over gray, mean of the five photos (measured 1.72)
AB_MARGIN = 2.5  # Lab units below gray's mean ab error (measured 3.77)
MIN_WINS = 3  # photos of the five where PSNR beats gray (measured 3)
CF_GAP_FRACTION = 0.3  # |colourfulness gap| at most this fraction of gray's (measured 0.04)


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer.from_pretrained(device="cpu")


@pytest.fixture(scope="module")
def report(colorizer):
    return evaluate(HOLDOUT, colorizer)


def test_it_beats_gray_on_average_by_a_clear_margin(report):
    mean = report.mean()
    assert len(report.images) == 5 and not report.skipped
    assert mean["ours"].psnr - mean["gray"].psnr >= PSNR_MARGIN
    assert mean["ours"].ab_error < mean["gray"].ab_error - AB_MARGIN


def test_it_beats_gray_on_most_photos(report):
    wins = [r.name for r in report.images if r.scores["ours"].psnr > r.scores["gray"].psnr]
    assert len(wins) >= MIN_WINS, wins


def test_its_colour_is_not_muted(report):
    mean = report.mean()
    assert abs(mean["ours"].delta_cf) <= CF_GAP_FRACTION * abs(mean["gray"].delta_cf)


def _mean_ab(colorizer: Colorizer, name: str, rows: slice, cols: slice = slice(None)) -> tuple[float, float]:
    """Mean (a, b) of a region of the colorized photo."""
    lab = lab_of(colorizer.colorize(HOLDOUT / name))[:, rows, cols]
    return float(lab[1].mean()), float(lab[2].mean())


@pytest.mark.xfail(strict=True, reason="the default trained without the reserved photos paints this pasture beige "
                   "(a = +5.7; its model card says so); a default that gets it green must drop this mark")
def test_grass_is_green_not_beige(colorizer):
    a, _ = _mean_ab(colorizer, "cow.jpg", slice(-40, None))  # the cow's pasture; the original's a = -12
    assert a < -5  # green has negative a; beige and sepia have positive a


def test_open_sky_is_blue(colorizer):
    _, b = _mean_ab(colorizer, "colosseum.jpg", slice(0, 25), slice(0, 50))  # clear sky, top left; original b = -33
    assert b < 0  # blue has negative b
