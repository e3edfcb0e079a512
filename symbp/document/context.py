"""What several sections share: the context every builder reads, shapes as text, representative
indices, and quantities shown as matrices (a tensor with channels: one matrix per channel)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from symbp.proofs import Proof
from symbp.symbolic.derivation import Derivation, Step
from symbp.symbolic.layers import Stage

from .layout import Displays, Layout, term_count
from .notation import DocumentNames, document_names

SLICES_SHOWN = 3  # channels (or kernels) of a tensor shown as matrices; then \cdots and the last


@dataclass(frozen=True)
class Context:
    """What every section builder reads: the derivation, its proofs, names and layout."""

    d: Derivation
    proofs: tuple[Proof, ...]
    names: DocumentNames
    layout: Layout
    displays: Displays

    @classmethod
    def of(cls, d: Derivation, proofs: tuple[Proof, ...] = ()) -> Context:
        names = document_names(d)
        layout = Layout.of(names.notation)
        return cls(d, proofs, names, layout, Displays(layout))

    @property
    def several_blocks(self) -> bool:
        return self.d.spec.n_blocks > 1

    def step(self, stage: Stage, target: str) -> Step:
        return next(s for s in self.d.steps if s.stage == stage and s.target == target)

    def matrices(self, name: str, values: np.ndarray, gradient: bool = False) -> list[Any]:
        """(lhs, matrix) of a quantity's `values`: the whole of a matrix, vector or number, or
        of a tensor each channel (kernel) `name[c]`, up to SLICES_SHOWN and the last (None
        stands for the ones left out)."""
        values = np.asarray(values, dtype=object)
        symbol = (self.names.dq if gradient else self.names.q)[name]
        if values.ndim <= 2:
            return [(symbol, self.layout.matrix(values))]
        lead = list(np.ndindex(*values.shape[:-2]))
        picked: list[tuple[int, ...] | None] = list(lead)
        if len(lead) > SLICES_SHOWN + 1:
            picked = [*lead[:SLICES_SHOWN], None, lead[-1]]
        key = ("d" if gradient else "") + name
        return [
            None
            if index is None
            else (self.names.part(key, index), self.layout.matrix(values[index]))
            for index in picked
        ]


def shape_text(shape: tuple[int, ...]) -> str:
    return r" \times ".join(map(str, shape)) if shape else r"1 \times 1"


def first(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (0,) * len(shape)


def fullest(array: np.ndarray) -> tuple[int, ...]:
    """The first index (row-major) whose element has the most terms."""
    best, count = first(array.shape), -1
    for index in np.ndindex(*array.shape):
        n = term_count(array[index])
        if n > count:
            best, count = index, n
    return best


def step_along(shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """The element one column after the first, if there is one."""
    if not shape or shape[-1] < 2:
        return None
    return (*first(shape)[:-1], 1)


def block_of(stage: Stage, several: bool) -> int | None:
    """The block number a title names: only when the network has several blocks."""
    return stage.block if several else None
