"""The derivation's assignments, prepared for any code target.

What both code generators (the NumPy module and the fused C backend) need before printing:
repeated subexpressions named once (`eliminate_common_subexpressions`), only the assignments
some output depends on (`needed_assignments`), the flat parameter vector's symbols in order
(`parameter_symbols`), and the first layer found affine in the images (`linear_input`), with
the parameters whose gradients its single product dz @ x computes (`jacobian_parameters`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import sympy as sp

from symbp.symbolic.derivation import Derivation
from symbp.symbolic.symbols import rebuild_node

Assignments = list[tuple[sp.Symbol, sp.Expr]]


def parameter_symbols(d: Derivation) -> list[sp.Symbol]:
    """theta's symbols: every parameter element, parameter by parameter, row-major."""
    return [s for name in d.parameter_names for s in d.quantities[name].flat()]


def needed_assignments(
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


def linear_input(d: Derivation, staged: list[tuple[sp.Symbol, sp.Expr]]) -> LinearInput | None:
    first = d.stages[0]
    step = next(s for s in d.steps if s.stage == first and s.target == first.input)
    inputs = d.quantities[first.input]
    outputs = d.quantities[first.output]
    theta = {s: k for k, s in enumerate(parameter_symbols(d))}
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


def jacobian_parameters(d: Derivation, linear: LinearInput) -> set[int]:
    """Theta positions whose gradient is exactly sum over their Jacobian entries of dz * x.

    Checked symbolically against the derivation, so the compiled shortcut (one product
    dz @ x, then a sum per parameter) computes the derived expression and nothing else.
    """
    theta = parameter_symbols(d)
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
