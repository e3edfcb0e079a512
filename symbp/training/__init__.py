"""Learning with the derived gradients: train the spec's network on handwritten digits.

    from symbp import NetworkSpec
    from symbp.training import TrainingSettings, train, write_training

    result = train(NetworkSpec(input_shape=(6, 6)), TrainingSettings(steps=1000))
    result.final_metrics["test_accuracy"], result.data.majority_rate
    write_training("training", result)   # training.json, timing.json, the curve, the filter
    record = {**training_section_data(result), "figures": CHAPTER_FIGURES}
    render_document(d, proofs, training=record)     # symbp.document: the chapter's section
    training_figures(result, "latex")               # its figures: {"training-curve.pdf": ...}

The task is digit 3 against digit 8 from scikit-learn's bundled digits (see `data`), trained
by mini-batch SGD, momentum or Adam in NumPy (`optim`) with the compiled module's gradients()
(`loop`). `torch_reference` trains the same way in PyTorch; `cli` is `symbp train`; `chapter`
draws the figures of the document's "Training" section. Needs the
`train` extra (scikit-learn, matplotlib), imported only when used.
"""

from __future__ import annotations

from .chapter import CHAPTER_FIGURES, training_figures
from .cli import add_train_arguments, run_train, settings_from_arguments, summary_lines
from .data import EXTRA_HINT, DigitData, MissingExtraError, load_task, require_training_extra
from .loop import (
    TrainingDiverged,
    TrainingResult,
    initial_parameters,
    iter_batches,
    relative_difference,
    train,
)
from .optim import make_optimizer
from .outputs import (
    FILE_NAMES,
    result_from_record,
    training_files,
    training_record,
    training_section_data,
    write_training,
)
from .settings import TrainingSettings

__all__ = [
    "CHAPTER_FIGURES",
    "EXTRA_HINT",
    "FILE_NAMES",
    "DigitData",
    "MissingExtraError",
    "TrainingDiverged",
    "TrainingResult",
    "TrainingSettings",
    "add_train_arguments",
    "initial_parameters",
    "iter_batches",
    "load_task",
    "make_optimizer",
    "relative_difference",
    "result_from_record",
    "require_training_extra",
    "run_train",
    "settings_from_arguments",
    "summary_lines",
    "train",
    "training_figures",
    "training_files",
    "training_record",
    "training_section_data",
    "write_training",
]
