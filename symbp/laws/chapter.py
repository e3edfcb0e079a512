"""The document's section "The general law", in LaTeX or Markdown, placed before the instance.

It shows, in this order: the forward pass in index form (the definitions the laws are derived
from), the output-size arithmetic, each gradient law with its conditions and how it was
established, the matrix view, and then the spec's own sizes as an instance of each law, so
that the element sums the document writes out afterwards read as checked instances.

Every formula is a SymPy object of the laws, typeset by SymPy's LaTeX printer (`text.latex`);
Markdown carries the same LaTeX in $...$ and ```math blocks. The prose is built from pieces
(words, inline maths, code names) so that both formats say the same; the only user text, the
network's label, is escaped. The same input gives the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sympy as sp

from . import activation, catalog, matrix, pool
from . import index_form as F
from .catalog import Law, brackets
from .established import Established, establish, spec_of
from .instance import Instance, conv_sizes, instances
from .proof import SYMBOLIC
from .symbols import Iverson
from .text import latex

FORMATS = ("latex", "markdown")
TITLE = "The general law"
LABEL = "sec:general-law"


# ------------------------------------------------------------------ a tiny document model
@dataclass(frozen=True)
class Math:
    """Inline mathematics: LaTeX from SymPy's printer."""

    tex: str


@dataclass(frozen=True)
class Code:
    """A program name (sympy.diff), set in typewriter type."""

    name: str


Piece = str | Math | Code


@dataclass(frozen=True)
class Para:
    pieces: tuple[Piece, ...]


@dataclass(frozen=True)
class Display:
    """Displayed equations, one per line (LaTeX). `broken[n]`, when given, is line n cut in
    two for the printed page (a long sum: the summand's brackets on a second line)."""

    lines: tuple[str, ...]
    broken: tuple[tuple[str, str] | None, ...] = ()


@dataclass(frozen=True)
class Heading:
    level: int  # 1: the section, 2: a subsection
    title: str


Block = Para | Display | Heading


def M(expr: sp.Basic) -> Math:
    """Inline maths of a SymPy object (fractions folded to a / b)."""
    return Math(latex(expr, inline=True))


def times(*factors: sp.Basic) -> Math:
    """a x b x c, each factor printed by SymPy (sizes of grids and matrices)."""
    return Math(r" \times ".join(latex(sp.sympify(f)) for f in factors))


def para(*pieces: Piece) -> Para:
    return Para(tuple(pieces))


def display(*exprs: sp.Basic) -> Display:
    return Display(tuple(latex(e) for e in exprs), tuple(_broken(e) for e in exprs))


LONG = 200  # characters of LaTeX beyond which a bracketed sum is set on two lines


def _broken(expr: sp.Basic) -> tuple[str, str] | None:
    """lhs = sum(factors * brackets) as ('lhs = sum factors', 'brackets') when it is long."""
    if not isinstance(expr, sp.Equality) or not isinstance(expr.rhs, sp.Sum):
        return None
    if len(latex(expr)) <= LONG:
        return None
    body = sp.Mul.make_args(expr.rhs.function)
    conditions = [f for f in body if isinstance(f, Iverson)]
    factors = [f for f in body if not isinstance(f, Iverson)]
    if not conditions or not factors:
        return None
    summed = sp.Sum(sp.Mul(*factors, evaluate=False), *expr.rhs.limits)
    first = latex(sp.Eq(expr.lhs, summed, evaluate=False))
    return first, latex(sp.Mul(*conditions, evaluate=False))


def listed(items: Sequence[sp.Basic], word: str = "and") -> list[Piece]:
    """a, b and c as inline maths."""
    out: list[Piece] = []
    for n, item in enumerate(items):
        if n:
            out.append(f" {word} " if n == len(items) - 1 else ", ")
        out.append(M(item))
    return out


def _items(statement: Any) -> tuple[sp.Basic, ...]:
    return statement if isinstance(statement, tuple) else (statement,)


# ------------------------------------------------------------------ escaping and rendering
_TEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "%": r"\%",
    "_": r"\_",
    "^": r"\^{}",
    "~": r"\~{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]#|<>$~&])")


def escape_tex(words: object) -> str:
    """Text LaTeX prints literally; characters outside printable ASCII become '?'."""
    out = []
    for ch in re.sub(r"\s+", " ", str(words)):
        if ch in _TEX_SPECIALS:
            out.append(_TEX_SPECIALS[ch])
        elif 32 <= ord(ch) <= 126:
            out.append(ch)
        else:
            out.append("?")
    return "".join(out)


def escape_markdown(words: object) -> str:
    """Text Markdown (and GitHub's maths) shows literally, on one line."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", re.sub(r"\s+", " ", str(words)))


def _inline(pieces: Iterable[Piece], fmt: str) -> str:
    out = []
    for piece in pieces:
        if isinstance(piece, Math):
            out.append(f"${piece.tex}$")
        elif isinstance(piece, Code):
            name = piece.name.replace("`", "")
            out.append(rf"\texttt{{{escape_tex(name)}}}" if fmt == "latex" else f"`{name}`")
        else:
            out.append(escape_tex(piece) if fmt == "latex" else escape_markdown(piece))
    return "".join(out)


def _latex_block(block: Block) -> str:
    if isinstance(block, Heading):
        if block.level == 1:
            return rf"\section{{{escape_tex(block.title)}}}\label{{{LABEL}}}"
        return rf"\subsection{{{escape_tex(block.title)}}}"
    if isinstance(block, Display):
        return _latex_display(block)
    return _inline(block.pieces, "latex")


def _latex_display(block: Display) -> str:
    """Runs of whole lines in gather* (or \\[ \\]), each broken line in multline*."""
    parts, run = [], []
    broken = block.broken or (None,) * len(block.lines)
    for line, cut in zip(block.lines, broken, strict=True):
        if cut is None:
            run.append(line)
            continue
        parts.append(_gather(run))
        run = []
        parts.append(f"\\begin{{multline*}}\n{cut[0]} \\\\\n\\cdot {cut[1]}\n\\end{{multline*}}")
    parts.append(_gather(run))
    return "\n".join(part for part in parts if part)


def _gather(lines: list[str]) -> str:
    if not lines:
        return ""
    if len(lines) == 1:
        return "\\[\n" + lines[0] + "\n\\]"
    return "\\begin{gather*}\n" + " \\\\\n".join(lines) + "\n\\end{gather*}"


def _markdown_block(block: Block, number: int | None, counter: list[int]) -> str:
    if isinstance(block, Heading):
        if block.level == 1:
            prefix = f"{number} " if number is not None else ""
            return f"## {prefix}{escape_markdown(block.title)}"
        counter[0] += 1
        prefix = f"{number}.{counter[0]} " if number is not None else ""
        return f"### {prefix}{escape_markdown(block.title)}"
    if isinstance(block, Display):
        return "\n\n".join(f"```math\n{line}\n```" for line in block.lines)
    return _inline(block.pieces, "markdown")


def _continues(before: Block, block: Block) -> bool:
    """In LaTeX, a display belongs to the paragraph that leads into it, and words in lower
    case after a display go on with that paragraph: no blank line between them."""
    if isinstance(block, Display):
        return isinstance(before, Para)
    if isinstance(block, Para) and isinstance(before, Display) and block.pieces:
        first = block.pieces[0]
        return isinstance(first, str) and first[:1].islower()
    return False


def render(blocks: Sequence[Block], fmt: str, number: int | None = None) -> str:
    """The blocks as LaTeX or Markdown, blank lines between them, one final newline."""
    if fmt == "markdown":
        counter = [0]
        return "\n\n".join(_markdown_block(block, number, counter) for block in blocks) + "\n"
    out = []
    for n, block in enumerate(blocks):
        if n:
            out.append("\n" if _continues(blocks[n - 1], block) else "\n\n")
        out.append(_latex_block(block))
    return "".join(out) + "\n"


# ------------------------------------------------------------------ how each law is known
_CANONICAL = (
    "Established symbolically: after delta elimination the derived form and the textbook "
    "statement have the same canonical form (the same sums, factors and conditions, up to "
    "the names of the summation indices), so they are equal for every size."
)


def _symbolic_words(law: Law) -> list[Piece]:
    if law.key in ("output-size", "pool-size"):
        return [
            "Established symbolically: counted from the reads of the forward definition; "
            "the count minus the stated law simplifies to 0."
        ]
    if law.key == "matrix":
        return [
            "Established symbolically: ",
            M(sp.MatrixSymbol("J", F.K * F.HO * F.WO, F.C * F.H * F.W).T),
            " times the output gradient, built from the ",
            M(sp.Symbol("J")),
            " that ",
            Code("sympy.diff"),
            " found and reduced, has the same canonical form as the derived law for the input "
            "gradient.",
        ]
    if law.key in ("head", *activation.KEYS.values()):
        return [
            "Established symbolically: the derivative ",
            Code("sympy.diff"),
            " found, minus the stated one, simplifies to 0.",
        ]
    return [_CANONICAL]


def _checked_words(law: Law) -> list[Piece]:
    if law.key == "first-max":
        sizes = [sp.Eq(F.R, size) for size, _ in pool.MASK_CASES]
        return [
            "Checked, not proved: on every window with ",
            *listed(sizes, "or"),
            " and every assignment of the values 0 to ",
            *listed([sp.Integer(levels - 1) for _, levels in pool.MASK_CASES], "or"),
            " (respectively), ",
            M(F.mu),
            " is 1 exactly at NumPy's ",
            Code("argmax"),
            " (the first maximum) and 0 elsewhere: ties go to the first.",
        ]
    return [
        "Checked, not proved: the canonical forms differ, so both sides were instantiated "
        "exactly at every size with ",
        *listed(law.grid),
        ", and they agree element by element at each.",
    ]


def established_words(law: Law, verdict: str, detail: str = "") -> list[Piece]:
    """How a law was established, in the document's words."""
    if verdict == "fails":
        return ["This law does NOT hold: ", detail or law.detail]
    return _symbolic_words(law) if law.method == SYMBOLIC else _checked_words(law)


# ------------------------------------------------------------------ the forward pass
def introduction() -> list[Block]:
    """What the section is, and how its laws were found."""
    contraction = sp.Sum(F.dz[F.k, F.i, F.j] * F.z[F.k, F.i, F.j], *matrix.OUTPUT_FREE)
    return [
        Heading(1, TITLE),
        para(
            "Before this network's numbers are written out, here are the laws they are "
            "instances of. Each layer is written once in index form, with symbolic sizes. For "
            "any gradient ",
            M(F.dz[F.k, F.i, F.j]),
            " arriving from above at a layer's output (here a convolution's), symbp forms",
        ),
        display(sp.Eq(F.L, contraction, evaluate=False)),
        para(
            "differentiates it with ",
            Code("sympy.diff"),
            " by an element of the layer's input or parameters, and eliminates the Kronecker "
            "deltas that result: the gradient laws below are found, not typed. Each is then "
            "compared with its textbook statement and says how it was established: "
            "symbolically (equal for every size) or checked (exactly, on a stated finite set "
            "of sizes).",
        ),
    ]


def forward_pass(spec: Any) -> list[Block]:
    """The definitions the laws are derived from, for the layer kinds of this network."""
    conv_limits = [sp.Eq(F.z[F.k, F.i, F.j], F.conv(F.k, F.i, F.j), evaluate=False)]
    blocks: list[Block] = [
        Heading(2, "The forward pass in index form"),
        para(
            "Tensors are indexed (channel, row, column) from 0. A convolution with ",
            M(F.C),
            " input channels of ",
            times(F.H, F.W),
            " values, ",
            M(F.K),
            " filters of ",
            times(F.KH, F.KW),
            " weights, stride ",
            M(F.S),
            " and zero padding ",
            M(F.P),
            " computes",
        ),
        display(*conv_limits),
        para(
            "for ",
            *listed([catalog.range_of(v, lo, hi) for v, lo, hi in matrix.OUTPUT_FREE]),
            ". A bracket is 1 when its condition holds and 0 otherwise: the inner sum places ",
            M(F.x),
            " inside a frame of ",
            M(F.P),
            " zeros, so the padding enters the gradient laws as conditions on indices, not as "
            "extra elements.",
        ),
    ]
    kinds = [kind for kind in activation.KEYS if kind in {b.activation for b in spec.blocks}]
    element = F.z[F.k, F.i, F.j]
    activations = [
        sp.Eq(F.a[F.k, F.i, F.j], brackets(F.ACTIVATIONS[kind](element)), evaluate=False)
        for kind in kinds
    ]
    blocks += [
        para("The activation" + ("s are" if len(kinds) > 1 else " is")),
        display(*activations),
    ]
    blocks += _pool_definitions({b.pool_type for b in spec.blocks} - {"none"})
    head = (
        sp.Eq(F.feature[F.f], F.flatten(F.f), evaluate=False),
        sp.Eq(F.Z_OUT, F.dense(), evaluate=False),
        sp.Eq(F.A_OUT, 1 / (1 + sp.exp(-F.Z_OUT)), evaluate=False),
        sp.Eq(F.L, F.binary_cross_entropy(F.A_OUT), evaluate=False),
    )
    blocks += [
        para(
            "After the last block the features are flattened row-major, a dense unit "
            "with a sigmoid gives the prediction, and the loss is the binary cross-entropy:",
        ),
        display(*head),
    ]
    return blocks


def _pool_definitions(kinds: set[str]) -> list[Block]:
    blocks: list[Block] = []
    window = F.pooled[F.k, F.m, F.n]
    if "max" in kinds:
        blocks += [
            para("A max-pool with ", times(F.R, F.R), " windows and stride ", M(F.T), " routes"),
            display(sp.Eq(window, F.max_pool(F.k, F.m, F.n), evaluate=False)),
            para(
                "where ",
                M(F.mu[F.k, F.m, F.n, F.r, F.s]),
                " is 1 on the window's first maximum (row-major) and 0 elsewhere; it is "
                "constant between ties, so its own derivative is 0 wherever it is defined.",
            ),
        ]
    if "avg" in kinds:
        blocks += [
            para("An average pool with ", times(F.R, F.R), " windows and stride ", M(F.T), " is"),
            display(sp.Eq(window, F.average_pool(F.k, F.m, F.n), evaluate=False)),
        ]
    return blocks


# ------------------------------------------------------------------ the laws
def output_size_section(spec: Any, found: Established) -> list[Block]:
    """The output-size arithmetic: which windows fit, counted from the forward definition."""
    law = catalog.law("output-size")
    window = F.S * F.i + F.p
    blocks: list[Block] = [
        Heading(2, "The output size"),
        para(
            "Output row ",
            M(F.i),
            " reads the padded rows ",
            M(window.subs(F.p, 0)),
            " to ",
            M(window.subs(F.p, F.KH - 1)),
            " (the sum over ",
            M(F.p),
            "). All of them lie inside the padded input, rows 0 to ",
            M(F.H + 2 * F.P - 1),
            ", exactly when ",
            M(catalog.range_of(F.i, 0, sp.floor((F.H + 2 * F.P - F.KH) / F.S))),
            ". Counting those ",
            M(F.i),
            " gives the output-size law, ",
            M(_items(law.statement)[0]),
            " and the same for the columns, for ",
            *listed(law.conditions),
            ":",
        ),
        display(*_items(law.statement)),
        para(*established_words(law, found.verdict(law.key))),
    ]
    if "pool-size" in {law.key for law in found.laws}:
        pooled = catalog.law("pool-size")
        blocks += [
            para(
                "The same count for the pool's windows gives, for ", *listed(pooled.conditions), ":"
            ),
            display(*_items(pooled.statement)),
            para(*established_words(pooled, found.verdict(pooled.key))),
        ]
    return blocks


def _conv_words() -> dict[str, list[Piece]]:
    """What the convolution's gradient laws say, in words and inline maths."""
    z, dz = F.z[F.k, F.i, F.j], F.dz[F.k, F.i, F.j]
    reached = F.w[F.k, F.c, F.u + F.P - F.S * F.i, F.v + F.P - F.S * F.j]
    return {
        "dW": [
            "The filter. Weight ", M(F.w[F.k, F.c, F.p, F.q]),
            " multiplies the padded input at row ", M(F.S * F.i + F.p - F.P),
            " in every output ", M(z), ", so its gradient collects ", M(dz),
            " times that input over all outputs: the cross-correlation of the zero-padded "
            "input with the output gradient spread out by the stride (", M(F.S - 1),
            " zeros between neighbours).",
        ],
        "dB": [
            "The bias. ", M(F.b[F.k]), " is added to every output of filter ", M(F.k),
            " with derivative 1, so it collects all of their gradients.",
        ],
        "dX": [
            "The input. ", M(F.x[F.c, F.u, F.v]), " meets the weight ", M(reached),
            " in output ", M(z), " whenever that index lies inside the filter; the conditions "
            "say when. As an operation on images this is the transposed convolution: the "
            "stride-dilated output gradient, padded by ", M(F.KH - 1), " and ", M(F.KW - 1),
            ", cross-correlated with the filter turned by 180 degrees, cropped by ", M(F.P),
            " and summed over the filters.",
        ],
    }  # fmt: skip


def _other_words() -> dict[str, list[Piece]]:
    """What the pool, flatten, dense and head laws say."""
    return {
        "avg-pool": [
            "The average pool spreads each window's gradient evenly, ", M(1 / F.R**2),
            " to each of its cells; where windows overlap, the shares add up.",
        ],
        "max-pool": [
            "The max-pool sends each window's gradient to the cell ", M(F.mu),
            " selects, its first maximum; where windows overlap, the gradients add up.",
        ],
        "first-max": [
            "The routing mask: cell ", M(F.index("t")), " of a window (row-major) is selected "
            "when it is strictly above every earlier cell and at least every later one.",
        ],
        "flatten": [
            "The flatten passes each feature's gradient back to the element it came from, at "
            "the row-major position.",
        ],
        "dense": ["The dense unit: its three gradients, one per argument of ", M(F.Z_OUT), "."],
        "head": [
            "The head: with the sigmoid and the binary cross-entropy together, the gradient of "
            "the logit is the prediction minus the label.",
        ],
    }  # fmt: skip


def _words(key: str) -> list[Piece]:
    """What a gradient law says, in words and inline maths, before it is displayed."""
    words = {**_conv_words(), **_other_words()}
    if key in words:
        return words[key]
    return [
        f"The {ACTIVATION_NAMES[_kind(key)]} activation: its derivative, found by ",
        Code("sympy.diff"),
        ", multiplies the gradient element by element.",
    ]


def _kind(key: str) -> str:
    return next(kind for kind, name in activation.KEYS.items() if name == key)


def law_blocks(law: Law, verdict: str) -> list[Block]:
    """One gradient law: what it says, its statement, the derived form, conditions, how known."""
    blocks: list[Block] = [para(*_words(law.key)), display(*_items(law.statement))]
    stated = {latex(s) for s in _items(law.statement)}
    derived = [d for d in _items(law.derived) if latex(d) not in stated]
    if derived:
        found_by: list[Piece] = [
            "In index form, as ",
            Code("sympy.diff"),
            " and delta elimination give it:",
        ]
        if law.key == "first-max":
            found_by = ["As the forward pass defines it:"]
        blocks += [para(*found_by), display(*derived)]
    if law.conditions:
        blocks.append(para("This holds for ", *listed(law.conditions), "."))
    blocks.append(para(*established_words(law, verdict)))
    return blocks


GRADIENT_KEYS = (
    "dW",
    "dB",
    "dX",
    *activation.KEYS.values(),
    "avg-pool",
    "max-pool",
    "first-max",
    "flatten",
    "dense",
    "head",
)


def gradient_section(found: Established) -> list[Block]:
    blocks: list[Block] = [Heading(2, "The gradient laws")]
    for law in found.laws:
        if law.key in GRADIENT_KEYS:
            blocks += law_blocks(law, found.verdict(law.key))
    return blocks


# ------------------------------------------------------------------ the matrix view
def matrix_section(spec: Any, found: Established) -> list[Block]:
    """J, dX = J^T vec(dZ), and J's size and sparsity at this network's first block."""
    law = catalog.law("matrix")
    (sizes, entries) = _first_jacobian(spec)
    rows, cols = sizes[F.K] * sizes[F.HO] * sizes[F.WO], sizes[F.C] * sizes[F.H] * sizes[F.W]
    statement, product = _items(law.statement)
    entry, _ = _items(law.derived)
    return [
        Heading(2, "The matrix view"),
        para(
            "Stack the outputs and the inputs of a convolution into vectors, in row-major "
            "order. The convolution is then a matrix ",
            M(sp.Symbol("J")),
            " of ",
            times(F.K, F.HO, F.WO),
            " rows and ",
            times(F.C, F.H, F.W),
            " columns, whose entry ",
            Code("sympy.diff"),
            " finds from the forward definition:",
        ),
        display(entry),
        para(
            "Backpropagation multiplies by its transpose, which is why frameworks call the "
            "input gradient a transposed convolution:"
        ),
        display(statement, product),
        para(*established_words(law, found.verdict(law.key))),
        para(
            "At this network's first block ",
            M(sp.Symbol("J")),
            " is ",
            times(rows, cols),
            " with ",
            M(sp.Integer(len(entries))),
            " nonzero entries, each a weight: the sparse matrix the element-wise derivation "
            "multiplies by, entry for entry.",
        ),
    ]


def _first_jacobian(spec: Any) -> tuple[dict, matrix.Entries]:
    sizes = conv_sizes(spec.geometry[0])
    return sizes, matrix.jacobian_entries(sizes)


# ------------------------------------------------------------------ this network
def _sizes_math(sizes: dict) -> list[Piece]:
    return listed([sp.Eq(size, value, evaluate=False) for size, value in sizes.items()])


def _arithmetic(place: Instance) -> list[str]:
    """H_o = floor((6 + 2 0 - 3)/1) + 1 = 4: the law with the numbers, then its value."""
    return [
        f"{latex(size)} = {latex(rule, place.sizes)} = {latex(sp.Integer(value))}"
        for size, rule, value in place.arithmetic
    ]


def _names(d: Any) -> dict[int, list[sp.Basic]]:
    """Per conv block, x, w and b paired with the derivation's quantity names."""
    from .bridge import conv_views

    pairs: dict[int, list[sp.Basic]] = {}
    for view in conv_views(d):
        named = ((F.x, view.input), (F.w, view.weight), (F.b, view.bias))
        pairs[view.block] = [sp.Eq(base.label, sp.Symbol(name)) for base, name in named]
        gradient = sp.Derivative(F.L, sp.Symbol(view.output), evaluate=False)
        pairs[view.block].append(sp.Eq(F.dz.label, gradient, evaluate=False))
    return pairs


SHORT = {
    "dW": "The filter gradient",
    "dB": "The bias gradient",
    "dX": "The input gradient",
    "pool-size": "The pool",
    "avg-pool": "The average pool's gradient",
    "max-pool": "The max-pool's gradient",
    "first-max": "The routing mask",
    "flatten": "The flatten's gradient",
    "dense": "The dense unit's gradients",
}
ACTIVATION_NAMES = {
    "relu": "ReLU",
    "leaky_relu": "leaky ReLU",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "identity": "identity",
}
NOT_INSTANTIATED = ("output-size", "matrix", "head")  # shown with the block, or sizeless


def _short(key: str) -> str:
    if key in SHORT:
        return SHORT[key]
    return f"The {ACTIVATION_NAMES[_kind(key)]}'s gradient"


def place_blocks(law: Law, place: Instance, known: dict) -> list[Block]:
    """One law at one place: any new sizes and their arithmetic, then the law with numbers."""
    derived = {size for size, _, _ in place.arithmetic}
    new = {s: v for s, v in place.sizes.items() if s not in known and s not in derived}
    arithmetic = tuple(a for a in place.arithmetic if a[0] not in known)
    known.update(place.sizes)
    lead: list[Piece] = [_short(law.key)]
    if new:
        lead += [", with ", *_sizes_math(new)]
    blocks: list[Block] = []
    if arithmetic:
        shown = Instance(law.key, place.block, place.sizes, arithmetic, (), ())
        blocks += [para(*lead, ", gives"), Display(tuple(_arithmetic(shown)))]
        lead = ["Then"]
    if place.forms:
        ranges: list[Piece] = [", for ", *listed(place.ranges)] if place.ranges else []
        blocks += [para(*lead, *ranges, ":"), display(*place.forms)]
    return blocks


def block_blocks(block: int | None, places: list[tuple[Law, Instance]], names: dict) -> list[Block]:
    """The sizes at one block (None: after the last) and every law that applies there."""
    if not places:
        return []
    first = places[0][1]
    derived = {size for size, _, _ in first.arithmetic}
    given = {s: v for s, v in first.sizes.items() if s not in derived}
    title = f"Block {block}: " if block is not None else "After the last block: "
    blocks: list[Block] = [para(title, *_sizes_math(given), ", so" if derived else ".")]
    if derived:
        blocks.append(Display(tuple(_arithmetic(first))))
    if block in names:
        blocks.append(
            para(
                "In the element-wise derivation that follows, the tensors of the laws are ",
                *listed(names[block]),
                ".",
            )
        )
    known = dict(first.sizes)
    for law, place in places:
        if law.key not in NOT_INSTANTIATED:
            blocks += place_blocks(law, place, known)
    return blocks


def instance_section(spec: Any, found: Established, names: dict) -> list[Block]:
    """This network's sizes, block by block, and every law with them."""
    blocks: list[Block] = [
        Heading(2, "This network as an instance"),
        para(
            "This network (",
            str(spec.label),
            ") fixes every size. At its sizes the laws read as follows: each is a law above "
            "with the numbers put in.",
        ),
    ]
    places = [(law, place) for law in found.laws for place in instances(law, spec)]
    for block in [*range(1, len(spec.blocks) + 1), None]:
        here = [(law, place) for law, place in places if place.block == block]
        blocks += block_blocks(block, here, names)
    return blocks


def closing(found: Established | None) -> list[Block]:
    """The element sums that follow, introduced as checked instances."""
    if found is None:
        return [
            para(
                "The element sums written out in the following sections are these laws at "
                "these sizes; ",
                Code("symbp laws"),
                " checks every one of them against its law, element by element.",
            )
        ]
    if not found.passed:
        return [
            para(
                "The element sums that follow do NOT all agree with these laws: ",
                f"{len(found.failed_checks)} of {len(found.checks)} instance checks failed.",
            )
        ]
    return [
        para(
            "The element sums written out in the following sections are these laws at these "
            "sizes, and were checked as such: instantiated exactly at every block, each law "
            f"reproduces every element of the element-wise derivation ({len(found.checks)} "
            f"checks, {found.elements} elements, no difference). What follows are checked "
            "instances of the general laws.",
        )
    ]


# ------------------------------------------------------------------ the section
@lru_cache(maxsize=4)
def section_blocks(spec: Any, derivation: Any = None) -> tuple[Block, ...]:
    """The section's content, built once for both formats (laws, bridge, printing)."""
    if derivation is not None:
        found, names = establish(derivation), _names(derivation)
    else:
        keys = catalog.keys_for(spec)
        found, names = Established(spec, tuple(catalog.law(k) for k in keys), ()), {}
    return (
        *introduction(),
        *forward_pass(spec),
        *output_size_section(spec, found),
        *gradient_section(found),
        *matrix_section(spec, found),
        *instance_section(spec, found, names),
        *closing(found if derivation is not None else None),
    )


def general_law_section(
    spec: Any, fmt: str = "latex", derivation: Any = None, number: int | None = None
) -> str:
    """The section "The general law" for this network, as LaTeX or Markdown.

    With the network's `derivation` the section also names its quantities and states the
    bridge's result (every instance checked against the element-wise derivation); without
    it, the laws and their instances at the spec's sizes only. `number` numbers the Markdown
    headings (LaTeX numbers its own)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {str(fmt)[:40]!r}; the formats are latex, markdown")
    spec = spec_of(spec)
    if derivation is not None and spec_of(derivation) != spec:
        raise ValueError("the derivation given is of another network than the spec")
    return render(section_blocks(spec, derivation), fmt, number)
