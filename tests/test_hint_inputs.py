"""Hints as they arrive (colorizer.io.hints): painted layers as regions, and limits checked before parsing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

from colorizer.errors import HintError
from colorizer.io.hints import (MAX_HINTS, MAX_HINTS_TEXT, Region, hints_from_text, load_hints_file, parse_hints,
                                regions_from_paint)
from colorizer.pipelines.colorizer import Colorizer
from colorizer.pipelines.hints import hint_ab, rasterize
from tests.conftest import lab_of, real_photo, run_cli

OFFLINE = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}


def _brush(size: tuple[int, int], strokes: list[tuple[tuple[int, int], tuple[int, int], tuple[int, int, int]]],
           width: int = 12) -> Image.Image:
    """A transparent layer with round-capped brush strokes ((start, end, colour)), antialiased edges included."""
    layer = Image.new("RGBA", (size[0] * 4, size[1] * 4), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for (x0, y0), (x1, y1), colour in strokes:
        draw.line((x0 * 4, y0 * 4, x1 * 4, y1 * 4), fill=(*colour, 255), width=width * 4, joint="curve")
        for x, y in ((x0, y0), (x1, y1)):
            draw.ellipse((4 * x - 2 * width, 4 * y - 2 * width, 4 * x + 2 * width, 4 * y + 2 * width), fill=(*colour, 255))
    return layer.resize(size, Image.Resampling.LANCZOS)  # soft, half-transparent edges as a brush leaves them


def test_four_ordinary_strokes_are_four_regions():
    """Four 12 px strokes 400 px long on a 512 px photo: four hints, not one per painted row; strokes
    painted across them cut them, and the seams where they cross are no patches of their own."""
    colours = [(165, 42, 42), (46, 94, 140), (63, 127, 63), (217, 179, 140)]
    strokes = [((56, 60 + 110 * i), (456, 60 + 110 * i), c) for i, c in enumerate(colours)]
    regions = regions_from_paint(_brush((512, 512), strokes), (512, 512))
    assert len(regions) == 4 and [r.color for r in regions] == colours
    assert len(parse_hints(regions)) == 4  # well within the cap
    mask, target = rasterize(regions, (512, 512), (128, 128))
    assert mask[15, 64] and np.hypot(*(target[:, 15, 64] - hint_ab(colours[0]))) < 1  # on the first stroke
    assert not mask[30, 64]  # between the strokes: unpainted
    assert 0.05 < mask.mean() < 0.15  # about the strokes' share of the photo (0.09), not a box around them
    crossed = regions_from_paint(_brush((512, 512), [*strokes, ((250, 20), (260, 480), (242, 209, 107))]), (512, 512))
    assert len(crossed) == 9 and {r.color for r in crossed} == {*colours, (242, 209, 107)}  # each cut in two


def test_a_region_lands_on_the_photo_whatever_the_canvas_size():
    layer = Image.new("RGBA", (100, 50), (0, 0, 0, 0))
    layer.paste((255, 0, 0, 255), (10, 10, 30, 20))
    layer.paste((0, 0, 255, 100), (50, 30, 61, 31))  # half-transparent brush edge: ignored
    [region] = regions_from_paint(layer, (200, 100))  # the photo is twice the canvas
    assert region.color == (255, 0, 0) and region.box == (20.0, 20.0, 60.0, 40.0) and region.mask.all()
    mask, _ = rasterize([region], (200, 100), (200, 25))  # cells 8 px wide and 0.5 px high; the canvas's 2 x 2
    assert mask[40:80, 2:7].all()  # every cell the region covers, rows 40-79 for y 20-40, columns 2-6 for x 20-56 ...
    assert mask.sum() - mask[40:80, 2:8].sum() == 0  # ... and the half-covered column 7 (x 56-64) at most


def test_paint_of_thousands_of_dots_is_refused_with_what_to_do():
    noise = np.zeros((200, 200, 4), np.uint8)
    noise[::2, ::2] = (200, 30, 30, 255)  # 10,000 separate dots
    with pytest.raises(HintError, match=f"10000 separate patches of paint, more than {MAX_HINTS}; paint fewer, larger"):
        regions_from_paint(Image.fromarray(noise), (200, 200))


def test_a_painted_stroke_colours_its_place_through_the_model():
    colorizer = Colorizer.from_pretrained(None)
    gray = real_photo("coffee.png", 192).convert("L")
    layer = _brush(gray.size, [((20, 100), (60, 100), (46, 94, 140))], width=6)
    out = lab_of(colorizer.colorize(gray, render_size=192, hints=regions_from_paint(layer, gray.size)))
    assert np.hypot(*(out[1:, 98:103, 30:50].mean(axis=(1, 2)) - hint_ab((46, 94, 140)))) < 10


@pytest.mark.parametrize(("text", "message"), [
    ("[" * 100_000 + "]" * 100_000, "hints: not valid JSON (nested too deeply)"),
    ('[{"x": 1' + "0" * 400 + ', "y": 1, "color": "#ff0000"}]', "hints: hint 0: coordinate 1000000000"),
    ('[{"x": 1' + "0" * 5000 + ', "y": 1, "color": "#ff0000"}]', "hints: not valid JSON"),
    ('[[1e999, 1, "#ff0000"]]', "hints: hint 0: coordinate inf is not a finite number"),
    ("[" * 50 + "]" * 50, "hints: hint 0: "),
    (" " * (MAX_HINTS_TEXT + 1), f"hints: {MAX_HINTS_TEXT + 1:,} characters is more than {MAX_HINTS_TEXT:,}"),
])
def test_malformed_hint_texts_are_one_line_messages(text, message):
    with pytest.raises(HintError) as error:
        hints_from_text(text)
    assert str(error.value).startswith(message) and "\n" not in str(error.value) and len(str(error.value)) < 300


def test_a_huge_hints_text_is_refused_before_it_is_parsed():
    """76 MB of valid JSON points: refused on its length, so none of it becomes Python objects."""
    text = "[" + ",".join(['[1, 1, "#ff0000"]'] * 4_000_000) + "]"
    assert len(text) > 70_000_000
    with pytest.raises(HintError, match="characters is more than"):
        hints_from_text(text)


@pytest.mark.parametrize(("content", "message"), [
    ("[" * 100_000, "not valid JSON (nested too deeply)"),
    ('[{"x": 1' + "0" * 400 + ', "y": 1, "color": "#ff0000"}]', "hint 0: coordinate 1000000000"),
    ("[" + " " * MAX_HINTS_TEXT + "]", f"more than {MAX_HINTS_TEXT:,} bytes"),
])
def test_the_cli_refuses_bad_hints_files_in_one_line_with_exit_2(tmp_path, content, message):
    real_photo("coffee.png", 64).convert("L").save(tmp_path / "a.png")
    hints = tmp_path / "hints.json"
    hints.write_text(content)
    with pytest.raises(HintError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_hints_file(hints)
    run = run_cli(str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--hints", str(hints), env=OFFLINE)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "a.png").exists()


def test_a_region_given_in_python_is_checked():
    good = Region(np.ones((2, 2), bool), (0, 0, 10, 10), "#ff0000")
    assert parse_hints([good])[0].color == (255, 0, 0)
    with pytest.raises(HintError, match="hint 0: a region's mask"):
        parse_hints([Region(np.zeros((2, 2), bool), (0, 0, 10, 10), "#ff0000")])
    with pytest.raises(HintError, match="hint 0: a region's box"):
        parse_hints([Region(np.ones((2, 2), bool), (10, 0, 0, 10), "#ff0000")])
