"""Section 2, the general law: the laws that every element sum of the later sections is an
instance of, before any instance is written out.

Gathered from symbp.laws, as SymPy objects and plain data: the forward pass in index form, the
output-size law, each gradient law with its conditions and how it was established, the matrix
view, and this network's sizes block by block with the bridge checks that hold each law to the
element-wise derivation. The templates `latex/laws.tex` and `markdown/laws.md` word it and print
the laws with the `law` filters (the laws' LaTeX printer, symbp.laws.text).
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from symbp.laws import activation, catalog, matrix, pool
from symbp.laws import index_form as F
from symbp.laws.bridge import conv_views
from symbp.laws.catalog import Law, brackets, range_of
from symbp.laws.established import Established, established_for
from symbp.laws.instance import conv_sizes, instances
from symbp.laws.names import ALL_KEYS
from symbp.laws.proof import SYMBOLIC
from symbp.laws.symbols import Iverson
from symbp.laws.text import LawLatexPrinter, latex

from .context import Context
from .notation import DocumentNames

LONG = 200  # characters of LaTeX beyond which a bracketed sum is set on two printed lines
SIZE_SYMBOLS = (F.HO, F.WO, F.HP, F.WP, F.N)  # defined by the size laws, not repeated per law
KINDS = {key: kind for kind, key in activation.KEYS.items()}  # law key -> activation kind


def _items(statement: Any) -> tuple[sp.Basic, ...]:
    return statement if isinstance(statement, tuple) else (statement,)


def shown(expr: sp.Basic) -> dict[str, Any]:
    """A displayed law: `whole`, and for a long sum lhs = Σ factors·[brackets] the same `split`
    in two for the printed page (`first`: lhs = Σ factors, `second`: the brackets)."""
    cut: dict[str, Any] = {"whole": expr, "split": False, "first": None, "second": None}
    if not isinstance(expr, sp.Equality) or not isinstance(expr.rhs, sp.Sum):
        return cut
    if len(latex(expr)) <= LONG:
        return cut
    body = sp.Mul.make_args(expr.rhs.function)
    conditions = [f for f in body if isinstance(f, Iverson)]
    factors = [f for f in body if not isinstance(f, Iverson)]
    if conditions and factors:
        summed = sp.Sum(sp.Mul(*factors, evaluate=False), *expr.rhs.limits)
        cut["split"] = True
        cut["first"] = sp.Eq(expr.lhs, summed, evaluate=False)
        cut["second"] = sp.Mul(*conditions, evaluate=False)
    return cut


def status(found: Established, law: Law) -> dict[str, Any]:
    """How a law is known at this network: held (general proof and every instance check) or
    not, and symbolically or by exact checks on a finite set (`grid`, or the mask's cases)."""
    holds = found.holds(law.key)
    detail = ""
    if not law.holds:
        detail = law.detail
    elif not holds:
        detail = str(next(c for c in found.checks_of(law.key) if not c.holds))
    return {
        "holds": holds,
        "symbolic": law.method == SYMBOLIC,
        "grid": list(law.grid),
        "mask_cases": [(sp.Eq(F.R, size), levels - 1) for size, levels in pool.MASK_CASES],
        "detail": detail,
    }


def _conditions(law: Law) -> list[sp.Basic]:
    """A law's conditions but the size definitions (H_o = ..., N = ...), stated once above."""
    return [c for c in law.conditions if not (isinstance(c, sp.Equality) and c.lhs in SIZE_SYMBOLS)]


def symbols() -> dict[str, sp.Basic]:
    """The sizes, indices and elements the prose names, by the names the templates use."""
    k, c, i, j, p, q = F.k, F.c, F.i, F.j, F.p, F.q
    S_i = sp.Mul(F.S, i, evaluate=False)  # S i, as the prose reads it
    named = {"C": F.C, "H": F.H, "W": F.W, "K": F.K, "kH": F.KH, "kW": F.KW, "S": F.S, "P": F.P}
    named |= {"Ho": F.HO, "Wo": F.WO, "R": F.R, "T": F.T, "Hp": F.HP, "Wp": F.WP, "N": F.N}
    named |= {"k": k, "i": i, "p": p, "t": F.index("t"), "x": F.x.label, "w": F.w.label}
    named |= {"b": F.b.label, "dz": F.dz.label, "mu": F.mu.label, "zo": F.Z_OUT}
    return named | {
        "dz_kij": F.dz[k, i, j],
        "z_kij": F.z[k, i, j],
        "w_kcpq": F.w[k, c, p, q],
        "b_k": F.b[k],
        "x_cuv": F.x[c, F.u, F.v],
        "mu_kmnrs": F.mu[k, F.m, F.n, F.r, F.s],
        "input_row": latex_in_order(sp.Add(S_i, p, -F.P, evaluate=False), inline=True),
        "padded_row": latex_in_order(sp.Add(S_i, p, evaluate=False), inline=True),
        "reached": F.w[k, c, F.u + F.P - F.S * i, F.v + F.P - F.S * j],
        "gaps": F.S - 1,
        "kH1": F.KH - 1,
        "kW1": F.KW - 1,
        "share": 1 / F.R**2,
        "J": sp.Symbol("J"),
        "JT": sp.MatrixSymbol("J", F.K * F.HO * F.WO, F.C * F.H * F.W).T,
    }


def forward(spec: Any) -> dict[str, Any]:
    """The definitions the laws are derived from, for the layer kinds of this network."""
    element, window = F.z[F.k, F.i, F.j], F.pooled[F.k, F.m, F.n]
    used = {b.activation for b in spec.blocks}
    layers = [
        sp.Eq(F.a[F.k, F.i, F.j], brackets(F.ACTIVATIONS[kind](element)), evaluate=False)
        for kind in activation.KEYS
        if kind in used
    ]
    pools = {b.pool_type for b in spec.blocks}
    if "max" in pools:
        layers.append(sp.Eq(window, F.max_pool(F.k, F.m, F.n), evaluate=False))
    if "avg" in pools:
        layers.append(sp.Eq(window, F.average_pool(F.k, F.m, F.n), evaluate=False))
    layers += [
        sp.Eq(F.feature[F.f], F.flatten(F.f), evaluate=False),
        sp.Eq(F.Z_OUT, F.dense(), evaluate=False),
        sp.Eq(F.A_OUT, 1 / (1 + sp.exp(-F.Z_OUT)), evaluate=False),
        sp.Eq(F.L, F.binary_cross_entropy(F.A_OUT), evaluate=False),
    ]
    contraction = sp.Sum(F.dz[F.k, F.i, F.j] * F.z[F.k, F.i, F.j], *matrix.OUTPUT_FREE)
    return {
        "contraction": sp.Eq(F.L, contraction, evaluate=False),
        "conv": shown(sp.Eq(element, F.conv(F.k, F.i, F.j), evaluate=False)),
        "ranges": [range_of(v, lo, hi) for v, lo, hi in matrix.OUTPUT_FREE],
        "activations": len(used),
        "max": "max" in pools,
        "avg": "avg" in pools,
        "layers": layers,
    }


def textbook_sum(expr: sp.Expr) -> sp.Expr:
    """A sum with its terms as textbooks write them: a size alone first (H, W_o), then the
    other added terms (2 P), then the subtracted ones (k_W, R). Unevaluated."""
    terms = sorted(
        sp.Add.make_args(expr),
        key=lambda t: (t.could_extract_minus_sign(), not t.is_Symbol, sp.default_sort_key(t)),
    )
    return sp.Add(*terms, evaluate=False)


def _size_conditions(law: Law) -> list[str]:
    """A size law's conditions (k_W <= W + 2 P), sums in textbook order, as inline LaTeX."""
    return [
        latex_in_order(type(c)(c.lhs, textbook_sum(c.rhs), evaluate=False), inline=True)
        for c in law.conditions
    ]


def textbook_size_law(size_law: sp.Equality) -> sp.Equality:
    """A size law `n = floor(a / s) + 1` with `a`'s terms as textbooks write them (the input
    size, then the padding, then what is subtracted): SymPy's canonical order would print
    2 P + W - k_W. Unevaluated, for a printer with order="none"."""
    (rounded,) = [arg for arg in size_law.rhs.args if isinstance(arg, sp.floor)]
    numerator, step = sp.fraction(rounded.args[0])
    quotient = sp.Mul(textbook_sum(numerator), sp.Pow(step, -1, evaluate=False), evaluate=False)
    count = sp.Add(sp.floor(quotient, evaluate=False), sp.Integer(1), evaluate=False)
    return sp.Eq(size_law.lhs, count, evaluate=False)


def latex_in_order(expr: sp.Basic, inline: bool) -> str:
    """LaTeX of an unevaluated expression in the order it was built (the laws' printer)."""
    return LawLatexPrinter({"order": "none", "fold_short_frac": inline}).doprint(expr)


def _size_statement(law: Law) -> dict[str, list[str]]:
    """A size law's two equations (rows, columns) in textbook order, displayed and inline."""
    laws = [textbook_size_law(eq) for eq in _items(law.statement)]
    return {
        "display": [latex_in_order(eq, inline=False) for eq in laws],
        "inline": [latex_in_order(eq, inline=True) for eq in laws],
    }


def sizes(found: Established) -> dict[str, Any]:
    """The output-size law (and the pool's), with the reads it is counted from."""
    law = catalog.law("output-size")
    window = F.S * F.i + F.p
    keys = {law.key for law in found.laws}
    pooled = catalog.law("pool-size") if "pool-size" in keys else None
    return {
        "first_read": window.subs(F.p, 0),
        "last_read": window.subs(F.p, F.KH - 1),
        "padded_last": F.H + 2 * F.P - 1,
        "rows": range_of(F.i, 0, sp.floor((F.H + 2 * F.P - F.KH) / F.S)),
        "statement": _size_statement(law),
        "conditions": _size_conditions(law),
        "status": status(found, law),
        "pool": None
        if pooled is None
        else {
            "statement": _size_statement(pooled),
            "conditions": _size_conditions(pooled),
            "status": status(found, pooled),
        },
    }


SIZE_AND_MATRIX_KEYS = ("output-size", "pool-size", "matrix")  # shown in their own subsections
GRADIENT_KEYS = tuple(key for key in ALL_KEYS if key not in SIZE_AND_MATRIX_KEYS)


def gradient(found: Established, law: Law) -> dict[str, Any]:
    """One gradient law: its statement, the derived index form where it reads differently,
    its conditions and how it is known."""
    stated = _items(law.statement)
    printed = {latex(s) for s in stated}
    derived = [d for d in _items(law.derived) if latex(d) not in printed]
    return {
        "key": law.key,
        "kind": KINDS.get(law.key),
        "statement": [shown(s) for s in stated],
        "derived": [shown(d) for d in derived],
        "conditions": _conditions(law),
        "status": status(found, law),
    }


def matrix_view(found: Established, spec: Any) -> dict[str, Any]:
    """J's entry as diff finds it, dX = J^T vec(dZ), and J's size at the first block."""
    law = catalog.law("matrix")
    at = conv_sizes(spec.geometry[0])
    statement, product = _items(law.statement)
    entry = _items(law.derived)[0]
    return {
        "entry": shown(entry),
        "statement": statement,
        "product": shown(product),
        "rows": at[F.K] * at[F.HO] * at[F.WO],
        "cols": at[F.C] * at[F.H] * at[F.W],
        "nonzero": len(matrix.jacobian_entries(at)),
        "status": status(found, law),
    }


Arithmetic = list[tuple[sp.Symbol, sp.Expr, dict, int]]


def _arithmetic(key: str, spec: Any) -> dict[int | None, Arithmetic]:
    """Per place, each size the law gives there: (size, its law, the sizes it is put at, the
    value)."""
    return {
        place.block: [(size, rule, place.sizes, value) for size, rule, value in place.arithmetic]
        for place in instances(catalog.law(key), spec)
    }


def blocks(c: Context) -> list[dict[str, Any]]:
    """This network's sizes block by block, the size laws with its numbers, and which of the
    derivation's quantities the laws' tensors x, w, b and δz are."""
    spec, names = c.d.spec, c.names
    conv, pooled = _arithmetic("output-size", spec), _arithmetic("pool-size", spec)
    views = {view.block: view for view in conv_views(c.d)}
    features, last = _arithmetic("flatten", spec).get(None, []), spec.n_blocks  # N, after them
    rows = []
    for n, g in enumerate(spec.geometry, start=1):
        view = views[n]
        tensors = ((F.x, view.input), (F.w, view.weight), (F.b, view.bias))
        rows.append(
            {
                "n": n,
                "input": g.input[1:],
                "channels": g.input[0],
                "filters": g.conv[0],
                "filter": g.block.filter_shape,
                "stride": g.block.stride,
                "padding": g.block.padding,
                "conv": g.conv[1:],
                "pool": (g.block.pool_size, g.block.pool_step) if g.block.pooled else None,
                "pooled": g.output[1:] if g.block.pooled else None,
                "arithmetic": conv[n] + pooled.get(n, []) + (features if n == last else []),
                "names": [(base.label, names.q[name]) for base, name in tensors]
                + [(F.dz.label, names.dq[view.output])],
            }
        )
    return rows


def quantity(text: str, names: DocumentNames) -> sp.Basic:
    """A bridge check's quantity ('dL/dW1', 'Z1', 'dZ1/dX') in the document's names."""
    top, _, bottom = text.partition("/")
    if not bottom:
        return names.q.get(text, sp.Symbol(text))
    top, bottom = top.removeprefix("d"), bottom.removeprefix("d")
    if top == "L" and bottom in names.dq:
        return names.dq[bottom]
    if top in names.q and bottom in names.q:
        return sp.Derivative(names.q[top], names.q[bottom], evaluate=False)
    return sp.Symbol(text)


def checks(found: Established, names: DocumentNames) -> list[dict[str, Any]]:
    """The bridge checks, one row per law and place: what was compared, how many elements."""
    rows: dict[tuple[str, int | None], dict[str, Any]] = {}
    for check in found.checks:
        row = rows.setdefault(
            (check.law, check.block),
            {"law": check.law, "kind": KINDS.get(check.law), "block": check.block},
        )
        row.setdefault("quantities", [])
        shown_as = quantity(check.quantity, names)
        if shown_as not in row["quantities"]:
            row["quantities"].append(shown_as)
        row["checks"] = row.get("checks", 0) + 1
        row["elements"] = row.get("elements", 0) + check.elements
        row["holds"] = row.get("holds", True) and check.holds
    order = list(catalog.ALL_KEYS)
    return sorted(
        rows.values(),
        key=lambda r: (r["block"] is None, r["block"] or 0, order.index(r["law"])),
    )


def laws_section(c: Context) -> dict[str, Any]:
    """Everything the section shows: the laws at general sizes, then this network's."""
    spec = c.d.spec
    found = established_for(c.d)
    by_key = {law.key: law for law in found.laws}
    return {
        "s": symbols(),
        "forward": forward(spec),
        "sizes": sizes(found),
        "gradients": [gradient(found, by_key[k]) for k in GRADIENT_KEYS if k in by_key],
        "matrix": matrix_view(found, spec),
        "blocks": blocks(c),
        "checks": checks(found, c.names),
        "passed": found.passed,
        "count": len(found.checks),
        "failed": len(found.failed_checks),
        "elements": found.elements,
    }
