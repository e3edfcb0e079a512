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
    seconds: dict[str, float] = field(default_factory=dict)  # stage -> wall time

    @property
    def passed(self) -> bool:
        return self.report.passed and all(proof.holds for proof in self.proofs)


def check_spec(
    spec: NetworkSpec, meanwhile: Callable[[Derivation], object] | None = None
) -> Checked:
    """Derive, prove, compile and verify one network; nothing is written.

    The longest proof runs in a forked child (symbp.support.background) while this process
    does `meanwhile(derivation)`, work its caller will need next (`symbp derive` builds the
    general laws there), compiles and verifies the module and proves the rest; without a
    child it all runs here in turn, with the same result.
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
    from symbp.codegen.module import load  # SymPy is imported here, while the worker starts
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
    progress.step("compiling the gradient module")
    module = load(derivation)
    lap("compile")
    report = verify(spec, module, torch_future=torch_answers)
    lap("verify")
    proofs = run_tasks(here) + proving.result()  # the child's progress shows while this waits
    lap("proofs")
    return Checked(spec, derivation, proofs, module, report, seconds)
