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
import hashlib
import linecache
import textwrap
import types
from collections.abc import Iterable
from typing import cast

import sympy as sp

from symbp.spec.kinds import KINDS
from symbp.support.version import __version__
from symbp.symbolic.derivation import Derivation

from .array_module import array_body
from .array_stages import ProvenFact, UnlicensedStage, licences, stages_text
from .array_text import ARRAY_HEADER
from .assignments import (
    LinearInput,
    eliminate_common_subexpressions,
    jacobian_parameters,
    linear_input,
    needed_assignments,
    parameter_symbols,
)
from .blas import SINGLE_THREAD_PRODUCT
from .module_text import (
    BOTH_BLOCKS,
    HEADER,
    PREPARE_LINEAR,
    PREPARE_PLAIN,
    RETURN_JACOBIAN,
    RETURN_JACOBIAN_AND_OFFSET,
    RUNTIME,
)
from .printers import LONG_SUM, NumPyCodePrinter, ScalarCodePrinter

SCALAR_BATCH = 4  # batches this small run image by image in Python floats
CHUNK = 1024  # images per first-layer product, at most
BLOCK_SIZE = 4096  # images per block: its vectors (32 KiB each) stay in cache
SCALAR_PATH_LIMIT = 10_000  # symbolic cost past which the pure-Python path is left out


def _index_array(name: str, values: list[int]) -> str:
    """A module-level index array, wrapped for reading."""
    chunks = [", ".join(map(str, values[k : k + 24])) for k in range(0, len(values), 24)]
    body = ",\n    ".join(chunks)
    return f"{name} = np.array([\n    {body},\n], dtype=np.intp)"


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


STAGES = ("elementwise", "array", "auto")
# "auto": array-level from this symbolic cost on (products in the convolutions). Below it the
# element-wise module is small, readable line by line (the teaching network's is 20 kB) and
# already faster than PyTorch; above it its size and per-element calls grow with the image
# (examples/mnist.toml, cost 6 084: 1.2 MB), while the array module stays the same size.
ARRAY_FROM_COST = 2000
MIN_CHUNK = 8  # images per first-layer product, at least


def generate_source(
    d: Derivation,
    command: str | None = None,
    stages: str = "elementwise",
    proofs: Iterable[ProvenFact] | None = None,
) -> str:
    """The text of the standalone module for this derivation.

    stages="elementwise" (the default, and the reference): one printed line per element.
    stages="array": every stage as array code, each licensed by one of `proofs` that held
    (UnlicensedStage otherwise). stages="auto": array from ARRAY_FROM_COST on when licensed,
    else element-wise, so the teaching network keeps its readable module.
    """
    proofs = None if proofs is None else list(proofs)
    if resolve_stages(d, stages, proofs) == "array":
        found = licences(d, proofs or ())
        text = stages_text(found)
        return _header(d, command, ARRAY_HEADER, stages=text, single=SINGLE_THREAD_PRODUCT) + (
            array_body(d)
        )
    return _header(d, command) + module_body(d)


def wants_array(d: Derivation, stages: str) -> bool:
    """Whether these stages ask for the array-level module, if the proofs license it."""
    if stages not in STAGES:
        raise ValueError(f"stages must be one of {', '.join(STAGES)}, got {stages!r}")
    return stages == "array" or (stages == "auto" and d.spec.symbolic_cost >= ARRAY_FROM_COST)


def resolve_stages(d: Derivation, stages: str, proofs: Iterable[ProvenFact] | None = None) -> str:
    """ "elementwise" or "array": what `generate_source` writes for these stages and proofs."""
    if not wants_array(d, stages):
        return "elementwise"
    if stages == "array":
        return stages
    if proofs is None:
        return "elementwise"
    try:
        licences(d, proofs)
    except UnlicensedStage:
        return "elementwise"
    return "array"


def _header(d: Derivation, command: str | None, template: str = HEADER, **extra: object) -> str:
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
    return template.format(
        **extra,
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


def _pipeline(d: Derivation) -> str:
    """X -> Z1 = X (cross-correlation) W1 + B1 -> A1 = ReLU(Z1) -> ..., wrapped."""
    pieces = ["X"]
    for stage in d.stages:
        w, b = stage.params if len(stage.params) == 2 else ("", "")
        how = ["cross-correlation"]
        if stage.geometry is not None and stage.geometry.block.stride != 1:
            how.append(f"stride {stage.geometry.block.stride}")
        if stage.geometry is not None and stage.geometry.block.padding:
            how.append(f"zero padding {stage.geometry.block.padding}")
        words = KINDS[stage.kind].pipeline
        pieces.append(words.format(o=stage.output, i=stage.input, w=w, b=b, how=", ".join(how)))
    lines, current = [], "    " + pieces[0]
    for piece in pieces[1:]:
        if len(current) + len(piece) + 4 > 100:
            lines.append(current)
            current = "      -> " + piece
        else:
            current += " -> " + piece
    return "\n".join([*lines, current])


def _conventions(d: Derivation) -> str:
    """The conventions of the kinds this network has, in the catalogue's order."""
    kinds = {stage.kind for stage in d.stages}
    words = [kind.convention for name, kind in KINDS.items() if kind.convention and name in kinds]
    if any(s.geometry is not None and s.geometry.block.padding for s in d.conv_stages):
        words.insert(1, "padding adds zeros")  # right after the convolution's own
    return "; ".join(words)


@functools.lru_cache(maxsize=8)
def module_body(d: Derivation) -> str:
    """Everything after the docstring; printed once per derivation however often it is asked for."""
    return _ModuleWriter(d).body()


class _ModuleWriter:
    """Prints the block functions of one derivation's module; each method writes one of them.

    Every block function unpacks theta, x and (when the first layer is affine in the images)
    the first layer from one Jacobian product, then the assignments its outputs need, each
    printed once however many functions use it.
    """

    def __init__(self, d: Derivation) -> None:
        self.d = d
        self.printer = NumPyCodePrinter()
        self.x_symbols = d.quantities["X"].flat()
        self.theta = parameter_symbols(d)
        self.staged = eliminate_common_subexpressions(d.staged_assignments())
        self.vector_lines = _Lines(self.printer)
        self.scalar_lines = _Lines(ScalarCodePrinter(), vectors=False)
        self.linear = linear_input(d, self.staged)
        self.first_layer = set(self.linear.outputs) if self.linear else set()
        self.extra_theta = ["jacobian"] if self.linear else []
        if self.linear and self.linear.offset is None:
            self.extra_theta.append("offset")
        self.parameter_outputs = [
            d.gradients[name][index]
            for name in d.parameter_names
            for index in d.quantities[name].indices()
        ]
        self.first_dz = d.gradient_symbols["d" + d.stages[0].output].flat()

    def body(self) -> str:
        constants, prepare = self.constants()
        parts = [
            "",
            "import math\n\nimport numpy as np\n",
            "\n".join(constants),
            RUNTIME,
            prepare,
            "\n".join(self.loss_block()),
            "\n".join(self.predict_block()),
            "\n".join(self.gradient_block()),
            "\n".join(self.gradient_scalar()),
            "\n".join(self.input_block()),
            BOTH_BLOCKS,
        ]
        return "\n\n".join(p.rstrip("\n") for p in parts) + "\n"

    # ------------------------------------------------------------------ one block function
    def block_function(
        self,
        name: str,
        doc: str,
        outputs: list[sp.Expr],
        returns: list[str],
        scalar: bool = False,
        epilogue: tuple[str, ...] = (),
    ) -> list[str]:
        body = needed_assignments(self.staged, outputs)
        lines = [f"def {name}(x, y, theta):", f'    """{doc}"""']
        uses_product = not scalar and any(s in self.first_layer for s, _ in body)
        product = self.linear if uses_product else None
        if product:
            body = [(s, e) for s, e in body if s not in self.first_layer]
        used = {s for _, e in body for s in e.free_symbols} | {
            s for e in outputs for s in e.free_symbols if s not in self.first_layer
        }
        if product and product.offset is not None:
            used |= product.offset.free_symbols
        unused_extra = ["_"] * len(self.extra_theta) if scalar else self.extra_theta
        theta_names = [s.name if s in used else "_" for s in self.theta]
        lines += _unpack(theta_names + unused_extra, "theta")
        if product:
            lines += self._first_layer_product(product)
        if any(s in used for s in self.x_symbols):
            source = "x" if scalar else "np.ascontiguousarray(x.T)"
            lines += _unpack([s.name if s in used else "_" for s in self.x_symbols], source)
        lines += self.scalar_lines(body) if scalar else self.vector_lines(body)
        lines += [f"    {line}" for line in epilogue]
        if len(returns) == 1:
            return [*lines, f"    return {returns[0]}"]
        return [*lines, "    return (", *(f"        {r}," for r in returns), "    )"]

    def _first_layer_product(self, product: LinearInput) -> list[str]:
        lines = [
            f"    # {product.name} is affine in the images: one product with its Jacobian",
            f"    {product.name} = _by_columns(jacobian, x)",
        ]
        if product.offset is None:
            lines.append(f"    {product.name} += offset  # each output's own bias")
        else:
            lines.append(f"    {product.name} += {self.printer.doprint(product.offset)}")
        return lines + _unpack([s.name for s in product.outputs], product.name)

    # ------------------------------------------------------------------ the block functions
    def gradient_block(self) -> list[str]:
        doc = "Sums over the block of dL/d(parameter element), per image (not yet / M)."
        outputs = self.parameter_outputs
        if not self.linear:
            returns = [_batch_sum(e, self.printer) for e in outputs]
            return self.block_function("_gradient_block", doc, outputs, returns)
        dz = self.first_dz
        from_jacobian = jacobian_parameters(self.d, self.linear)
        total_dz = sp.Add(*dz)
        bias_sums = {
            k: sp.Add(*(s for s, at in zip(dz, self.linear.offsets, strict=True) if at == k))
            for k in set(self.linear.offsets)
        }
        returns, needs = [], list(dz)
        for k, e in enumerate(outputs):
            if k in from_jacobian:
                returns.append(f"first[{k}]")
            elif e == total_dz:
                returns.append("dz.sum()")
            elif k in bias_sums and e == bias_sums[k]:
                returns.append(f"biases[{k}]")
            else:
                returns.append(_batch_sum(e, self.printer))
                needs.append(e)
        biases = "biases = np.bincount(OFFSET_THETA, dz.sum(axis=1), PARAMETER_COUNT)"
        epilogue = (
            f"dz = np.array([{', '.join(s.name for s in dz)}])",
            "first = _first_layer_sums(dz, x)",
            *([biases] if bias_sums else []),
        )
        doc += "\n    The first layer's parameters: entries of dz @ x, summed per parameter."
        return self.block_function("_gradient_block", doc, needs, returns, epilogue=epilogue)

    def gradient_scalar(self) -> list[str]:
        if not self.scalar_batch:
            return [
                "def _gradient_scalar(x, y, theta):",
                '    """Not generated: for a network this large, one image in Python floats is no',
                "    faster than the NumPy blocks (SCALAR_BATCH = 0), and it would double the "
                'file."""',
                '    raise NotImplementedError("no pure-Python path in this module")',
            ]
        printer = ScalarCodePrinter()
        return self.block_function(
            "_gradient_scalar",
            "The same for one image, in Python floats: small batches skip NumPy's per-call cost.",
            self.parameter_outputs,
            [printer.doprint(e) for e in self.parameter_outputs],
            scalar=True,
        )

    @property
    def scalar_batch(self) -> int:
        return SCALAR_BATCH if self.d.spec.symbolic_cost <= SCALAR_PATH_LIMIT else 0

    def input_block(self) -> list[str]:
        if self.linear:
            dz = ", ".join(s.name for s in self.first_dz)
            return self.block_function(
                "_input_gradient_block",
                "dL/dx for every image in the block (not yet / M), one image per row:"
                "\n    the first layer's gradient times its Jacobian.",
                self.first_dz,
                [f"_by_rows(np.array([{dz}]), jacobian)"],
            )
        d = self.d
        outputs = [d.gradients["X"][index] for index in d.quantities["X"].indices()]
        pixels = [self.printer.doprint(e) if e != 0 else "np.zeros_like(y)" for e in outputs]
        return self.block_function(
            "_input_gradient_block",
            "dL/dx for every image in the block (not yet / M), one image per row.",
            outputs,
            [f"np.array([{', '.join(pixels)}]).T"],
        )

    def loss_block(self) -> list[str]:
        d = self.d
        y = d.quantities["Y"].symbols[()]
        z2 = cast(sp.Symbol, d.quantities[d.logit].symbols[()])
        loss_expr = sp.log(1 + sp.exp(z2)) - y * z2  # proved equal to BCE(y, sigmoid(z2))
        z = z2.name
        return self.block_function(
            "_loss_block",
            f"Sum over the block of BCE(y, sigmoid({z})) = softplus({z}) - y {z},"
            "\n    written max(z, 0) - y z + log(1 + exp(-|z|)): no overflow, and no cancellation"
            "\n    when a saturated prediction is right.",
            [loss_expr],
            [f"np.sum((np.maximum({z}, 0.0) - y * {z}) + np.log1p(np.exp(-np.abs({z}))))"],
        )

    def predict_block(self) -> list[str]:
        d = self.d
        a2 = cast(sp.Symbol, d.quantities[d.prediction].symbols[()])
        return self.block_function(
            "_predict_block",
            "sigmoid(z2) for every image in the block.",
            [a2],
            [self.printer.doprint(d.forward_definitions[a2])],
        )

    # ------------------------------------------------------------------ module constants
    def chunk_constant(self) -> str:
        """Images per first-layer product: as many as keep OpenBLAS on one thread, so the
        module's speed does not depend on the other core being idle."""
        if not self.linear:
            return f"CHUNK = {CHUNK}  # unused: the first layer is not one matrix product"
        size = len(self.linear.outputs) * len(self.x_symbols)  # the Jacobian's rows x cols
        chunk = CHUNK
        # down to a few images per call: at 16 the rgb-strided example (a 50 x 300 Jacobian) runs
        # 0.6x its two-thread quiet speed but keeps it with the other core busy (two threads:
        # 0.46x of quiet), and speed must not depend on an idle core
        while chunk > MIN_CHUNK and size * chunk > SINGLE_THREAD_PRODUCT:
            chunk //= 2
        if size * chunk > SINGLE_THREAD_PRODUCT:  # BLAS threads anyway: fewer, larger calls
            return f"CHUNK = {CHUNK}  # images per first-layer product"
        return (
            f"CHUNK = {chunk}  # images per product: one OpenBLAS thread, which a busy second "
            "core cannot stall"
        )

    def constants(self) -> tuple[list[str], str]:
        """The module's constants, and the `_prepare` its first layer needs."""
        spec = self.d.spec
        shapes = spec.parameter_shapes
        constants = [
            f"PARAMETERS = {{{', '.join(f'{k!r}: {v!r}' for k, v in shapes.items())}}}",
            f"INPUT_SHAPE = {tuple(spec.image_shape)!r}",
            f"PARAMETER_COUNT = {spec.parameter_count}",
            f"BLOCK_SIZE = {BLOCK_SIZE}",
            self.chunk_constant(),
            f"SCALAR_BATCH = {self.scalar_batch}  # up to this many images: the pure-Python path",
            f"_UNUSED = {(None,) * len(self.extra_theta)!r}  # the pure-Python path's unused "
            "arguments",
        ]
        linear = self.linear
        if not linear:
            return constants, PREPARE_PLAIN
        n_out, n_in = len(linear.outputs), len(self.x_symbols)
        constants += [
            f"JACOBIAN_SHAPE = ({n_out}, {n_in})",
            _index_array("JACOBIAN_ROWS", linear.rows),
            _index_array("JACOBIAN_COLS", linear.cols),
            _index_array("JACOBIAN_THETA", linear.entries),
        ]
        if linear.offset is None:
            constants.append(_index_array("OFFSET_THETA", linear.offsets))
            return constants, PREPARE_LINEAR.replace(RETURN_JACOBIAN, RETURN_JACOBIAN_AND_OFFSET)
        return constants, PREPARE_LINEAR


def load(
    d: Derivation, stages: str = "elementwise", proofs: Iterable[ProvenFact] | None = None
) -> types.ModuleType:
    """Execute the generated source as an in-memory module (what lambdify does, kept readable).

    The source is registered with `linecache` under a name unique to its text, as SymPy's
    lambdify does, so tracebacks, `inspect.getsource` and debuggers show the generated lines.
    """
    source = generate_source(d, stages=stages, proofs=proofs)
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    filename = f"<symbp generated gradients {digest}>"
    # mtime None: linecache.checkcache keeps the entry (there is no file to compare with)
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    module = types.ModuleType("symbp_generated_gradients")
    module.__dict__["__file__"] = filename
    exec(compile(source, filename, "exec"), module.__dict__)
    return module
