"""requirements.txt alone is enough for what a Hugging Face Space runs: in a clean venv that holds
nothing else (no training or test packages), `app` and every `colorizer` module import, and a photo
is colorized with the embedded weights.

The venv takes a minute or two to build (pip takes torch from this machine's disk: about 6 GB), so it
is built once per content of requirements.txt and reused: under $XDG_CACHE_HOME (default ~/.cache)
in colorizer-tests/requirements-<hash>, or wherever COLORIZER_REQUIREMENTS_VENV points (an existing
venv made from requirements.txt). It is built in a temporary folder and renamed into place, so a
killed build is never taken for a finished one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image

from tests.conftest import REPO

BUILD_TIMEOUT_S = 1200

CHECK = r"""
import importlib, importlib.util, pkgutil, sys
from pathlib import Path
import colorizer
modules = sorted(m.name for m in pkgutil.walk_packages(colorizer.__path__, "colorizer.") if not m.name.endswith("__main__"))
for name in modules:
    importlib.import_module(name)
import app
from colorizer.pipelines.colorizer import Colorizer
assert Path(colorizer.__file__).parent == Path.cwd() / "colorizer", colorizer.__file__  # this checkout's
extra = [m for m in ("accelerate", "datasets", "tensorboard", "pytest") if importlib.util.find_spec(m)]
assert not extra, f"the venv holds more than requirements.txt: {extra}"
Colorizer.from_pretrained(None, device="cpu").colorize(sys.argv[1]).save(sys.argv[2])
print(len(modules), "modules")
"""


def requirements_venv() -> Path:
    """A venv with requirements.txt installed and nothing else; built on first use, then reused."""
    if given := os.environ.get("COLORIZER_REQUIREMENTS_VENV"):
        return Path(given)
    digest = hashlib.sha256((REPO / "requirements.txt").read_bytes()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "colorizer-tests"
    folder = cache / f"requirements-{digest}"
    if folder.is_dir():
        return folder
    building = cache / f".building-{digest}-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(building)], check=True, timeout=300)
    install = subprocess.run([str(building / "bin" / "python"), "-m", "pip", "install", "--quiet",
                              "--disable-pip-version-check", "-r", str(REPO / "requirements.txt")],
                             capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    if install.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        raise AssertionError(f"pip install -r requirements.txt failed:\n{install.stderr[-3000:]}")
    try:
        building.rename(folder)  # `python -m ...` from a renamed venv works: paths follow pyvenv.cfg
    except OSError:  # another test run finished the same venv first
        shutil.rmtree(building, ignore_errors=True)
    return folder


def test_requirements_txt_alone_runs_the_app_and_colorizes(tmp_path: Path) -> None:
    python = requirements_venv() / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(HF_HUB_OFFLINE="1", PYTHONNOUSERSITE="1")
    out = tmp_path / "camera.png"
    result = subprocess.run([str(python), "-c", CHECK, str(REPO / "examples" / "camera.jpg"), str(out)], cwd=REPO,
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    files = [p.relative_to(REPO).with_suffix("").parts for p in (REPO / "colorizer").rglob("*.py")]
    expected = {parts[:-1] if parts[-1] == "__init__" else parts for parts in files if parts[-1] != "__main__"}
    expected.discard(("colorizer",))
    assert result.stdout.split()[0] == str(len(expected))  # every module of the package and its subpackages
    colorized, source = Image.open(out), Image.open(REPO / "examples" / "camera.jpg")
    assert colorized.size == source.size and colorized.mode == "RGB"
