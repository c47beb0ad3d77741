"""The figure tools for docs/ (tools/compare_sheet.py, tools/examples_sheet.py), run as a person runs them."""

from PIL import Image

from tests.conftest import real_photo, run_tool


def _folders(tmp_path, names=("coffee", "chelsea")):
    columns = []
    for column in ("gray", "ours"):
        folder = tmp_path / column
        folder.mkdir()
        for name in names:
            real_photo(f"{name}.png", size=48).save(folder / f"{name}.png")
        columns.append(folder)
    return columns


def test_compare_sheet_writes_a_row_per_photo(tmp_path):
    gray, ours = _folders(tmp_path)
    result = run_tool("compare_sheet.py", "--out", str(tmp_path / "sheet.jpg"),
                      "--column", "gray", str(gray), "--column", "ours", str(ours))
    assert result.returncode == 0, result.stderr
    assert "2 rows" in result.stdout
    sheet = Image.open(tmp_path / "sheet.jpg")
    assert sheet.format == "JPEG" and sheet.height > sheet.width / 2  # two rows of two columns


def test_compare_sheet_refuses_bad_input_in_one_line_and_writes_nothing(tmp_path):
    gray, ours = _folders(tmp_path)
    out = tmp_path / "sheet.png"
    (ours / "chelsea.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    cases = {
        "chelsea.png: not an image": ["--out", str(out), "--column", "gray", str(gray), "--column", "ours", str(ours)],
        "is not a folder": ["--out", str(out), "--column", "gray", str(gray), "--column", "x", str(tmp_path / "no")],
        "unknown image extension": ["--out", str(tmp_path / "sheet.txt"), "--column", "gray", str(gray)],
        "no images in": ["--out", str(out), "--column", "empty", str(tmp_path)],
    }
    for message, args in cases.items():
        result = run_tool("compare_sheet.py", *args)
        assert result.returncode == 1 and message in result.stderr, (message, result.stderr)
        assert "Traceback" not in result.stderr
    assert not out.exists() and not (tmp_path / "sheet.txt").exists()


def test_examples_sheet_refuses_bad_weights_or_extension_in_one_line(tmp_path):
    missing = tmp_path / "no-such-weights"
    for args, message in ((["--out", str(tmp_path / "x.png"), "--weights", str(missing)], str(missing)),
                          (["--out", str(tmp_path / "x.doc")], "unknown image extension")):
        result = run_tool("examples_sheet.py", *args)
        assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_examples_sheet_colorizes_every_shipped_example(tmp_path, tiny_weights):
    result = run_tool("examples_sheet.py", "--out", str(tmp_path / "examples.png"), "--weights", str(tiny_weights),
                      "--render-size", "64")
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "examples.png").size[1] > 3 * 64  # a row per example photo


def test_hint_stroke_sheet_shows_the_stroke_colour_its_place_only(tmp_path):
    """The README's one-stroke picture: the third panel differs from the first where the stroke is, and
    the table far from it is as it was."""
    import numpy as np

    result = run_tool("hint_stroke_sheet.py", "--out", str(tmp_path / "stroke.png"))
    assert result.returncode == 0, result.stderr
    sheet = np.asarray(Image.open(tmp_path / "stroke.png").convert("RGB"), dtype=int)
    third = (sheet.shape[1] + 4) // 3  # each panel's width with its gap
    automatic, hinted = sheet[16:, :third - 4], sheet[16:, 2 * third:]
    scale = automatic.shape[1] / 600  # the coffee example is 600 px wide
    saucer = (round(270 * scale), round(115 * scale))  # (row, column) beside the stroke
    table = (round(60 * scale), round(560 * scale))  # the table's far corner
    assert np.abs(hinted[saucer] - automatic[saucer]).max() > 20
    assert np.abs(hinted[table] - automatic[table]).max() <= 3
