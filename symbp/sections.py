"""What each section of the document shows, gathered from a `Derivation` as SymPy objects.

One builder per section. Each picks expressions out of the derivation (its forward element
expressions, its steps' local derivatives and staged gradients, its head collapse) and decides
how much of them to show: whole at small sizes, elided with ellipses at large ones. Nothing here
types mathematics or LaTeX; the templates print every object through SymPy's LaTeX printer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import product
from typing import Any, cast

import numpy as np
import sympy as sp

from .derivation import PARAMETER_NAMES, Derivation, Step, quantity_shapes
from .display import (
    MATRIX_COLUMN_GAP_EM,
    TEXT_WIDTH_EM,
    SumLines,
    elide,
    fit_columns,
    sum_lines,
    tex_width,
)
from .example import worked_example
from .figures import (
    ConvolutionPanel,
    CorrelationPanel,
    convolution_panels,
    convolution_positions,
    correlation_panels,
    diagram_edges,
    diagram_nodes,
    framed,
    side_by_side,
    text_grid,
)
from .layers import is_indicator, pool_windows
from .notation import DocumentNames
from .numbers import DIGITS, fmt, numeral, numerals
from .patterns import rotate_180
from .printers import DocumentLatexPrinter, Dots, Notation

SYMBOL_MATRIX_LIMIT = 10  # rows/columns of a symbol matrix shown whole
LONG_SUM = 36  # sums with more terms are shown as first terms + \cdots + last term
MANY_ELEMENTS = 25  # parameter elements listed one by one up to this many
LISTING_LINES = 60  # the filter-gradient listing is written out in full up to this many lines
CONDITIONS_PER_LINE = 4
LINE_EM = TEXT_WIDTH_EM - 8  # room for a sum's terms after its left-hand side
BRACKET = Dots(r"[\,\cdots]")  # stands for a window's first-maximum condition


@dataclass(frozen=True)
class Layout:
    """Printing-aware layout decisions: how many columns and terms fit a line."""

    printer: DocumentLatexPrinter

    @classmethod
    def of(cls, notation: Notation) -> Layout:
        return cls(DocumentLatexPrinter(notation))

    def printed(self, expr: sp.Basic) -> str:
        return str(self.printer.doprint(expr))

    def matrix(self, array: np.ndarray, budget_em: float = TEXT_WIDTH_EM - 8) -> sp.Matrix:
        """The array as a matrix that fits `budget_em`, corners kept when it does not."""
        grid = np.asarray(array, dtype=object)
        rows = grid.shape[0] if grid.ndim else 1
        cols = fit_columns(grid, self.printed, budget_em, SYMBOL_MATRIX_LIMIT)
        return elide(grid, rows if rows <= SYMBOL_MATRIX_LIMIT else 5, cols)

    def width(self, value: sp.Basic) -> float:
        """Estimated printed width in em (a matrix: its widest entry per column)."""
        if isinstance(value, sp.MatrixBase):
            columns = [
                max(tex_width(self.printed(value[r, c])) for r in range(value.rows))
                for c in range(value.cols)
            ]
            return sum(columns) + MATRIX_COLUMN_GAP_EM * value.cols + 1.0
        return tex_width(self.printed(value))

    def fits(
        self, *values: sp.Basic, extra_em: float = 0.0, budget_em: float = TEXT_WIDTH_EM - 2
    ) -> bool:
        """Whether the displays `lhs = value` fit side by side on one line.

        `extra_em` is room for what the template writes between them (e.g. "= X ⋆ δZ_1").
        """
        return sum(self.width(v) + 5.0 for v in values) + extra_em <= budget_em

    def sum(
        self,
        expr: sp.Basic,
        group: int | None = None,
        budget_em: float = LINE_EM,
        max_terms: int = LONG_SUM,
        keep: tuple[int, int] = (3, 1),
    ) -> SumLines:
        """The terms of `expr` in reading order, in lines of `group` terms if they fit."""
        terms = self.printer.notation.ordered_terms(expr)
        widest = max(tex_width(self.printed(t)) for t in terms[:12]) + 1.6
        fitting = max(1, int(budget_em // widest))
        per_line = group if group is not None and group <= fitting else fitting
        if group is not None and group > fitting:
            # split each group evenly: 5 products -> 3 + 2, not 4 + 1
            parts = -(-group // fitting)
            sizes = [(-(-group // parts))] * parts
            sizes[-1] = group - sizes[0] * (parts - 1)
            lines = sizes * (-(-len(terms) // group))
            return sum_lines(terms, lines, max_terms, keep)
        return sum_lines(terms, per_line, max_terms, keep)


@dataclass(frozen=True)
class Bracketed:
    """`value` times an Iverson bracket whose conditions are laid out in lines."""

    value: sp.Basic | None
    chunks: list[list[sp.Basic]]


def _bracketed(layout: Layout, value: sp.Basic | None, factor: sp.Basic) -> Bracketed:
    """value · [conditions], the conditions in lines; a factor that is no bracket stays whole.

    (A 1x1 pool has no conditions: its local derivative is the number 1.)
    """
    if not is_indicator(factor):
        whole = factor if value is None else value * factor
        return Bracketed(whole, [])
    conditions = layout.printer.notation.oriented_conditions(factor.args[0].cond)
    chunks = [
        conditions[k : k + CONDITIONS_PER_LINE]
        for k in range(0, len(conditions), CONDITIONS_PER_LINE)
    ]
    return Bracketed(value, chunks)


def _split_indicator(term: sp.Basic) -> tuple[sp.Basic, sp.Basic | None]:
    """(rest, indicator) of a product value * [condition]."""
    factors = sp.Mul.make_args(term)
    brackets = [f for f in factors if is_indicator(f)]
    rest = sp.Mul(*(f for f in factors if not is_indicator(f)))
    return rest, (brackets[0] if brackets else None)


def _step(d: Derivation, kind: str, target: str) -> Step:
    return next(s for s in d.steps if s.stage.kind == kind and s.target == target)


def _shape_text(shape: tuple[int, ...]) -> str:
    return r" \times ".join(map(str, shape)) if shape else r"1 \times 1"


# ------------------------------------------------------------------------------ the network
def network_section(d: Derivation, names: DocumentNames) -> dict[str, Any]:
    shapes = quantity_shapes(d.spec)
    order = [stage.output for stage in d.stages]
    nodes = diagram_nodes(shapes, ["X", *order])
    layers = []
    for stage, fwd in zip(d.stages, d.forward, strict=True):
        params = [p for p in stage.params if p != "Y"]
        layers.append(
            {
                "kind": stage.kind,
                "title": fwd.title,
                "input": names.q[stage.input],
                "output": names.q[stage.output],
                "shape": _shape_text(shapes[stage.output]),
                "params": [(names.q[p], d.quantities[p].size) for p in params],
                "param_count": sum(d.quantities[p].size for p in params),
            }
        )
    return {
        "nodes": nodes,
        "edges": diagram_edges(nodes, [s.kind for s in d.stages]),
        "layers": layers,
        "parameters": [
            (names.q[p], _shape_text(d.quantities[p].shape), d.quantities[p].size)
            for p in PARAMETER_NAMES
        ],
    }


# ------------------------------------------------------------------------------ forward pass
def _conv_examples(d: Derivation) -> list[tuple[int, int]]:
    ch, cw = d.spec.conv_shape
    wanted = [(0, 0), (0, min(1, cw - 1)), (min(1, ch - 1), 0), (ch - 1, cw - 1)]
    return list(dict.fromkeys(wanted))


def forward_section(d: Derivation, names: DocumentNames, layout: Layout) -> dict[str, Any]:
    q = d.quantities
    fwd = {step.stage.kind: step for step in d.forward}
    kh, kw = d.spec.filter_shape
    conv = fwd["conv"].expressions
    pool = fwd["maxpool"].expressions
    first_window = (0, 0)
    pool_terms = []
    for term in layout.printer.notation.ordered_terms(pool[first_window]):
        value, bracket = _split_indicator(term)
        pool_terms.append(_bracketed(layout, value, bracket if bracket is not None else sp.S.One))
    windows = pool_windows(d.spec)
    matrices = {name: layout.matrix(q[name].symbols) for name in ("X", "W1", "Z1", "A1")}
    return {
        "matrices": matrices,
        "side_W1_Z1": layout.fits(matrices["W1"], matrices["Z1"], extra_em=9.0),
        "P1": layout.matrix(q["P1"].symbols),
        "conv": [
            (q["Z1"].symbols[index], layout.sum(conv[index], group=kw))
            for index in _conv_examples(d)
        ],
        "conv_terms": kh * kw,
        "relu": (q["A1"].symbols[0, 0], fwd["relu"].expressions[0, 0]),
        "pool": (q["P1"].symbols[first_window], pool_terms),
        "window": [q["A1"].symbols[cell] for cell in windows[first_window]],
        "window_count": len(windows),
        "flatten": (
            layout.matrix(q["F"].symbols.reshape(1, -1)),
            layout.matrix(fwd["flatten"].expressions.reshape(1, -1)),
        ),
        "dense": (q["Z2"].symbols[()], layout.sum(fwd["dense"].expressions[()])),
        "sigmoid": (q["A2"].symbols[()], fwd["sigmoid"].expressions[()]),
        "bce": (q["L"].symbols[()], fwd["bce"].expressions[()]),
    }


# ------------------------------------------------------------------------------ chain rule
def chain_section(d: Derivation, names: DocumentNames) -> dict[str, Any]:
    chains = []
    for parameter in PARAMETER_NAMES:
        path = d.chain(parameter)
        factors = [
            names.derivative(top, bottom) for top, bottom in zip(path, path[1:], strict=False)
        ]
        chains.append((names.derivative("L", parameter), factors))
    jacobians = []
    for step in d.steps:
        out_size = max(d.quantities[step.upstream].size, 1)
        in_size = max(d.quantities[step.target].size, 1)
        jacobians.append(
            {
                "factor": names.derivative(step.upstream, step.target),
                "title": step.title,
                "entries": out_size * in_size,
                "nonzero": len(step.local),
            }
        )
    return {"chains": chains, "jacobians": jacobians}


# ------------------------------------------------------------------------------ backward pass
def _local_matrix(step: Step, out_index: tuple[int, ...], shape: tuple[int, ...]) -> np.ndarray:
    grid = np.empty(shape, dtype=object)
    grid[...] = sp.S.Zero
    for (out, target), derivative in step.local.items():
        if out == out_index:
            grid[target] = derivative
    return grid


def _overlap_example(step: Step) -> tuple[tuple[int, ...], sp.Basic] | None:
    """An A1 element inside several pool windows (overlapping windows), if any."""
    best = None
    for index in np.ndindex(*step.gradient.shape):
        terms = sp.Add.make_args(step.gradient[index])
        if len(terms) > 1 and (best is None or len(terms) > best[1]):
            best = (index, len(terms))
    if best is None:
        return None
    index = best[0]
    shown = sp.Add(
        *(_split_indicator(t)[0] * BRACKET for t in sp.Add.make_args(step.gradient[index]))
    )
    return index, shown


def backward_section(d: Derivation, names: DocumentNames, layout: Layout) -> dict[str, Any]:
    q, g = d.quantities, d.gradient_symbols
    spec = d.spec
    kh, kw = spec.filter_shape
    ch, cw = spec.conv_shape
    dense_f, dense_w, dense_b = (_step(d, "dense", name) for name in ("F", "W2", "B2"))
    lsym, a2, z2 = q["L"].symbols[()], q["A2"].symbols[()], q["Z2"].symbols[()]
    pool_step, relu_step = _step(d, "maxpool", "A1"), _step(d, "relu", "Z1")
    conv_w, conv_b = _step(d, "conv", "W1"), _step(d, "conv", "B1")
    first_window = (0, 0)
    window = pool_windows(spec)[first_window]
    local_pool = [
        (
            sp.Derivative(q["P1"].symbols[first_window], q["A1"].symbols[cell]),
            _bracketed(layout, None, pool_step.local[(first_window, cell)]),
        )
        for cell in window
    ]
    window_gradients = []
    upstream = g["dP1"].symbols[first_window]
    for cell in window:
        # the term this window contributes (overlapping windows contribute more terms)
        terms = sp.Add.make_args(pool_step.gradient[cell])
        own = [t for t in terms if upstream in t.free_symbols]
        shown = None
        if own:
            value, bracket = _split_indicator(own[0])
            shown = _bracketed(layout, value, bracket if bracket is not None else sp.S.One)
        window_gradients.append((g["dA1"].symbols[cell], shown, len(terms) - len(own)))
    (relu_out, relu_in), relu_local = next(iter(relu_step.local.items()))
    x_positions = convolution_positions(spec)
    edge = (0, min(kw - 1, spec.input_shape[1] - 1))
    x_positions = list(dict.fromkeys([x_positions[0], edge, *x_positions[1:]]))
    w_local_at = [(0, 0), (0, min(1, cw - 1))]
    conv_local = [
        (
            sp.Derivative(q["Z1"].symbols[at], names.q["W1"]),
            layout.matrix(_local_matrix(conv_w, at, (kh, kw))),
        )
        for at in dict.fromkeys(w_local_at)
    ]
    return {
        "head": d.head,
        "a2": a2,
        "z2": z2,
        "dL_da2": sp.Derivative(lsym, a2),
        "da2_dz2": sp.Derivative(a2, z2),
        "y": q["Y"].symbols[()],
        "dz2": g["dZ2"].symbols[()],
        "dense_local": {
            "f": _dense_local(d, dense_f, "F"),
            "w": _dense_local(d, dense_w, "W2"),
            "b": (sp.Derivative(z2, q["B2"].symbols[()]), dense_b.local[((), ())]),
        },
        "dF": (
            layout.matrix(g["dF"].symbols.reshape(-1, 1)),
            layout.matrix(dense_f.gradient.reshape(-1, 1)),
        ),
        "dW2": layout.matrix(d.gradients["W2"]),
        "dB2": d.gradients["B2"][()],
        "dP1": (layout.matrix(g["dP1"].symbols), layout.matrix(d.gradients["P1"])),
        "pool_local": local_pool,
        "pool_gradients": window_gradients,
        "pool_overlap": _overlap_example(pool_step),
        "pool_dA1_symbol": g["dA1"].symbols,
        "relu_local": (
            sp.Derivative(q["A1"].symbols[relu_out], q["Z1"].symbols[relu_in]),
            relu_local,
        ),
        "dZ1": (layout.matrix(g["dZ1"].symbols), layout.matrix(d.gradients["Z1"])),
        "conv_local": conv_local,
        "conv_local_side": layout.fits(*(m for _, m in conv_local), extra_em=10.0),
        "conv_local_b": (
            sp.Derivative(q["Z1"].symbols[0, 0], q["B1"].symbols[()]),
            conv_b.local[((0, 0), ())],
        ),
        "dB1": (names.dparam["B1"][()], layout.sum(d.gradients["B1"][()], group=cw)),
        **_filter_listing(d, names, layout),
        "dW1_products": ch * cw,
        "correlation_panels": [
            (panel, names.dparam["W1"][panel.p, panel.q]) for panel in correlation_panels(spec)
        ],
        "dX": [
            (
                g["dX"].symbols[rc],
                layout.sum(d.gradients["X"][rc], group=kw),
            )
            for rc in x_positions
        ],
        "convolution_panels": [
            (
                panel,
                g["dX"].symbols[panel.r, panel.c],
                layout.sum(d.gradients["X"][panel.r, panel.c], group=kw),
            )
            for panel in convolution_panels(spec)
        ],
        "correlation_text": [
            (names.dparam["W1"][panel.p, panel.q], _correlation_text(panel), panel)
            for panel in _text_panels(correlation_panels(spec))
        ],
        "convolution_text": [
            (g["dX"].symbols[panel.r, panel.c], _convolution_text(panel))
            for panel in _text_panels(convolution_panels(spec))
        ],
        "correlation_labelled": bool(correlation_panels(spec)[0].image.labels),
        "convolution_labelled": bool(convolution_panels(spec)[0].padded.labels),
        "rot180_matrix": layout.matrix(rotate_180(q["W1"].symbols)),
        "padded_shape": (ch + 2 * (kh - 1), cw + 2 * (kw - 1)),
    }


TEXT_MARKS = {"window": "#", "gradient": "#", "target": "@", "padding": "0", "kernel": "@"}
TEXT_PANELS = 2  # text figures show the first panels only; one when grids are too fine to label


def _text_panels(panels: list[Any]) -> list[Any]:
    first = panels[0]
    grid = first.image if isinstance(first, CorrelationPanel) else first.padded
    return panels[-1:] if not grid.labels else panels[:TEXT_PANELS]


def _correlation_text(panel: CorrelationPanel) -> list[str]:
    """The dW1 figure as text: X with the window, dL/dZ1, dL/dW1 with the weight marked."""
    return side_by_side(
        [
            framed("X", text_grid(panel.image, TEXT_MARKS)),
            ["", "  (*)  "],
            framed("dZ1", text_grid(panel.gradient, TEXT_MARKS)),
            ["", "  ->  "],
            framed("dW1", text_grid(panel.result, TEXT_MARKS)),
        ]
    )


def _convolution_text(panel: ConvolutionPanel) -> list[str]:
    """The dX figure as text: padded dL/dZ1 under the turned filter, X with the pixel marked."""
    return side_by_side(
        [
            framed("padded dZ1", text_grid(panel.padded, TEXT_MARKS)),
            ["", "  ->  "],
            framed("dX", text_grid(panel.image, TEXT_MARKS)),
        ]
    )


def _filter_listing(d: Derivation, names: DocumentNames, layout: Layout) -> dict[str, Any]:
    """Every δw^{(1)}_{p,q} as its sum of products, in full while the listing stays short.

    Past LISTING_LINES lines, the first two weights and the last are written in full and the
    others abbreviated to their first terms and last term, one line each. Filters with more
    than MANY_ELEMENTS weights list the first six and the last two (None marks the gap).
    """
    kh, kw = d.spec.filter_shape
    cw = d.spec.conv_shape[1]
    elements = list(product(range(kh), range(kw)))
    gap = None if len(elements) <= MANY_ELEMENTS else 6
    shown = elements if gap is None else elements[:gap] + elements[-2:]
    sums = [layout.sum(d.gradients["W1"][pq], group=cw) for pq in shown]
    if sum(len(s.lines) for s in sums) > LISTING_LINES and len(shown) > 3:
        for k, pq in enumerate(shown):
            if k not in (0, 1, len(shown) - 1):
                sums[k] = layout.sum(d.gradients["W1"][pq], max_terms=3, keep=(2, 1))
    listing: list[tuple[sp.Basic, SumLines] | None] = [
        (names.dparam["W1"][pq], s) for pq, s in zip(shown, sums, strict=True)
    ]
    if gap is not None:
        listing.insert(gap, None)
    return {
        "dW1": listing,
        "dW1_in_full": sum(1 for s in sums if not s.elided),
        "dW1_all_shown": gap is None,
    }


def _dense_local(d: Derivation, step: Step, target: str) -> list[tuple[sp.Basic, sp.Basic] | None]:
    """∂z2/∂(first, second and last element of target) as sympy.diff found them.

    None stands for the elements left out between the second and the last.
    """
    symbols = d.quantities[target].symbols.reshape(-1)
    z2 = d.quantities["Z2"].symbols[()]
    shape = d.quantities[target].shape
    flat = list(np.ndindex(*shape))
    chosen = list(dict.fromkeys([flat[0], flat[min(1, len(flat) - 1)], flat[-1]]))
    out: list[tuple[sp.Basic, sp.Basic] | None] = []
    for k, index in enumerate(chosen):
        if k == len(chosen) - 1 and len(flat) > len(chosen):
            out.append(None)
        out.append((sp.Derivative(z2, symbols[flat.index(index)]), step.local[((), index)]))
    return out


# ------------------------------------------------------------------------------ batch, summary
def batch_section(d: Derivation, names: DocumentNames, layout: Layout) -> dict[str, Any]:
    shapes = quantity_shapes(d.spec)
    rows = []
    for name in ("X", "Z1", "A1", "P1", "F", "Z2", "A2", "Y"):
        shape = shapes[name]
        batch_shape = " \\times ".join(["M", *map(str, shape or (1,))])
        rows.append((names.q[name], _shape_text(shape), batch_shape))
    summary = gradient_summary(d, names.dparam, layout, PARAMETER_NAMES, (4, 2), limit=16)
    return {"shapes": rows, "summary": summary, "count": d.parameter_count}


def gradient_summary(
    d: Derivation,
    dparam: dict[str, np.ndarray],
    layout: Layout,
    parameters: Iterable[str],
    ends: tuple[int, int],
    limit: int,
) -> list[tuple[sp.Basic, SumLines] | None]:
    """(dθ element, its sum, elided) for each parameter's elements: all of them up to `limit`,
    else the first and last `ends`, with None standing for the ones left out."""
    first, last = ends
    summary: list[tuple[sp.Basic, SumLines] | None] = []
    for parameter in parameters:
        indices: list[tuple[int, ...] | None] = list(d.quantities[parameter].indices())
        shown = indices if len(indices) <= limit else [*indices[:first], None, *indices[-last:]]
        for index in shown:
            if index is None:
                summary.append(None)
                continue
            expr = d.gradients[parameter][index]
            summary.append(
                (
                    dparam[parameter][index],
                    layout.sum(expr, max_terms=3, keep=(2, 1), budget_em=200),
                )
            )
    return summary


# ------------------------------------------------------------------------------ worked example
X_DIGITS, PARAMETER_DIGITS = 1, 2  # the chosen image and parameters are exact at these digits


def _row(layout: Layout, values: np.ndarray, digits: int = DIGITS) -> sp.Matrix:
    """A vector of numbers as a (possibly elided) row."""
    return layout.matrix(numerals(np.asarray(values).reshape(1, -1), digits))


def _grid(layout: Layout, values: np.ndarray, digits: int = DIGITS) -> sp.Matrix:
    return layout.matrix(numerals(np.asarray(values), digits))


def example_section(d: Derivation, names: DocumentNames, layout: Layout) -> dict[str, Any]:
    """The worked example's numbers as display matrices (every value from the engine)."""
    ex = worked_example(d.spec)
    fwd, grads, inter = ex["forward"], ex["gradients"], ex["intermediate"]
    q, g = d.quantities, d.gradient_symbols
    # dL/dw_{0,0} with numbers: the derivation's own sum, each symbol replaced by its value.
    values: dict[sp.Basic, float] = {}
    for index in q["X"].indices():
        values[q["X"].symbols[index]] = float(ex["X"][index])
    for index in g["dZ1"].indices():
        values[g["dZ1"].symbols[index]] = float(inter["Z1"][index])
    terms = layout.printer.notation.ordered_terms(d.gradients["W1"][0, 0])
    products = [
        tuple(
            numeral(values[f], X_DIGITS if f in q["X"].flat() else DIGITS)
            for f in layout.printer.notation.ordered_factors(term) or [term]
        )
        for term in terms
    ]
    per_line = min(d.spec.conv_shape[1], 4)
    shown = {
        "X": _grid(layout, ex["X"], X_DIGITS),
        "W1": _grid(layout, ex["params"]["W1"], PARAMETER_DIGITS),
        "B1": numeral(float(ex["params"]["B1"]), PARAMETER_DIGITS),
        "W2T": _row(layout, ex["params"]["W2"], PARAMETER_DIGITS),
        "B2": numeral(float(ex["params"]["B2"]), PARAMETER_DIGITS),
        "Z1": _grid(layout, fwd["Z1"]),
        "A1": _grid(layout, fwd["A1"]),
        "P1": _grid(layout, fwd["P1"]),
        "FT": _row(layout, fwd["F"]),
        "Z2": numeral(float(fwd["Z2"])),
        "A2": numeral(float(fwd["A2"])),
        "L": numeral(ex["loss"]),
        "dZ2": numeral(float(inter["Z2"])),
        "dW2T": _row(layout, grads["W2"]),
        "dB2": numeral(float(grads["B2"])),
        "dFT": _row(layout, inter["F"]),
        "dP1": _grid(layout, inter["P1"]),
        "dA1": _grid(layout, inter["A1"]),
        "dZ1": _grid(layout, inter["Z1"]),
        "dB1": numeral(float(grads["B1"])),
        "dW1": _grid(layout, grads["W1"]),
        "dX": _grid(layout, ex["input_gradient"]),
    }
    updated = {
        "W1": _grid(layout, ex["updated"]["W1"]),
        "B1": numeral(float(ex["updated"]["B1"])),
        "W2T": _row(layout, ex["updated"]["W2"]),
        "B2": numeral(float(ex["updated"]["B2"])),
    }
    pairs = {
        "X_W1": ("X", "W1"),
        "B1_W2T": ("B1", "W2T", "B2"),
        "Z1_A1": ("Z1", "A1"),
        "A1_P1": ("A1", "P1"),
        "dW2T_dB2": ("dW2T", "dB2"),
        "dFT_dP1": ("dFT", "dP1"),
        "dA1_dZ1": ("dA1", "dZ1"),
        "dW1_dB1": ("dW1", "dB1"),
    }
    between = {"dW2T_dB2": 5.0, "dFT_dP1": 6.0, "dW1_dB1": 14.0}
    side = {
        key: layout.fits(*(shown[n] for n in names_), extra_em=between.get(key, 0.0))
        for key, names_ in pairs.items()
    }
    side["updated_W1_B1"] = layout.fits(updated["W1"], updated["B1"])
    side["updated_W2T_B2"] = layout.fits(updated["W2T"], updated["B2"])
    return {
        **shown,
        "side": side,
        "learning_rate": fmt(ex["learning_rate"], 2),
        "label": fmt(ex["Y"], 0),
        "dw00": (
            names.dparam["W1"][0, 0],
            sum_lines(products, per_line, max_terms=LONG_SUM, keep=(3, 1)),
            numeral(float(grads["W1"][0, 0])),
        ),
        "updated": updated,
        "updated_loss": numeral(ex["updated_loss"]),
        "loss_fell": ex["updated_loss"] < ex["loss"],
        "y": q["Y"].symbols[()],
        "a2": q["A2"].symbols[()],
        "loss_at_label": cast(sp.Expr, d.forward[-1].expressions[()]).subs(
            q["Y"].symbols[()], sp.nsimplify(ex["Y"])
        ),
        "numbers": ex,
    }
