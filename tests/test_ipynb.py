"""`symbp derive --format ipynb`: a valid, deterministic notebook that runs and tells the truth.

The notebook is executed with nbclient on a real Python kernel, and the numbers its cells print
(the loss, every gradient, the gradient check's largest error, the loss after one step) are
compared with the numeric engine (symbp.reference.engine) run here, in the test process; the
engine never sees the notebook's code. A notebook whose embedded module is wrong must fail its
own gradient check, and one whose printed numbers were wrong fails the comparison.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from architectures import ARCHITECTURE_SPECS

from symbp.cli import main
from symbp.codegen.module import generate_source
from symbp.document.build import render_markdown
from symbp.document.ipynb import (
    STEP,
    TOLERANCE,
    markdown_cells,
    printed_values,
    render_notebook,
    source_cell,
)
from symbp.proofs import prove_all
from symbp.reference.engine import NumericNetwork
from symbp.reference.example import worked_example
from symbp.spec.model import NetworkSpec
from symbp.symbolic.derivation import derive

REPO = Path(__file__).resolve().parent.parent
NEEDED = ("nbformat", "nbclient", "ipykernel")  # the `test` extra installs them
SPECS = {
    "default": NetworkSpec(),
    "c3-stride2-pad1-sigmoid-8x8": ARCHITECTURE_SPECS["c3-stride2-pad1-sigmoid-8x8"],
}
_missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
if _missing and os.environ.get("CI") == "1":
    raise RuntimeError(f"CI=1 but {', '.join(_missing)} not installed: pip install -e '.[test]'")
pytestmark = pytest.mark.skipif(
    bool(_missing), reason=f"{', '.join(_missing)} not installed: pip install -e '.[test]'"
)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def python_kernel() -> str:
    """The kernel the notebook names, installed for this user if Jupyter does not know it."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--user"], check=True)
        KernelSpecManager().get_kernel_spec("python3")  # still missing: a clear NoSuchKernel
    return "python3"


@pytest.fixture(scope="module", params=sorted(SPECS))
def built(request):
    """(spec, notebook text) for each spec, rendered as `symbp derive` renders it."""
    spec = SPECS[request.param]
    d = derive(spec)
    proofs = prove_all(d)
    source = generate_source(d, command=spec.command_line())
    return spec, render_notebook(d, proofs, source)


def execute(text: str, kernel: str) -> tuple[object, str]:
    """The notebook executed in a fresh kernel, in an empty folder (it must need no files),
    and everything its code cells printed to stdout."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.reads(text, as_version=4)
    with tempfile.TemporaryDirectory() as folder:
        where = {"metadata": {"path": folder}}
        NotebookClient(notebook, kernel_name=kernel, timeout=300, resources=where).execute()
    printed = [
        output["text"]
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.get("name") == "stdout"
    ]
    return notebook, "".join(printed)


@pytest.fixture(scope="module")
def executed(built, python_kernel):
    spec, text = built
    start = time.perf_counter()
    notebook, stdout = execute(text, python_kernel)
    return spec, notebook, stdout, time.perf_counter() - start


def check_point(notebook_text: str) -> int | None:
    """The seed of the nearby point the notebook checks at, or None: at the worked example."""
    found = re.findall(r"nudged\(X, (\d+)\)", notebook_text)
    return int(found[0]) if found else None


def engine_truth(spec: NetworkSpec, seed: int | None) -> dict:
    """What the notebook must print, computed by the engine here, central differences too (at
    the worked example, or at the point moved by 0.01 sin(seed + i), written out again here)."""
    example = worked_example(spec)
    net = NumericNetwork(spec)
    batch, labels = np.asarray(example["X"])[None], np.array([example["Y"]])
    params = {
        k: np.asarray(example["params"][k], dtype=float) for k in derive(spec).parameter_names
    }
    loss, gradients = net.loss(batch, labels, params), net.gradients(batch, labels, params)
    input_gradient = np.asarray(net.input_gradient(batch, labels, params)[0])
    if seed is not None:

        def move(value, start):
            return value + 0.01 * np.sin(start + np.arange(value.size)).reshape(value.shape)

        batch = move(batch[0], seed)[None]
        params = {k: move(v, seed + 100 * (n + 1)) for n, (k, v) in enumerate(params.items())}
    checked = net.gradients(batch, labels, params)
    errors = []
    for name, value in params.items():
        value = np.asarray(value)
        for index in np.ndindex(value.shape):
            up, down = value.copy(), value.copy()
            up[index] += STEP
            down[index] -= STEP
            estimate = (
                net.loss(batch, labels, {**params, name: up})
                - net.loss(batch, labels, {**params, name: down})
            ) / (2 * STEP)
            errors.append(abs(float(np.asarray(checked[name])[index]) - estimate))
    return {
        "loss": loss,
        "gradients": {k: np.asarray(v) for k, v in gradients.items()},
        "max_error": max(errors),
        "updated_loss": example["updated_loss"],
        "input_gradient": input_gradient,
    }


def nbformat_text(notebook) -> str:
    import nbformat

    return nbformat.writes(notebook)


def compare_with_engine(printed: dict, truth: dict) -> None:
    assert printed["L"] == pytest.approx(truth["loss"], rel=1e-12, abs=1e-15)
    for name, value in truth["gradients"].items():
        shown = np.asarray(printed[f"d{name}"], dtype=float)
        assert shown.shape == value.shape, name
        np.testing.assert_allclose(shown, value, rtol=0, atol=1e-11, err_msg=name)  # 12 decimals
    shown = np.asarray(printed["dX"], dtype=float)  # the worked example's δX, by the module
    assert shown.shape == truth["input_gradient"].shape
    np.testing.assert_allclose(shown, truth["input_gradient"], rtol=0, atol=1e-11, err_msg="dX")
    assert 0 <= printed["max_error"] < TOLERANCE
    assert abs(printed["max_error"] - truth["max_error"]) < 1e-8  # the same check, same size
    assert printed["L_after"] == pytest.approx(truth["updated_loss"], rel=1e-12, abs=1e-15)
    assert printed["decreased"] is (truth["updated_loss"] < truth["loss"])


# ------------------------------------------------------------------------------ the file


def test_the_notebook_is_valid_nbformat_4_without_outputs(built):
    import nbformat

    _, text = built
    notebook = nbformat.reads(text, as_version=4)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    assert notebook.metadata.kernelspec.name == "python3"
    ids = [cell.id for cell in notebook.cells]
    assert ids == [f"cell-{n:03d}" for n in range(1, len(ids) + 1)]
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert len(code) == 5
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
    assert json.loads(text) == json.loads(nbformat.writes(notebook))  # nbformat's own layout
    assert text.endswith("}\n")


def test_code_cells_need_only_numpy(built):
    _, text = built
    sources = [
        "".join(cell["source"]) for cell in json.loads(text)["cells"] if cell["cell_type"] == "code"
    ]
    imported = set()
    for source in sources[1:]:  # the first is the module's text, a string
        imported |= set(re.findall(r"^\s*(?:import|from) (\w+)", source, re.MULTILINE))
    assert imported == {"linecache", "sys", "types", "numpy"}
    assert "symbp" not in "".join(sources[1:])


def test_the_markdown_cells_are_the_chapter_in_jupyter_math(built):
    spec, text = built
    cells = [cell for cell in json.loads(text)["cells"] if cell["cell_type"] == "markdown"]
    chapter = "\n".join("".join(cell["source"]) for cell in cells)
    d = derive(spec)
    markdown = render_markdown(d, prove_all(d))
    outside = re.sub(r"^```.*?^```$", "", markdown, flags=re.MULTILINE | re.DOTALL)  # no fences
    headings = [line for line in outside.splitlines() if re.match(r"#{1,6} ", line)]
    assert len(headings) > 10
    firsts = ["".join(cell["source"]).splitlines()[0] for cell in cells]
    assert all(heading in firsts for heading in headings)  # every section is a cell of its own
    assert "```math" not in chapter and "$`" not in chapter
    assert chapter.count("$$") == 2 * markdown.count("```math")


def test_markdown_cells_convert_github_math_and_keep_other_fences():
    text = "# Title\n\nSay $`a_{i}`$.\n\n```math\nx^2\n```\n\n## 1 Next\n\n```text\n# no\n```\n"
    assert markdown_cells(text) == [
        "# Title\n\nSay $a_{i}$.\n\n$$\nx^2\n$$",
        "## 1 Next\n\n```text\n# no\n```",
    ]


def test_the_source_cell_holds_the_module_exactly():
    for source in ('"""doc"""\nx = "\\n"\n', "a = '''raw'''\n", "path = 'C:\\\\'\n"):
        namespace: dict = {}
        exec(source_cell(source), namespace)
        assert namespace["GRADIENTS_SOURCE"] == source


def test_same_bytes_from_two_processes(tmp_path, capsys):
    here, there = tmp_path / "here", tmp_path / "there"
    code, _, err = run(capsys, "derive", "--format", "ipynb", "--out", str(here), "-q")
    assert code == 0, err
    environment = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run(
        [sys.executable, "-m", "symbp", "derive", "--format", "ipynb,md", "--out", str(there)],
        check=True,
        cwd=REPO,
        env=environment,
        capture_output=True,
    )
    first = (here / "cnn_backprop.ipynb").read_bytes()
    assert first == (there / "cnn_backprop.ipynb").read_bytes()
    assert sorted(p.name for p in here.iterdir()) == ["cnn_backprop.ipynb"]


def test_without_nbformat_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "nbformat", None)  # `import nbformat` raises ImportError
    out = tmp_path / "out"
    code, stdout, err = run(capsys, "derive", "--format", "md,ipynb", "--out", str(out))
    assert code == 2
    assert err.count("\n") == 1 and "pip install 'symbp[notebook]'" in err
    assert "Traceback" not in err and not out.exists()


def test_unknown_format_names_ipynb(tmp_path, capsys):
    code, _, err = run(capsys, "derive", "--format", "docx", "--out", str(tmp_path / "o"))
    assert code == 2 and "valid formats: tex, pdf, md, py, ipynb" in err


# ------------------------------------------------------------------------------ executed


def test_executed_notebook_prints_what_the_engine_computes(executed):
    spec, notebook, stdout, seconds = executed
    assert seconds < 120
    printed = printed_values(stdout)
    compare_with_engine(printed, engine_truth(spec, check_point(nbformat_text(notebook))))


def test_the_comparison_fails_on_a_wrong_number(executed):
    spec, notebook, stdout, _ = executed
    truth = engine_truth(spec, check_point(nbformat_text(notebook)))
    wrong = printed_values(stdout)
    name = next(iter(truth["gradients"]))
    wrong[f"d{name}"] = (np.asarray(wrong[f"d{name}"]) + 1e-9).tolist()
    with pytest.raises(AssertionError):
        compare_with_engine(wrong, truth)


def test_a_wrong_module_fails_the_notebooks_gradient_check(python_kernel):
    from nbclient.exceptions import CellExecutionError

    d = derive(NetworkSpec())
    source = generate_source(d)
    broken = "return _shaped(_sums(x, y, theta) / x.shape[0])"
    assert source.count(broken) == 1
    source = source.replace(broken, "return _shaped(1.001 * _sums(x, y, theta) / x.shape[0])")
    text = render_notebook(d, prove_all(d), source)
    with pytest.raises(CellExecutionError, match="disagree with central differences"):
        execute(text, python_kernel)


def test_the_code_section_comes_before_the_appendices(built):
    """Issue 13: "Running it" followed the appendices; it closes the chapter, before them."""
    import nbformat

    _, text = built
    cells = nbformat.reads(text, as_version=4).cells
    firsts = [cell.source.splitlines()[0] for cell in cells if cell.cell_type == "markdown"]
    running = next(k for k, line in enumerate(firsts) if "Running it" in line)
    appendices = [k for k, line in enumerate(firsts) if line.startswith("## Appendix")]
    assert appendices and running < min(appendices), firsts
    code = [k for k, cell in enumerate(cells) if cell.cell_type == "code"]
    heads = [k for k, c in enumerate(cells) if c.source.startswith("## Appendix")]
    assert max(code) < min(heads)
    assert any("gradients.input_gradient(batch, labels, params)" in cells[k].source for k in code)


def test_the_comparison_fails_on_a_wrong_input_gradient(executed):
    spec, notebook, stdout, _ = executed
    truth = engine_truth(spec, check_point(nbformat_text(notebook)))
    wrong = printed_values(stdout)
    wrong["dX"] = (np.asarray(wrong["dX"]) + 1e-9).tolist()
    with pytest.raises(AssertionError, match="dX"):
        compare_with_engine(wrong, truth)


def test_printed_values_reads_arrays_over_several_lines():
    stdout = "L = 0.5\ndW1 = [[1.0, 2.0],\n [3.0, 4.0]]\n  dW1: largest 1e-11\ndecreased = True\n"
    assert printed_values(stdout) == {"L": 0.5, "dW1": [[1.0, 2.0], [3.0, 4.0]], "decreased": True}
