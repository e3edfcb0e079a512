"""How Jupyter shows a `Derivation`: its gradients, as LaTeX and as Markdown.

The views are the document layer's; the symbolic core must not import it, so instead of
`_repr_latex_` methods on `Derivation` they are registered with IPython's display formatters
by class name (`for_type_by_name`), which needs neither the class nor the document imported
until a derivation is actually shown. `import symbp` calls `register()` when it runs inside
IPython or Jupyter; elsewhere nothing happens and nothing is imported.
"""

from __future__ import annotations

import sys
from typing import Any

DERIVATION = ("symbp.symbolic.derivation", "Derivation")


def latex_view(derivation: Any) -> str:
    from symbp.document.build import notebook_latex

    return notebook_latex(derivation)


def markdown_view(derivation: Any) -> str:
    from symbp.document.build import notebook_markdown

    return notebook_markdown(derivation)


VIEWS = {"text/latex": latex_view, "text/markdown": markdown_view}


def register(shell: Any = None) -> bool:
    """Register the views with `shell` (default: the running IPython); False when there is none."""
    if shell is None:
        ipython = sys.modules.get("IPython")
        shell = ipython.get_ipython() if ipython is not None else None
    formatters = getattr(getattr(shell, "display_formatter", None), "formatters", None)
    if not formatters:
        return False
    for mime, view in VIEWS.items():
        formatters[mime].for_type_by_name(*DERIVATION, view)
    return True
