"""What Jupyter would display for an object: IPython's own formatters, with symbp registered."""

from __future__ import annotations

from typing import Any

from symbp import notebook


def displayed(value: Any) -> dict[str, Any]:
    """MIME type -> content, as a notebook cell showing `value` would receive them."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    assert notebook.register(shell)
    data, _ = shell.display_formatter.format(value)
    return data
