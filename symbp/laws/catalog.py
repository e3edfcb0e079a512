"""The laws as the document and the command line see them: `Law` records, built and proved.

Each `Law` holds SymPy objects only (statement, conditions, derived result), a status and the
method that established it. They are general (symbolic sizes): a spec only decides which
layer kinds appear. Building them runs the index-form derivations and proofs once per process
(cached), about a second in all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeAlias, Union

import sympy as sp

from . import activation, conv, head, matrix, pool
from . import index_form as F
from .delta import Limit, Term, bounds_for
from .names import ALL_KEYS
from .proof import SYMBOLIC, IndexLaw, Verdict, prove
from .symbols import Iverson

Statement: TypeAlias = Union[sp.Basic, tuple[sp.Basic, ...]]  # noqa: UP007


@dataclass(frozen=True)
class Law:
    """One general law: what it says, where it holds, what diff found, and how it is known."""

    key: str  # the command-line name: 'dX', 'output-size', ...
    title: str
    statement: Statement  # the textbook law (operator form where there is one)
    conditions: tuple[sp.Basic, ...]  # index ranges, sizes, and the bounds the sums carry
    derived: Statement  # what sympy.diff and delta elimination produced
    status: str  # 'holds' or 'fails'
    method: str  # 'symbolic' or 'checked: <the finite set>'
    detail: str  # plain words: what was compared, or the counterexample
    index_form: Statement | None = None  # the stated law in index form, as it was proved
    grid: tuple[sp.Basic, ...] = ()  # a checked law: the sizes it was checked at, as relations
    free: tuple[sp.Basic, ...] = ()  # the ranges of the free indices (the law's first conditions)

    @property
    def holds(self) -> bool:
        return self.status == "holds"

    @property
    def verdict(self) -> str:
        """'holds: symbolic', 'holds: checked for all H, W <= 7, ...' or 'fails'."""
        if not self.holds:
            return "fails"
        if self.method == SYMBOLIC:
            return "holds: symbolic"
        return "holds: checked for " + self.method.removeprefix("checked: ")


# ------------------------------------------------------------------ display forms
def _negatives(expr: sp.Expr) -> int:
    return sum(1 for t in sp.Add.make_args(expr) if t.could_extract_minus_sign())


def range_of(v: sp.Expr, lo: sp.Expr, hi: sp.Expr) -> sp.Basic:
    """lo <= v <= hi, kept as written (SymPy would decide 0 <= u for a nonnegative u)."""
    return sp.And(sp.Le(lo, v, evaluate=False), sp.Le(v, hi, evaluate=False), evaluate=False)


def chains(term: Term, free: tuple[sp.Symbol, ...]) -> list[sp.Basic]:
    """The term's conditions c >= 0, paired into 0 <= m <= hi where two add up to a size."""
    varying = set(term.indices) | set(free)
    left = sorted(term.conditions, key=sp.default_sort_key)
    out = []
    while left:
        first = left.pop(0)
        partner = next((c for c in left if not (sp.expand(first + c).free_symbols & varying)), None)
        if partner is None:
            out.append(sp.Ge(first, 0))
            continue
        left.remove(partner)
        middle = min(first, partner, key=lambda e: (_negatives(e), sp.default_sort_key(e)))
        out.append(range_of(middle, sp.S.Zero, sp.expand(first + partner)))
    out += [sp.Eq(e, 0) for e in sorted(term.equations, key=sp.default_sort_key)]
    return out


def display(terms: tuple[Term, ...], free: tuple[sp.Symbol, ...]) -> sp.Expr:
    """Terms as one expression: sums of factor times Iverson brackets, one per chain."""
    parts = []
    for t in terms:
        brackets = [Iverson(c) for c in chains(t, free)]
        factors = sp.Mul.make_args(t.factor)
        body = sp.Mul(*factors, *brackets, evaluate=False) if brackets else t.factor
        parts.append(sp.Sum(body, *t.limits) if t.limits else body)
    return sp.Add(*parts, evaluate=False) if len(parts) > 1 else (parts[0] if parts else 0)


def summation_bounds(terms: tuple[Term, ...]) -> list[sp.Basic]:
    """Where a sum's conditions pin an index down: ceil(...) <= i <= floor(...)."""
    out = []
    for t in terms:
        for v in t.indices:
            lower, upper = bounds_for(v, [c for c in t.conditions if c.has(v)])
            if len(lower) == 1 and len(upper) == 1:
                out.append(range_of(v, lower[0], upper[0]))
    return out


def index_conditions(law: IndexLaw) -> tuple[sp.Basic, ...]:
    free = tuple(v for v, _, _ in law.free)
    ranges = [range_of(v, lo, hi) for v, lo, hi in law.free]
    inner = [c for t in law.derived for c in chains(t, free)]
    return tuple(dict.fromkeys([*ranges, *inner, *summation_bounds(law.derived)]))


def _law(index: IndexLaw, statement: Statement, lhs: sp.Expr, verdict: Verdict, extra=()) -> Law:
    """A Law from an IndexLaw: conditions and derived form shown, verdict from proof (a)."""
    free = tuple(v for v, _, _ in index.free)
    return Law(
        index.key,
        index.title,
        statement,
        (*index_conditions(index), *extra),
        sp.Eq(lhs, display(index.derived, free), evaluate=False),
        "holds" if verdict.holds else "fails",
        verdict.method,
        verdict.detail,
        sp.Eq(lhs, display(index.stated, free), evaluate=False),
        () if verdict.method == SYMBOLIC else index.grid.bounds,
        tuple(range_of(v, lo, hi) for v, lo, hi in index.free),
    )


def _equal(a: sp.Expr, b: sp.Expr) -> bool:
    """Identical after expand, or else after simplify (which decides it for these sizes)."""
    return sp.expand(a - b) == 0 or sp.simplify(a - b) == 0


def output_size_definitions() -> tuple[sp.Basic, ...]:
    rows, cols = conv.stated_output_size()
    return sp.Eq(F.HO, rows), sp.Eq(F.WO, cols)


# ------------------------------------------------------------------ the convolution
def conv_gradient_law(index: IndexLaw, statement: sp.Expr | None = None) -> Law:
    """dW, dB or dX as a Law; `statement` is the headline (the operator form by default)."""
    gradient = conv.derived_gradient(index.key)
    if statement is None:
        statement = {
            "dW": conv.weight_pattern(),
            "dB": display(index.stated, ()),
            "dX": conv.input_pattern(),
        }.get(index.key, display(index.stated, ()))
    headline = sp.Eq(gradient.lhs, statement, evaluate=False)
    return _law(index, headline, gradient.lhs, prove(index), output_size_definitions())


def output_size_law() -> Law:
    """Output size, counted from the forward definition's reads."""
    derived, stated = conv.derived_output_size(), conv.stated_output_size()
    same = all(_equal(a, b) for a, b in zip(derived, stated, strict=True))
    return Law(
        "output-size",
        "Output size: H_o = floor((H + 2P - k_H) / S) + 1, and the same for the columns",
        tuple(sp.Eq(o, e) for o, e in zip((F.HO, F.WO), stated, strict=True)),
        (sp.Le(F.KH, F.H + 2 * F.P), sp.Le(F.KW, F.W + 2 * F.P)),
        tuple(sp.Eq(o, e) for o, e in zip((F.HO, F.WO), derived, strict=True)),
        "holds" if same else "fails",
        SYMBOLIC,
        "counted from the forward definition: window i reads padded rows S i .. S i + k_H - 1, "
        "all inside 0 .. H + 2P - 1 exactly when 0 <= i <= floor((H + 2P - k_H) / S); "
        + (
            "the count equals the stated law: simplify of the difference is 0"
            if same
            else f"the count is {derived}, not the stated {stated}"
        ),
    )


def matrix_view_law() -> Law:
    """dX = J^T vec(dZ), J's entry found by diff of the forward convolution."""
    found = matrix.matrix_law()
    entry = found.entry
    jacobian = sp.IndexedBase("J")
    element = jacobian[F.k, F.i, F.j, F.c, F.u, F.v]
    rows, cols = F.K * F.HO * F.WO, F.C * F.H * F.W
    j_matrix = sp.MatrixSymbol("J", rows, cols)
    dx, dz = sp.MatrixSymbol("delta_X", cols, 1), sp.MatrixSymbol("delta_Z", rows, 1)
    entry_display = display(entry.terms, tuple(v for v, _, _ in entry.free))
    lhs = conv.derived_gradient("dX").lhs
    product = sp.Sum(element * F.dz[F.k, F.i, F.j], *matrix.OUTPUT_FREE)
    return Law(
        "matrix",
        "Matrix view: dL/dX = J^T vec(dL/dZ), J the sparse Jacobian dvec(Z)/dvec(X): "
        "the transposed convolution",
        (sp.Eq(dx, j_matrix.T * dz, evaluate=False), sp.Eq(lhs, product, evaluate=False)),
        (*(range_of(v, lo, hi) for v, lo, hi in entry.free), *output_size_definitions()),
        (
            sp.Eq(element, entry_display, evaluate=False),
            sp.Eq(lhs, display(found.product, (F.c, F.u, F.v)), evaluate=False),
        ),
        "holds" if found.holds else "fails",
        SYMBOLIC,
        "J's entry dz[k,i,j]/dx[c,u,v] found by sympy.diff of the forward convolution and "
        "delta elimination; " + found.detail,
        free=tuple(range_of(v, lo, hi) for v, lo, hi in entry.free),
    )


# ------------------------------------------------------------------ the other layers
def brackets(expr: sp.Expr) -> sp.Expr:
    """Piecewise((1, c), (0, True)) as the display bracket [c]."""
    return expr.replace(
        lambda e: (
            isinstance(e, sp.Piecewise)
            and len(e.args) == 2
            and e.args[0].expr == 1
            and e.args[1] == (0, True)
        ),
        lambda e: Iverson(e.args[0].cond),
    )


def activation_law(kind: str) -> Law:
    """One activation's law, with ReLU'(0) / LeakyReLU'(0) stated where there is a kink."""
    found = activation.activation_law(kind)
    lhs = found.gradient.lhs
    statement: Statement = sp.Eq(lhs, brackets(found.stated[0].factor), evaluate=False)
    if kind in activation.KINKED:
        t = sp.Symbol("z", real=True)
        name = sp.Function(activation.NAMES[kind])
        kink = sp.Subs(sp.Derivative(name(t), t), t, 0)
        statement = (statement, sp.Eq(kink, 0 if kind == "relu" else F.ALPHA, evaluate=False))
    return Law(
        found.key,
        found.title,
        statement,
        tuple(range_of(v, lo, hi) for v, lo, hi in activation.FREE),
        sp.Eq(lhs, brackets(found.derived[0].factor), evaluate=False),
        "holds" if found.holds else "fails",
        SYMBOLIC,
        found.detail,
        free=tuple(range_of(v, lo, hi) for v, lo, hi in activation.FREE),
    )


def pool_gradient_law(kind: str) -> Law:
    index = pool.pool_law(kind)
    lhs = sp.Derivative(F.L, F.a[F.k, F.i, F.j], evaluate=False)
    statement = sp.Eq(lhs, display(index.stated, (F.k, F.i, F.j)), evaluate=False)
    sizes = (sp.Eq(F.HP, pool.stated_pool_size()[0]), sp.Eq(F.WP, pool.stated_pool_size()[1]))
    return _law(index, statement, lhs, prove(index), sizes)


def pool_size_law() -> Law:
    """Pool output size, counted like the convolution's."""
    derived, stated = pool.derived_pool_size(), pool.stated_pool_size()
    same = all(_equal(a, b) for a, b in zip(derived, stated, strict=True))
    return Law(
        "pool-size",
        "Pool output size: H_p = floor((H_o - R) / T) + 1, and the same for the columns",
        tuple(sp.Eq(o, e) for o, e in zip((F.HP, F.WP), stated, strict=True)),
        (sp.Le(F.R, F.HO), sp.Le(F.T, F.R)),
        tuple(sp.Eq(o, e) for o, e in zip((F.HP, F.WP), derived, strict=True)),
        "holds" if same else "fails",
        SYMBOLIC,
        "counted from the forward definition: window m reads rows T m .. T m + R - 1 of the "
        "H_o rows; "
        + (
            "simplify of the difference from the stated law is 0"
            if same
            else f"the count is {derived}"
        ),
    )


def first_max_law() -> Law:
    """The routing mask picks the first maximum: checked on every small window."""
    verdict = pool.first_max_law()
    t, other = F.index("t"), F.index("t'")
    values = sp.IndexedBase("a")
    cells = F.R**2
    above = Iverson(sp.StrictGreaterThan(values[t], values[other], evaluate=False))
    at_least = Iverson(sp.GreaterThan(values[t], values[other], evaluate=False))
    definition = sp.Mul(
        sp.Product(above, (other, 0, t - 1)),
        sp.Product(at_least, (other, t + 1, cells - 1)),
        evaluate=False,
    )
    first = sp.Function("argmax")(values)
    return Law(
        "first-max",
        "Max-pool ties: the routing mask mu is 1 on the window's first maximum (row-major), "
        "as PyTorch routes ties",
        sp.Eq(F.mu[t], sp.KroneckerDelta(t, first), evaluate=False),
        (range_of(t, 0, cells - 1),),
        sp.Eq(F.mu[t], definition, evaluate=False),
        "holds" if verdict.holds else "fails",
        verdict.method,
        "the mask as the forward pass defines it (strictly above every earlier cell, at "
        "least every later one) against np.argmax: " + verdict.detail,
        free=(range_of(t, 0, cells - 1),),
    )


def flatten_law() -> Law:
    index = head.flatten_law()
    lhs = sp.Derivative(F.L, F.pooled[F.k, F.m, F.n], evaluate=False)
    statement = sp.Eq(lhs, display(index.stated, ()), evaluate=False)
    return _law(index, statement, lhs, prove(index), (sp.Eq(F.N, F.K * F.HP * F.WP),))


def dense_law() -> Law:
    """The dense unit's three gradients as one law."""
    parts = head.dense_laws()
    gradients = head.dense_gradients()
    verdicts = [prove(law) for law in parts]
    holds = all(v.holds for v in verdicts)
    checked = [(v, p) for v, p in zip(verdicts, parts, strict=True) if v.method != SYMBOLIC]
    method = checked[0][0].method if checked else SYMBOLIC
    grid = checked[0][1].grid.bounds if checked else ()
    pairs = list(zip((g.lhs for g in gradients), parts, strict=True))
    return Law(
        "dense",
        "Dense unit: dL/dW = F^T dL/dz_o, dL/dB = dL/dz_o, dL/dF = dL/dz_o W",
        tuple(sp.Eq(g, display(p.stated, ()), evaluate=False) for g, p in pairs),
        (range_of(F.f, 0, F.N - 1),),
        tuple(sp.Eq(g, display(p.derived, ()), evaluate=False) for g, p in pairs),
        "holds" if holds else "fails",
        method,
        "each of the three: " + verdicts[0].detail
        if all(v.detail == verdicts[0].detail for v in verdicts)
        else "; ".join(f"{p.title}: {v.detail}" for p, v in zip(parts, verdicts, strict=True)),
        grid=grid,
        free=(range_of(F.f, 0, F.N - 1),),
    )


def head_law() -> Law:
    """Sigmoid and BCE collapse to a_o - y."""
    holds, detail = head.head_holds()
    _, _, in_a = head.head_gradient()
    lhs = sp.Derivative(F.L, F.Z_OUT, evaluate=False)
    return Law(
        "head",
        "Sigmoid + binary cross-entropy: dL/dz_o = a_o - y",
        sp.Eq(lhs, head.stated_head(), evaluate=False),
        (sp.Eq(F.A_OUT, 1 / (1 + sp.exp(-F.Z_OUT))),),
        sp.Eq(lhs, in_a, evaluate=False),
        "holds" if holds else "fails",
        SYMBOLIC,
        detail,
    )


# ------------------------------------------------------------------ which laws a spec needs
@cache
def index_laws() -> dict[str, IndexLaw]:
    return {key: conv.conv_law(key) for key in ("dW", "dB", "dX")}


@cache
def _law_named(key: str) -> Law:
    """Build one law (once per process: cached)."""
    builders: dict[str, Callable[[], Law]] = {
        "output-size": output_size_law,
        "matrix": matrix_view_law,
        "pool-size": pool_size_law,
        "avg-pool": lambda: pool_gradient_law("avg"),
        "max-pool": lambda: pool_gradient_law("max"),
        "first-max": first_max_law,
        "flatten": flatten_law,
        "dense": dense_law,
        "head": head_law,
    }
    if key in ("dW", "dB", "dX"):
        return conv_gradient_law(index_laws()[key])
    kinds = {name: kind for kind, name in activation.KEYS.items()}
    if key in kinds:
        return activation_law(kinds[key])
    return builders[key]()


def keys_for(spec: Any) -> list[str]:
    """The laws a spec's layers call for, in the order of ALL_KEYS."""
    kinds = {block.activation for block in spec.blocks}
    pools = {block.pool_type for block in spec.blocks} - {"none"}
    wanted = {"output-size", "dW", "dB", "dX", "matrix", "flatten", "dense", "head"}
    wanted |= {activation.KEYS[kind] for kind in kinds}
    if pools:
        wanted.add("pool-size")
    if "avg" in pools:
        wanted.add("avg-pool")
    if "max" in pools:
        wanted |= {"max-pool", "first-max"}
    return [key for key in ALL_KEYS if key in wanted]


def law(key: str) -> Law:
    """One law by its key (KeyError naming the keys for an unknown one)."""
    if key not in ALL_KEYS:
        raise KeyError(f"unknown law {key!r}; the laws are: {', '.join(ALL_KEYS)}")
    return _law_named(key)


__all__ = ["ALL_KEYS", "Law", "keys_for", "law", "Limit"]
