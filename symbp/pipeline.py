"""The one path from a spec to checked gradients: derive -> prove -> compile -> verify.

`symbp derive` and `symbp verify` both run it (the first then writes files); Python users can
too. PyTorch's answers are computed in a second process while SymPy works in this one.
"""

from __future__ import annotations

import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from symbp.spec.model import NetworkSpec
from symbp.support import progress

if TYPE_CHECKING:
    from symbp.proofs import Proof
    from symbp.reference.verify import Report
    from symbp.symbolic.derivation import Derivation


# The forked proof is needed last (for the documents): it yields the other core to PyTorch's
# worker, whose answers verification waits for, and takes it once PyTorch is done.
PROOFS_NICE = 10


@dataclass
class Checked:
    """A derivation with its proofs, compiled module and verification report."""

    spec: NetworkSpec
    derivation: Derivation
    proofs: list[Proof]
    module: types.ModuleType
    report: Report
    stages: str = "elementwise"  # the module compiled and verified: what derive writes
    seconds: dict[str, float] = field(default_factory=dict)  # stage -> wall time

    @property
    def passed(self) -> bool:
        return self.report.passed and all(proof.holds for proof in self.proofs)


def check_spec(
    spec: NetworkSpec,
    meanwhile: Callable[[Derivation], object] | None = None,
    stages: str = "auto",
) -> Checked:
    """Derive, prove, compile and verify one network; nothing is written.

    The longest proof runs in a forked child (symbp.support.background) while this process
    does `meanwhile(derivation)`, work its caller will need next (`symbp derive` builds the
    general laws there), compiles and verifies the module and proves the rest; without a
    child it all runs here in turn, with the same result.

    The module verified is the one `generate_source(d, stages=stages, proofs=...)` writes. An
    array-level one needs its licences first, so there the proofs are awaited before compiling
    (and the element-wise module, megabytes of code at that size, is never built).
    """
    from symbp.reference.verify import start_torch_reference, verify
    from symbp.support.background import Background

    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] = now - clock
        clock = now

    progress.step("starting PyTorch and SymPy")
    torch_answers = start_torch_reference(spec)  # PyTorch works on the other core meanwhile
    from symbp.codegen.module import load, resolve_stages, wants_array  # SymPy: imported now
    from symbp.proofs import composition_task, proof_tasks, run_tasks
    from symbp.symbolic.derivation import derive

    lap("start")
    derivation = derive(spec)
    lap("derive")
    # The other core's share: the full-composition proof where it runs (the longest), else
    # every proof. This process proves the rest once the module is verified.
    tasks, composition = proof_tasks(derivation), composition_task(derivation)
    here, there = (tasks, [composition]) if composition is not None else ([], tasks)
    proving = Background(partial(run_tasks, there), nice=PROOFS_NICE)
    if meanwhile is not None:
        meanwhile(derivation)
        lap("meanwhile")
    proofs: list[Proof] | None = None
    if wants_array(derivation, stages):  # an array-level module needs its licences first
        proofs = run_tasks(here) + proving.result()
        lap("proofs")
    chosen = resolve_stages(derivation, stages, proofs)
    if chosen == "array" and not all(p.holds for p in proofs or ()):
        chosen = "elementwise"  # no licence: verify the reference; writing it is refused later
    progress.step(f"compiling the {chosen} gradient module")
    module = load(derivation, chosen, proofs)
    lap("compile")
    report = verify(spec, module, torch_future=torch_answers)
    lap("verify")
    if proofs is None:
        proofs = run_tasks(here) + proving.result()  # the child's progress shows meanwhile
        lap("proofs")
    return Checked(spec, derivation, proofs, module, report, chosen, seconds)
