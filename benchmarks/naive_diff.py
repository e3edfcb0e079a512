"""The naive baseline, in its own process: diff the fully composed loss by each parameter.

    python benchmarks/naive_diff.py SIZE

Every layer's element expression (`Derivation.forward_definitions`, ReLU and pool indicators
included) is substituted into the next, all the way to the loss, giving L(X, theta) as ONE
SymPy expression; `sympy.diff` then differentiates it with respect to every parameter. Progress
is printed as one JSON object per line, flushed, so a parent that kills this process on a
timeout still learns how far it got.
"""

from __future__ import annotations

import json
import sys
import time

import sympy as sp
from bench_exprsize import distinct_nodes, tree_nodes
from sympy.core.cache import clear_cache

from symbp import NetworkSpec, derive


def emit(**record: object) -> None:
    print(json.dumps(record), flush=True)


def composed_loss(size: int) -> tuple[sp.Expr, list[sp.Symbol]]:
    """L(X, theta) with every forward definition substituted, and the parameter symbols."""
    d = derive(NetworkSpec(input_shape=(size, size)))
    clear_cache()  # the parent times symbp with a cold SymPy cache too
    start = time.perf_counter()
    composed: dict[sp.Basic, sp.Basic] = {}
    for symbol, expr in d.forward_definitions.items():  # dependency order
        composed[symbol] = expr.xreplace(composed)
    a2 = d.quantities["A2"].symbols[()]
    loss = d.forward[-1].expressions[()].xreplace({a2: composed[a2]})
    seconds = time.perf_counter() - start
    emit(event="composed", seconds=seconds, loss_nodes=tree_nodes([loss]))
    parameters = [s for name in d.parameter_names for s in d.quantities[name].flat()]
    return loss, parameters


def main(size: int) -> None:
    loss, parameters = composed_loss(size)
    derivatives = []
    diff_seconds = 0.0
    for parameter in parameters:
        begin = time.perf_counter()
        derivatives.append(sp.diff(loss, parameter))
        elapsed = time.perf_counter() - begin
        diff_seconds += elapsed
        emit(event="diff", parameter=str(parameter), seconds=elapsed)
    emit(
        event="done",
        diff_seconds=diff_seconds,
        tree_nodes=tree_nodes(derivatives),
        distinct_nodes=distinct_nodes(derivatives),
    )


if __name__ == "__main__":
    main(int(sys.argv[1]))
