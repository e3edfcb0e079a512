"""Section 4, the chain rule: the product of local Jacobians for every parameter, and how
sparse each factor is."""

from __future__ import annotations

from typing import Any

from .context import Context
from .display import TEXT_WIDTH_EM

CHAIN_EM = TEXT_WIDTH_EM - 12  # room for a chain's factors after its left-hand side


def _lines(c: Context, factors: list[Any]) -> list[list[Any]]:
    """The factors of one chain in lines that fit."""
    lines: list[list[Any]] = [[]]
    used = 0.0
    for factor in factors:
        width = c.layout.width(factor) + 1.0
        if lines[-1] and used + width > CHAIN_EM:
            lines.append([])
            used = 0.0
        lines[-1].append(factor)
        used += width
    return lines


def chain_section(c: Context) -> dict[str, Any]:
    d, names = c.d, c.names
    chains = []
    for parameter in d.parameter_names:
        path = d.chain(parameter)
        factors = [
            names.derivative(top, bottom) for top, bottom in zip(path, path[1:], strict=False)
        ]
        chains.append((names.derivative("L", parameter), _lines(c, factors)))
    jacobians = []
    for step in d.steps:
        out_size = max(d.quantities[step.upstream].size, 1)
        in_size = max(d.quantities[step.target].size, 1)
        jacobians.append(
            {
                "factor": names.derivative(step.upstream, step.target),
                "title": step.title,
                "block": step.stage.block if c.several_blocks else None,
                "entries": out_size * in_size,
                "nonzero": len(step.local),
            }
        )
    example = d.chain(d.parameter_names[0])  # L, ..., Z1, W1
    return {
        "chains": chains,
        "jacobians": jacobians,
        "path": [names.q[name] for name in example[::-1][1:3]],  # Z1, A1
        "parameter": names.q[example[-1]],
    }
