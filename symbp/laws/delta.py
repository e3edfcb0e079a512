"""Index-form sums as flat terms, and the elimination of their Kronecker deltas.

`sympy.diff` of a contraction over indexed symbols leaves sums of products of
`KroneckerDelta`s; `Sum.doit()` resolves some of them but leaves others (or folds `Piecewise`
out of the sum that binds its indices). This module does the elimination itself, with one
general rule and no knowledge of the layer at hand:

    sum_{v=lo}^{hi} [e(v) = 0] f(v)  =  [lo <= v0 <= hi] f(v0)   where e(v0) = 0,

applied when e is linear in the summation index v with coefficient +-1, so v0 is an integer
for all integer values of the other symbols. Other deltas stay as equations.

A `Term` is factor * [every condition >= 0] * [every equation = 0], summed over its limits;
an index-form expression is a list of terms. Conditions are over integers and kept in one
canonical form (expanded, positive common factors removed), so equal conditions compare equal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cache
from itertools import permutations

import sympy as sp

Limit = tuple[sp.Symbol, sp.Expr, sp.Expr]  # (index, lowest, highest), both ends included


class NotIndexForm(ValueError):
    """An expression outside what the index-form machinery handles (reported, never guessed)."""


@dataclass(frozen=True)
class Term:
    """factor * [c >= 0 for c in conditions] * [e = 0 for e in equations], summed over limits."""

    factor: sp.Expr
    conditions: frozenset[sp.Expr] = frozenset()
    equations: frozenset[sp.Expr] = frozenset()
    limits: tuple[Limit, ...] = ()

    @property
    def indices(self) -> tuple[sp.Symbol, ...]:
        return tuple(limit[0] for limit in self.limits)


# ------------------------------------------------------------------ canonical conditions
def _strip_positive_factors(expr: sp.Expr) -> sp.Expr:
    """S*(H_o - i - 1) -> H_o - i - 1 when S is known positive: the sign is unchanged."""
    factored = sp.factor_terms(expr)
    if isinstance(factored, sp.Mul):
        kept = [arg for arg in factored.args if not arg.is_positive]
        return sp.expand(sp.Mul(*kept))
    return expr


def _split_constant(expr: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    constant, rest = expr.as_independent(*expr.free_symbols, as_Add=True)
    return constant, rest


@cache
def inequality(expr: sp.Expr) -> sp.Expr:
    """The canonical form of `expr >= 0` over the integers."""
    expr = sp.expand(expr)
    if expr.is_number:
        return expr
    expr = _strip_positive_factors(expr)
    constant, rest = _split_constant(expr)
    content, primitive = rest.as_content_primitive()
    if constant.is_Integer and content.is_Integer and content > 1:
        # g*y + c >= 0 with integer y  <=>  y + floor(c/g) >= 0
        expr = primitive + sp.floor(constant / content)
    return sp.expand(expr)


@cache
def equation(expr: sp.Expr) -> sp.Expr:
    """The canonical form of `expr = 0` over the integers; a nonzero number if impossible."""
    expr = sp.expand(expr)
    if expr.is_number:
        return expr
    expr = _strip_positive_factors(expr)
    constant, rest = _split_constant(expr)
    content, primitive = rest.as_content_primitive()
    if constant.is_Integer and content.is_Integer and content > 1:
        if constant % content != 0:
            return sp.S.One  # g*y = -c has no integer solution
        expr = primitive + constant / content
    expr = sp.expand(expr)
    return min(expr, sp.expand(-expr), key=sp.default_sort_key)


def conditions_of(condition: sp.Basic) -> tuple[frozenset[sp.Expr], frozenset[sp.Expr]]:
    """A conjunction of integer relations -> (canonical inequalities, canonical equations)."""
    if condition is sp.true:
        return frozenset(), frozenset()
    parts = condition.args if isinstance(condition, sp.And) else (condition,)
    inequalities, equations = set(), set()
    for part in parts:
        if isinstance(part, (sp.GreaterThan, sp.StrictGreaterThan)):
            low, high = part.rhs, part.lhs
        elif isinstance(part, (sp.LessThan, sp.StrictLessThan)):
            low, high = part.lhs, part.rhs
        elif isinstance(part, sp.Eq):
            equations.add(equation(part.lhs - part.rhs))
            continue
        else:
            raise NotIndexForm(f"not a conjunction of integer relations: {condition}")
        strict = isinstance(part, (sp.StrictGreaterThan, sp.StrictLessThan))
        inequalities.add(inequality(high - low - (1 if strict else 0)))
    return frozenset(inequalities), frozenset(equations)


# ------------------------------------------------------------------ flattening
def _is_index_condition(condition: sp.Basic) -> bool:
    """Integer bounds on indices (padding, windows), not a test on values such as z > 0."""
    return not condition.has(sp.Indexed) and all(s.is_integer for s in condition.free_symbols)


def _index_piecewise(expr: sp.Basic) -> bool:
    return (
        isinstance(expr, sp.Piecewise)
        and len(expr.args) == 2
        and expr.args[1].expr == 0
        and expr.args[1].cond is sp.true
        and _is_index_condition(expr.args[0].cond)
    )


def _value_piecewise(expr: sp.Basic) -> bool:
    """A Piecewise over tests on values (z > 0) with sums or deltas in its branches."""
    return (
        isinstance(expr, sp.Piecewise)
        and not _index_piecewise(expr)
        and any(piece.expr.has(sp.Sum, sp.KroneckerDelta) for piece in expr.args)
        and not any(piece.cond.has(sp.Sum, sp.KroneckerDelta) for piece in expr.args)
    )


def _fresh(term: Term, taken: set[sp.Symbol]) -> Term:
    """Rename the term's summation indices that clash with `taken` (a product of two sums)."""
    clashes = {v: sp.Dummy(v.name, integer=True) for v in term.indices if v in taken}
    return substitute_all(term, clashes) if clashes else term


def _product(left: list[Term], right: list[Term]) -> list[Term]:
    out = []
    for a in left:
        for b in right:
            b = _fresh(b, set(a.indices) | a.factor.free_symbols)
            out.append(
                Term(
                    a.factor * b.factor,
                    a.conditions | b.conditions,
                    a.equations | b.equations,
                    a.limits + b.limits,
                )
            )
    return out


def terms_of(expr: sp.Basic) -> list[Term]:
    """An index-form expression (sums, products, deltas, bound conditions) as flat terms."""
    if expr == 0:
        return []
    if isinstance(expr, sp.Sum):
        limits = tuple((v, lo, hi) for v, lo, hi in expr.limits)
        return [replace(t, limits=limits + t.limits) for t in terms_of(expr.function)]
    if isinstance(expr, sp.Add):
        return [t for arg in expr.args for t in terms_of(arg)]
    if isinstance(expr, sp.Mul):
        terms = [Term(sp.S.One)]
        for arg in expr.args:
            terms = _product(terms, terms_of(arg))
        return terms
    if isinstance(expr, sp.KroneckerDelta):
        return [Term(sp.S.One, equations=frozenset({equation(expr.args[0] - expr.args[1])}))]
    if _index_piecewise(expr):
        piece = expr.args[0]
        inequalities, equations = conditions_of(piece.cond)
        return [
            replace(t, conditions=t.conditions | inequalities, equations=t.equations | equations)
            for t in terms_of(piece.expr)
        ]
    if _value_piecewise(expr):
        # sympy.diff folds [z > 0] * (sum with deltas) into one Piecewise: each branch is
        # its expression times the indicator that this branch is the one taken
        out = []
        for n, piece in enumerate(expr.args):
            taken = sp.Piecewise(
                *(
                    (sp.S.One if m == n else sp.S.Zero, other.cond)
                    for m, other in enumerate(expr.args)
                )
            )
            out += _product([Term(taken)], terms_of(piece.expr))
        return out
    if isinstance(expr, sp.Pow) and expr.base.has(sp.Sum, sp.KroneckerDelta):
        raise NotIndexForm(f"a power of a sum or delta: {expr}")
    if expr.has(sp.Sum, sp.KroneckerDelta):
        raise NotIndexForm(f"a sum or delta inside {type(expr).__name__}: {expr}")
    return [Term(expr)]


# ------------------------------------------------------------------ elimination
def substitute_all(term: Term, mapping: dict) -> Term:
    """Simultaneous replacement in every part of a term, conditions re-canonicalised."""
    return Term(
        term.factor.xreplace(mapping),
        frozenset(inequality(c.xreplace(mapping)) for c in term.conditions),
        frozenset(equation(e.xreplace(mapping)) for e in term.equations),
        tuple(
            (mapping.get(v, v), sp.sympify(lo).xreplace(mapping), sp.sympify(hi).xreplace(mapping))
            for v, lo, hi in term.limits
        ),
    )


def range_conditions(limits: Iterable[Limit]) -> set[sp.Expr]:
    """lo <= v <= hi for each limit, as canonical inequalities."""
    out = set()
    for v, lo, hi in limits:
        out.add(inequality(v - lo))
        out.add(inequality(hi - v))
    return out


def _clean(term: Term, context: set[sp.Expr]) -> Term | None:
    """Drop conditions that always hold or that the limits or context imply; None if 0."""
    if term.factor == 0:
        return None
    implied = context | range_conditions(term.limits)
    kept = set()
    for c in term.conditions:
        if c.is_negative:
            return None
        if not (c.is_nonnegative or c in implied):
            kept.add(c)
    equations = set()
    for e in term.equations:
        if e.is_zero:
            continue
        if e.is_zero is False:
            return None
        equations.add(e)
    return replace(term, conditions=frozenset(kept), equations=frozenset(equations))


def _solvable(e: sp.Expr, v: sp.Symbol) -> sp.Expr | None:
    """v0 with e(v0) = 0 when e is linear in v with coefficient +-1, else None."""
    slope = sp.diff(e, v)
    if slope not in (1, -1):
        return None
    rest = sp.expand(e - slope * v)
    return None if rest.has(v) else sp.expand(-rest / slope)


def _choose(term: Term) -> tuple[sp.Expr, sp.Symbol, sp.Expr] | None:
    """The (equation, index, value) to eliminate next: the simplest value first."""
    best = None
    for position, (v, _, _) in enumerate(term.limits):
        for e in sorted(term.equations, key=sp.default_sort_key):
            value = _solvable(e, v) if e.has(v) else None
            if value is None:
                continue
            score = (sp.count_ops(value), -position, sp.default_sort_key(e))
            if best is None or score < best[0]:
                best = (score, e, v, value)
    return None if best is None else best[1:]


def _eliminate_once(term: Term, e: sp.Expr, v: sp.Symbol, value: sp.Expr) -> Term:
    limit = next(limit for limit in term.limits if limit[0] == v)
    rest = tuple(limit for limit in term.limits if limit[0] != v)
    term = replace(term, equations=term.equations - {e}, limits=rest)
    term = substitute_all(term, {v: value})
    bounds = {inequality(value - limit[1]), inequality(limit[2] - value)}
    return replace(term, conditions=term.conditions | bounds)


def eliminate(terms: Iterable[Term], context: Iterable[Limit] = ()) -> list[Term]:
    """Eliminate every delta that can be, term by term; `context` gives the free indices'
    ranges, whose consequences need not be restated."""
    known = range_conditions(context)
    out = []
    for term in terms:
        current = _clean(term, known)
        while current is not None:
            choice = _choose(current)
            if choice is None:
                break
            current = _clean(_eliminate_once(current, *choice), known)
        if current is not None:
            out.append(current)
    return out


def simplify_terms(terms: Iterable[Term], context: Iterable[Limit] = ()) -> list[Term]:
    """Eliminate, then merge terms that differ only in their factor."""
    merged: dict[tuple, sp.Expr] = {}
    for t in eliminate(terms, context):
        key = (t.conditions, t.equations, t.limits)
        merged[key] = merged.get(key, sp.S.Zero) + t.factor
    out = []
    for (conditions, equations, limits), factor in merged.items():
        factor = sp.expand(factor)
        if factor != 0:
            out.append(Term(factor, conditions, equations, limits))
    return out


# ------------------------------------------------------------------ comparison
def _same_term(a: Term, b: Term) -> bool:
    if len(a.limits) != len(b.limits) or len(a.conditions) != len(b.conditions):
        return False
    for image in permutations(b.indices):
        mapped = substitute_all(a, dict(zip(a.indices, image, strict=True)))
        if (
            set(mapped.limits) == set(b.limits)
            and mapped.conditions == b.conditions
            and mapped.equations == b.equations
            and sp.expand(mapped.factor - b.factor) == 0
        ):
            return True
    return False


def same_terms(a: list[Term], b: list[Term]) -> bool:
    """Identical canonical forms, up to the names of summation indices and term order."""
    if len(a) != len(b):
        return False
    remaining = list(b)
    for term in a:
        match = next((u for u in remaining if _same_term(term, u)), None)
        if match is None:
            return False
        remaining.remove(match)
    return True


# ------------------------------------------------------------------ back to SymPy
def to_expr(terms: Iterable[Term]) -> sp.Expr:
    """Terms as one SymPy expression: Sum(Piecewise((factor, conditions), (0, True)), ...)."""
    parts = []
    for t in terms:
        relations = [sp.Ge(c, 0) for c in sorted(t.conditions, key=sp.default_sort_key)]
        relations += [sp.Eq(e, 0) for e in sorted(t.equations, key=sp.default_sort_key)]
        body = t.factor
        if relations:
            body = sp.Piecewise((body, sp.And(*relations)), (0, True))
        parts.append(sp.Sum(body, *t.limits) if t.limits else body)
    return sp.Add(*parts)


def bounds_for(v: sp.Symbol, conditions: Iterable[sp.Expr]) -> tuple[list, list]:
    """The lower and upper bounds on integer v that linear conditions give, by ceil / floor."""
    lower, upper = [], []
    for c in conditions:
        slope = sp.diff(c, v)
        rest = sp.expand(c - slope * v)
        if slope == 0 or rest.has(v):
            continue
        if slope.is_positive:
            lower.append(sp.ceiling(sp.expand(-rest) / slope))
        elif slope.is_negative:
            upper.append(sp.floor(rest / sp.expand(-slope)))
    return lower, upper
