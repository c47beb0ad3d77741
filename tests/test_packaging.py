"""The project as a package: pyproject.toml states lower bounds that the requirements files' pins meet,
`pip install -e .` gives the `colorize` command and makes the training script runnable from anywhere,
and no script patches sys.path."""

from __future__ import annotations

import os
import re
import site
import subprocess
import sysconfig
import tomllib
import venv
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]


def requirement_lines(name: str) -> list[str]:
    """The pins of a requirements file, without comments and `-r` includes, in file order."""
    lines = []
    for raw in (REPO / name).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-r"):
            lines.append(line)
    return lines


def _pins(name: str) -> dict[str, Version]:
    pins = {}
    for line in requirement_lines(name):
        assert re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*", line), f"{name}: not pinned with ==: {line}"
        requirement = Requirement(line)
        pins[requirement.name.lower().replace("_", "-")] = Version(str(requirement.specifier).removeprefix("=="))
    return pins


def _bounds(requirements: list[str]) -> dict[str, Requirement]:
    parsed = [Requirement(r) for r in requirements if not r.startswith("colorizer[")]
    for requirement in parsed:
        assert all(spec.operator == ">=" for spec in requirement.specifier) and requirement.specifier, \
            f"pyproject states a lower bound (>=), not a pin: {requirement}"
    return {r.name.lower().replace("_", "-"): r for r in parsed}


@pytest.mark.parametrize(("extras", "pinned_in"), [
    (("",), "requirements.txt"),  # what a Space installs: the library and the app
    (("train",), "requirements-train.txt"),
    (("c2pa",), "requirements-c2pa.txt"),
    (("dev",), "requirements-dev.txt"),
])
def test_the_pins_meet_pyprojects_lower_bounds(extras, pinned_in):
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    stated = {"": project["dependencies"] + project["optional-dependencies"]["app"]}
    bounds = _bounds(sum((stated.get(e) or project["optional-dependencies"][e] for e in extras), []))
    pins = _pins(pinned_in)
    assert set(bounds) == set(pins), f"{pinned_in} and pyproject name different packages"
    for name, requirement in bounds.items():
        assert requirement.specifier.contains(pins[name]), f"{pinned_in} pins {name} {pins[name]}, outside {requirement}"


def test_the_app_is_an_extra_the_library_does_not_need():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert not any(Requirement(r).name == "gradio" for r in project["dependencies"])
    assert [Requirement(r).name for r in project["optional-dependencies"]["app"]] == ["gradio"]
    library = [p for p in (REPO / "colorizer").rglob("*.py")]
    assert not [p for p in library if re.search(r"^\s*(import|from) gradio", p.read_text(), re.M)]


def test_no_script_patches_sys_path():
    files = [REPO / "app.py", *(p for d in ("colorizer", "train", "bench", "tools", "tests")
                                  for p in (REPO / d).rglob("*.py"))]
    patched = [str(p.relative_to(REPO)) for p in files
               if p.name != Path(__file__).name and re.search(r"sys\.path(\.insert|\.append|\[.*\]\s*=)", p.read_text())]
    assert patched == []


def test_editable_install_gives_the_command_and_the_training_script(tmp_path: Path):
    """A venv over this interpreter's packages (so nothing is downloaded), the project installed
    editable into it, then run from another folder with no PYTHONPATH: what a user gets."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True)
    # The packages of the environment running the tests (pip, setuptools, torch ...), also when that is
    # itself a virtual environment, which system_site_packages alone would skip for the base interpreter's.
    inner = Path(sysconfig.get_path("purelib", vars={"base": str(env_dir), "platbase": str(env_dir)}))
    (inner / "outer-environment.pth").write_text("\n".join([*site.getsitepackages(), sysconfig.get_path("purelib")]))
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
    assert "--gan.lr_critic" in script.stdout
