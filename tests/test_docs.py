"""The documentation: no broken relative links or #anchors, and the defaults it quotes are the code's."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]

LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def _prose(text: str) -> str:
    """The text without fenced code blocks (links and headings there are not links and headings)."""
    out, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        out.append("" if fenced else line)
    return "\n".join(out)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation but - and _ dropped, spaces to -."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for line in _prose(path.read_text(encoding="utf-8")).splitlines():
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[str]:
    prose = re.sub(r"`[^`\n]*`", "", _prose(path.read_text(encoding="utf-8")))  # inline code is not a link
    return LINK.findall(prose)


def test_slug_follows_github():
    assert slug("Old films' grays (`--emulsion`)") == "old-films-grays---emulsion"
    assert slug("ONNX (`bench/bench_onnx.py`)") == "onnx-benchbench_onnxpy"
    assert slug("Colour quality (`python -m colorizer.evaluate`)") == "colour-quality-python--m-colorizerevaluate"


def test_duplicate_headings_get_numbered(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## Notes\n\n## Notes\n\n```\n# not a heading\n```\n\n## Notes\n")
    assert anchors(page) == {"title", "notes", "notes-1", "notes-2"}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_and_anchors_resolve(doc):
    broken = []
    for target in links(doc):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http(s), mailto: not fetched
            continue
        path_part, _, anchor = target.partition("#")
        dest = (doc.parent / path_part).resolve() if path_part else doc
        if not dest.exists():
            broken.append(f"{target}: no file {os.path.relpath(dest, REPO)}")
            continue
        if anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading #{anchor} in {os.path.relpath(dest, REPO)}")
    assert not broken, f"{doc.relative_to(REPO)}:\n" + "\n".join(broken)


def test_colab_badges_are_absolute():
    for doc in DOCS:
        for line in doc.read_text(encoding="utf-8").splitlines():
            if "colab-badge" in line:
                assert "](https://colab.research.google.com/github/" in line, f"{doc.name}: {line}"


def test_no_placeholder_hub_organisation():
    for doc in [*DOCS, REPO / "notebooks" / "quickstart.ipynb"]:
        assert "open-colorizer/" not in doc.read_text(encoding="utf-8"), doc.name


def test_readme_is_short_and_keeps_the_set_up_commands():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    assert "pip install -r requirements.txt && python -m colorizer examples/camera.jpg -o colorized/" in readme
    assert "bash .ci/run" in readme
    assert (REPO / "examples" / "camera.jpg").is_file()


def test_readme_says_where_its_first_command_runs(tmp_path):
    """README's first command runs the checkout, not an installed package: it works from the repository root,
    and the README says so and names what Python answers elsewhere (unless the package is installed)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    quick_start = re.sub(r"\s+", " ", readme.split("## Quick start")[1].split("```")[0])
    assert "Run them from the repository root" in quick_start
    command = next(line for line in readme.splitlines() if line.startswith("pip install -r requirements.txt && "))
    colorize = shlex.split(command.split(" && ", 1)[1])
    assert colorize[:3] == ["python", "-m", "colorizer"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # as a user's shell has it
    here = subprocess.run([sys.executable, *colorize[1:-1], str(tmp_path / "root")], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert here.returncode == 0, here.stderr[-2000:]
    assert (tmp_path / "root" / "camera.png").is_file()
    (tmp_path / "elsewhere").mkdir()
    elsewhere = subprocess.run([sys.executable, "-m", "colorizer", "--help"], cwd=tmp_path / "elsewhere", env=env,
                               capture_output=True, text=True, timeout=300)
    if elsewhere.returncode != 0:  # not installed here (an installed package works from anywhere)
        assert "No module named colorizer" in elsewhere.stderr
        assert "`No module named colorizer`" in quick_start


# The commands the docs show, and the flags they give them, as the code's own --help lists them.
COMMANDS = {  # how a doc writes a command (longest first) -> how to run it here
    "python -m colorizer.export": ["-m", "colorizer.export"],
    "python -m colorizer.evaluate": ["-m", "colorizer.evaluate"],
    "python -m colorizer.inspect": ["-m", "colorizer.inspect"],
    "python -m colorizer": ["-m", "colorizer"],
    "train/nogan.py": ["train/nogan.py"],  # after python, accelerate launch or torchrun: its flags follow it
    "python tools/collect_photos.py": ["tools/collect_photos.py"],
}
CURRENT_DOCS = [d for d in DOCS if "experiments" not in d.parts]  # experiments keep the commands they ran then


def _snippets(doc: Path) -> list[str]:
    """A doc's fenced lines (comments cut) and inline code spans (rejoined across line breaks)."""
    text = doc.read_text(encoding="utf-8")
    fenced, inside = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            inside = not inside
        elif inside:
            fenced.append(re.sub(r"\s#\s.*$", "", line))
    return fenced + re.findall(r"`([^`]+)`", re.sub(r"\s*\n\s*", " ", _prose(text)))


def _documented_flags() -> dict[str, set[str]]:
    """command -> every --flag a current doc passes to it."""
    pattern = re.compile("|".join(re.escape(c) for c in COMMANDS) + r"|(?<![\w-])(?:accelerate|torchrun|pip|bash)\b")
    found: dict[str, set[str]] = {c: set() for c in COMMANDS}
    for doc in CURRENT_DOCS:
        for snippet in _snippets(doc):
            starts = [(m.start(), m.end(), m.group(0)) for m in pattern.finditer(snippet)]
            for (_, end, command), following in zip(starts, [*starts[1:], (len(snippet), 0, "")]):
                if command in COMMANDS:
                    found[command] |= set(re.findall(r"(?<![\w-])--[\w][\w.-]*", snippet[end:following[0]]))
    return found


def test_the_flags_the_docs_show_are_the_commands_own():
    """Every --flag a doc gives a command is one its --help lists: a renamed or dropped option fails here."""
    unknown = []
    for command, flags in _documented_flags().items():
        if not flags:
            continue
        result = subprocess.run([sys.executable, *COMMANDS[command], "--help"], cwd=REPO, capture_output=True,
                                text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
        assert result.returncode == 0, f"{command} --help: {result.stderr[-2000:]}"
        unknown += [f"{command} {flag}" for flag in sorted(flags)
                    if not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", result.stdout)]
    assert not unknown, "flags in the docs that --help does not list: " + ", ".join(unknown)


def test_the_onnx_docs_state_the_exporters_default_shape():
    """The exporter takes any size unless told --fixed-size N; --dynamic-size is kept for old scripts only."""
    from colorizer import export

    assert export.parse_args(["--onnx", "m.onnx"]).size is None  # no fixed size: dynamic
    assert "--dynamic-size" not in _documented_flags()["python -m colorizer.export"]  # it changes nothing
    for sentence in _quoted("docs/usage.md", r"any height and width that are multiples of 32"):
        assert "By default" in sentence, sentence
    assert any("`--fixed-size N` exports one N x N square" in s for s in _quoted("docs/usage.md", r"--fixed-size"))

# The defaults the README and docs/usage.md quote, read from the code: a change of either fails here.


def _sentences(text: str) -> list[str]:
    flat = re.sub(r"\s+", " ", text)
    return re.split(r"(?<=[.:;])\s+(?=[A-Z`(\-])", flat)


def _quoted(doc: str, pattern: str) -> list[str]:
    """The sentences of a doc that mention `pattern` (a regex)."""
    text = (REPO / doc).read_text(encoding="utf-8")
    found = [s for s in _sentences(text) if re.search(pattern, s)]
    assert found, f"{doc} no longer mentions {pattern}"
    return found


def _defaults():
    from colorizer import settings
    os.environ.pop("COLORIZER_MEMORY_BUDGET_MB", None)
    os.environ.pop("COLORIZER_RESULT_MAX_AGE_S", None)
    import app
    return settings, app


@pytest.mark.parametrize("doc", ["README.md", "docs/usage.md"])
def test_quoted_defaults_match_the_code(doc):
    settings, app = _defaults()
    for sentence in _quoted(doc, r"--render-size"):
        if "default" in sentence:
            assert f"default {settings.DEFAULT_RENDER_SIZE}" in sentence, sentence
            assert f"{settings.MIN_RENDER_SIZE} to {settings.MAX_RENDER_SIZE}" in sentence, sentence
    for sentence in _quoted(doc, r"COLORIZER_MEMORY_BUDGET_MB"):
        if "default" in sentence:
            assert re.search(rf"default {app.MEMORY_BUDGET_MB}\b", sentence), sentence
    for sentence in _quoted(doc, r"--crf"):
        if "default" in sentence:
            assert f"default {settings.DEFAULT_CRF}" in sentence, sentence
    megapixels = app.MAX_PIXELS // 1_000_000
    for sentence in _quoted(doc, r"MAX_PIXELS|50.megapixel"):
        if "accept" in sentence or "MAX_PIXELS" in sentence:
            assert f"{megapixels} megapixels" in sentence or f"{megapixels}-megapixel" in sentence, sentence


def test_usage_quotes_the_remaining_defaults():
    settings, app = _defaults()
    for sentence in _quoted("docs/usage.md", r"--max-pixels` \(default"):
        assert f"default {settings.DEFAULT_MAX_PIXELS // 1_000_000} MP" in sentence, sentence
    for sentence in _quoted("docs/usage.md", r"COLORIZER_RESULT_MAX_AGE_S` seconds \(default"):
        assert f"(default {app.RESULT_MAX_AGE_S})" in sentence, sentence
    for sentence in _quoted("docs/usage.md", r"`--strength` 0-2"):
        assert f"`--strength` {settings.MIN_STRENGTH:g}-{settings.MAX_STRENGTH:g}" in sentence, sentence
        assert f"`--render-size` {settings.MIN_RENDER_SIZE}-{settings.MAX_RENDER_SIZE}" in sentence, sentence
        assert f"`--batch-size` 1-{settings.MAX_BATCH_SIZE}" in sentence, sentence
    for sentence in _quoted("docs/usage.md", r"up to \d+ frames of up to"):
        assert f"up to {app.MAX_FILM_FRAMES} frames" in sentence, sentence
