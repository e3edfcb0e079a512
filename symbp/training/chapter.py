"""The figures the chapter's "Training" section includes (the section itself is the document's:
symbp.document, rendered with `training=` a record of `training_section_data`).

    files = training_figures(result, "latex")      # {"training-curve.pdf": b"%PDF...", ...}
    files = training_figures(result, "markdown")   # {"training-curve.png": ..., ...}

The names are CHAPTER_FIGURES (base names, the record's "figures") with the format's extension:
PDF beside the .tex, PNG beside the .md. The same run gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .outputs import result_from_record
from .plots import figure_files

CHAPTER_FIGURES = {"curve": "training-curve", "filters": "training-filters"}
EXTENSIONS = {"latex": "pdf", "markdown": "png"}
DRAWN = {"curve": "training", "filters": "filters"}  # chapter figure -> stem of figure_files


def training_figures(result_or_record: Any, fmt: str, *, spec: Any = None) -> dict[str, bytes]:
    """The Training section's figures, file name -> bytes: training-curve and training-filters
    as .pdf for "latex", as .png for "markdown". From a parsed training.json instead of a
    TrainingResult, `spec` must be the network it was trained on (the pictures need the test
    images and the first layer)."""
    if fmt not in EXTENSIONS:
        raise ValueError(f"format must be one of latex, markdown, got {str(fmt)[:40]!r}")
    result = result_or_record
    if isinstance(result_or_record, Mapping):
        if spec is None:
            raise ValueError("drawing the figures from a training record needs its spec (spec=)")
        result = result_from_record(result_or_record, spec)
    extension = EXTENSIONS[fmt]
    drawn = figure_files(result, kinds=(extension,))
    return {
        f"{CHAPTER_FIGURES[key]}.{extension}": drawn[f"{stem}.{extension}"]
        for key, stem in DRAWN.items()
    }
