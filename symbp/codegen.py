"""Compile a derivation into a standalone NumPy module (`gradients.py`).

The module is straight-line code: one assignment per element of every staged quantity, each
printed from the derivation's own expressions by `NumPyCodePrinter`, with repeated
subexpressions (the ReLU masks and pool routes shared by the forward and backward pass)
computed once. The first layer, being affine in the images, is the exception: it runs as
products with its Jacobian, whose entries `sympy.diff` found, and its parameter sums come from
one product dz @ x. It works on a block of images at a time, each element a vector over the block,
and needs nothing beyond NumPy.

`load(derivation)` executes the same source in-process, so the code that is tested is the code
that is shipped.
"""

from __future__ import annotations

import functools
import textwrap
import types
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

import sympy as sp

from . import __version__
from .derivation import Derivation
from .printers import LONG_SUM, NumPyCodePrinter, ScalarCodePrinter
from .symbols import rebuild_node

SCALAR_BATCH = 4  # batches this small run image by image in Python floats
CHUNK = 1024
BLOCK_SIZE = 4096  # images per block: its vectors (32 KiB each) stay in cache
SCALAR_PATH_LIMIT = 10_000  # symbolic cost past which the pure-Python path is left out


# -------------------------------------------------------------------------------- CSE
def eliminate_common_subexpressions(
    assignments: list[tuple[sp.Symbol, sp.Expr]],
) -> list[tuple[sp.Symbol, sp.Expr]]:
    """Give every subexpression that occurs more than once its own assignment.

    A linear-time tree CSE (the idea of `sympy.cse` without its optimization passes, which take
    seconds on a 28x28 network): count subtrees, not descending into a subtree already seen,
    then rebuild each right-hand side with the repeats replaced by new symbols `t0, t1, ...`
    named in order of first use, so the output is deterministic.
    """
    seen: Counter[sp.Basic] = Counter()

    def count(node: sp.Basic) -> None:
        if node.is_Atom or not node.args or not isinstance(node, sp.Expr):
            return
        if node.is_Mul and len(node.args) == 2 and node.args[0] == -1 and node.args[1].is_Atom:
            return
        seen[node] += 1
        if seen[node] > 1:
            return
        for arg in node.args:
            count(arg)

    for _, expr in assignments:
        count(expr)
    repeated = {node for node, n in seen.items() if n > 1}
    named: dict[sp.Basic, sp.Symbol] = {}
    result: list[tuple[sp.Symbol, sp.Expr]] = []

    def rebuild(node: sp.Basic) -> sp.Basic:
        if node in named:
            return named[node]
        if node.is_Atom or not node.args or not isinstance(node, sp.Expr):
            return node
        args = [rebuild(arg) for arg in node.args]
        unchanged = all(new is old for new, old in zip(args, node.args, strict=True))
        new = node if unchanged else rebuild_node(node, args)
        if node in repeated:
            symbol = sp.Symbol(f"t{len(named)}", real=True)
            named[node] = symbol
            result.append((symbol, new))
            return symbol
        return new

    for symbol, expr in assignments:
        result.append((symbol, rebuild(expr)))
    return result


# ------------------------------------------------------------------------- code assembly
@dataclass(frozen=True)
class LinearInput:
    """The first layer, when it is affine in the images: one matrix product for all outputs.

    `rows`, `cols` and `entries` list the nonzero local derivatives d out[row] / d x[col] that
    `sympy.diff` found; each is a single parameter symbol (entries index into theta), so the
    Jacobian is assembled once per call and the whole layer is `jacobian @ x + offset`.
    """

    name: str  # 'z1'
    outputs: list[sp.Symbol]
    rows: list[int]
    cols: list[int]
    entries: list[int]  # positions in theta
    offset: sp.Expr | None  # the same for every output (the bias), or
    offsets: list[int]  # per output, its bias's position in theta (several filters)


def _linear_input(d: Derivation, staged: list[tuple[sp.Symbol, sp.Expr]]) -> LinearInput | None:
    first = d.stages[0]
    step = next(s for s in d.steps if s.stage == first and s.target == first.input)
    inputs = d.quantities[first.input]
    outputs = d.quantities[first.output]
    theta = {s: k for k, s in enumerate(_parameter_symbols(d))}
    in_position = {index: k for k, index in enumerate(inputs.indices())}
    out_position = {index: k for k, index in enumerate(outputs.indices())}
    rows, cols, entries = [], [], []
    for (out_index, in_index), derivative in sorted(step.local.items()):
        if derivative not in theta:
            return None
        rows.append(out_position[out_index])
        cols.append(in_position[in_index])
        entries.append(theta[derivative])
    zero = {s: sp.S.Zero for s in inputs.flat()}
    expressions = dict(staged)
    offsets = [expressions[s].xreplace(zero) for s in outputs.flat()]
    if len(set(offsets)) == 1:
        return LinearInput(outputs.code, outputs.flat(), rows, cols, entries, offsets[0], [])
    if not all(offset in theta for offset in offsets):
        return None
    positions = [theta[offset] for offset in offsets]
    return LinearInput(outputs.code, outputs.flat(), rows, cols, entries, None, positions)


def _jacobian_parameters(d: Derivation, linear: LinearInput) -> set[int]:
    """Theta positions whose gradient is exactly sum over their Jacobian entries of dz * x.

    Checked symbolically against the derivation, so the compiled shortcut (one product
    dz @ x, then a sum per parameter) computes the derived expression and nothing else.
    """
    theta = _parameter_symbols(d)
    dz = d.gradient_symbols["d" + d.stages[0].output].flat()
    x = d.quantities[d.stages[0].input].flat()
    expected: dict[int, list[sp.Expr]] = {}
    for row, col, k in zip(linear.rows, linear.cols, linear.entries, strict=True):
        expected.setdefault(k, []).append(dz[row] * x[col])
    position = {s: k for k, s in enumerate(theta)}
    covered = set()
    for name in d.parameter_names:
        for index in d.quantities[name].indices():
            k = position[d.quantities[name].symbols[index]]
            derived = d.gradients[name][index]
            if k in expected:
                difference = derived - sp.Add(*expected[k])
                if difference == 0 or sp.expand(difference) == 0:
                    covered.add(k)
    return covered


def _index_array(name: str, values: list[int]) -> str:
    """A module-level index array, wrapped for reading."""
    chunks = [", ".join(map(str, values[k : k + 24])) for k in range(0, len(values), 24)]
    body = ",\n    ".join(chunks)
    return f"{name} = np.array([\n    {body},\n], dtype=np.intp)"


def _needed(
    assignments: list[tuple[sp.Symbol, sp.Expr]], outputs: Iterable[sp.Expr]
) -> list[tuple[sp.Symbol, sp.Expr]]:
    """Keep only the assignments the outputs depend on, in their original order."""
    definitions = dict(assignments)
    wanted: set[sp.Symbol] = set()
    stack = [s for expr in outputs for s in expr.free_symbols]
    while stack:
        symbol = stack.pop()
        if symbol in wanted or symbol not in definitions:
            continue
        wanted.add(symbol)
        stack.extend(definitions[symbol].free_symbols)
    return [(s, e) for s, e in assignments if s in wanted]


def _batch_sum(expr: sp.Expr, printer: NumPyCodePrinter) -> str:
    """Sum an element expression over the block: sums of products become dot products."""
    terms = expr.args if isinstance(expr, sp.Add) else (expr,)
    parts = []
    for term in terms:
        factors: tuple[sp.Basic, ...] = term.args if isinstance(term, sp.Mul) else (term,)
        if len(factors) == 2 and all(f.is_Symbol for f in factors):
            parts.append(f"np.dot({printer.doprint(factors[0])}, {printer.doprint(factors[1])})")
        else:
            parts.append(f"np.sum({printer.doprint(term)})")
    if len(parts) > LONG_SUM:
        return "sum((" + ", ".join(parts) + "))"
    return " + ".join(parts) if parts else "0.0"


def _unpack(names: list[str], source: str, indent: str = "    ") -> list[str]:
    """'a, b, c = source' wrapped to stay readable."""
    lines, current = [], ""
    for name in names:
        piece = name + ", "
        if len(current) + len(piece) > 88:
            lines.append(current)
            current = ""
        current += piece
    lines.append(current)
    if len(lines) == 1:
        return [f"{indent}{lines[0].rstrip()} = {source}"]
    body = [f"{indent}    {line.rstrip()}" for line in lines]
    return [f"{indent}(", *body, f"{indent}) = {source}"]


class _Lines:
    """Each assignment printed once, however many block functions use it."""

    def __init__(self, printer: NumPyCodePrinter, vectors: bool = True) -> None:
        self._printer = printer
        self._vectors = vectors
        self._printed: dict[sp.Symbol, str] = {}

    def __call__(self, assignments: list[tuple[sp.Symbol, sp.Expr]]) -> list[str]:
        lines = []
        for symbol, expr in assignments:
            if symbol not in self._printed:
                self._printed[symbol] = f"    {symbol.name} = {self._right_side(expr)}"
            lines.append(self._printed[symbol])
        return lines

    def _right_side(self, expr: sp.Expr) -> str:
        """The printed expression; a constant (the gradient of an input cell no window reads
        is 0) becomes a vector over the block like every other name."""
        if self._vectors and expr.is_Number:
            return "np.zeros_like(y)" if expr == 0 else f"np.full_like(y, {float(expr)!r})"
        return self._printer.doprint(expr)


def _parameter_symbols(d: Derivation) -> list[sp.Symbol]:
    return [s for name in d.parameter_names for s in d.quantities[name].flat()]


def generate_source(d: Derivation, command: str | None = None) -> str:
    """The text of the standalone module for this derivation."""
    return _header(d, command) + _module_body(d)


def _header(d: Derivation, command: str | None) -> str:
    spec = d.spec
    shape = ", ".join(("H", "W") if spec.channels == 1 else ("C", "H", "W"))
    config = " "
    if command is not None and command.endswith("--config net.toml"):
        config = " net.toml holds:\n\n" + _indent(spec.to_toml().rstrip("\n"), "    ") + "\n\n"
    network = (
        f"Network ({spec.label}; {spec.parameter_count} trainable parameters: "
        f"{spec.parameter_breakdown}):"
    )
    conventions = (
        f"Conventions: {_conventions(d)}; the loss is the mean over the batch, so every gradient "
        "is the gradient of that mean and has its parameter's shape."
    )
    return _HEADER.format(
        version=__version__,
        network=textwrap.fill(network, width=96, break_on_hyphens=False),
        pipeline=_pipeline(d),
        conventions=textwrap.fill(conventions, width=96, break_on_hyphens=False),
        order=", ".join(d.parameter_names),
        x_shape=f"(M, {shape})",
        prediction=d.prediction,
        logit=d.logit,
        command=command or "symbp derive",
        config=config,
    )


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


_ACTIVATION_TEXT = {
    "relu": "ReLU({})",
    "leaky_relu": "LeakyReLU({})",
    "sigmoid": "sigmoid({})",
    "tanh": "tanh({})",
    "identity": "{}",
}


def _pipeline(d: Derivation) -> str:
    """X -> Z1 = X (cross-correlation) W1 + B1 -> A1 = ReLU(Z1) -> ..., wrapped."""
    pieces = ["X"]
    for stage in d.stages:
        i, o = stage.input, stage.output
        if stage.kind == "conv":
            assert stage.geometry is not None
            block = stage.geometry.block
            how = ["cross-correlation"]
            if block.stride != 1:
                how.append(f"stride {block.stride}")
            if block.padding:
                how.append(f"zero padding {block.padding}")
            w, b = stage.params
            pieces.append(f"{o} = {i} ({', '.join(how)}) {w} + {b}")
        elif stage.kind in _ACTIVATION_TEXT and o != d.prediction:
            pieces.append(f"{o} = " + _ACTIVATION_TEXT[stage.kind].format(i))
        elif stage.kind in ("maxpool", "avgpool"):
            pieces.append(f"{o} = {'MaxPool' if stage.kind == 'maxpool' else 'AvgPool'}({i})")
        elif stage.kind == "flatten":
            pieces.append(f"{o} = flatten({i}) (row-major)")
        elif stage.kind == "dense":
            w, b = stage.params
            pieces.append(f"{o} = {i} . {w} + {b}")
        elif stage.kind == "sigmoid":
            pieces.append(f"{o} = sigmoid({i})")
        elif stage.kind == "bce":
            pieces.append(f"{o} = mean BCE(Y, {i})")
    lines, current = [], "    " + pieces[0]
    for piece in pieces[1:]:
        if len(current) + len(piece) + 4 > 100:
            lines.append(current)
            current = "      -> " + piece
        else:
            current += " -> " + piece
    return "\n".join([*lines, current])


def _conventions(d: Derivation) -> str:
    kinds = {stage.kind for stage in d.stages}
    words = ["cross-correlation (the kernel is not flipped)"]
    if any(s.geometry is not None and s.geometry.block.padding for s in d.conv_stages):
        words.append("padding adds zeros")
    if "relu" in kinds:
        words.append("ReLU'(0) = 0")
    if "leaky_relu" in kinds:
        words.append("LeakyReLU'(0) is its slope")
    if "maxpool" in kinds:
        words.append(
            "a tied max-pool window sends its whole gradient to the first maximum in "
            "row-major order"
        )
    if "avgpool" in kinds:
        words.append("an average pool spreads its gradient evenly")
    return "; ".join(words)


@functools.lru_cache(maxsize=8)
def _module_body(d: Derivation) -> str:
    """Everything after the docstring; printed once per derivation however often it is asked for."""
    spec = d.spec
    printer = NumPyCodePrinter()
    x_symbols = d.quantities["X"].flat()
    y = d.quantities["Y"].symbols[()]
    z2 = cast(sp.Symbol, d.quantities[d.logit].symbols[()])
    a2 = cast(sp.Symbol, d.quantities[d.prediction].symbols[()])
    theta = _parameter_symbols(d)
    staged = eliminate_common_subexpressions(d.staged_assignments())
    assignment_lines = _Lines(printer)
    linear = _linear_input(d, staged)
    first_layer = set(linear.outputs) if linear else set()
    extra_theta = ["jacobian"] if linear else []
    if linear and linear.offset is None:
        extra_theta.append("offset")

    parameter_outputs = [
        d.gradients[name][index]
        for name in d.parameter_names
        for index in d.quantities[name].indices()
    ]
    input_outputs = [d.gradients["X"][index] for index in d.quantities["X"].indices()]
    loss_expr = sp.log(1 + sp.exp(z2)) - y * z2  # proved equal to BCE(y, sigmoid(z2))

    scalar_lines = _Lines(ScalarCodePrinter(), vectors=False)

    def block_function(
        name: str,
        doc: str,
        outputs: list[sp.Expr],
        returns: list[str],
        scalar: bool = False,
        epilogue: tuple[str, ...] = (),
    ) -> list[str]:
        body = _needed(staged, outputs)
        lines = [f"def {name}(x, y, theta):", f'    """{doc}"""']
        product = linear if not scalar and any(s in first_layer for s, _ in body) else None
        if product:
            body = [(s, e) for s, e in body if s not in first_layer]
        used = {s for _, e in body for s in e.free_symbols} | {
            s for e in outputs for s in e.free_symbols if s not in first_layer
        }
        if product and product.offset is not None:
            used |= product.offset.free_symbols
        unused_extra = ["_"] * len(extra_theta) if scalar else extra_theta
        lines += _unpack([s.name if s in used else "_" for s in theta] + unused_extra, "theta")
        if product:
            lines.append(
                f"    # {product.name} is affine in the images: one product with its Jacobian"
            )
            lines.append(f"    {product.name} = _by_columns(jacobian, x)")
            if product.offset is None:
                lines.append(f"    {product.name} += offset  # each output's own bias")
            else:
                lines.append(f"    {product.name} += {printer.doprint(product.offset)}")
            lines += _unpack([s.name for s in product.outputs], product.name)
        if any(s in used for s in x_symbols):
            source = "x" if scalar else "np.ascontiguousarray(x.T)"
            lines += _unpack([s.name if s in used else "_" for s in x_symbols], source)
        lines += scalar_lines(body) if scalar else assignment_lines(body)
        lines += [f"    {line}" for line in epilogue]
        if len(returns) == 1:
            lines.append(f"    return {returns[0]}")
        else:
            lines += ["    return (", *(f"        {r}," for r in returns), "    )"]
        return lines

    doc = "Sums over the block of dL/d(parameter element), per image (not yet / M)."
    if linear:
        dz = d.gradient_symbols["d" + d.stages[0].output].flat()
        from_jacobian = _jacobian_parameters(d, linear)
        total_dz = sp.Add(*dz)
        bias_sums = {
            k: sp.Add(*(s for s, at in zip(dz, linear.offsets, strict=True) if at == k))
            for k in set(linear.offsets)
        }
        returns, needs = [], list(dz)
        for k, e in enumerate(parameter_outputs):
            if k in from_jacobian:
                returns.append(f"first[{k}]")
            elif e == total_dz:
                returns.append("dz.sum()")
            elif k in bias_sums and e == bias_sums[k]:
                returns.append(f"biases[{k}]")
            else:
                returns.append(_batch_sum(e, printer))
                needs.append(e)
        gradient_block = block_function(
            "_gradient_block",
            doc + "\n    The first layer's parameters: entries of dz @ x, summed per parameter.",
            needs,
            returns,
            epilogue=(
                f"dz = np.array([{', '.join(s.name for s in dz)}])",
                "first = _first_layer_sums(dz, x)",
                *(
                    ["biases = np.bincount(OFFSET_THETA, dz.sum(axis=1), PARAMETER_COUNT)"]
                    if bias_sums
                    else []
                ),
            ),
        )
    else:
        gradient_block = block_function(
            "_gradient_block",
            doc,
            parameter_outputs,
            [_batch_sum(e, printer) for e in parameter_outputs],
        )
    scalar_printer = ScalarCodePrinter()
    scalar_batch = SCALAR_BATCH if spec.symbolic_cost <= SCALAR_PATH_LIMIT else 0
    if scalar_batch:
        gradient_scalar = block_function(
            "_gradient_scalar",
            "The same for one image, in Python floats: small batches skip NumPy's per-call cost.",
            parameter_outputs,
            [scalar_printer.doprint(e) for e in parameter_outputs],
            scalar=True,
        )
    else:
        gradient_scalar = [
            "def _gradient_scalar(x, y, theta):",
            '    """Not generated: for a network this large, one image in Python floats is no',
            '    faster than the NumPy blocks (SCALAR_BATCH = 0), and it would double the file."""',
            '    raise NotImplementedError("no pure-Python path in this module")',
        ]
    if linear:
        dz = d.gradient_symbols["d" + d.stages[0].output].flat()
        input_block = block_function(
            "_input_gradient_block",
            "dL/dx for every image in the block (not yet / M), one image per row:"
            "\n    the first layer's gradient times its Jacobian.",
            dz,
            [f"_by_rows(np.array([{', '.join(s.name for s in dz)}]), jacobian)"],
        )
    else:
        pixels = [printer.doprint(e) if e != 0 else "np.zeros_like(y)" for e in input_outputs]
        input_block = block_function(
            "_input_gradient_block",
            "dL/dx for every image in the block (not yet / M), one image per row.",
            input_outputs,
            [f"np.array([{', '.join(pixels)}]).T"],
        )
    loss_block = block_function(
        "_loss_block",
        f"Sum over the block of BCE(y, sigmoid({z2.name})) = softplus({z2.name}) - y {z2.name},"
        "\n    written max(z, 0) - y z + log(1 + exp(-|z|)): no overflow, and no cancellation"
        "\n    when a saturated prediction is right.",
        [loss_expr],
        [
            f"np.sum((np.maximum({z2.name}, 0.0) - y * {z2.name})"
            f" + np.log1p(np.exp(-np.abs({z2.name}))))"
        ],
    )
    predict_block = block_function(
        "_predict_block",
        "sigmoid(z2) for every image in the block.",
        [a2],
        [printer.doprint(d.forward_definitions[a2])],
    )

    shapes = spec.parameter_shapes
    constants = [
        f"PARAMETERS = {{{', '.join(f'{k!r}: {v!r}' for k, v in shapes.items())}}}",
        f"INPUT_SHAPE = {tuple(spec.image_shape)!r}",
        f"PARAMETER_COUNT = {spec.parameter_count}",
        f"BLOCK_SIZE = {BLOCK_SIZE}",
        f"CHUNK = {CHUNK}  # images per matrix product: OpenBLAS stays on one thread, whose"
        " partner would stall whenever the other core is busy",
        f"SCALAR_BATCH = {scalar_batch}  # up to this many images: the pure-Python path",
        f"_UNUSED = {(None,) * len(extra_theta)!r}  # the pure-Python path's unused arguments",
    ]
    if linear:
        n_out, n_in = len(linear.outputs), len(d.quantities[d.stages[0].input].flat())
        constants += [
            f"JACOBIAN_SHAPE = ({n_out}, {n_in})",
            _index_array("JACOBIAN_ROWS", linear.rows),
            _index_array("JACOBIAN_COLS", linear.cols),
            _index_array("JACOBIAN_THETA", linear.entries),
        ]
        prepare = _PREPARE_LINEAR
        if linear.offset is None:
            constants.append(_index_array("OFFSET_THETA", linear.offsets))
            prepare = _PREPARE_LINEAR.replace(_RETURN_JACOBIAN, _RETURN_JACOBIAN_AND_OFFSET)
    else:
        prepare = _PREPARE_PLAIN
    parts = [
        "",
        "import math\n\nimport numpy as np\n",
        "\n".join(constants),
        _RUNTIME,
        prepare,
        "\n".join(loss_block),
        "\n".join(predict_block),
        "\n".join(gradient_block),
        "\n".join(gradient_scalar),
        "\n".join(input_block),
    ]
    return "\n\n".join(p.rstrip("\n") for p in parts) + "\n"


def load(d: Derivation) -> types.ModuleType:
    """Execute the generated source as an in-memory module (what lambdify does, kept readable)."""
    module = types.ModuleType("symbp_generated_gradients")
    module.__dict__["__file__"] = "<symbp generated>"
    exec(compile(generate_source(d), "<symbp generated gradients>", "exec"), module.__dict__)
    return module


_HEADER = '''"""Gradients of a small CNN's binary cross-entropy loss, derived by symbp {version}.

{network}
{pipeline}

{conventions}

Every assignment below was printed from the element expressions of symbp's chain-rule
derivation (sympy.diff, layer by layer), with repeated subexpressions computed once (t0, t1, ...).
Images are processed in blocks of BLOCK_SIZE; inside a block every name is a vector over images.

Contract:
    PARAMETERS                      name -> shape, in the order {order}
    loss(X, Y, params) -> float     mean binary cross-entropy over the batch
    gradients(X, Y, params) -> dict name -> ndarray, the gradient of that mean
    input_gradient(X, Y, params)    dL/dX, shape {x_shape}
    predict(X, params)              {prediction} = sigmoid({logit}), shape (M,)
    X: {x_shape} numbers; Y: (M,) labels in [0, 1]; params: name -> array of that shape.
    Numbers: bool, integer or float arrays, lists or scalars, computed in float64; strings,
    dates, complex values and masked entries are refused with a ValueError naming the input.

Generated by `{command}`.{config}Do not edit: regenerate instead. Depends only on NumPy.
"""'''


_RUNTIME = '''

def loss(X, Y, params):
    """Mean binary cross-entropy of the network's prediction over the batch."""
    x, y, theta = _validate(X, Y, params)
    theta = _prepare(theta)
    total = sum(_loss_block(*block) for block in _blocks(x, y, theta))
    return float(total / x.shape[0])


def gradients(X, Y, params):
    """Gradient of the mean loss with respect to every parameter, shaped like PARAMETERS."""
    x, y, theta = _validate(X, Y, params)
    if x.shape[0] <= SCALAR_BATCH:
        sums = np.array(_small_batch_sums(x, y, (*theta.tolist(), *_UNUSED)))
    else:
        sums = np.zeros(PARAMETER_COUNT)
        for block in _blocks(x, y, _prepare(theta)):
            sums += _gradient_block(*block)
    sums /= x.shape[0]
    return {name: sums[start:stop].reshape(shape) for name, start, stop, shape in _LAYOUT}


def input_gradient(X, Y, params):
    """Gradient of the mean loss with respect to the input images, shape (M, *INPUT_SHAPE).

    Each block's rows are divided by M straight into the preallocated result: beyond X and
    the result, only one block's working set is allocated, however large M is.
    """
    x, y, theta = _validate(X, Y, params)
    theta = _prepare(theta)
    m = x.shape[0]
    result = np.empty(x.shape)
    for start, block in zip(range(0, m, BLOCK_SIZE), _blocks(x, y, theta)):
        np.divide(_input_gradient_block(*block), m, out=result[start : start + BLOCK_SIZE])
    return result.reshape((m, *INPUT_SHAPE))


def predict(X, params):
    """The network's output A2 = sigmoid(Z2) for every image, shape (M,), block by block."""
    x, _, theta = _validate(X, None, params)
    theta = _prepare(theta)
    m = x.shape[0]
    y = np.broadcast_to(0.0, (m,))  # labels do not enter the forward pass: a view, not M zeros
    result = np.empty(m)
    for start, block in zip(range(0, m, BLOCK_SIZE), _blocks(x, y, theta)):
        result[start : start + BLOCK_SIZE] = _predict_block(*block)
    return result


def _small_batch_sums(x, y, theta):
    """A few images, one at a time in Python floats: faster than NumPy calls on tiny arrays."""
    if not np.isfinite(x).all():
        raise ValueError("X contains NaN or infinity; pass finite numbers")
    images, labels = x.tolist(), y.tolist()
    sums = _gradient_scalar(images[0], labels[0], theta)
    for image, label in zip(images[1:], labels[1:]):
        sums = [a + b for a, b in zip(sums, _gradient_scalar(image, label, theta))]
    return sums


def _sigmoid_scalar(z):
    e = math.exp(-abs(z))
    return (1.0 if z >= 0 else e) / (1.0 + e)


def _sigmoid(z):
    """1 / (1 + exp(-z)) without overflow: exp is only ever taken of -|z|."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0, e) / (1.0 + e)


def _blocks(x, y, theta):
    """Blocks of images, one image per row; checked for NaN and infinity while in cache."""
    for start in range(0, x.shape[0], BLOCK_SIZE):
        block = x[start : start + BLOCK_SIZE]
        if not np.isfinite(block).all():
            raise ValueError("X contains NaN or infinity; pass finite numbers")
        yield block, y[start : start + BLOCK_SIZE], theta


def _as_float_array(value, what):
    """value as float64 numbers, refusing what only looks numeric; float64 arrays are not copied.

    Numbers are bool, signed and unsigned integers and floats (float16 up to longdouble, all
    computed in float64): arrays, nested lists and tuples, scalars, and object arrays whose
    every element is a real number (int, float, Fraction, Decimal, NumPy scalars). Refused,
    because converting them would invent numbers: strings and bytes (parsed as text),
    datetime64 and timedelta64 (their integer ticks), complex (the imaginary part dropped),
    structured records, and masked arrays with masked entries (the mask dropped, the values
    under it used).
    """
    if isinstance(value, (str, bytes)) or value is None:
        raise ValueError(
            f"{what} must be a numeric array, got {type(value).__name__}; pass numbers"
        )
    if _has_masked_entries(value):
        raise ValueError(
            f"{what} is a masked array; fill or drop the masked entries first"
            " (np.ma.filled) or pass a plain array"
        )
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} must be a numeric array ({error})") from None
    kind = array.dtype.kind
    if kind == "c":
        raise ValueError(f"{what} must be real numbers, got complex values")
    if kind == "O":
        _check_elements(array, what)
    elif kind not in ("b", "i", "u", "f"):
        dtype = array.dtype.str if kind == "V" else array.dtype  # records: the short form
        raise ValueError(
            f"{what} must be a numeric array, got {_KINDS.get(kind, 'a non-numeric')} array"
            f" (dtype {dtype}); pass numbers"
        )
    try:
        array = array.astype(np.float64, copy=False)
    except (TypeError, ValueError, OverflowError) as error:
        raise ValueError(f"{what} must be a numeric array ({error})") from None
    return array  # finiteness is checked by the callers, each where it is cheapest


_KINDS = {
    "U": "a string",
    "T": "a string",
    "S": "a bytes",
    "M": "a datetime64",
    "m": "a timedelta64",
    "V": "a structured",
}
# Element types of an object array that float() would parse, turn into ticks or read as an
# array; named, because timedelta64 is a NumPy integer type and ndarray has __float__.
_NOT_NUMBERS = (str, bytes, np.datetime64, np.timedelta64, np.ndarray)


def _has_masked_entries(value):
    """A masked array with any entry masked, or a list of them: np.asarray drops the masks."""
    if isinstance(value, np.ma.MaskedArray):
        return np.ma.is_masked(value)
    if isinstance(value, (list, tuple)):
        return any(isinstance(v, np.ma.MaskedArray) and np.ma.is_masked(v) for v in value)
    return False


def _check_elements(array, what):
    """An object array passes if every element is a real number; each type is checked once."""
    for element in dict.fromkeys(map(type, array.flat)):  # types, in order of appearance
        if issubclass(element, (complex, np.complexfloating)):
            raise ValueError(f"{what} must be real numbers, got complex values")
        if issubclass(element, _NOT_NUMBERS) or not hasattr(element, "__float__"):
            holding = "an object array holding " if array.ndim else ""
            raise ValueError(
                f"{what} must be a numeric array, got {holding}{element.__name__}; pass numbers"
            )


def _validate(X, Y, params):
    """Check the inputs against the contract; return images as rows, labels and theta."""
    X = _as_float_array(X, "X")  # checked block by block in _blocks
    if X.ndim != 1 + len(INPUT_SHAPE) or X.shape[1:] != INPUT_SHAPE:
        raise ValueError(
            f"X must have shape (M, {', '.join(map(str, INPUT_SHAPE))}), got {X.shape}"
        )
    m = X.shape[0]
    if m == 0:
        raise ValueError("X is an empty batch (M = 0); pass at least one image")
    if Y is not None:
        Y = _as_float_array(Y, "Y")
        if Y.shape != (m,):
            raise ValueError(f"Y must have shape ({m},) to match X, got {Y.shape}")
        if not ((Y >= 0) & (Y <= 1)).all():  # also false for NaN
            if not np.isfinite(Y).all():
                raise ValueError("Y contains NaN or infinity; pass finite numbers")
            raise ValueError("Y must hold labels in [0, 1]")
    if not isinstance(params, dict):
        raise ValueError(f"params must be a dict with keys {list(PARAMETERS)}")
    if params.keys() != PARAMETERS.keys():
        missing = [k for k in PARAMETERS if k not in params]
        extra = [k for k in params if k not in PARAMETERS]
        raise ValueError(
            f"params must have exactly the keys {list(PARAMETERS)}"
            + (f"; missing {missing}" if missing else "")
            + (f"; unexpected {extra}" if extra else "")
        )
    values = []
    for name, shape in PARAMETERS.items():
        value = _as_float_array(params[name], name)
        if value.shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got {value.shape}")
        values.append(value.reshape(-1))
    theta = np.concatenate(values)
    if not np.isfinite(theta).all():
        bad = next(k for k, v in zip(PARAMETERS, values) if not np.isfinite(v).all())
        raise ValueError(f"{bad} contains NaN or infinity; pass finite numbers")
    return X.reshape(m, -1), Y, theta


def _parameter_layout():
    layout, start = [], 0
    for name, shape in PARAMETERS.items():
        stop = start + int(np.prod(shape, dtype=int))
        layout.append((name, start, stop, shape))
        start = stop
    return layout


_LAYOUT = _parameter_layout()  # (name, start, stop, shape) of each parameter in theta'''


_PREPARE_PLAIN = '''

def _prepare(theta):
    """Parameters as Python floats, in the order the block functions unpack them."""
    return tuple(theta.tolist())'''


_PREPARE_LINEAR = '''

def _by_columns(matrix, x):
    """matrix @ x.T for a block of images (rows of x), CHUNK images per product."""
    out = np.empty((matrix.shape[0], x.shape[0]))
    for start in range(0, x.shape[0], CHUNK):
        np.matmul(matrix, x[start : start + CHUNK].T, out=out[:, start : start + CHUNK])
    return out


def _by_rows(dz, matrix):
    """dz.T @ matrix: per image (row), the first layer's gradient times its Jacobian."""
    out = np.empty((dz.shape[1], matrix.shape[1]))
    for start in range(0, dz.shape[1], CHUNK):
        np.matmul(dz[:, start : start + CHUNK].T, matrix, out=out[start : start + CHUNK])
    return out


def _first_layer_sums(dz, x):
    """Per theta position, the sum over the block of dL/dz * dz/dtheta for the first layer.

    g = dz @ x holds every product sum(dz[row] * x[col]); each Jacobian entry (row, col)
    belongs to one parameter, and bincount adds the entries of each parameter.
    """
    g = np.zeros((dz.shape[0], x.shape[1]))
    for start in range(0, x.shape[0], CHUNK):
        g += dz[:, start : start + CHUNK] @ x[start : start + CHUNK]
    weights = g[JACOBIAN_ROWS, JACOBIAN_COLS]
    return np.bincount(JACOBIAN_THETA, weights=weights, minlength=PARAMETER_COUNT)


def _prepare(theta):
    """Parameters as Python floats, then the first layer's Jacobian, assembled once per call."""
    jacobian = np.zeros(JACOBIAN_SHAPE)
    jacobian[JACOBIAN_ROWS, JACOBIAN_COLS] = theta[JACOBIAN_THETA]
    return (*theta.tolist(), jacobian)'''

_RETURN_JACOBIAN = """    return (*theta.tolist(), jacobian)"""
_RETURN_JACOBIAN_AND_OFFSET = """    offset = theta[OFFSET_THETA][:, None]  # each output's bias
    return (*theta.tolist(), jacobian, offset)"""
