"""The chapter's "Training" section: the derived gradients at work, in LaTeX or Markdown.

    text = training_section(result, "latex", "training")    # or the parsed training.json
    files = training_figures(result, "latex", "training")   # training-curve.pdf, ...-filters.pdf

The section states the task and the settings, shows the loss and accuracy curve and the
learned filter W1 beside a few test digits and their Z1 maps, and gives the training and test
loss and accuracy beside the majority-class rate. Nothing timed goes in, so one run gives the
same bytes every time. Every number is formatted here; the strings that come from a record
(which may have been edited by hand) are checked against the known values and escaped all the
same. Math is LaTeX in both formats, as in the rest of the chapter; the LaTeX needs only
graphicx beyond the article class, and includes the figures by file name from the folder of
the .tex file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Protocol

from .data import SOURCE_SIZE
from .optim import ADAM_BETAS, ADAM_EPSILON, MOMENTUM, OPTIMIZERS
from .outputs import result_from_record, training_section_data
from .plots import figure_files

FORMATS = ("latex", "markdown")
FIGURES = {"curve": "training", "filters": "filters"}  # chapter suffix -> stem of figure_files
EXTENSIONS = {"latex": "pdf", "markdown": "png"}
LATEX_PACKAGES = ("graphicx",)  # what the chapter's preamble must load for this section
FIGURE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "_": r"\_",
    "%": r"\%",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}
MARKDOWN_SPECIALS = set("\\`*_{}[]()#+-.!|<>$~&")
METHODS = {
    "sgd": "plain stochastic gradient descent",
    "momentum": "stochastic gradient descent with momentum",
    "adam": "Adam",
}


def _printable(text: str) -> str:
    """Control characters (a newline would end a Markdown line or a LaTeX argument) dropped."""
    return "".join(ch for ch in text if ch.isprintable())


def latex_escape(text: str) -> str:
    """Text as LaTeX typesets it literally: every special character made harmless."""
    return "".join(LATEX_SPECIALS.get(ch, ch) for ch in _printable(text))


def markdown_escape(text: str) -> str:
    """Text as Markdown shows it literally: every punctuation mark with a meaning escaped."""
    return "".join("\\" + ch if ch in MARKDOWN_SPECIALS else ch for ch in _printable(text))


class _Style(Protocol):
    nbsp: str
    around_display: str

    def text(self, value: str) -> str: ...
    def code(self, value: str) -> str: ...
    def prose(self, paragraph: str) -> str: ...
    def percent(self, value: float) -> str: ...
    def display(self, math_source: str) -> str: ...
    def heading(self, number: str | None) -> str: ...
    def ref(self, label: str) -> str: ...
    def figure(self, file: str, caption: str, label: str, alt: str) -> str: ...
    def table(self, header: list[str], rows: list[list[str]]) -> str: ...


class _Latex:
    nbsp = "~"
    around_display = "\n"

    def text(self, value: str) -> str:
        return latex_escape(value)

    def code(self, value: str) -> str:
        breakable = latex_escape(value).replace(".", r".\allowbreak{}")  # long dotted names
        return rf"\texttt{{{breakable}}}"

    def prose(self, paragraph: str) -> str:
        """Paragraphs with unbreakable code names may stretch their spaces rather than run
        into the margin, whatever the page width (sloppypar is in the LaTeX kernel)."""
        return "\\begin{sloppypar}\n" + paragraph + "\n\\end{sloppypar}"

    def percent(self, value: float) -> str:
        return rf"{100 * value:.1f}\,\%"

    def display(self, math_source: str) -> str:
        return "\\[\n" + math_source + "\n\\]"

    def heading(self, number: str | None) -> str:
        return r"\section{Training on handwritten digits}\label{sec:training}"

    def ref(self, label: str) -> str:
        return rf"Figure~\ref{{{label}}}"

    def figure(self, file: str, caption: str, label: str, alt: str) -> str:
        return "\n".join(
            [
                r"\begin{figure}[htbp]",
                r"\centering",
                rf"\includegraphics[width=0.85\linewidth,height=0.45\textheight,"
                rf"keepaspectratio]{{{file}}}",
                rf"\caption{{{caption}}}\label{{{label}}}",
                r"\end{figure}",
            ]
        )

    def table(self, header: list[str], rows: list[list[str]]) -> str:
        lines = [r"\begin{center}", r"\begin{tabular}{lrr}", r"\hline", " & ".join(header) + r" \\"]
        lines += [r"\hline", *(" & ".join(row) + r" \\" for row in rows), r"\hline"]
        return "\n".join([*lines, r"\end{tabular}", r"\end{center}"])


class _Markdown:
    nbsp = " "
    around_display = "\n\n"

    def text(self, value: str) -> str:
        return markdown_escape(value)

    def code(self, value: str) -> str:
        return "`" + _printable(value).replace("`", "'") + "`"

    def prose(self, paragraph: str) -> str:
        return paragraph

    def percent(self, value: float) -> str:
        return f"{100 * value:.1f} %"

    def display(self, math_source: str) -> str:
        return "```math\n" + math_source + "\n```"

    def heading(self, number: str | None) -> str:
        prefix = f"{markdown_escape(number)} " if number else ""
        return f"## {prefix}Training on handwritten digits"

    def ref(self, label: str) -> str:
        return "The figure below"  # each figure follows the paragraph that refers to it

    def figure(self, file: str, caption: str, label: str, alt: str) -> str:
        return f"![{alt}]({file})\n\nFigure: {caption}"

    def table(self, header: list[str], rows: list[list[str]]) -> str:
        lines = ["| " + " | ".join(header) + " |", "|---|--:|--:|"]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


STYLES: dict[str, _Style] = {"latex": _Latex(), "markdown": _Markdown()}


# ------------------------------------------------------------------ the facts, checked
def _whole(value: object, smallest: int, largest: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and smallest <= value <= largest


def _real(value: object, smallest: float, largest: float = math.inf) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and smallest <= value <= largest
    )


def _problems(facts: Mapping[str, Any]) -> list[str]:
    """What in the section's facts is not as a symbp run writes it."""
    settings, counts = facts["settings"], (facts["train_images"], facts["test_images"])
    wholes = {
        "steps": (facts["steps"], 1, 10**9),
        "settings.batch": (settings["batch"], 1, 10**9),
        "settings.seed": (settings["seed"], 0, 2**63 - 1),
        "channels": (facts["channels"], 1, 10**6),
        "train_images": (counts[0], 1, 10**9),
        "test_images": (counts[1], 1, 10**9),
        "train_positives": (facts["train_positives"], 0, counts[0]),
        "positive_digit": (facts["positive_digit"], 0, 9),
        "negative_digit": (facts["negative_digit"], 0, 9),
    }
    rates = ("train_accuracy", "test_accuracy", "majority_rate", "initial_test_accuracy")
    bad = [name for name, (value, low, high) in wholes.items() if not _whole(value, low, high)]
    bad += [name for name in rates if not _real(facts[name], 0.0, 1.0)]
    bad += [name for name in ("train_loss", "test_loss") if not _real(facts[name], 0.0)]
    if not _real(settings["lr"], 0.0) or settings["lr"] == 0:
        bad.append("settings.lr")
    if not isinstance(settings["optimizer"], str) or settings["optimizer"] not in OPTIMIZERS:
        bad.append("settings.optimizer")
    shape = facts["input_shape"]
    if not (
        isinstance(shape, list) and len(shape) == 2 and all(_whole(n, 1, 10**6) for n in shape)
    ):
        bad.append("data.input_shape")
    return bad


def section_facts(result_or_record: Any) -> dict[str, Any]:
    """What the section shows (see outputs.training_section_data), checked, so that a record
    edited by hand gives a ValueError naming the field rather than a broken chapter."""
    try:
        facts = training_section_data(result_or_record)
        bad = _problems(facts)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
        raise ValueError(
            "not a complete and valid symbp training record "
            f"({type(error).__name__}: {str(error)[:60]})"
        ) from None
    if bad:
        raise ValueError(f"training record: unexpected {', '.join(bad)}")
    return facts


def _check_request(fmt: str, figure_name: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {str(fmt)[:40]!r}")
    if not isinstance(figure_name, str) or not FIGURE_NAME.fullmatch(figure_name):
        raise ValueError(
            "figure_name must be 1 to 64 letters, digits, '-' or '_' (it becomes a file name "
            f"and a LaTeX argument), got {str(figure_name)[:40]!r}"
        )


def figure_names(fmt: str, figure_name: str) -> dict[str, str]:
    """The file names the section includes: 'curve' and 'filters' -> name-curve.pdf, ..."""
    _check_request(fmt, figure_name)
    return {key: f"{figure_name}-{key}.{EXTENSIONS[fmt]}" for key in FIGURES}


# ------------------------------------------------------------------ the paragraphs
def _tex_number(value: float) -> str:
    """0.5 -> '0.5', 1e-08 -> '10^{-8}', 2.5e-05 -> '2.5 \\cdot 10^{-5}' (inside math)."""
    text = f"{value:g}"
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    power = f"10^{{{int(exponent)}}}"
    return power if mantissa == "1" else rf"{mantissa} \cdot {power}"


def _fit(facts: Mapping[str, Any]) -> str:
    """How the 8x8 digits became the network's input, in words."""
    rows, cols = facts["input_shape"]
    kinds = {(size > SOURCE_SIZE) - (size < SOURCE_SIZE) for size in (rows, cols)}
    both = f"{rows}" if rows == cols else f"{rows} and {cols}"
    if kinds == {-1}:
        axes = (
            f"the rows and columns are cropped to the central {both} of {SOURCE_SIZE} "
            "(no interpolation)"
        )
    elif kinds == {1}:
        axes = (
            f"the rows and columns are resampled to {both} by linear interpolation between "
            "pixel centres"
        )
    elif kinds == {0}:
        axes = "the images are used as they are"
    else:
        words = {-1: "cropped to the central {} (no interpolation)", 0: "kept at {}"}
        rows_done, cols_done = (
            words.get((n > SOURCE_SIZE) - (n < SOURCE_SIZE), "resampled linearly to {}").format(n)
            for n in (rows, cols)
        )
        axes = f"the rows are {rows_done} and the columns {cols_done}"
    channels = facts["channels"]
    copies = (
        f", the same grey image in each of the $C = {channels}$ channels" if channels > 1 else ""
    )
    return (
        rf"To fit the network's ${rows} \times {cols}$ input, {axes}, and the pixels are scaled "
        rf"to $[-1, 1]$ by $x \mapsto x / 8 - 1${copies}."
    )


def _task(style: _Style, facts: Mapping[str, Any]) -> str:
    size, space = SOURCE_SIZE, style.nbsp
    return style.prose(
        "The gradients derived above are what gradient descent needs. Here the generated "
        f"module's {style.code('gradients()')} train the network on real data: the handwritten "
        f"digits that ship with scikit-learn ({style.code('sklearn.datasets.load_digits')}, "
        rf"${size} \times {size}$ pixels with grey levels $0, \dots, 16$), "
        f"digit{space}{facts['positive_digit']} ($Y = 1$) against "
        f"digit{space}{facts['negative_digit']} ($Y = 0$). {_fit(facts)} The images were split "
        f"once, stratified by label and with a fixed seed, into {facts['train_images']} "
        f"training and {facts['test_images']} test images."
    )


def _update_rule(optimizer: str, lr: float) -> tuple[str, str]:
    """The optimizer's update in display math, and the sentence after it."""
    eta = rf"\eta = {_tex_number(lr)}"
    if optimizer == "sgd":
        return rf"\theta \leftarrow \theta - \eta\,\delta\theta, \qquad {eta}.", ""
    if optimizer == "momentum":
        return (
            rf"v \leftarrow \mu\,v + \delta\theta, \qquad \theta \leftarrow \theta - \eta\,v, "
            rf"\qquad {eta},\ \mu = {_tex_number(MOMENTUM)},",
            r"with the velocity $v$ equal to the first gradient at the first step.",
        )
    beta1, beta2 = ADAM_BETAS
    return (
        r"m \leftarrow \beta_1 m + (1 - \beta_1)\,\delta\theta, \quad "
        r"s \leftarrow \beta_2 s + (1 - \beta_2)\,\delta\theta^2, \quad "
        r"\theta \leftarrow \theta - \eta\,"
        r"\frac{m / (1 - \beta_1^{\,t})}{\sqrt{s / (1 - \beta_2^{\,t})} + \epsilon},",
        rf"with ${eta}$, $\beta_1 = {_tex_number(beta1)}$, $\beta_2 = {_tex_number(beta2)}$, "
        rf"$\epsilon = {_tex_number(ADAM_EPSILON)}$, $m$ and $s$ starting at zero and $t$ "
        "counting the steps (squares and quotients element by element).",
    )


def _method(style: _Style, facts: Mapping[str, Any]) -> str:
    settings = facts["settings"]
    optimizer = settings["optimizer"]
    rule, after = _update_rule(optimizer, float(settings["lr"]))
    lead = (
        "Training starts from PyTorch's default initialization (each weight and bias drawn "
        r"uniformly from $[-1/\sqrt{n}, 1/\sqrt{n}]$, where $n$ is the number of inputs of its "
        f"unit) with seed {settings['seed']}, and takes {facts['steps']:,} steps of "
        f"{METHODS[optimizer]} (optimizer {style.code(optimizer)}) on batches of "
        f"$M = {settings['batch']}$ images, each batch the next slice of a shuffled pass through "
        r"the training set. With $\delta\theta = \partial L / \partial \theta$ the gradient of "
        r"the batch's mean loss, every parameter $\theta$ is updated by"
    )
    # In LaTeX the display and the sentence after it stay in the paragraph (a blank line
    # before \[ would leave an empty line); Markdown needs the blank lines around a fence.
    joined = style.around_display.join(part for part in (lead, style.display(rule), after) if part)
    return style.prose(joined)


def _results(style: _Style, facts: Mapping[str, Any]) -> str:
    tested, correct = facts["test_images"], round(facts["test_accuracy"] * facts["test_images"])
    more_positive = 2 * facts["train_positives"] >= facts["train_images"]
    majority_digit = facts["positive_digit"] if more_positive else facts["negative_digit"]
    pct = style.percent
    paragraph = (
        f"{style.ref('fig:training-curve')} shows the loss falling and the accuracy rising. "
        f"After {facts['steps']:,} steps the network classifies {correct} of the {tested} test "
        f"images correctly ({pct(facts['test_accuracy'])}); before training it classified "
        f"{pct(facts['initial_test_accuracy'])}. Always answering the training set's more "
        f"frequent digit, {majority_digit}, would score {pct(facts['majority_rate'])} on the "
        "test set: that majority-class rate is what learning has to beat."
    )
    table = style.table(
        ["", "loss $L$", "accuracy"],
        [
            [
                f"training set ({facts['train_images']} images)",
                f"{facts['train_loss']:.4f}",
                pct(facts["train_accuracy"]),
            ],
            [
                f"test set ({tested} images)",
                f"{facts['test_loss']:.4f}",
                pct(facts["test_accuracy"]),
            ],
            ["majority class (test set)", "", pct(facts["majority_rate"])],
        ],
    )
    return paragraph + "\n\n" + table


def _captions(style: _Style, facts: Mapping[str, Any]) -> tuple[str, str]:
    space = style.nbsp
    curve = (
        f"Training on digit{space}{facts['positive_digit']} against "
        f"digit{space}{facts['negative_digit']}. Top: the mean cross-entropy loss $L$ of each "
        "batch (grey) and of the whole training and test sets. Bottom: the accuracy on the "
        "training and test sets; dashed, the majority-class rate "
        f"({style.percent(facts['majority_rate'])})."
    )
    summed = (
        ", summed over the input channels, which all hold the same image"
        if facts["channels"] > 1
        else ""
    )
    filters = (
        rf"The learned filter $W_1$ (top row{summed}) and, below, test digits $X$ with their "
        r"maps $Z_1 = X \star W_1 + B_1$ at the final parameters. Red is positive, blue negative."
    )
    return curve, filters


def _filters(style: _Style) -> str:
    return (
        f"{style.ref('fig:training-filters')} shows what the first layer learned: the filter "
        r"$W_1$ after training and, for a few test digits $X$, the maps "
        r"$Z_1 = X \star W_1 + B_1$ it produces, the convolution's output before the activation. "
        "Everything the later layers see is computed from these maps."
    )


def training_section(
    result_or_record: Any, fmt: str, figure_name: str, *, number: str | None = None
) -> str:
    """The chapter's "Training" section in `fmt` ("latex" or "markdown"), from a
    TrainingResult or the parsed training.json; it includes the figures named by
    `figure_names(fmt, figure_name)`, which `training_figures` draws. `number` is the
    Markdown heading's section number (LaTeX numbers its sections itself)."""
    names = figure_names(fmt, figure_name)
    style, facts = STYLES[fmt], section_facts(result_or_record)
    curve_caption, filters_caption = _captions(style, facts)
    parts = [
        style.heading(number),
        _task(style, facts),
        _method(style, facts),
        _results(style, facts),
        style.figure(names["curve"], curve_caption, "fig:training-curve", "loss and accuracy"),
        _filters(style),
        style.figure(
            names["filters"], filters_caption, "fig:training-filters", "the learned filter"
        ),
    ]
    return "\n\n".join(parts) + "\n"


def training_figures(
    result_or_record: Any, fmt: str, figure_name: str, *, spec: Any = None
) -> dict[str, bytes]:
    """The figure files `training_section` includes, name -> bytes (PDF for LaTeX, PNG for
    Markdown; the same bytes for the same run). From a record, `spec` must be the network it
    was trained on: the pictures need the test images and the spec's first layer."""
    names = figure_names(fmt, figure_name)
    result = result_or_record
    if isinstance(result_or_record, Mapping):
        if spec is None:
            raise ValueError("drawing the figures from a training record needs its spec (spec=)")
        result = result_from_record(result_or_record, spec)
    extension = EXTENSIONS[fmt]
    drawn = figure_files(result, kinds=(extension,))
    return {names[key]: drawn[f"{stem}.{extension}"] for key, stem in FIGURES.items()}
