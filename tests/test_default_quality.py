"""The shipped default keeps its measured quality: real held-out photos (tests/data/holdout, never
trained on, chosen before the weights were trained) through the real embedded weights, scored by
`colorizer.evaluate` against the gray baseline. A retrained default that regresses fails here.

PSNR and ab error reward dull colour, so the colour a person sees leads: hue hits (the share of clearly
coloured pixels given their hue), then PSNR and ab error against gray, the photos better than gray and the
colourfulness gap (docs/experiments/out-of-sepia-2.md, round five). Measured on these five photos with the
shipped weights (which trained on their sources, not on them), at the default settings (render size 384,
the mirror mean): hue hits 0.600 (the default before: 0.495), PSNR +1.99 dB over gray, ab error 3.37 below
gray's, better than gray on 4 of 5 (the sea misses by 0.27 dB), colourfulness gap +3.8 against gray's
-41.4. A sixth photo, a meadow from a package reserved for independent evaluation, lives in
tests/data/reserved and is no test of quality.
The bars leave room for noise (other torch versions, CPUs), not for a model that paints sepia.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from colorizer.evaluate import evaluate
from colorizer.pipelines.colorizer import Colorizer
from tests.conftest import lab_of

HOLDOUT = Path(__file__).parent / "data" / "holdout"
HUE_HITS_MIN = 0.55  # mean over the five photos (measured 0.600; the default before it 0.495)
PSNR_MARGIN = 1.5  # dB over gray, mean of the five photos (measured 1.99)
AB_MARGIN = 2.5  # Lab units below gray's mean ab error (measured 3.37)
MIN_WINS = 4  # photos of the five where PSNR beats gray (measured 4)
CF_GAP_FRACTION = 0.3  # |colourfulness gap| at most this fraction of gray's (measured 0.09)


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer.from_pretrained(device="cpu")


@pytest.fixture(scope="module")
def report(colorizer):
    return evaluate(HOLDOUT, colorizer)


def test_it_gets_the_hues_right(report):
    assert report.mean()["ours"].hue_hits >= HUE_HITS_MIN


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


@pytest.mark.xfail(strict=True, reason="the default paints this pasture a neutral beige-green "
                   "(a = +0.2; its model card says so); a default that gets it green must drop this mark")
def test_grass_is_green_not_beige(colorizer):
    a, _ = _mean_ab(colorizer, "cow.jpg", slice(-40, None))  # the cow's pasture; the original's a = -12
    assert a < -5  # green has negative a; beige and sepia have positive a


def test_open_sky_is_blue(colorizer):
    _, b = _mean_ab(colorizer, "colosseum.jpg", slice(0, 25), slice(0, 50))  # clear sky, top left; original b = -33
    assert b < 0  # blue has negative b
