"""The command line, run as a user runs it: a real subprocess over real files."""

import hashlib
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from colorizer.io import provenance
from tests.conftest import CHECKOUT_ENV, REPO, lightness_of, png_claiming, real_photo, run_cli
from tools.test_film import write_stream


def test_folder_with_a_corrupt_file(tmp_path, tiny_weights):
    photos = tmp_path / "photos"
    (photos / "nested").mkdir(parents=True)
    real_photo("camera.png", size=120).convert("L").save(photos / "camera.png")
    real_photo("chelsea.png", size=100).save(photos / "nested" / "cat.jpg")
    (photos / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    before = {p: p.read_bytes() for p in photos.rglob("*") if p.is_file()}
    out = tmp_path / "out"

    result = run_cli(str(photos), "-o", str(out), "--weights", str(tiny_weights), "--render-size", "64")

    assert result.returncode == 1
    assert "corrupt.jpg" in result.stderr and "not an image" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["camera.png", "cat.png"]
    for name, source in (("camera.png", photos / "camera.png"), ("cat.png", photos / "nested" / "cat.jpg")):
        made, original = Image.open(out / name), Image.open(source)
        assert made.size == original.size
        assert np.abs(lightness_of(made) - lightness_of(original)).mean() < 0.5
    assert before == {p: p.read_bytes() for p in photos.rglob("*") if p.is_file()}  # inputs untouched


def test_existing_results_are_kept_unless_asked(tmp_path, tiny_weights):
    real_photo("coffee.png", size=64).save(tmp_path / "a.jpg")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"earlier work")
    kept = run_cli(str(tmp_path / "a.jpg"), "-o", str(out), "--weights", str(tiny_weights))
    assert kept.returncode == 0 and (out / "a.png").read_bytes() == b"earlier work"
    assert "1 already done, skipped" in kept.stderr
    replaced = run_cli(str(tmp_path / "a.jpg"), "-o", str(out), "--weights", str(tiny_weights), "--overwrite",
                       "--format", "png")
    assert replaced.returncode == 0 and Image.open(out / "a.png").size == (64, 43)


def test_input_is_never_overwritten(tmp_path, tiny_weights):
    photo = tmp_path / "same.png"
    real_photo("coffee.png", size=48).convert("L").save(photo)
    original = photo.read_bytes()
    result = run_cli(str(photo), "-o", str(tmp_path), "--weights", str(tiny_weights), "--overwrite")
    assert result.returncode == 1 and "would overwrite an input" in result.stderr
    assert photo.read_bytes() == original


def test_no_input_is_overwritten_by_another_inputs_result(tmp_path, tiny_weights):
    """a.jpg's result is a.png: in its own folder with --overwrite, that must not replace the input a.png."""
    real_photo("coffee.png", size=48).convert("L").save(tmp_path / "a.jpg")
    real_photo("chelsea.png", size=48).convert("L").save(tmp_path / "a.png")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    result = run_cli(str(tmp_path), "-o", str(tmp_path), "--weights", str(tiny_weights), "--overwrite")
    assert result.returncode == 1 and "a.png would overwrite an input" in result.stderr
    assert all((tmp_path / name).read_bytes() == data for name, data in before.items())
    digest = hashlib.sha256((tmp_path / "a.png").read_bytes()).hexdigest()[:8]
    assert (tmp_path / f"a-{digest}.png").is_file()  # a.png's own result, under a name a.jpg's never takes


def test_only_this_tools_own_temporaries_are_cleaned_from_the_output_folder(tmp_path, tiny_weights):
    out = tmp_path / "out"
    out.mkdir()
    theirs = [out / ".notes.backup01.tmp", out / ".draft.txt.123.deadbeef.tmp", out / ".a.png.tmp"]
    ours = out / ".photo.png.999999.0123abcd.tmp"  # a killed run's: pid 999999 does not run here
    for path in [*theirs, ours]:
        path.write_text("data")
    result = run_cli(str(_photo(tmp_path / "a.png")), "-o", str(out), "--weights", str(tiny_weights))
    assert result.returncode == 0, result.stderr
    assert all(path.read_text() == "data" for path in theirs) and not ours.exists()
    assert f"removed {ours}" in result.stderr


def test_globs_same_stems_and_missing_inputs(tmp_path, tiny_weights):
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        real_photo("coffee.png", size=40).save(tmp_path / folder / "photo.jpg")
    out = tmp_path / "out"
    result = run_cli(str(tmp_path / "*" / "photo.jpg"), str(tmp_path / "missing.jpg"), "-o", str(out),
                     "--weights", str(tiny_weights), "--format", "jpg")
    assert result.returncode == 1 and "missing.jpg" in result.stderr
    digest = hashlib.sha256((tmp_path / "y" / "photo.jpg").read_bytes()).hexdigest()[:8]  # no later run takes it
    assert sorted(p.name for p in out.iterdir()) == sorted(["photo.jpg", f"photo-{digest}.jpg"])


def test_damaged_weights_fail_cleanly(tmp_path):
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "config.json").write_text("{}")
    (tmp_path / "w" / "model.safetensors").write_bytes(b"junk")
    real_photo("coffee.png", size=40).save(tmp_path / "a.png")
    result = run_cli(str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--weights", str(tmp_path / "w"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "not a colorizer generator config" in result.stderr


def test_a_device_this_machine_lacks_fails_cleanly_before_any_work(tmp_path):
    real_photo("coffee.png", size=40).save(tmp_path / "a.png")
    result = run_cli(str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--device", "cuda:99")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "device 'cuda:99': " in result.stderr and "weights:" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_help_explains_the_options():
    result = run_cli("--help")
    assert result.returncode == 0
    for option in ("--weights", "--render-size", "--strength", "--device", "--overwrite"):
        assert option in result.stdout


def _photo(path, size=48):
    real_photo("coffee.png", size=size).save(path)
    return path


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_strength_is_refused_readably(tmp_path, tiny_weights, value):
    result = run_cli(str(_photo(tmp_path / "a.png")), "-o", str(tmp_path / "out"), "--weights", str(tiny_weights),
                     f"--strength={value}")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"colour strength must be a finite number from 0 to 2, not {value}" in result.stderr
    assert not (tmp_path / "out").exists()


def test_out_of_range_numbers_are_clamped_with_a_note(tmp_path, tiny_weights):
    result = run_cli(str(_photo(tmp_path / "a.png")), "-o", str(tmp_path / "out"), "--weights", str(tiny_weights),
                     "--strength", "1e9", "--render-size", "10", "--batch-size", "0")
    assert result.returncode == 0, result.stderr
    assert "colour strength 1e+09 is above the maximum of 2: used 2" in result.stderr
    assert "render size 10 is below the minimum of 64: used 64" in result.stderr
    assert "batch size 0 is below the minimum of 1: used 1" in result.stderr
    assert Image.open(tmp_path / "out" / "a.png").size == Image.open(tmp_path / "a.png").size


def test_dangling_symlinks_are_reported_by_name(tmp_path, tiny_weights):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "gone.jpg").symlink_to(tmp_path / "deleted.jpg")
    (tmp_path / "alone.png").symlink_to(tmp_path / "also-deleted.png")
    result = run_cli(str(photos), str(tmp_path / "alone.png"), "-o", str(tmp_path / "out"),
                     "--weights", str(tiny_weights))
    assert result.returncode == 1
    assert "gone.jpg: a symlink to" in result.stderr and "alone.png: a symlink to" in result.stderr


def test_one_file_under_two_spellings_is_colorized_once(tmp_path, tiny_weights):
    _photo(tmp_path / "a.png")
    result = run_cli("a.png", str(tmp_path / "a.png"), "./a.png", "-o", "out", "--weights", str(tiny_weights),
                     cwd=tmp_path, env=CHECKOUT_ENV)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png"]


@pytest.mark.parametrize("fmt", ["png", "jpg"])
def test_results_inside_an_input_folder_are_never_taken_as_inputs(tmp_path, tiny_weights, fmt):
    photos = tmp_path / "photos"
    (photos / "colour").mkdir(parents=True)
    _photo(photos / "a.tif")
    _photo(photos / "b.bmp")
    for out in (photos, photos / "colour"):  # -o equal to the input folder, then inside it
        for _ in range(2):  # a second run must not colorize the first run's results
            result = run_cli(str(photos), "-o", str(out), "--weights", str(tiny_weights), "--format", fmt)
            assert result.returncode == 0, result.stderr
            assert sorted(p.name for p in out.iterdir() if p.suffix == f".{fmt}") == [f"a.{fmt}", f"b.{fmt}"]
    explicit = run_cli(str(photos / f"a.{fmt}"), "-o", str(tmp_path / "again"), "--weights", str(tiny_weights))
    assert explicit.returncode == 0 and (tmp_path / "again" / "a.png").is_file()  # named on purpose: taken


SLOW_SAVE = """
import sys
import numpy as np
from PIL import Image
from colorizer.io.files import save_image
noise = np.random.default_rng(0).integers(0, 256, (4000, 4000, 3), dtype=np.uint8)
print("saving", flush=True)
save_image(Image.fromarray(noise), sys.argv[1], compress_level=9)
"""


def test_temp_file_of_a_killed_run_is_removed_on_the_next_run(tmp_path, tiny_weights):
    out = tmp_path / "out"
    out.mkdir()
    writer = subprocess.Popen([sys.executable, "-c", SLOW_SAVE, str(out / "p08.png")], cwd=REPO,
                              stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(out.glob(".p08.png.*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(writer.pid, signal.SIGKILL)  # as kill -9 mid-write
    writer.wait()
    leftovers = list(out.glob(".p08.png.*.tmp"))
    assert len(leftovers) == 1 and not (out / "p08.png").exists()
    result = run_cli(str(_photo(tmp_path / "a.png")), "-o", str(out), "--weights", str(tiny_weights))
    assert result.returncode == 0, result.stderr
    assert f"removed {leftovers[0]}" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.png"]


def test_ctrl_c_prints_what_was_and_was_not_written_and_exits_130(tmp_path, tiny_weights):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(40):
        _photo(photos / f"p{i:02d}.png", size=256)
    out = tmp_path / "out"
    # A child inherits an ignored SIGINT (as in a suite started in the background), and Python then never
    # raises KeyboardInterrupt: give the CLI what a terminal gives it.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "colorizer", str(photos), "-o", str(out), "--weights",
                                 str(tiny_weights), "--render-size", "64", "--restore"], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    deadline = time.monotonic() + 240
    while not (out.is_dir() and any(p.suffix == ".png" for p in out.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    written = sorted(p.name for p in out.iterdir())
    assert 0 < len(written) < 40 and not any(name.endswith(".tmp") for name in written)
    assert f"interrupted: {len(written)} written to {out}, {40 - len(written)} not written" in stderr
    assert stderr.count("not written: ") == 40 - len(written)


def test_ctrl_c_just_after_the_temp_file_is_created_leaves_nothing(tmp_path, monkeypatch):
    """The narrowest window of the test above, made certain: Python raises KeyboardInterrupt as os.open returns."""
    from colorizer.io.files import save_image

    target = tmp_path / "p00.png"
    target.write_bytes(b"an earlier result")
    photo = real_photo("coffee.png", size=32)
    real_open = os.open

    def open_then_interrupted(path, flags, mode=0o777):
        os.close(real_open(path, flags, mode))
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "open", open_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_image(photo, target)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["p00.png"] and target.read_bytes() == b"an earlier result"


def test_pillow_bomb_limit_follows_max_pixels(tmp_path, tiny_weights):
    """200 MP is under --max-pixels 500000000, though over Pillow's own default bomb limit (179 MP)."""
    big = png_claiming(tmp_path / "big.png", 20000, 10000)
    result = run_cli(str(big), "-o", str(tmp_path / "out"), "--weights", str(tiny_weights),
                     "--max-pixels", "500000000")
    assert result.returncode == 1
    assert "above the limit" not in result.stderr and "decompression bomb" not in result.stderr
    assert "damaged or truncated" in result.stderr  # decoding was attempted: the file holds 1 pixel of data
    small = run_cli(str(big), "-o", str(tmp_path / "out"), "--weights", str(tiny_weights),
                    "--max-pixels", "1.5e8")  # written as people write large numbers
    assert "20000x10000 is 200 megapixels, above the limit of 150 megapixels" in small.stderr
    bomb = run_cli(str(big), "-o", str(tmp_path / "out"), "--weights", str(tiny_weights), "--max-pixels", "90000000")
    assert "above the limit of 90 megapixels, more than twice over" in bomb.stderr


@pytest.mark.parametrize("args, message", [
    (["-o", ""], "an empty folder name"),
    (["-o", "out", "--max-pixels", "2.5"], "not a whole number of pixels"),
    (["-o", "out", "--max-pixels", "lots"], "not a number"),
    (["-o", "out", "--max-pixels", "0"], "max pixels must be at least 1, not 0: nothing could be colorized"),
    (["-o", "out", "--max-frames", "0"], "max frames must be at least 1, not 0: nothing could be colorized"),
])
def test_an_empty_output_folder_or_a_bad_pixel_count_is_refused_before_any_work(tmp_path, args, message):
    """An unset shell variable in -o "$OUT" must not mean "write into the current folder"."""
    real_photo("coffee.png", size=64).save(tmp_path / "a.jpg")
    result = run_cli(str(tmp_path / "a.jpg"), *args, env=CHECKOUT_ENV, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg"]


def test_animated_gif_says_only_the_first_frame_was_used(tmp_path, tiny_weights):
    frames = [real_photo("coffee.png", size=64).rotate(angle) for angle in (0, 90, 180)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    result = run_cli(str(tmp_path / "anim.gif"), "-o", str(tmp_path / "out"), "--weights", str(tiny_weights))
    assert result.returncode == 0, result.stderr
    assert "anim.gif: the file holds 3 frames (an animation or several pages): only the first was colorized" \
        in result.stderr
    assert Image.open(tmp_path / "out" / "anim.png").size == frames[0].size


def test_a_rerun_tells_its_own_results_from_another_inputs_with_the_same_name(tmp_path, tiny_weights):
    """a/x.jpg, then b/x.jpg into the same folder: b's photo is colorized (not skipped as done, nor written
    over a's result), and a rerun of both skips both."""
    for folder, name in (("a", "coffee.png"), ("b", "camera.png")):
        (tmp_path / folder).mkdir()
        real_photo(name, size=48).save(tmp_path / folder / "x.jpg")
    out = tmp_path / "out"
    first = run_cli(str(tmp_path / "a" / "x.jpg"), "-o", str(out), "--weights", str(tiny_weights))
    assert first.returncode == 0, first.stderr
    a_result = (out / "x.png").read_bytes()
    second = run_cli(str(tmp_path / "b" / "x.jpg"), "-o", str(out), "--weights", str(tiny_weights))
    assert second.returncode == 0 and "1 written" in second.stderr, second.stderr
    [b_result] = [p for p in out.iterdir() if p.name != "x.png"]
    assert b_result.name.startswith("x-") and b_result.suffix == ".png" and b_result.name in second.stderr
    assert (out / "x.png").read_bytes() == a_result
    assert Image.open(b_result).size == Image.open(tmp_path / "b" / "x.jpg").size
    both = run_cli(str(tmp_path / "a" / "x.jpg"), str(tmp_path / "b" / "x.jpg"), "-o", str(out),
                   "--weights", str(tiny_weights))
    assert both.returncode == 0 and "0 written" in both.stderr and "2 already done, skipped" in both.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(["x.png", b_result.name])


def test_names_up_to_255_bytes_work_and_derived_names_are_cut_short_keeping_the_extension(tmp_path, tiny_weights):
    """An output name is the input's stem plus its suffix, and the temporary name beside it longer still: a
    name at the file system's limit must neither fail after the work nor lose its extension."""
    photos = tmp_path / "in"
    photos.mkdir()
    long_photo = photos / ("é" * 125 + "x.jpg")  # 255 bytes in UTF-8
    real_photo("coffee.png", size=48).save(long_photo)
    long_film = photos / ("f" * 252 + ".ts")  # its result, .mp4, is one byte longer
    write_stream(long_film, "mpegts", [(32, 32, 4)])
    out = tmp_path / "out"
    args = (str(photos), "-o", str(out), "--weights", str(tiny_weights), "--render-size", "64")
    result = run_cli(*args)
    assert result.returncode == 0 and "2 written" in result.stderr, result.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([long_photo.stem + ".png", "f" * 251 + ".mp4"])
    assert all(len(name.encode()) <= 255 for name in names)
    again = run_cli(*args)
    assert again.returncode == 0 and "2 already done, skipped" in again.stderr


def test_a_render_size_above_the_photos_own_is_lowered_to_it_with_a_note(tmp_path, tiny_weights):
    """Above its own size the model sees only the photo's pixels spread thinner, for many times the time."""
    real_photo("coffee.png", size=512).save(tmp_path / "a.png")  # 512x341
    result = run_cli(str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--weights", str(tiny_weights),
                     "--render-size", "2048")
    assert result.returncode == 0, result.stderr
    assert "render size 2048 lowered to 512: the picture is 512x341" in result.stderr
    facts = provenance.read(tmp_path / "out" / "a.png")
    assert facts.render_size == 512 and Image.open(tmp_path / "out" / "a.png").size == (512, 341)
