"""The derivation document for any architecture: several channels, filters and blocks, stride,
padding, every activation and pool.

The teaching document (`symbp.sections`, templates/cnn_backprop.*) is written around the
teaching network's 2-D matrices and names; this one walks the derivation generically. Layer by
layer it shows the forward element expressions, the local derivatives `sympy.diff` found and
the staged gradients, for representative elements (the first one, one step along, and one in
the interior where padding no longer cuts the window), elided when long. Then every proof the
spec at hand called for, with a figure of each conv block's two patterns (`general_figures`).

As in the teaching document, nothing here types mathematics: every formula is a SymPy object
taken from the derivation or its proofs, printed by `DocumentLatexPrinter` in the templates
(templates/general.tex, templates/general.md and templates/general/). Same spec, same bytes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from . import __version__
from .derivation import Derivation, ForwardStep, Step
from .display import TEXT_WIDTH_EM, tex_width
from .general_figures import (
    InputPanel,
    PoolPanel,
    WeightPanel,
    input_panels,
    pool_panel,
    weight_panels,
)
from .layers import Stage, is_indicator
from .notation import GRADIENT, quantity_tex, symbol_keys
from .printers import Dots, Notation
from .proofs import Proof
from .sections import Layout, gradient_summary
from .spec import ACTIVATION_NAMES, BlockGeometry
from .symbols import element_latex, gradient_quantity

LINE_EM = TEXT_WIDTH_EM - 10  # room for a display's terms after its left-hand side
BRACKET_EM = TEXT_WIDTH_EM - 14  # room for one line of an Iverson bracket's conditions
MANY_TERMS = 4  # sums of bracketed terms longer than this show their first two and last
LOCAL_SHOWN = 3  # local derivatives listed per output element (then \cdots and the last)
BRACKET = Dots(r"[\,\cdots]")  # stands for a window's first-maximum condition
PACKED_EM = TEXT_WIDTH_EM - 6  # room for one-line displays set side by side
PANEL_CM = 7.9  # figure panels up to this wide go two to a row
PANEL_TEXT_WIDTH = 100  # text figures wider than this drop their cell labels


# ------------------------------------------------------------------------------ names
@dataclass(frozen=True)
class GeneralNames:
    """Whole-quantity display symbols (X, W_1, δZ_1) and element gradients of parameters."""

    q: dict[str, sp.Symbol]
    dq: dict[str, sp.Symbol]
    dparam: dict[str, np.ndarray]  # δw^{(1)}_{k,c,p,q}, ...: one per parameter element

    def gradient_symbols(self, d: Derivation, name: str) -> np.ndarray:
        """The symbols written δ(element) of any quantity, parameters included."""
        if name in self.dparam:
            return self.dparam[name]
        return d.gradient_symbols["d" + name].symbols


@functools.lru_cache(maxsize=4)
def general_names(d: Derivation) -> tuple[GeneralNames, Notation]:
    """Display names for every quantity, and the printer's notation (LaTeX, reading order).

    Products read data, gradient, weight (x δz, δz w, f δz); sums run row-major.
    """
    tex, keys = symbol_keys(d)
    order = list(d.quantities)
    dparam: dict[str, np.ndarray] = {}
    for name in d.parameter_names:
        quantity = d.quantities[name]
        symbols = gradient_quantity(quantity).symbols
        dparam[name] = symbols
        for index in quantity.indices():
            tex[symbols[index]] = element_latex(rf"\delta {quantity.tex}", index)
            keys[symbols[index]] = (GRADIENT, order.index(name), index)
    q = {name: sp.Symbol(f"Q.{name}") for name in d.quantities}
    dq = {name: sp.Symbol(f"dQ.{name}") for name in d.quantities}
    for name in d.quantities:
        tex[q[name]] = quantity_tex(name)
        tex[dq[name]] = rf"\delta {quantity_tex(name)}"
    return GeneralNames(q, dq, dparam), Notation(tex, keys)


# ------------------------------------------------------------------------------ displays
@dataclass(frozen=True)
class Bracketed:
    """`value` times an Iverson bracket whose conditions are laid out in lines (chunks)."""

    value: sp.Basic | None
    chunks: list[list[sp.Basic]]


@dataclass(frozen=True)
class Display:
    """`lhs = value`, laid out for an aligned display.

    kind 'expr': value is one expression, on one line; 'sum': a `SumLines`; 'terms': a list of
    `Bracketed` terms, one per line (None marks terms left out).
    """

    lhs: sp.Basic
    kind: str
    value: Any


def _split_indicator(term: sp.Basic) -> tuple[sp.Basic, sp.Basic | None]:
    """(rest, indicator) of a product value * [condition]."""
    factors = sp.Mul.make_args(term)
    brackets = [f for f in factors if is_indicator(f)]
    rest = sp.Mul(*(f for f in factors if not is_indicator(f)))
    return rest, (brackets[0] if brackets else None)


def _conditions(indicator: sp.Basic) -> list[sp.Basic]:
    condition = indicator.args[0].cond
    return list(condition.args) if isinstance(condition, sp.And) else [condition]


class Displays:
    """Lays out expressions: short ones whole, sums over lines, brackets over lines, elided."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.notation = layout.printer.notation

    def width(self, expr: sp.Basic) -> float:
        """Estimated printed width in em; a derivative as wide as its wider half."""
        if isinstance(expr, sp.Derivative):
            return max(self.width(expr.expr), self.width(expr.variables[0])) + 1.2
        return tex_width(self.layout.printed(expr))

    def bracketed(self, value: sp.Basic | None, factor: sp.Basic) -> Bracketed:
        """value · [conditions], the conditions in lines that fit; no bracket: value · factor."""
        if not is_indicator(factor):
            whole = factor if value is None else value * factor
            return Bracketed(whole, [])
        conditions = self.notation.oriented_conditions(factor.args[0].cond)
        budget = BRACKET_EM - (0.0 if value is None else self.width(value))
        chunks: list[list[sp.Basic]] = [[]]
        used = 0.0
        for condition in conditions:
            width = self.width(condition) + 1.5
            if chunks[-1] and used + width > budget:
                chunks.append([])
                used = 0.0
            chunks[-1].append(condition)
            used += width
        return Bracketed(value, chunks)

    def _long_bracket(self, expr: sp.Basic) -> bool:
        """Whether a term's bracket is too long for one line with the rest."""
        for term in sp.Add.make_args(expr):
            _, indicator = _split_indicator(term)
            if indicator is not None and len(_conditions(indicator)) > 1:
                return True
        return False

    def show(self, lhs: sp.Basic, expr: sp.Basic, group: int | None = None) -> Display:
        """`lhs = expr`: whole if it fits, else a sum over lines or bracketed terms."""
        if self._long_bracket(expr):
            terms = self.notation.ordered_terms(expr) if isinstance(expr, sp.Add) else [expr]
            shown: list[Bracketed | None] = []
            picked: list[sp.Basic | None] = list(terms)
            if len(terms) > MANY_TERMS:
                picked = [terms[0], terms[1], None, terms[-1]]
            for term in picked:
                if term is None:
                    shown.append(None)
                    continue
                value, indicator = _split_indicator(term)
                if indicator is None:
                    shown.append(Bracketed(term, []))
                else:
                    shown.append(self.bracketed(None if value == 1 else value, indicator))
            return Display(lhs, "terms", shown)
        if isinstance(expr, sp.Add) and (group is not None or self.width(expr) > LINE_EM):
            return Display(lhs, "sum", self.layout.sum(expr, group=group, budget_em=LINE_EM))
        return Display(lhs, "expr", expr)

    def pack(self, rows: list[Display | None]) -> list[list[Display | None]] | None:
        """One-line displays side by side, as many to a line as fit; None if any is longer."""
        lines: list[list[Display | None]] = [[]]
        used = 0.0
        for row in rows:
            if row is not None and row.kind != "expr":
                return None
            width = 2.5 if row is None else self.width(row.lhs) + self.width(row.value) + 3.5
            if lines[-1] and used + width > PACKED_EM:
                lines.append([])
                used = 0.0
            lines[-1].append(row)
            used += width
        return lines

    def abbreviated(self, lhs: sp.Basic, expr: sp.Basic) -> Display:
        """A sum of bracketed terms with each bracket written [⋯] (overlapping windows)."""
        shown = sp.Add(*(_split_indicator(t)[0] * BRACKET for t in sp.Add.make_args(expr)))
        return Display(lhs, "sum", self.layout.sum(shown, budget_em=LINE_EM))


def _terms(expr: sp.Basic) -> int:
    return len(sp.Add.make_args(expr)) if expr != 0 else 0


def _first(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (0,) * len(shape)


def _fullest(array: np.ndarray) -> tuple[int, ...]:
    """The first index (row-major) whose element has the most terms."""
    best, count = _first(array.shape), -1
    for index in np.ndindex(*array.shape):
        n = _terms(array[index])
        if n > count:
            best, count = index, n
    return best


def _step_along(shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """The element one column after the first, if there is one."""
    if not shape or shape[-1] < 2:
        return None
    return (*_first(shape)[:-1], 1)


def _shape_text(shape: tuple[int, ...]) -> str:
    return r" \times ".join(map(str, shape)) if shape else r"1 \times 1"


def _stage_title(stage: Stage, title: str) -> str:
    return f"Block {stage.block}: {title}" if stage.block is not None else title


# ------------------------------------------------------------------------------ network
def _block_rows(d: Derivation) -> list[dict[str, Any]]:
    rows = []
    for n, g in enumerate(d.spec.geometry, start=1):
        block = g.block
        k, c = g.conv[0], g.input[0]
        kh, kw = block.filter_shape
        rows.append(
            {
                "n": n,
                "input": _shape_text(g.input),
                "filters": _shape_text((k, c, kh, kw)),
                "stride": block.stride,
                "padding": block.padding,
                "conv": _shape_text(g.conv),
                "activation": ACTIVATION_NAMES[block.activation]
                + (f" ({block.leaky_slope:g})" if block.activation == "leaky_relu" else ""),
                "pool": (
                    f"{block.pool_type} {block.pool_size}x{block.pool_size}, "
                    f"stride {block.pool_step}"
                    if block.pooled
                    else "none"
                ),
                "output": _shape_text(g.output),
            }
        )
    return rows


def _layers(d: Derivation, names: GeneralNames) -> list[dict[str, Any]]:
    layers = []
    for stage, fwd in zip(d.stages, d.forward, strict=True):
        params = [p for p in stage.params if p != "Y"]
        block = stage.geometry.block if stage.geometry is not None else None
        layers.append(
            {
                "kind": stage.kind,
                "block": stage.block,
                "title": fwd.title,
                "input": names.q[stage.input],
                "output": names.q[stage.output],
                "shape": _shape_text(d.quantities[stage.output].shape),
                "params": [(names.q[p], d.quantities[p].size) for p in params],
                "w": names.q[params[0]] if params else None,
                "b": names.q[params[1]] if len(params) > 1 else None,
                "y": names.q["Y"],
                "pool_size": block.pool_size if block else 0,
                "pool_step": block.pool_step if block else 0,
                "slope": f"{block.leaky_slope:g}" if block else "",
            }
        )
    return layers


def _conventions(d: Derivation) -> dict[str, Any]:
    blocks = d.spec.blocks
    kinds = {stage.kind for stage in d.stages}
    overlap = [
        n
        for n, b in enumerate(blocks, start=1)
        if b.pool_type == "max" and b.pool_step < b.pool_size
    ]
    return {
        "padding": any(b.padding for b in blocks),
        "stride": any(b.stride > 1 for b in blocks),
        "relu": "relu" in kinds,
        "leaky": sorted({f"{b.leaky_slope:g}" for b in blocks if b.activation == "leaky_relu"}),
        "max": "maxpool" in kinds,
        "overlap": overlap,
        "avg": "avgpool" in kinds,
        "in_output": sorted({b.activation for b in blocks if b.activation in ("sigmoid", "tanh")}),
        "channels": any(
            d.quantities[name].symbols.ndim == 3
            for stage in d.conv_stages
            for name in (stage.input, stage.output)
        ),
    }


# ------------------------------------------------------------------------------ forward
@dataclass(frozen=True)
class ForwardPart:
    stage: Stage
    title: str
    kind: str
    displays: list[Display | None]
    packed: list[list[Display | None]] | None  # short displays side by side (flatten)
    elements: int  # how many elements the layer writes
    facts: dict[str, Any]


def _conv_indices(expressions: np.ndarray) -> list[tuple[int, ...]]:
    first = _first(expressions.shape)
    wanted = [first, _step_along(expressions.shape), _fullest(expressions)]
    return list(dict.fromkeys(i for i in wanted if i is not None))


def _forward_part(d: Derivation, fwd: ForwardStep, displays: Displays) -> ForwardPart:
    """The layer's representative elements, as the derivation built them."""
    stage, exprs = fwd.stage, fwd.expressions
    out = d.quantities[stage.output].symbols
    facts: dict[str, Any] = {}
    shown: list[Display | None] = []
    if stage.kind == "conv":
        g = stage.geometry
        assert g is not None
        kh, kw = g.block.filter_shape
        indices = _conv_indices(exprs)
        shown = [displays.show(out[i], exprs[i], group=kw) for i in indices]
        facts = {
            "products": g.input[0] * kh * kw,
            "counts": [_terms(exprs[i]) - 1 for i in indices],
            "padded": g.block.padding > 0,
        }
    elif stage.kind in ("maxpool", "avgpool"):
        first = _first(exprs.shape)
        g = stage.geometry
        assert g is not None
        expr = sp.expand(exprs[first]) if stage.kind == "avgpool" else exprs[first]
        shown = [displays.show(out[first], expr)]
        size = g.block.pool_size
        facts = {"window": size * size, "windows": int(np.prod(exprs.shape))}
    elif stage.kind == "flatten":
        flat = list(np.ndindex(*exprs.shape))
        chosen = list(dict.fromkeys([flat[0], flat[min(1, len(flat) - 1)], flat[-1]]))
        for k, index in enumerate(chosen):
            if k == len(chosen) - 1 and len(flat) > len(chosen):
                shown.append(None)
            shown.append(Display(out[index], "expr", exprs[index]))
    elif stage.kind == "dense":
        shown = [displays.show(out[()], exprs[()])]
        facts = {"products": _terms(exprs[()]) - 1}
    else:  # activations, the head's sigmoid, the loss
        first = _first(exprs.shape)
        shown = [displays.show(out[first], exprs[first])]
    return ForwardPart(
        stage,
        _stage_title(stage, fwd.title),
        stage.kind,
        shown,
        displays.pack(shown) if stage.kind == "flatten" else None,
        int(np.prod(exprs.shape)) if exprs.shape else 1,
        facts,
    )


# ------------------------------------------------------------------------------ backward
@dataclass(frozen=True)
class BackwardPart:
    """One target of one layer: its local derivatives and its staged gradient."""

    step: Step
    target: sp.Symbol  # whole quantity, e.g. W_1
    upstream: sp.Symbol
    is_parameter: bool
    local: list[Display | None]
    local_lines: list[list[Display | None]] | None  # the same side by side, when short
    local_output: sp.Basic  # the output element whose local derivatives are shown
    local_count: int  # nonzero local derivatives of that output element
    nonzero: int  # nonzero entries of the whole local Jacobian
    entries: int  # entries of the whole local Jacobian
    gradient: list[Display]
    gradient_terms: list[int]
    gradient_next: bool  # the second display is the first element's neighbour (pools)
    gradient_fullest: bool  # the last display is the first element with the most terms


@dataclass(frozen=True)
class BackwardLayer:
    stage: Stage
    title: str
    kind: str
    parts: list[BackwardPart]


def _local_part(
    d: Derivation, step: Step, displays: Displays
) -> tuple[list[Display | None], sp.Basic, int]:
    counts: dict[tuple[int, ...], int] = {}
    for out, _ in step.local:
        counts[out] = counts.get(out, 0) + 1
    chosen = max(counts, key=counts.__getitem__)  # the first output with the most
    entries = [(target, value) for (out, target), value in step.local.items() if out == chosen]
    out_symbol = d.quantities[step.upstream].symbols[chosen]
    in_symbols = d.quantities[step.target].symbols
    picked: list[tuple[tuple[int, ...], sp.Basic] | None] = list(entries)
    if len(entries) > LOCAL_SHOWN + 1:
        picked = [*entries[:LOCAL_SHOWN], None, entries[-1]]
    shown: list[Display | None] = []
    for entry in picked:
        if entry is None:
            shown.append(None)
            continue
        target, value = entry
        shown.append(displays.show(sp.Derivative(out_symbol, in_symbols[target]), value))
    return shown, out_symbol, len(entries)


def _gradient_part(
    d: Derivation, step: Step, displays: Displays, names: GeneralNames
) -> tuple[list[Display], list[int], bool, bool]:
    gradient = step.gradient
    lhs = names.gradient_symbols(d, step.target)
    stage = step.stage
    pool = stage.kind in ("maxpool", "avgpool")
    wanted = [_first(gradient.shape), _step_along(gradient.shape) if pool else None]
    fullest = _fullest(gradient)
    indices = list(dict.fromkeys(i for i in [*wanted, fullest] if i is not None))
    group = None
    if stage.kind == "conv" and stage.geometry is not None:
        if step.target == stage.input:
            group = stage.geometry.block.filter_shape[1]  # one line per filter row
        elif step.target == stage.params[0]:
            group = stage.geometry.conv[2]  # one line per row of dZ
    shown = []
    for index in indices:
        expr = gradient[index]
        if stage.kind == "maxpool" and _terms(expr) > 1:
            shown.append(displays.abbreviated(lhs[index], expr))
        else:
            shown.append(displays.show(lhs[index], expr, group=group))
    terms = [_terms(gradient[i]) for i in indices]
    has_next = wanted[1] is not None and len(indices) > 1 and indices[1] == wanted[1]
    has_fullest = fullest not in wanted  # then it has more terms than the first
    return shown, terms, has_next, has_fullest


def _backward_layers(d: Derivation, displays: Displays, names: GeneralNames) -> list[BackwardLayer]:
    layers: list[BackwardLayer] = []
    head = {d.prediction, "L"}
    for step in d.steps:
        if step.stage.output in head:
            continue  # the loss and the sigmoid: the head collapse
        if not layers or layers[-1].stage != step.stage:
            title = next(f.title for f in d.forward if f.stage == step.stage)
            layers.append(
                BackwardLayer(step.stage, _stage_title(step.stage, title), step.stage.kind, [])
            )
        local, out_symbol, local_count = _local_part(d, step, displays)
        gradient, terms, has_next, has_fullest = _gradient_part(d, step, displays, names)
        out_size = max(d.quantities[step.upstream].size, 1)
        in_size = max(d.quantities[step.target].size, 1)
        layers[-1].parts.append(
            BackwardPart(
                step,
                names.q[step.target],
                names.q[step.upstream],
                step.is_parameter,
                local,
                displays.pack(local),
                out_symbol,
                local_count,
                len(step.local),
                out_size * in_size,
                gradient,
                terms,
                has_next,
                has_fullest,
            )
        )
    return layers


def _head(d: Derivation) -> dict[str, Any]:
    q = d.quantities
    lsym, a, z = q["L"].symbols[()], q[d.prediction].symbols[()], q[d.logit].symbols[()]
    return {
        "collapse": d.head,
        "a": a,
        "z": z,
        "y": q["Y"].symbols[()],
        "dz": d.gradient_symbols["d" + d.logit].symbols[()],
        "dL_da": sp.Derivative(lsym, a),
        "da_dz": sp.Derivative(a, z),
    }


# ------------------------------------------------------------------------------ patterns
@dataclass(frozen=True)
class BlockFigures:
    """The figures of one conv block, for filter 0 and channel 0."""

    n: int
    geometry: BlockGeometry
    input: sp.Symbol  # the block's input quantity, X or P1 ...
    output: sp.Symbol  # Z_n
    weight: sp.Symbol  # W_n
    activation: sp.Symbol  # A_n, the pool's input
    d_input: sp.Symbol  # δX ...
    d_output: sp.Symbol  # δZ_n
    d_weight: sp.Symbol  # δW_n
    weights: list[tuple[WeightPanel, sp.Basic]]  # each panel, and δw of its element
    inputs: list[tuple[InputPanel, sp.Basic]]  # each panel, and δx of its element
    pool: PoolPanel | None
    channels: bool  # whether the tensors carry a channel axis (then: filter 0, channel 0)
    weight_per_row: int
    input_per_row: int
    weight_text: list[list[str]]  # each weight panel as a text grid (Markdown)
    input_text: list[list[str]]
    pool_text: list[str]


def _fitted(draw: Callable[[bool], list[str]]) -> list[str]:
    """A text figure with its cell labels, or without them when that is too wide."""
    lines = draw(True)
    if max(len(line) for line in lines) > PANEL_TEXT_WIDTH:
        lines = draw(False)
    return lines


def _block_figures(d: Derivation, names: GeneralNames) -> dict[int, BlockFigures]:
    figures = {}
    for stage in d.conv_stages:
        g, n = stage.geometry, stage.block
        assert g is not None and n is not None
        weights = weight_panels(g)
        # a corner, and the position whose gradient (channel 0) collects the most products
        dx = d.gradients[stage.input].reshape(g.input)[0]
        row, col = _fullest(dx)
        inputs = input_panels(g, list(dict.fromkeys([(0, 0), (row, col)])))
        dparam = names.dparam[stage.params[0]]
        dinput = names.gradient_symbols(d, stage.input)
        channel = dparam.ndim == 4
        weight_labels = [dparam[(0, 0, p.p, p.q) if channel else (p.p, p.q)] for p in weights]
        several_in = dinput.ndim == 3
        input_labels = [dinput[(0, p.r, p.s) if several_in else (p.r, p.s)] for p in inputs]
        pooled = g.block.pool_type == "avg" or (
            g.block.pool_type == "max" and g.block.pool_step < g.block.pool_size
        )
        source, out, weight = stage.input, stage.output, stage.params[0]
        padded = f"{source} padded" if g.block.padding else source
        weight_text = [
            _fitted(functools.partial(p.text, padded, f"d{out}", f"d{weight}")) for p in weights
        ]
        input_text = [
            _fitted(functools.partial(p.text, f"d{out} spread", f"d{source}")) for p in inputs
        ]
        pool = pool_panel(g) if pooled else None
        pool_text = pool.text(f"A{n}") if pool is not None else []
        widest_weight = max(float(p.width) for p in weights)
        widest_input = max(float(p.width) for p in inputs)
        figures[n] = BlockFigures(
            n,
            g,
            names.q[stage.input],
            names.q[stage.output],
            names.q[stage.params[0]],
            names.q[f"A{n}"],
            names.dq[stage.input],
            names.dq[stage.output],
            names.dq[stage.params[0]],
            list(zip(weights, weight_labels, strict=True)),
            list(zip(inputs, input_labels, strict=True)),
            pool,
            channel or several_in,
            2 if widest_weight <= PANEL_CM else 1,
            2 if widest_input <= PANEL_CM else 1,
            weight_text,
            input_text,
            pool_text,
        )
    return figures


def _proof_block(d: Derivation, key: str) -> int | None:
    """Which conv block a proof is about (None: the head or the whole network)."""
    base, _, suffix = key.partition(".")
    if suffix.isdigit():
        return int(suffix)
    for stage in d.conv_stages:
        if key in (f"dW{stage.block}", f"dB{stage.block}", f"d{stage.input}"):
            return stage.block
    if base in ("relu0", "leaky0", "tanh", "sigmoid", "ties", "max-accumulate", "avg-spread"):
        return 1
    return None


def _figure_of(d: Derivation, key: str, block: int | None) -> str | None:
    if block is None:
        return None
    stage = next(s for s in d.conv_stages if s.block == block)
    if key == f"dW{block}":
        return "weight"
    if key == f"d{stage.input}":
        return "input"
    if key.partition(".")[0] in ("max-accumulate", "avg-spread"):
        return "pool"
    return None


def _patterns(d: Derivation, proofs: Iterable[Proof], names: GeneralNames) -> dict[str, Any]:
    figures = _block_figures(d, names)
    groups: dict[int | None, list[dict[str, Any]]] = {}
    for number, proof in enumerate(proofs, start=1):
        block = _proof_block(d, proof.key)
        figure = _figure_of(d, proof.key, block)
        if figure == "pool" and (block is None or figures[block].pool is None):
            figure = None
        groups.setdefault(block, []).append(
            {
                "proof": proof,
                "number": number,
                "statement": proof.statement,
                "figure": figure,
                "block": figures[block] if block is not None else None,
            }
        )
    head = [e for e in groups.get(None, []) if e["proof"].key in ("head", "stable-loss")]
    whole = [e for e in groups.get(None, []) if e["proof"].key not in ("head", "stable-loss")]
    blocks = [(n, groups[n]) for n in sorted(k for k in groups if k is not None)]
    return {"head": head, "blocks": blocks, "whole": whole, "figures": figures}


# ------------------------------------------------------------------------------ context
def general_context(d: Derivation, proofs: list[Proof], title: str) -> dict[str, Any]:
    """Everything templates/general.tex and general.md show."""
    return {"title": title, **_general_sections(d, tuple(proofs))}


@functools.lru_cache(maxsize=4)
def _general_sections(d: Derivation, proofs: tuple[Proof, ...]) -> dict[str, Any]:
    names, notation = general_names(d)
    displays = Displays(Layout.of(notation))
    spec = d.spec
    first_conv = d.quantities[d.conv_stages[0].output]
    parameters = [
        (names.q[p], _shape_text(d.quantities[p].shape), d.quantities[p].size)
        for p in d.parameter_names
    ]
    return {
        "version": __version__,
        "spec": spec,
        "q": names.q,
        "dq": names.dq,
        "prediction": d.prediction,
        "logit": d.logit,
        "blocks": _block_rows(d),
        "layers": _layers(d, names),
        "parameters": parameters,
        "parameter_total": sum(size for _, _, size in parameters),
        "parameter_breakdown": " + ".join(str(size) for _, _, size in parameters),
        "conventions": _conventions(d),
        "forward": [_forward_part(d, fwd, displays) for fwd in d.forward],
        "head": _head(d),
        "backward": _backward_layers(d, displays, names),
        "patterns": _patterns(d, proofs, names),
        "proofs": proofs,
        "proof": {p.key: p for p in proofs},
        "all_hold": all(p.holds for p in proofs),
        "element_example": first_conv.symbols[_first(first_conv.shape)],  # z^{(1)}_{0,0,...}
    }


def general_notation(d: Derivation) -> Notation:
    """The printer's notation for the general document (every symbol's LaTeX, reading order)."""
    return general_names(d)[1]


# ------------------------------------------------------------------------------ notebook
def general_notebook_context(d: Derivation) -> dict[str, Any]:
    """A compact summary: the network, the head's A - Y, a few elements of each gradient."""
    names, notation = general_names(d)
    layout = Layout.of(notation)
    summary = gradient_summary(d, names.dparam, layout, d.parameter_names, (2, 1), limit=4)
    return {
        "spec": d.spec,
        "count": d.parameter_count,
        "breakdown": d.spec.parameter_breakdown,
        "dz": d.gradient_symbols["d" + d.logit].symbols[()],
        "head": d.head,
        "summary": summary,
    }
