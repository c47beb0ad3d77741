"""notebooks/quickstart.ipynb runs top to bottom, offline, in a real Jupyter kernel (nbclient), so it
never rots; it works in a folder of its own, as a user's notebook does."""

from __future__ import annotations

import json
import os

import nbformat
from nbclient import NotebookClient

from colorizer.io import provenance
from tests.conftest import REPO

NOTEBOOK = REPO / "notebooks" / "quickstart.ipynb"


def test_quickstart_runs_offline_top_to_bottom(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # nothing may need the internet
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")  # stored clean

    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()

    written = sorted(p.name for p in (tmp_path / "quickstart-output").iterdir())
    examples = sorted(f"{p.stem}.png" for p in (REPO / "examples").glob("*.jpg"))
    assert written == sorted(examples + ["coffee-restored.png"])
    for name in written:
        facts = provenance.read(tmp_path / "quickstart-output" / name)
        assert facts is not None and facts.weights == "embedded default"
    assert provenance.read(tmp_path / "quickstart-output" / "coffee-restored.png").restored

    report = json.loads((tmp_path / "report.json").read_text())
    assert set(report["mean"]) >= {"ours", "gray", "mean_chroma"}

    outputs = [cell.outputs for cell in notebook.cells if cell.cell_type == "code"]
    images = [sum("image/png" in out.get("data", {}) for out in cell) for cell in outputs]
    assert images[2:6] == [2, 2, 1, 1]  # before/after, the settings grid, restoration, the contact sheet
    inspected = "".join(out.get("text", "") for out in outputs[6])
    assert provenance.DIGITAL_SOURCE_TYPE in inspected and "restored             yes" in inspected
    assert outputs[-2:] == [[], []]  # the Hub and training cells are switched off
    assert not any(out.get("output_type") == "error" for cell in outputs for out in cell)
