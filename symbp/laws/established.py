"""The laws a network calls for, each with how it is known: proof (a) and bridge (b) together.

A law's status at a spec is "holds" only when its general proof holds and every one of its
instances at the spec's sizes reproduces the element-wise derivation; its verdict then says
how the general law was established ("holds: symbolic" or "holds: checked for ..."), and
otherwise it is "fails". This is what `symbp laws`, `symbp explain <law>`, the document's
general-law section and `derivation.laws` share.

symbp itself is imported lazily and only through its public names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import catalog
from .bridge import BridgeCheck, all_checks
from .catalog import Law
from .proof import IndexLaw


def spec_of(spec_or_derivation: Any = None) -> Any:
    """The NetworkSpec of a spec, a Derivation or None (the default network)."""
    from symbp.spec.model import NetworkSpec
    from symbp.symbolic.derivation import Derivation

    if spec_or_derivation is None:
        return NetworkSpec()
    if isinstance(spec_or_derivation, Derivation):
        return spec_or_derivation.spec
    if isinstance(spec_or_derivation, NetworkSpec):
        return spec_or_derivation
    raise ValueError(
        f"expected a NetworkSpec or a Derivation, got {type(spec_or_derivation).__name__}"
    )


def derivation_of(spec_or_derivation: Any = None) -> Any:
    """A Derivation as given, or derive(spec) (the default network for None)."""
    from symbp.symbolic.derivation import Derivation, derive

    if isinstance(spec_or_derivation, Derivation):
        return spec_or_derivation
    return derive(spec_of(spec_or_derivation))


def checks_at(d: Any, overrides: Mapping[str, IndexLaw] | None = None) -> list[BridgeCheck]:
    """Every bridge check of a derivation; `overrides` replaces conv laws (for tests)."""
    return all_checks(d, {**catalog.index_laws(), **(overrides or {})})


@dataclass(frozen=True)
class Established:
    """The laws of one spec, the bridge checks at its sizes, and each law's status."""

    spec: Any
    laws: tuple[Law, ...]
    checks: tuple[BridgeCheck, ...]

    def checks_of(self, key: str) -> tuple[BridgeCheck, ...]:
        return tuple(c for c in self.checks if c.law == key)

    def holds(self, key: str) -> bool:
        """The general law holds and every instance of it at this spec does."""
        law = next(law for law in self.laws if law.key == key)
        return law.holds and all(c.holds for c in self.checks_of(key))

    def verdict(self, key: str) -> str:
        """'holds: symbolic', 'holds: checked for ...' or 'fails'."""
        law = next(law for law in self.laws if law.key == key)
        return law.verdict if self.holds(key) else "fails"

    @property
    def passed(self) -> bool:
        return all(self.holds(law.key) for law in self.laws) and all(c.holds for c in self.checks)

    @property
    def failed_checks(self) -> tuple[BridgeCheck, ...]:
        return tuple(c for c in self.checks if not c.holds)

    @property
    def elements(self) -> int:
        """Elements of the element-wise derivation reproduced, over all checks that held."""
        return sum(c.elements for c in self.checks if c.holds)


def establish(spec_or_derivation: Any = None, every_law: bool = False) -> Established:
    """The spec's laws (every law symbp knows with `every_law`) and the bridge at its sizes.

    Given a spec, it is derived first; give the Derivation to reuse one."""
    d = derivation_of(spec_or_derivation)
    return Established(d.spec, general_laws(d.spec, every_law), tuple(checks_at(d)))


# One Established computed ahead (`symbp derive` does it while the proofs run in a child),
# handed once to whoever asks for the same derivation object next.
_PREPARED: list[tuple[Any, Established]] = []


def prepare(d: Any) -> Established:
    """establish(d) now, kept for the next established_for(d) (the document's laws section)."""
    found = establish(d)
    _PREPARED[:] = [(d, found)]
    return found


def established_for(d: Any) -> Established:
    """What prepare(d) computed for this very derivation (once), else establish(d) afresh."""
    if _PREPARED and _PREPARED[0][0] is d:
        return _PREPARED.pop()[1]
    return establish(d)


def general_laws(spec: Any, every_law: bool = False) -> tuple[Law, ...]:
    """The general laws for the spec's layer kinds: derived and proved once per process (about
    half a second), the same for every size."""
    keys = catalog.ALL_KEYS if every_law else tuple(catalog.keys_for(spec))
    return tuple(catalog.law(key) for key in keys)
