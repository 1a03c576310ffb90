"""Every analyst notebook in notebooks/ runs top to bottom against the sample lake (no Spark in the kernel),
and is committed with its outputs cleared."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from jobs.pii_scan import find_identifiers

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks_and_their_kernel_is_this_interpreter():
    from jupyter_client.manager import KernelManager

    assert NOTEBOOKS, "notebooks/*.ipynb not found"
    # jupyter_client starts the "python3" spec's `python` as sys.executable: the venv with govlake installed.
    assert KernelManager(kernel_name="python3").format_kernel_cmd()[0] == sys.executable


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_notebook_has_no_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    assert all(not cell.outputs and cell.execution_count is None for cell in code), (
        f"{path.name} has outputs: clear them before committing "
        "(jupyter nbconvert --clear-output --inplace notebooks/*.ipynb)"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_against_the_sample_lake(path, sample_run):
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=300,
        resources={"metadata": {"path": str(path.parent)}},
    )
    env = {**os.environ, "GOVLAKE_LAKE_ROOT": sample_run["lake"].root}
    client.execute(env=env)  # raises CellExecutionError, with the cell and traceback, on any error
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    if any("matplotlib" in cell.source for cell in notebook.cells):
        assert any("image/png" in o.get("data", {}) for o in outputs), "plots are saved inline"
    text = "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert find_identifiers(text) == []  # no personal identifier in what the notebook shows
