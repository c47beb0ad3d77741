"""Colour suggestions (colorizer.suggest): real photos through the real model."""

from __future__ import annotations

import numpy as np
import pytest

from colorizer import HintError, suggest
from colorizer.pipelines.colorizer import Colorizer
from colorizer.pipelines.suggest import DISTINCT
from tests.conftest import REPO, lab_of, lightness_of, real_photo


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer.from_pretrained(None)


def test_suggestions_start_with_the_automatic_colour_and_are_usable_as_hints(colorizer):
    gray = real_photo("coffee.png", 256).convert("L")
    x, y = 40, 120  # the table, left of the saucer
    found = suggest(gray, x, y, colorizer)
    assert 2 <= len(found) <= 5
    automatic = lab_of(colorizer.colorize(gray))[1:, y, x]
    assert np.hypot(*(np.array(found[0].ab) - automatic)) < 6  # the first: what colorize paints there
    for i, s in enumerate(found):  # each shown at the point's lightness, each told apart from the others
        assert abs(lightness_of(_swatch(s.color))[0, 0] - lightness_of(gray)[y, x]) < 1.5
        assert all(np.hypot(s.ab[0] - t.ab[0], s.ab[1] - t.ab[1]) >= DISTINCT for t in found[:i])
    hinted = lab_of(colorizer.colorize(gray, hints=[(x, y, found[1].hex)]))[1:, y, x]
    assert np.hypot(*(hinted - np.array(found[1].ab))) < 5  # a suggestion taken as a hint is what one gets


def test_a_point_outside_the_photo_is_a_hint_error(colorizer):
    with pytest.raises(HintError, match=r"\(300, 5\) is outside the photo \(256x171 pixels\)"):
        suggest(real_photo("coffee.png", 256).convert("L"), 300, 5, colorizer)


def test_the_true_colour_is_among_the_first_three_more_often_than_it_is_the_automatic_one(colorizer):
    """On the test holdout's colour photos and three of scikit-image's, at 6 random points each: the first
    three suggestions hold the true colour (within 15 ab) clearly more often than the automatic colour
    alone is it (on photos of unseen sources: 65.0 % against 44.3 %, docs/BENCHMARKS.md)."""
    from PIL import Image

    from colorizer.color import gray_of

    photos = [Image.open(p).convert("RGB") for p in sorted((REPO / "tests" / "data" / "holdout").glob("*.jpg"))]
    photos += [real_photo(name, 256) for name in ("astronaut.png", "chelsea.png", "coffee.png")]
    hits = np.zeros(2)
    for original in photos:
        gray, truth = gray_of(original), lab_of(original)[1:]
        rng = np.random.default_rng(0)
        for x, y in zip(rng.integers(0, original.width, 6), rng.integers(0, original.height, 6)):
            near = [np.hypot(s.ab[0] - truth[0, y, x], s.ab[1] - truth[1, y, x]) <= 15
                    for s in suggest(gray, int(x), int(y), colorizer, count=3)]
            hits += [near[0], any(near)]
    assert hits[1] >= hits[0] + 3, hits  # of 48 points (the default: 28 against 23)


def _swatch(rgb: tuple[int, int, int]):
    from PIL import Image

    return Image.new("RGB", (1, 1), rgb)
