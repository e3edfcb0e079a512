"""The table of provers: which proofs a spec calls for, in the document's order, and running them.

`prove_all(derivation)` runs every proof; `check(derivation)` raises `ProofError` listing every
proof that does not hold.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from symbp.spec.kinds import KINDS
from symbp.support import progress
from symbp.symbolic.derivation import Derivation
from symbp.symbolic.layers import Stage

from .activation import prove_activation_derivative
from .composition import prove_full_composition
from .convolution import (
    ConvView,
    conv_views,
    prove_bias_gradient,
    prove_input_gradient,
    prove_weight_gradient,
)
from .head import prove_head_collapses, prove_stable_loss
from .pooling import (
    prove_average_pool_spreads,
    prove_max_pool_accumulates,
    prove_pool_routes_to_first_max,
)
from .result import Proof, ProofError

ProofTask = tuple[str, Callable[[], "Proof | None"]]  # what it proves, and the prover
StageProver = Callable[[Derivation, Stage], "Proof | None"]  # None: nothing to prove here
ConvProver = Callable[[Derivation, ConvView], Proof]

# Per layer kind, the provers its stages call for (conv has its own table, run per block; the
# flatten, dense and loss stages are covered by the head proofs). tests/test_kinds.py checks
# that every kind of the rule table has an entry here.
STAGE_PROVERS: dict[str, tuple[StageProver, ...]] = {
    "relu": (prove_activation_derivative,),
    "leaky_relu": (prove_activation_derivative,),
    "sigmoid": (prove_activation_derivative,),
    "tanh": (prove_activation_derivative,),
    "identity": (),
    "maxpool": (prove_pool_routes_to_first_max, prove_max_pool_accumulates),
    "avgpool": (prove_average_pool_spreads,),
    "conv": (),
    "flatten": (),
    "dense": (),
    "bce": (),
}
CONV_PROVERS: tuple[tuple[str, ConvProver], ...] = (
    ("dB", prove_bias_gradient),
    ("dW", prove_weight_gradient),
    ("d input", prove_input_gradient),
)


def proof_tasks(d: Derivation) -> list[ProofTask]:
    """Every pattern proof the spec at hand calls for, in the order the document shows them,
    not yet run (so that progress can be reported between them)."""
    tasks: list[ProofTask] = [
        ("head", lambda: prove_head_collapses(d)),
        ("stable loss", lambda: prove_stable_loss(d)),
    ]
    for stage in reversed(d.stages):  # the backward pass's order, as the document reads
        if stage.geometry is not None:
            where = f"{stage.kind} {stage.output}"
            tasks += [(where, partial(prover, d, stage)) for prover in STAGE_PROVERS[stage.kind]]
    for view in reversed(conv_views(d)):  # the convolution section: last block first
        for what, conv_prover in CONV_PROVERS:
            tasks.append((f"{what} of block {view.block}", partial(conv_prover, d, view)))
    return tasks


def run_tasks(tasks: list[ProofTask]) -> list[Proof]:
    """The tasks' proofs, in order, with progress between them."""
    if not tasks:
        return []
    results = []
    for done, (what, prover) in enumerate(tasks):
        progress.step("proofs", done, len(tasks), what)
        proof = prover()
        if proof is not None:
            results.append(proof)
    progress.step("proofs", len(tasks), len(tasks))
    return results


def derivation_proofs(d: Derivation) -> list[Proof]:
    """Every pattern proof the spec at hand calls for, run, in the document's order."""
    return run_tasks(proof_tasks(d))


def prove_all(
    d: Derivation, full_composition: bool | None = None, patterns: int = 1
) -> list[Proof]:
    """Run every proof. The full-composition proof runs by default only for small networks
    whose activations are piecewise linear, on `patterns` activation patterns (each costs
    about 0.4 s at 6x6)."""
    tasks = proof_tasks(d)
    composition = composition_task(d, full_composition, patterns)
    if composition is not None:
        tasks.append(composition)
    return run_tasks(tasks)


def composition_task(
    d: Derivation, full_composition: bool | None = None, patterns: int = 1
) -> ProofTask | None:
    """The full-composition proof as a task, or None where it does not run: by default only
    for small networks whose activations are piecewise linear."""
    if full_composition is None:
        linear = all(KINDS[block.activation].piecewise_linear for block in d.spec.blocks)
        full_composition = linear and d.spec.symbolic_cost <= 400
    if not full_composition:
        return None
    seeds = tuple(range(1, patterns + 1))
    return ("full composition", lambda: prove_full_composition(d, seeds=seeds))


def check(d: Derivation, full_composition: bool | None = None, patterns: int = 1) -> list[Proof]:
    """Like prove_all, but raise ProofError when any proof fails."""
    results = prove_all(d, full_composition, patterns)
    failed = [p for p in results if not p.holds]
    if failed:
        raise ProofError("; ".join(str(p) for p in failed))
    return results
