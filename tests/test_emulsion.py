"""Old emulsions' grays: what each film makes of colours, and how training draws them."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import skimage.data
from PIL import Image

from colorizer.color import gray_of
from colorizer.evaluate.degrade import MAX_SPREAD, EmulsionConfig, photograph
from colorizer.evaluate.emulsion import EMULSIONS, check_weights, emulsion_gray

LUMINANCE = (0.2126, 0.7152, 0.0722)  # sRGB's Y row: the eye's lightness


def swatch(rgb: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", (4, 4), rgb)


def level(image: Image.Image) -> int:
    values = np.unique(np.asarray(image))
    assert values.size == 1
    return int(values[0])


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return Image.fromarray(skimage.data.astronaut()).resize((96, 96))


def test_the_eyes_weights_give_the_eyes_gray(photo):
    eye, film = np.asarray(gray_of(photo), np.int16), np.asarray(emulsion_gray(photo, LUMINANCE), np.int16)
    assert np.abs(eye - film).max() <= 1  # rounding only


@pytest.mark.parametrize("name", EMULSIONS)
def test_white_stays_white_and_black_black(name):
    assert level(emulsion_gray(swatch((255, 255, 255)), EMULSIONS[name])) == 255
    assert level(emulsion_gray(swatch((0, 0, 0)), EMULSIONS[name])) == 0


def test_each_film_sees_colours_as_its_era_did():
    red, blue = swatch((200, 30, 30)), swatch((60, 90, 220))
    eye = {"red": level(gray_of(red)), "blue": level(gray_of(blue))}
    for name in ("blue-sensitive", "orthochromatic"):  # blind to red: red lips black, skies white
        assert level(emulsion_gray(red, EMULSIONS[name])) < eye["red"] - 40
        assert level(emulsion_gray(blue, EMULSIONS[name])) > eye["blue"] + 20
    red_filter = EMULSIONS["red-filter"]  # the other way round: pale reds, dark skies
    assert level(emulsion_gray(red, red_filter)) > eye["red"] + 20
    assert level(emulsion_gray(blue, red_filter)) < eye["blue"] - 10


@pytest.mark.parametrize("weights", [(1.0, -0.1, 0.1), (0.0, 0.0, 0.0), (math.nan, 0.5, 0.5), (0.5, 0.5)])
def test_weights_that_are_no_emulsion_are_refused(weights):
    with pytest.raises(ValueError, match="three non-negative channel weights"):
        check_weights(weights)


def test_weights_are_scaled_to_keep_white_white():
    assert check_weights((2.0, 1.0, 1.0)) == pytest.approx((0.5, 0.25, 0.25))


def test_training_draws_the_eyes_gray_or_a_jittered_emulsion(photo):
    eye = np.asarray(gray_of(photo))
    never = EmulsionConfig(p=0.0)
    assert np.array_equal(np.asarray(photograph(photo, never, np.random.default_rng(1))), eye)
    exact = EmulsionConfig(p=1.0, kinds=["orthochromatic"], spread=0.0)
    assert np.array_equal(np.asarray(photograph(photo, exact, np.random.default_rng(1))),
                          np.asarray(emulsion_gray(photo, EMULSIONS["orthochromatic"])))
    jittered = [np.asarray(photograph(photo, replace(exact, spread=0.2), np.random.default_rng(seed)))
                for seed in range(3)]
    assert not np.array_equal(jittered[0], jittered[1]) and not np.array_equal(jittered[1], jittered[2])
    again = np.asarray(photograph(photo, replace(exact, spread=0.2), np.random.default_rng(0)))
    assert np.array_equal(again, jittered[0])  # one seed, one gray


@pytest.mark.parametrize("p, low, high", [(0.0, 0, 0), (0.5, 70, 130)])
def test_p_is_the_share_of_photos_that_get_an_old_film(photo, p, low, high):
    eye = np.asarray(gray_of(photo))
    rng = np.random.default_rng(0)
    films = sum(not np.array_equal(np.asarray(photograph(photo, EmulsionConfig(p=p), rng)), eye) for _ in range(200))
    assert low <= films <= high
    assert EmulsionConfig().p == 0.0  # off unless asked for: one run with it did not help the colour


@pytest.mark.parametrize("settings, message", [
    ({"kinds": ["sepia"]}, "choose one or more of blue-sensitive"),
    ({"kinds": []}, "choose one or more"),
    ({"spread": MAX_SPREAD + 0.01}, f"spread between 0 and {MAX_SPREAD}"),
    ({"p": 1.5}, "p must be between 0 and 1"),
])
def test_emulsion_settings_that_cannot_work_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        EmulsionConfig(**settings)
