"""Everything training takes from the rest of symbp, in this one module.

Each is imported on first use, so `import symbp.training` costs no SymPy: the derivation and
its compiled module, progress reporting, the version, the independent numeric engine (for the
step-by-step cross-check), and `symbp derive`'s output-folder check and all-or-nothing writer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

Writer = Callable[[Path, Mapping[str, str | bytes]], None]


def compiled_module(spec: Any) -> Any:
    """The spec's generated gradient module (loss, gradients, predict), in memory."""
    from symbp.codegen.module import load
    from symbp.symbolic.derivation import derive

    return load(derive(spec))


def progress_step() -> Callable[[str, int, int, str], None]:
    """symbp's progress.step, which the command line's terminal listener shows."""
    from symbp.support import progress

    step: Callable[[str, int, int, str], None] = progress.step
    return step


def symbp_version() -> str:
    """symbp's version, for the record of a run."""
    from symbp.support.version import __version__

    return __version__


def numeric_network(spec: Any) -> Any:
    """symbp's independent numeric engine for `spec` (a `NumericNetwork`): forward() and
    gradients() written layer by layer, without the symbolic derivation."""
    from symbp.reference.engine import NumericNetwork

    return NumericNetwork(spec)


def set_writer() -> Writer:
    """symbp's `write_set`: folder lock, signals held, all files or none."""
    from symbp.support.files import write_set

    return write_set


def prepare_output(where: str) -> Path:
    """The --out folder, created and proved writable before the work starts, with the same
    one-line refusals as `symbp derive` (an OutputError, which is an OSError)."""
    from symbp.support.files import prepare_directory

    return Path(prepare_directory(where))
