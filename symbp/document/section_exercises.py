"""The exercises and their answers (an appendix): 5 to 8 per document, chosen for the spec.

Each exercise asks for something a reader can work out from the chapter, and its answer is
computed here, never typed: element values and zero patterns from the worked example (the
numeric engine, `worked_example`), formulas from the derivation (`Derivation.gradients`), and
the "what if" sizes by building the changed spec (`NetworkSpec`, which refuses a network that
no longer fits) and evaluating the laws' output-size formula at its numbers. Every exercise
keeps its answer as plain data (`Exercise.answer`) beside what the templates show, so a test
can check it against an independent reference (PyTorch, a hand-written loop).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from symbp.laws import index_form as F
from symbp.laws.conv import stated_output_size
from symbp.reference.example import worked_example
from symbp.spec.model import ConvBlock, NetworkSpec, SpecError, squeeze

from .context import Context, first
from .decimals import DIGITS, numeral
from .display import SumLines, sum_lines
from .layout import sum_of

__all__ = ["Exercise", "Size", "exercises_section", "what_if"]

LISTED = 6  # elements named one by one; more are counted
TERMS_SHOWN = 8  # a longer sum is shown as its first terms, \cdots and its last
PER_LINE = 4  # numeric products per displayed line
EASY_TERMS = 4  # the δX element asked for has at most this many terms, where one exists
WHAT_IF_BUDGET = 2**62  # the changed spec is sized, never derived: no symbolic budget applies
X_DIGITS, PARAMETER_DIGITS = 1, 2  # as the worked example prints them
TIE_DIGITS = 12  # gradients equal to this many decimals are a tie (equal features)


class Size(sp.Function):
    """A shape such as 4 × 4 as a SymPy object, so a template prints it with `tex`."""

    @classmethod
    def eval(cls, *args: sp.Basic) -> None:  # notation: never evaluates
        return None

    def _latex(self, printer: Any) -> str:
        return r" \times ".join(printer._print(a) for a in self.args) if self.args else "1"


def size_of(shape: tuple[int, ...]) -> Size:
    return Size(*shape) if shape else Size(1)


@dataclass(frozen=True)
class Exercise:
    """One exercise: `shown` is what its templates print, `answer` the checked values."""

    key: str
    shown: dict[str, Any]
    answer: dict[str, Any]


# ------------------------------------------------------------------ helpers
def _values(d: Any, ex: dict[str, Any]) -> dict[sp.Basic, float]:
    """Every example value by its symbol: the input, parameters, quantities and gradients."""
    values: dict[sp.Basic, float] = {}
    arrays = {"X": ex["X"], **ex["params"], **ex["forward"]}
    for name, array in arrays.items():
        if name in d.quantities:
            q = d.quantities[name]
            for index in q.indices():
                values[q.symbols[index]] = float(np.asarray(array)[index])
    for name, q in d.gradient_symbols.items():
        array = ex["input_gradient"] if name == "dX" else ex["intermediate"].get(name[1:])
        if array is None:
            continue
        for index in q.indices():
            values[q.symbols[index]] = float(np.asarray(array)[index])
    return values


def _digits(d: Any) -> dict[sp.Basic, int]:
    """The digits the worked example prints the image and the parameters with (exact there);
    every other value has DIGITS."""
    digits = {s: X_DIGITS for s in d.quantities["X"].flat()}
    for name in d.parameter_names:
        digits |= {s: PARAMETER_DIGITS for s in d.quantities[name].flat()}
    return digits


def _products(c: Context, expr: sp.Expr, values: dict[sp.Basic, float]) -> list[Any]:
    """The terms of a derivation sum with each symbol's example value put in."""
    notation, digits = c.layout.notation, _digits(c.d)
    out = []
    for term in notation.ordered_terms(expr):
        factors = (notation.ordered_factors(term) if term.is_Mul else None) or [term]
        out.append(tuple(numeral(values[f], digits.get(f, DIGITS)) for f in factors))
    return out


def _terms(c: Context, expr: sp.Expr) -> SumLines:
    return sum_lines(c.layout.notation.ordered_terms(expr), PER_LINE, TERMS_SHOWN, (3, 1))


def _signed(value: float) -> sp.Basic:
    """A number as a term of a sum: a negative one as minus its size, so sums read a - b."""
    return numeral(value) if value >= 0 else -numeral(-value)


def _listed(symbols: np.ndarray, indices: list[tuple[int, ...]]) -> list[sp.Basic] | None:
    """The symbols at `indices`, or None when there are too many to name."""
    return [symbols[i] for i in indices] if len(indices) <= LISTED else None


# ------------------------------------------------------------------ from the worked example
def _input_element(c: Context, ex: dict[str, Any], values: dict[sp.Basic, float]) -> Exercise:
    """δX at one element: the derivation's sum of δz · w, with the example's numbers."""
    d = c.d
    dx, exact = d.gradients["X"], ex["input_gradient"]
    indices = list(np.ndindex(*dx.shape))
    counts = {i: len(sp.Add.make_args(dx[i])) for i in indices}
    nonzero = [i for i in indices if exact[i] != 0 and counts[i] > 1]
    easy = [i for i in nonzero if counts[i] <= EASY_TERMS]

    def live(i: tuple[int, ...]) -> int:  # products whose δz is not zero
        return sum(1 for t in sp.Add.make_args(dx[i]) if all(values[f] for f in t.args))

    if easy:  # the most products that count, then the most terms, then the first
        index = min(easy, key=lambda i: (-live(i), -counts[i], i))
    elif nonzero:
        index = min(nonzero, key=lambda i: (counts[i], i))
    else:
        index = first(dx.shape)
    expr = dx[index]
    stage = d.conv_stages[0]
    return Exercise(
        "dx",
        {
            "lhs": d.gradient_symbols["dX"].symbols[index],
            "dz": c.names.dq[stage.output],
            "weight": c.names.q[stage.params[0]],
            "terms": _terms(c, expr),
            "numbers": sum_of(_products(c, expr, values), PER_LINE),
            "value": numeral(float(exact[index])),
        },
        {"index": index, "value": float(exact[index]), "terms": counts[index]},
    )


def _zeros(c: Context, ex: dict[str, Any]) -> Exercise:
    """Where δZ1 is not zero, and which weights get exactly zero gradient, for this image."""
    d = c.d
    stage = d.conv_stages[0]
    dz = np.asarray(ex["intermediate"][stage.output])
    nonzero = [i for i in np.ndindex(*dz.shape) if dz[i] != 0]
    weights = [s.params[0] for s in d.conv_stages] + [d.stages[-3].params[0]]
    zero_weights = {}
    for w in weights:
        grad = np.asarray(ex["gradients"][w])
        zero_weights[w] = [i for i in np.ndindex(*grad.shape) if grad[i] == 0]
    all_zero = [(w, i) for w in weights for i in zero_weights[w]]
    dense = d.stages[-3].params[0]
    features = np.asarray(ex["forward"]["F"]).reshape(-1)
    return Exercise(
        "zeros",
        {
            "dz": c.names.dq[stage.output],
            "weights": [c.names.q[w] for w in weights],
            "nonzero": _listed(d.gradient_symbols["d" + stage.output].symbols, nonzero),
            "nonzero_count": len(nonzero),
            "count": dz.size,
            "pool": stage.geometry.block.pool_type if stage.geometry else "none",
            "activation": stage.geometry.block.activation if stage.geometry else "relu",
            "zero_weights": [c.names.dparam[w][i] for w, i in all_zero]
            if len(all_zero) <= LISTED
            else None,
            "zero_count": len(all_zero),
            "zero_by_weight": [
                (c.names.q[w], len(zero_weights[w]), math.prod(np.shape(ex["gradients"][w])))
                for w in weights
                if zero_weights[w]
            ],
            "dense": c.names.q[dense],
            "dense_rule": sp.Eq(c.names.dparam[dense][0, 0], d.gradients[dense][0, 0]),
            "switched_off": sp.Le(sp.Symbol("z"), 0),
            "dense_zero": len(zero_weights[dense]),
            "zero_features": int(np.count_nonzero(features == 0)),
        },
        {
            "dz_nonzero": tuple(nonzero),
            "zero_weights": {w: tuple(zero_weights[w]) for w in weights},
        },
    )


def _pool(c: Context, ex: dict[str, Any]) -> Exercise | None:
    """Where block 1's pool sends the gradient of its first output element."""
    d = c.d
    stage = d.conv_stages[0]
    g = stage.geometry
    assert g is not None and stage.block is not None
    if not g.block.pooled:
        return None
    n, size = stage.block, g.block.pool_size
    a = np.asarray(ex["forward"][f"A{n}"])
    dp = np.asarray(ex["intermediate"][f"P{n}"])
    dp_index = first(dp.shape)
    lead = dp_index[:-2]
    dp_symbol = d.gradient_symbols[f"dP{n}"].symbols[dp_index]
    shown: dict[str, Any] = {
        "kind": g.block.pool_type,
        "dp": dp_symbol,
        "dp_value": numeral(float(dp[dp_index])),
        "activation": c.names.q[f"A{n}"],
        "size": size,
        "overlapping": g.block.pool_step < size,
    }
    if g.block.pool_type == "max":
        window = a[lead][:size, :size]
        # the first maximum, row-major, of the exact values (a float tie is a tie)
        p, q = divmod(int(np.argmax(np.round(window, TIE_DIGITS))), size)
        winner = (*lead, p, q)
        shown |= {
            "winner": d.quantities[f"A{n}"].symbols[winner],
            "winner_value": numeral(float(a[winner])),
        }
        return Exercise(
            "pool", shown, {"kind": "max", "winner": winner, "value": float(dp[dp_index])}
        )
    corner = (*lead, 0, 0)
    da = float(np.asarray(ex["intermediate"][f"A{n}"])[corner])
    shown |= {
        "corner": d.gradient_symbols[f"dA{n}"].symbols[corner],
        "share": dp_symbol / sp.Integer(size * size),
        "value": numeral(da),
    }
    return Exercise("pool", shown, {"kind": "avg", "share": 1 / size**2, "value": da})


def _bias(c: Context, ex: dict[str, Any], values: dict[sp.Basic, float]) -> Exercise:
    """δB1 (its first filter's) as the sum of δZ1: the terms that are not zero, added."""
    d = c.d
    stage = d.conv_stages[0]
    bias = stage.params[1]
    index = first(np.shape(ex["gradients"][bias]))
    expr = d.gradients[bias][index]
    nonzero = sp.Add(*(t for t in sp.Add.make_args(expr) if values[t] != 0))
    value = float(np.asarray(ex["gradients"][bias])[index])
    return Exercise(
        "bias",
        {
            "lhs": c.names.dparam[bias][index],
            "dz": c.names.dq[stage.output],
            "terms": _terms(c, expr),
            "count": len(sp.Add.make_args(expr)),
            "filter": index[0] if index else None,  # several filters: δZ1 holds each one's
            "nonzero": _terms(c, nonzero) if nonzero != 0 else None,
            "numbers": sum_lines(
                [_signed(values[t]) for t in c.layout.notation.ordered_terms(nonzero)],
                PER_LINE * 2,
                TERMS_SHOWN,
                (3, 1),
            )
            if nonzero != 0
            else None,
            "value": numeral(value),
        },
        {"index": index, "value": value},
    )


def _dense(c: Context, ex: dict[str, Any], values: dict[sp.Basic, float]) -> Exercise:
    """The dense weight with the largest gradient: δw = f δz, so the largest feature's."""
    d = c.d
    weight = d.stages[-3].params[0]
    grad = np.asarray(ex["gradients"][weight])
    size = np.round(np.abs(grad[:, 0]), TIE_DIGITS)  # equal features: equal, whatever the ulp
    largest = [int(k) for k in np.flatnonzero(size == size.max())]
    k = largest[0]  # the first of the largest
    expr = d.gradients[weight][k, 0]
    return Exercise(
        "dense",
        {
            "weight": c.names.q[weight],
            "features": c.names.q["F"],
            "lhs": c.names.dparam[weight][k, 0],
            "expr": expr,
            "numbers": _products(c, expr, values),
            "value": numeral(float(grad[k, 0])),
            "tied": [c.names.dparam[weight][j, 0] for j in largest[1 : LISTED + 1]],
        },
        {"index": (k, 0), "value": float(grad[k, 0]), "tied": tuple(largest[1:])},
    )


# ------------------------------------------------------------------ what if
def what_if(spec: NetworkSpec, **change: int) -> dict[str, Any]:
    """Block 1 with `change` (stride=..., padding=...): its sizes by the laws' formula, and
    whether the whole network still fits (NetworkSpec validates it), with what it then has."""
    block: ConvBlock = dataclasses.replace(spec.blocks[0], **change)  # type: ignore[arg-type]
    c, (h, w) = spec.channels, spec.input_shape
    (kh, kw), s, p = block.filter_shape, block.stride, block.padding
    rows, cols = stated_output_size()
    at_rows = {F.H: h, F.P: p, F.KH: kh, F.S: s}
    at_cols = {F.W: w, F.P: p, F.KW: kw, F.S: s}
    out = (int(rows.subs(at_rows)), int(cols.subs(at_cols)))
    if out != block.conv_output(h, w):  # the law and the spec's arithmetic must agree
        raise AssertionError(f"output size {out} is not the spec's {block.conv_output(h, w)}")
    result: dict[str, Any] = {
        "block": block,
        "lhs": (F.HO, F.WO),
        "formulas": (rows, at_rows, out[0]) if (h, kh) == (w, kw) else None,
        "formula_pair": ((rows, at_rows, out[0]), (cols, at_cols, out[1])),
        "conv": squeeze((block.filters, *out)),
        "fits": True,
        "refused_block": None,
        "refused_key": None,
    }
    try:
        changed = NetworkSpec(
            input_shape=spec.input_shape,
            channels=c,
            blocks=(block, *spec.blocks[1:]),
            symbolic_budget=WHAT_IF_BUDGET,
        )
    except SpecError as error:
        result |= {"fits": False, "refused_block": (error.block or 0) + 1, "refused_key": error.key}
        return result
    result |= {
        "output": changed.pool_shape,
        "features": changed.n_features,
        "parameters": changed.parameter_count,
        "weight": changed.parameter_shapes["W1"],
    }
    return result


def _unread(h: int, extent: int, k: int, s: int, p: int) -> int:
    """Input rows (or columns) past the last window: never read, so their gradient is 0."""
    return max(0, h + p - ((extent - 1) * s + k))


def _fitting(spec: NetworkSpec, key: str, candidates: list[int]) -> tuple[int, dict] | None:
    """The first candidate value of block 1's `key` that gives a network symbp accepts, with
    its what-if: an exercise never asks about a network the spec refuses."""
    for value in candidates:
        change = what_if(spec, **{key: value})
        if change["fits"]:
            return value, change
    return None


def _stride(c: Context) -> Exercise | None:
    spec = c.d.spec
    block = spec.blocks[0]
    largest = max(min(spec.input_shape) + 2 * block.padding, 2)
    found = _fitting(spec, "stride", [s for s in range(1, largest + 1) if s != block.stride])
    if found is None:
        return None  # no other stride fits the rest of the network
    new, change = found
    (h, w), (kh, kw) = spec.input_shape, block.filter_shape
    rows, cols = change["formula_pair"][0][2], change["formula_pair"][1][2]
    unread = (_unread(h, rows, kh, new, block.padding), _unread(w, cols, kw, new, block.padding))
    return Exercise(
        "stride",
        {**_sizes(c, change), "old": block.stride, "new": new, "unread": unread},
        {
            "conv": change["conv"],
            "fits": change["fits"],
            "output": change.get("output"),
            "parameters": change.get("parameters"),
            "unread": unread,
        },
    )


def _padding_hits(h: int, extent: int, s: int, p: int) -> int:
    """Output rows whose window's first row (tap 0) lies in the padding."""
    return sum(1 for i in range(extent) if not 0 <= i * s - p < h)


def _padding(c: Context) -> Exercise | None:
    spec = c.d.spec
    block = spec.blocks[0]
    more = range(block.padding + 1, min(block.filter_shape))  # more padding: products meet it
    found = _fitting(spec, "padding", [*more, *range(block.padding - 1, -1, -1)])
    if found is None:
        return None  # no other padding fits (a 1 x 1 filter cannot be padded)
    new, change = found
    (h, w) = spec.input_shape
    rows, cols = change["formula_pair"][0][2], change["formula_pair"][1][2]
    s = block.stride
    hit_rows, hit_cols = _padding_hits(h, rows, s, new), _padding_hits(w, cols, s, new)
    terms = rows * cols
    hits = terms - (rows - hit_rows) * (cols - hit_cols)
    weight = spec.parameter_shapes["W1"]
    stage = c.d.conv_stages[0]
    return Exercise(
        "padding",
        {
            **_sizes(c, change),
            "old": block.padding,
            "new": new,
            "dweight": c.names.dq[stage.params[0]],
            "weight_size": size_of(weight),
            "first": c.names.dparam[stage.params[0]][first(weight)],
            "terms": terms,
            "hits": hits,
        },
        {
            "conv": change["conv"],
            "fits": change["fits"],
            "weight": weight,
            "terms": terms,
            "hits": hits,
            "kept": terms - hits,
        },
    )


REFUSALS = {
    "pool": "its pool windows would no longer cover its convolution output exactly",
    "pool_stride": "its pool windows would no longer cover its convolution output exactly",
    "filter": "its filter would be larger than its input",
    "padding": "its padding would not be smaller than its filter",
}


def _sizes(c: Context, change: dict[str, Any]) -> dict[str, Any]:
    """What both what-if exercises print: Z1 by the formula, and what follows from it."""
    stage = c.d.conv_stages[0]
    assert stage.block is not None
    pair = change["formula_pair"]
    return {
        "z": c.names.q[stage.output],
        "pooled": c.names.q[f"P{stage.block}"] if change["block"].pooled else None,
        "rows": (change["lhs"][0], *pair[0]),
        "cols": None if change["formulas"] is not None else (change["lhs"][1], *pair[1]),
        "conv_size": size_of(change["conv"]),
        "fits": change["fits"],
        "output_size": size_of(change["output"]) if change["fits"] else None,
        "features": change.get("features"),
        "parameters": change.get("parameters"),
        "old_parameters": c.d.spec.parameter_count,
        "refused_block": change["refused_block"],
        "refusal": REFUSALS.get(change["refused_key"] or "", "it would no longer fit"),
    }


# ------------------------------------------------------------------ the section
def exercises_section(c: Context) -> dict[str, Any]:
    """The spec's exercises, in the order the section sets them; each answer computed."""
    ex = worked_example(c.d.spec)
    values = _values(c.d, ex)
    built = [
        _input_element(c, ex, values),
        _zeros(c, ex),
        _pool(c, ex),
        _bias(c, ex, values),
        _dense(c, ex, values),
        _stride(c),
        _padding(c),
    ]
    items = [e for e in built if e is not None]
    return {
        "all": items,
        "by_key": {e.key: e for e in items},
        "several": c.several_blocks,
        "first_block": c.d.conv_stages[0].block,
        "stride": c.d.spec.blocks[0].stride,
        "padding": c.d.spec.blocks[0].padding,
    }
