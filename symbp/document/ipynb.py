"""The chapter as a Jupyter notebook: its prose and math, then code that runs the network.

The Markdown cells are the Markdown document (`render_markdown`) cut at its headings, with
GitHub's math forms (```` ```math ```` blocks, `` $`…`$ ``) turned into the `$$…$$` and `$…$`
that Jupyter renders. The code cells, which need only NumPy, load the generated module,
reproduce the worked example, check the gradients against central differences and take one
gradient-descent step.

The module's source is embedded in the notebook and executed into a `types.ModuleType`, rather
than written beside it as gradients.py: the .ipynb is then the whole deliverable, it runs from
any folder and with `--format ipynb` alone, it cannot pick up a stale or different gradients.py
lying next to it, and the code a reader runs is visibly the code the derivation produced. The
document layer does not import the code generator (the layers point down), so the caller passes
the source in.

nbformat is needed only to write the file (the optional extra `symbp[notebook]`). The bytes are
deterministic: fixed cell ids (cell-001, ...), no execution counts or outputs, no timestamps,
and nbformat's own sorted-key JSON.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from symbp.document import DEFAULT_TITLE

if TYPE_CHECKING:  # imported when a notebook is rendered: `require_nbformat` stays cheap
    from symbp.proofs import Proof
    from symbp.spec.model import NetworkSpec
    from symbp.symbolic.derivation import Derivation

EXTRA_HINT = "--format ipynb needs nbformat, which is not installed: pip install 'symbp[notebook]'"
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}
STEP = 1e-6  # central differences: truncation error ~STEP**2, rounding ~1e-16 / STEP
TOLERANCE = 1e-6  # what the notebook's gradient check accepts as agreement
AGREEMENT = 1e-8  # engine against central differences where the check is made (default: 4e-11)

_FENCE = re.compile(r"^\s*```")
_HEADING = re.compile(r"^#{1,6}\s")
_GITHUB_INLINE_MATH = re.compile(r"\$`([^`]+)`\$")
_SECTION_NUMBER = re.compile(r"^## (\d+) ", re.MULTILINE)


class MissingExtraError(RuntimeError):
    """nbformat is not installed; the message says what to install."""


def require_nbformat() -> Any:
    """nbformat, imported; MissingExtraError (one line, naming the extra) when it is absent, so
    `symbp derive` can refuse before the derivation's work instead of after it."""
    try:
        return importlib.import_module("nbformat")
    except ImportError:
        raise MissingExtraError(EXTRA_HINT) from None


def render_notebook(
    d: Derivation,
    proofs: list[Proof],
    module_source: str,
    title: str = DEFAULT_TITLE,
    *,
    markdown: str | None = None,
    checks: Mapping[str, Any] | None = None,
) -> str:
    """The notebook's JSON text (nbformat v4, validated): the chapter, then the code cells.

    `module_source` is the generated module (symbp.codegen.module.generate_source);
    `markdown`, when the caller has already rendered the Markdown document, saves rendering it
    again (otherwise it is rendered with `checks`, as for `build.render_markdown`). The
    Training section is never included: its figures are separate files."""
    from .build import render_markdown

    nbformat = require_nbformat()
    v4 = nbformat.v4
    text = markdown if markdown is not None else render_markdown(d, proofs, title, checks=checks)
    chapter, appendices = split_appendices(text)
    cells: list[tuple[str, str]] = [("markdown", cell) for cell in markdown_cells(chapter)]
    cells += code_part(d, module_source, _next_section(chapter))
    cells += [("markdown", cell) for cell in markdown_cells(appendices)]
    notebook = v4.new_notebook(metadata={"kernelspec": KERNEL, "language_info": {"name": "python"}})
    for number, (kind, source) in enumerate(cells, start=1):
        make = v4.new_markdown_cell if kind == "markdown" else v4.new_code_cell
        notebook.cells.append(make(source, id=f"cell-{number:03d}"))
    nbformat.validate(notebook)
    return str(nbformat.writes(notebook)) + "\n"


def markdown_cells(text: str) -> list[str]:
    """The Markdown document in Jupyter's dialect, one cell per heading (a heading inside a
    fenced block does not count)."""
    cells: list[list[str]] = [[]]
    fence: str | None = None  # None outside a fenced block, else its info string
    for line in text.splitlines():
        if fence is None and _FENCE.match(line):
            fence = line.strip()[3:].strip()
            cells[-1].append("$$" if fence == "math" else line)
            continue
        if fence is not None:
            if _FENCE.match(line) and not line.strip()[3:].strip():
                cells[-1].append("$$" if fence == "math" else line)
                fence = None
            else:
                cells[-1].append(line)
            continue
        if _HEADING.match(line) and any(part.strip() for part in cells[-1]):
            cells.append([])
        cells[-1].append(_GITHUB_INLINE_MATH.sub(r"$\1$", line))
    return [joined for cell in cells if (joined := "\n".join(cell).strip("\n"))]


def split_appendices(markdown: str) -> tuple[str, str]:
    """The chapter and its appendices (from the first "## Appendix" heading outside a fenced
    block on), so that the code section is read with the chapter, before the appendices."""
    offset, fenced = 0, False
    for line in markdown.splitlines(keepends=True):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and line.startswith("## Appendix"):
            return markdown[:offset], markdown[offset:]
        offset += len(line)
    return markdown, ""


def _next_section(markdown: str) -> str:
    """'10 ' after a document whose last section is '## 9 …'; '' when sections are unnumbered."""
    numbers = [int(n) for n in _SECTION_NUMBER.findall(markdown)]
    return f"{max(numbers) + 1} " if numbers else ""


def code_part(d: Derivation, module_source: str, number: str = "") -> list[tuple[str, str]]:
    """The closing section: (kind, source) of each Markdown and code cell."""
    from symbp.reference.example import worked_example

    example = worked_example(d.spec)
    return [
        ("markdown", _INTRODUCTION.format(number=number)),
        ("code", source_cell(module_source)),
        ("code", _LOADER),
        ("markdown", _EXAMPLE_TEXT),
        ("code", example_cell(example, d.parameter_names)),
        *check_cells(d.spec, example, d.parameter_names),
        ("markdown", _DESCENT_TEXT.format(rate=example["learning_rate"])),
        ("code", _DESCENT),
    ]


def check_cells(
    spec: NetworkSpec, example: dict[str, Any], names: Sequence[str]
) -> list[tuple[str, str]]:
    """The gradient check's text and code: at the worked example when central differences are
    meaningful there, else at the first nearby point (`nudged` by seed 1, 2, ...) where they are."""
    params = {name: example["params"][name] for name in names}
    seed = check_seed(spec, example["X"], example["Y"], params)
    agreement = _power_of_ten(AGREEMENT)
    where = (_AT_EXAMPLE if seed is None else _NEARBY).format(agreement=agreement)
    point = _CHECK_HERE if seed is None else _CHECK_NEARBY.format(seed=seed)
    return [
        ("markdown", _CHECK_TEXT.format(step=_power_of_ten(STEP), where=where)),
        ("code", _CHECK.format(step=STEP, tolerance=TOLERANCE, point=point)),
    ]


def check_seed(
    spec: NetworkSpec, image: Any, label: float, params: dict[str, Any], tries: int = 50
) -> int | None:
    """None when central differences are meaningful at the worked example, else the first seed
    of `nudged` whose point they are meaningful at; ValueError when no seed up to `tries` is.

    Meaningful: the independent numeric engine's gradients agree with them to AGREEMENT. At a
    kink (an input of a ReLU exactly 0, a tied pool window) they need not; a tie between two
    entries that are the same function of the parameters (dead ReLU regions) is harmless."""
    from symbp.reference.engine import NumericNetwork
    from symbp.reference.gradcheck import finite_difference_gradients

    net, labels = NumericNetwork(spec), np.array([float(label)])
    image = np.asarray(image, dtype=float)
    for seed in range(tries + 1):
        point = {
            name: nudged(v, seed + 100 * (n + 1)) for n, (name, v) in enumerate(params.items())
        }
        batch = (nudged(image, seed) if seed else image)[None]
        point = point if seed else params
        exact = net.gradients(batch, labels, point)
        estimates = finite_difference_gradients(partial(net.loss, batch, labels), point, eps=STEP)
        if all(np.max(np.abs(exact[n] - estimates[n])) < AGREEMENT for n in point):
            return seed or None
    raise ValueError("central differences disagree with the engine at every point tried")


def nudged(value: Any, start: int) -> np.ndarray:
    """The notebook's `nudged`: value + 0.01 sin(start + i) at flat index i."""
    array = np.asarray(value, dtype=float)
    return array + 0.01 * np.sin(start + np.arange(array.size)).reshape(array.shape)


def _power_of_ten(number: float) -> str:
    """1e-06 -> '10^{-6}', as the Markdown's math writes it."""
    mantissa, exponent = f"{number:e}".split("e")
    power = f"10^{{{int(exponent)}}}"
    return power if float(mantissa) == 1 else f"{float(mantissa):g} \\cdot {power}"


def source_cell(module_source: str) -> str:
    """`GRADIENTS_SOURCE = r'''…'''`: the module as it would be written, readable in the cell.
    A raw triple-quoted string holds any text without `'''` verbatim; it is parsed back here, and
    a source it would not hold exactly is written as an escaped literal instead."""
    head = "# The generated module, exactly as `symbp derive --format py` writes gradients.py.\n"
    cell = f"{head}GRADIENTS_SOURCE = r'''{module_source}'''"
    try:
        held = ast.literal_eval(cell.split("= ", 1)[1])
    except (SyntaxError, ValueError):
        held = None
    if held != module_source:
        cell = f"{head}GRADIENTS_SOURCE = {module_source!r}"
    return cell


def example_cell(example: dict[str, Any], names: Sequence[str]) -> str:
    """The worked example's image, label and parameters as literals, then its loss and gradients."""
    params = example["params"]
    lines = [
        "# The worked example: the document's image, label and parameters.",
        f"X = {array_literal(np.asarray(example['X']), len('X = '))}",
        f"Y = {float(example['Y'])!r}",
        "params = {",
        *(f'    "{name}": {_parameter(name, np.asarray(params[name]))},' for name in names),
        "}",
        f"LEARNING_RATE = {float(example['learning_rate'])!r}",
        "",
        _EXAMPLE_RUN,
    ]
    return "\n".join(lines)


def _parameter(name: str, value: np.ndarray) -> str:
    return array_literal(value, len(f'    "{name}": '))


def array_literal(value: np.ndarray, column: int = 0) -> str:
    """`np.array([[0.1, 0.2],\n [0.3, 0.4]])` for a literal starting at `column`: one row per
    line from two dimensions on, aligned under the first; floats as Python writes them (the
    shortest exact form), so the cell holds the document's numbers."""
    return f"np.array({_nested(value, column + len('np.array('))})"


def _nested(value: np.ndarray, column: int) -> str:
    """The nested list whose opening bracket is at `column`."""
    if value.ndim == 0:
        return repr(float(value))
    if value.ndim == 1:
        return "[" + ", ".join(repr(float(v)) for v in value) + "]"
    rows = [_nested(row, column + 1) for row in value]
    return "[" + f",\n{' ' * (column + 1)}".join(rows) + "]"


def printed_values(stdout: str) -> dict[str, Any]:
    """`name = value` lines of the code cells' output, values parsed as Python literals (an
    array's continuation lines included); other lines are ignored. For tests and readers who
    want the notebook's numbers back."""
    values: dict[str, Any] = {}
    for name, text in _printed(stdout.splitlines()):
        values[name] = ast.literal_eval(text)
    return values


def _printed(lines: list[str]) -> Iterator[tuple[str, str]]:
    entry = re.compile(r"^([A-Za-z_]\w*) = (.*)$")
    pending: tuple[str, str] | None = None
    for line in lines:
        if pending is not None:
            pending = (pending[0], pending[1] + line)
        else:
            match = entry.match(line)
            if match is None:
                continue
            pending = (match[1], match[2])
        if pending[1].count("[") == pending[1].count("]"):
            yield pending
            pending = None


_INTRODUCTION = """\
## {number}Running it: the generated module

The cells below need only NumPy, not symbp. The first holds the source of the module that
`symbp derive --format py` writes as `gradients.py` for this network, every gradient printed
from the derivation above; the second executes it as the module `gradients`. The source sits in
the notebook rather than in a file beside it, so the notebook runs from any folder, on its own."""

_LOADER = """\
import linecache
import sys
import types

import numpy as np

np.set_printoptions(linewidth=100)

gradients = types.ModuleType("gradients")
gradients.__file__ = "<gradients.py, embedded in this notebook>"
# Registered with linecache so that a traceback shows the module's lines.
linecache.cache[gradients.__file__] = (
    len(GRADIENTS_SOURCE), None, GRADIENTS_SOURCE.splitlines(True), gradients.__file__
)
exec(compile(GRADIENTS_SOURCE, gradients.__file__, "exec"), gradients.__dict__)
sys.modules["gradients"] = gradients  # later cells may also `import gradients`
print("gradients of", ", ".join(gradients.PARAMETERS), "for input", gradients.INPUT_SHAPE)"""

_EXAMPLE_TEXT = """\
### The worked example

The image and the parameters of the worked example, as a batch of one image. The module's
`loss` and `gradients` give the loss (to every digit) and the gradient of every parameter (to
twelve decimals), and `input_gradient` the gradient of the image, $\\delta X$: the numbers of the
worked example."""

_EXAMPLE_RUN = """\
batch, labels = X[None], np.array([Y])  # a batch of one image
L = gradients.loss(batch, labels, params)
grads = gradients.gradients(batch, labels, params)
print("L =", repr(L))
for name, value in grads.items():
    print(f"d{name} =", np.array2string(value, precision=12, floatmode="fixed", separator=", "))
dX = gradients.input_gradient(batch, labels, params)[0]  # the image's gradient, dL/dX
print("dX =", np.array2string(dX, precision=12, floatmode="fixed", separator=", "))"""

_CHECK_TEXT = """\
### Gradient check

Each parameter element is moved by $\\pm h$ with $h = {step}$ and the loss is evaluated
twice: $(L(\\theta + h) - L(\\theta - h)) / 2h$ estimates $\\partial L / \\partial \\theta$ with
an error of order $h^2$, by a route that never differentiates anything. The derived gradients
must agree with every estimate. {where}"""

_AT_EXAMPLE = """\
The check is made at the worked example, where symbp's independent numeric engine agrees with
central differences to ${agreement}$: the loss has no kink within $h$ of it that would make the
estimates meaningless."""

_NEARBY = """\
The worked example sits on a kink of the loss (an input of a ReLU exactly $0$, or a max-pool
window whose largest value is tied), where the loss has no derivative, only the convention's
value, and central differences measure nothing. The check is made at a point nearby instead,
every number of the image and of the parameters moved by less than $0.01$: the first such point
where symbp's independent numeric engine agrees with central differences to ${agreement}$."""

_CHECK_HERE = """\
check_batch, check_params, check_grads = batch, params, grads  # the worked example is smooth
"""

_CHECK_NEARBY = """\
def nudged(value, start):
    \"\"\"value + 0.01 sin(start + i) at flat index i: a small move, different everywhere.\"\"\"
    value = np.asarray(value, dtype=float)
    return value + 0.01 * np.sin(start + np.arange(value.size)).reshape(value.shape)


check_batch = nudged(X, {seed})[None]
check_params = {{
    name: nudged(value, {seed} + 100 * (n + 1)) for n, (name, value) in enumerate(params.items())
}}
check_grads = gradients.gradients(check_batch, labels, check_params)
"""

_CHECK = '''\
def central_differences(batch, labels, params, h={step!r}):
    """dL/dtheta for every parameter element, from two loss evaluations each."""
    estimates = {{}}
    for name, value in params.items():
        value = np.asarray(value, dtype=float)
        estimate = np.empty(value.shape)
        for index in np.ndindex(value.shape):
            up, down = value.copy(), value.copy()
            up[index] += h
            down[index] -= h
            L_up = gradients.loss(batch, labels, {{**params, name: up}})
            L_down = gradients.loss(batch, labels, {{**params, name: down}})
            estimate[index] = (L_up - L_down) / (2 * h)
        estimates[name] = estimate
    return estimates


{point}
estimates = central_differences(check_batch, labels, check_params)
errors = {{
    name: float(np.max(np.abs(check_grads[name] - estimates[name]))) for name in check_params
}}
for name, error in errors.items():
    print(f"  d{{name}}: largest |derived - central difference| {{error:.1e}}")
max_error = max(errors.values())
print("max_error =", repr(max_error))
assert max_error < {tolerance!r}, "the derived gradients disagree with central differences"'''

_DESCENT_TEXT = """\
### One step of gradient descent

Every parameter moves against its gradient, $\\theta \\leftarrow \\theta - \\eta\\,\\delta\\theta$
with $\\eta = {rate:g}$. The loss of the same image, evaluated again, should fall."""

_DESCENT = """\
updated = {name: params[name] - LEARNING_RATE * grads[name] for name in params}
L_after = gradients.loss(batch, labels, updated)
print("L =", repr(L))
print("L_after =", repr(L_after))
print("decreased =", L_after < L)"""
