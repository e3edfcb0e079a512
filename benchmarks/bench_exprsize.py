"""Expression sizes as node counts, fast enough for the naive baseline's huge derivatives.

`sympy.count_ops` walks the tree once per occurrence of every shared subtree, which takes
minutes on the naive derivatives. Both counts here memoize per distinct node, so they cost
time linear in the number of distinct subexpressions:

- tree nodes: the size of the expression written out in full (a shared subtree counts once per
  place it occurs) - what a printer would emit without common-subexpression elimination;
- distinct nodes: every different subexpression once - what is left after perfect CSE.
"""

from __future__ import annotations

from collections.abc import Iterable

import sympy as sp


def tree_nodes(expressions: Iterable[sp.Basic]) -> int:
    sizes: dict[sp.Basic, int] = {}

    def size(node: sp.Basic) -> int:
        known = sizes.get(node)
        if known is None:
            known = 1 + sum(size(arg) for arg in node.args)
            sizes[node] = known
        return known

    return sum(size(expr) for expr in expressions)


def distinct_nodes(expressions: Iterable[sp.Basic]) -> int:
    seen: set[sp.Basic] = set()
    stack = list(expressions)
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(node.args)
    return len(seen)
