"""An archive split between processes: torchrun starts two real processes over a real folder."""

import resource
import subprocess
import sys

from tests.conftest import CHECKOUT_ENV, REPO, real_photo

PHOTOS = ("astronaut.png", "camera.png", "chelsea.png", "coffee.png", "horse.png", "motorcycle_left.png",
          "rocket.jpg", "ihc.png")


def cpu_seconds(command: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    """The CPU time (user + system) a command and all its processes took, and its result."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(command, cwd=REPO, env=CHECKOUT_ENV, capture_output=True, text=True, timeout=300)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, result


def test_torchrun_splits_an_archive_and_a_rerun_skips_it(tmp_path):
    photos = tmp_path / "archive"
    photos.mkdir()
    for name in PHOTOS:
        real_photo(name, size=512).save(photos / f"{name[:-4]}.jpg")  # their own size: rendered at about 512
    expected = sorted(f"{name[:-4]}.png" for name in PHOTOS)
    # Starting a process (torch, the weights, the process group) costs about 4 s of CPU here, so the photos
    # must cost more than that for the split to show: PyTorch at render size 512. Work done twice would
    # make two processes cost twice one; split, they cost one process's work plus a second start.
    args = ["-m", "colorizer", str(photos), "--render-size", "512", "--backend", "pytorch", "-o"]
    # --standalone: a free port of its own, so tests running side by side never meet
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args]

    one_cpu, one = cpu_seconds([sys.executable, *args, str(tmp_path / "one")])
    two_cpu, two = cpu_seconds([*torchrun, str(tmp_path / "two")])

    assert one.returncode == 0 and two.returncode == 0, two.stderr
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == expected
    # each photo went to one process: 3 + 3, said once, by the main process
    assert two.stderr.count(" written to ") == 1
    assert f"8 written to {tmp_path / 'two'} (4 by process 0, 4 by process 1), 0 failed" in two.stderr
    assert two_cpu < 1.75 * one_cpu, f"2 processes took {two_cpu:.1f} s of CPU, 1 took {one_cpu:.1f} s"

    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "two").iterdir()}
    again = subprocess.run([*torchrun, str(tmp_path / "two")], cwd=REPO, env=CHECKOUT_ENV, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "0 written to" in again.stderr and "8 already done, skipped" in again.stderr
    assert stamps == {p: p.stat().st_mtime_ns for p in (tmp_path / "two").iterdir()}
