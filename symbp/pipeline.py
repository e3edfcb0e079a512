"""The one path from a spec to checked gradients: derive -> prove -> compile -> verify.

`symbp derive` and `symbp verify` both run it (the first then writes files); Python users can
too. PyTorch's answers are computed in a second process while SymPy works in this one.
"""

from __future__ import annotations

import time
import types
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from symbp.spec.model import NetworkSpec
from symbp.support import progress

if TYPE_CHECKING:
    from symbp.proofs import Proof
    from symbp.reference.verify import Report
    from symbp.symbolic.derivation import Derivation


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


def check_spec(spec: NetworkSpec) -> Checked:
    """Derive, prove, compile and verify one network; nothing is written."""
    from symbp.reference.verify import start_torch_reference, verify

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
    from symbp.proofs import prove_all
    from symbp.symbolic.derivation import derive

    lap("start")
    derivation = derive(spec)
    lap("derive")
    proofs = prove_all(derivation)
    lap("proofs")
    progress.step("compiling the gradient module")
    module = load(derivation)
    lap("compile")
    report = verify(spec, module, torch_future=torch_answers)
    lap("verify")
    return Checked(spec, derivation, proofs, module, report, seconds)
