"""The project as a package: pyproject.toml agrees with the requirements files, `pip install -e .`
gives the `colorize` command and makes the training script runnable from anywhere, and no script
patches sys.path."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def requirement_lines(name: str) -> list[str]:
    """The pins of a requirements file, without comments and `-r` includes, in file order."""
    lines = []
    for raw in (REPO / name).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-r"):
            lines.append(line)
    return lines


def test_pyproject_pins_what_the_requirements_files_pin():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert project["dependencies"] == requirement_lines("requirements.txt")
    assert extras["train"] == requirement_lines("requirements-train.txt")
    assert extras["c2pa"] == requirement_lines("requirements-c2pa.txt")
    assert [r for r in extras["dev"] if not r.startswith("colorizer[")] == requirement_lines("requirements-dev.txt")
    # requirements-dev.txt includes requirements-train.txt and requirements-c2pa.txt
    assert {"colorizer[train]", "colorizer[c2pa]"} <= set(extras["dev"])
    for line in requirement_lines("requirements.txt") + extras["train"]:
        assert re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*", line), f"not pinned with ==: {line}"


def test_no_script_patches_sys_path():
    files = [REPO / "app.py", *(p for d in ("colorizer", "train", "bench", "tools", "tests")
                                  for p in (REPO / d).rglob("*.py"))]
    patched = [str(p.relative_to(REPO)) for p in files
               if p.name != Path(__file__).name and "sys.path.insert" in p.read_text()]
    assert patched == []


def test_editable_install_gives_the_command_and_the_training_script(tmp_path: Path):
    """A venv over this interpreter's packages (so nothing is downloaded), the project installed
    editable into it, then run from another folder with no PYTHONPATH: what a user gets."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True)  # pip and setuptools: this interpreter's
    bin_dir = env_dir / "bin"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    install = subprocess.run([bin_dir / "python", "-m", "pip", "install", "--quiet", "--no-deps",
                              "--no-build-isolation", "--disable-pip-version-check", "-e", str(REPO)],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-3000:]

    command = subprocess.run([bin_dir / "colorize", "--help"], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=120)
    assert command.returncode == 0, command.stderr[-2000:]
    assert "--render-size" in command.stdout

    script = subprocess.run([bin_dir / "python", str(REPO / "train" / "nogan.py"), "--help"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=300)
    assert script.returncode == 0, script.stderr[-2000:]
    assert "--gan-lr-critic" in script.stdout
