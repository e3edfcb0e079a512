"""Exact proofs of the derivation's patterns, each broken on purpose in the tests.

One module per pattern family (convolution, pooling, activation, head, composition), a result
type with the method each proof used (`result`), and the table of which provers a spec calls
for (`run`). May import: symbp.symbolic, symbp.spec, symbp.support.
"""

from .result import EXHAUSTIVE, SAMPLED, SYMBOLIC, Proof, ProofError
from .run import check, composition_task, derivation_proofs, proof_tasks, prove_all, run_tasks

__all__ = [
    "EXHAUSTIVE",
    "SAMPLED",
    "SYMBOLIC",
    "Proof",
    "ProofError",
    "check",
    "composition_task",
    "derivation_proofs",
    "proof_tasks",
    "prove_all",
    "run_tasks",
]
