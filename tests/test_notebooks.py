"""The notebooks run top to bottom on a small sample, and are committed without outputs.

Each notebook is executed by a real Jupyter kernel (nbclient, ipykernel) with the
kernel's working directory at notebooks/, as a reader would run it, with the
parameters cell's values overridden the way papermill would. A failing cell
fails the test (nbclient raises CellExecutionError with the traceback).
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
PARAMETERS = {
    "evaluate.ipynb": {"MODEL", "DATA", "DATA_DIR", "MAX_ROWS", "MAX_WORDS", "EXCLUDE_META", "SEEDS"},
    "data.ipynb": {"DATA", "DATA_DIR", "MAX_ROWS", "MODEL"},
}
KERNEL = "python3"


@pytest.fixture(scope="session")
def kernel_name() -> str:
    """The ipykernel kernelspec of this interpreter. pip's ipykernel wheel ships it into
    the venv (share/jupyter/kernels/python3); where it does not, install it into
    sys.prefix once, which is idempotent and touches nothing outside the venv."""
    from jupyter_client.kernelspec import KernelSpecManager

    if KERNEL not in KernelSpecManager().find_kernel_specs():
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL],
                       check=True, capture_output=True)
    spec = KernelSpecManager().get_kernel_spec(KERNEL)
    assert spec.language == "python"
    return KERNEL


@pytest.fixture()
def kernel_env(monkeypatch, shared_data):
    """The kernel inherits this process's environment: the installed package only (no
    repository on PYTHONPATH), the shared data through FABSCORE_DATA, hubs offline."""
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.setenv("FABSCORE_DATA", str(shared_data))
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.setenv(var, "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")


def parameters_cell(nb) -> nbformat.NotebookNode:
    first = nb.cells[0]
    assert first.cell_type == "code" and "parameters" in first.metadata.get("tags", []), \
        "the first cell must be the code cell tagged 'parameters'"
    return first


def assigned_names(source: str) -> set[str]:
    return {t.id for node in ast.parse(source).body if isinstance(node, ast.Assign)
            for t in node.targets if isinstance(t, ast.Name)}


def run_notebook(name: str, kernel: str, overrides: dict[str, object], timeout: int = 300):
    """Execute notebooks/<name> with `overrides` appended to its parameters cell, as papermill
    injects them; returns the executed notebook (never written back to the repository)."""
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    cell = parameters_cell(nb)
    unknown = set(overrides) - assigned_names(cell.source)
    assert not unknown, f"{name} has no parameters {unknown}"
    cell.source += "\n# injected by tests/test_notebooks.py\n" + "".join(
        f"{k} = {v!r}\n" for k, v in overrides.items())
    NotebookClient(nb, kernel_name=kernel, timeout=timeout, resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return nb


def warnings_in(nb) -> list[str]:
    """Warnings a reader would see in the cells' stderr (a library's deprecation, say)."""
    return [line for c in nb.cells if c.cell_type == "code" for o in c.outputs
            if o.get("output_type") == "stream" and o.get("name") == "stderr"
            for line in o.get("text", "").splitlines() if "Warning" in line]


def outputs_of(nb, mime: str) -> list[str]:
    return [o["data"][mime] for c in nb.cells if c.cell_type == "code" for o in c.outputs
            if o.get("output_type") in ("display_data", "execute_result") and mime in o.get("data", {})]


@pytest.mark.slow
def test_evaluate_notebook_runs(kernel_name, kernel_env, tiny_model_dir, feature_cache):
    nb = run_notebook("evaluate.ipynb", kernel_name, {
        "MODEL": str(tiny_model_dir), "MAX_ROWS": 16, "MAX_WORDS": 200, "CACHE": str(feature_cache.root),
        "N_WORST": 2})
    pngs = outputs_of(nb, "image/png")
    assert len(pngs) >= 3, f"expected ROC/PR, histogram/threshold and reliability figures; got {len(pngs)} images"
    html = "".join(outputs_of(nb, "text/html"))
    for seed in ("000_e0349e775a64605f.txt", "002_3ca293cc838cf24e.txt"):
        assert seed in html, f"seed {seed} not shown"
    assert "sentence score" in html, "no shaded sentences in the output"
    assert "PolitiFact++" in html, "no per-source table (the rows' source column)"
    assert not warnings_in(nb), warnings_in(nb)


@pytest.mark.slow
def test_data_notebook_runs(kernel_name, kernel_env, tiny_model_dir):
    nb = run_notebook("data.ipynb", kernel_name, {"MODEL": str(tiny_model_dir), "MAX_ROWS": 40})
    assert len(outputs_of(nb, "image/png")) >= 3, "expected length and shortcut plots"
    html = "".join(outputs_of(nb, "text/html"))
    assert "length-only" in html and "final-punctuation-only" in html, "shortcut audit tables missing"
    assert "gpt-3.5" in html, "no per-generator counts"
    assert not warnings_in(nb), warnings_in(nb)


@pytest.mark.slow
def test_data_notebook_runs_with_papermill_outside_the_repository(kernel_name, kernel_env, tmp_path, monkeypatch):
    """papermill, from a folder outside the repository, with a small parameter: the
    notebook finds the package by import and the data through FABSCORE_DATA."""
    import papermill as pm

    assert not tmp_path.resolve().is_relative_to(REPO)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "data-run.ipynb"
    pm.execute_notebook(str(NOTEBOOKS / "data.ipynb"), str(out), parameters={"MAX_ROWS": 40},
                        kernel_name=kernel_name, cwd=str(tmp_path), progress_bar=False)
    nb = nbformat.read(out, as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
    html = "".join(outputs_of(nb, "text/html"))
    assert "length-only" in html and "final-punctuation-only" in html
    md = "".join(outputs_of(nb, "text/markdown"))
    assert "**40** articles" in md, md[:300]


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_committed_notebook_is_stripped(name):
    """Outputs and execution counts stay out of git: diffs show code, not base64 plots
    or a colleague's scores, and the parameters cell comes first as papermill expects."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{name} has no code"
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{name}: cells {dirty} have outputs or execution counts; clear them before committing"
    assert not any(c.get("attachments") for c in nb.cells), f"{name}: attachments committed"
    assert PARAMETERS[name] <= assigned_names(parameters_cell(nb).source)
    assert "widgets" not in nb.metadata, f"{name}: widget state committed"
