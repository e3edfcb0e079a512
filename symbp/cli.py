"""The `symbp` command line: derive, verify, laws, explain, train.

Exit status: 0 success; 1 a proof or the verification failed, TeX failed on the document, a
file could not be written, or an internal error; 2 bad arguments, an impossible network or an
unusable --out; 130 interrupted. Errors are one line on stderr naming the problem; never a
traceback, never a partial file.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from symbp.document import DEFAULT_TITLE
from symbp.laws.command import add_laws_arguments, explain_law, run_laws
from symbp.spec.model import NetworkSpec, SpecError, spec_from_strings
from symbp.support import progress
from symbp.support.files import INTERRUPTS, OutputError, discard_created, forget_created
from symbp.support.progress import TerminalProgress
from symbp.support.text import clipped, shown
from symbp.support.version import __version__
from symbp.training.cli import add_train_arguments, run_train

if TYPE_CHECKING:  # imported lazily at run time: `symbp --help` stays fast
    from symbp.pipeline import Checked
    from symbp.proofs import Proof
    from symbp.symbolic.derivation import Derivation

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

# --format name -> the file it writes, in the order files are written and listed.
FORMATS = {
    "py": "gradients.py",
    "tex": "cnn_backprop.tex",
    "md": "cnn_backprop.md",
    "ipynb": "cnn_backprop.ipynb",
    "html": "cnn_backprop.html",
    "pdf": "cnn_backprop.pdf",
}
DEFAULT_FORMATS = "tex,pdf,md,py"
MAX_TITLE = 200  # characters: a title, not a document


class UsageError(Exception):
    """Bad command-line input; the message is the one line the user sees."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{clipped(message, 200)} (see `{self.prog} --help`)")


# The spec flags, as argparse names them -> spec_from_strings' parameters. A flag not given is
# not passed: the spec's own defaults apply, stated once, in symbp.spec.model.
SPEC_FLAGS = {
    "input": "input_size",
    "channels": "channels",
    "filter": "filter_size",
    "filters": "filters",
    "stride": "stride",
    "padding": "padding",
    "activation": "activation",
    "leaky_slope": "leaky_slope",
    "pool_type": "pool_type",
    "pool": "pool",
    "pool_stride": "pool_stride",
}


def _add_spec_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="read the network from a TOML file")
    parser.add_argument("--input", metavar="HxW", help="input image size (6x6)")
    parser.add_argument("--channels", metavar="C", help="input channels (1)")
    parser.add_argument("--filter", metavar="KxK", help="filter size (3x3)")
    parser.add_argument("--filters", metavar="K", help="number of filters, each with a bias (1)")
    parser.add_argument("--stride", metavar="S", help="convolution stride (1)")
    parser.add_argument("--padding", metavar="P", help="zero padding on every side (0)")
    parser.add_argument(
        "--activation",
        metavar="NAME",
        help="relu, leaky_relu, sigmoid, tanh or identity (relu)",
    )
    parser.add_argument("--leaky-slope", metavar="A", help="leaky ReLU slope (0.01)")
    parser.add_argument("--pool-type", metavar="TYPE", help="max, avg or none (max)")
    parser.add_argument("--pool", metavar="P", help="pool window size (2)")
    parser.add_argument(
        "--pool-stride", default=None, metavar="S", help="pool stride (default: the pool size)"
    )
    parser.add_argument(
        "--allow-large",
        action="store_true",
        help="derive even when the symbolic work is estimated to be large",
    )


def _add_report_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="print only errors and the final line"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON report on stdout instead of the tables (schema in the README)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="symbp", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"symbp {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_derive_command(commands)
    _add_laws_command(commands)
    _add_train_command(commands)
    _add_verify_command(commands)
    _add_explain_command(commands)
    return parser


def _add_derive_command(commands: Any) -> None:
    derive = commands.add_parser("derive", help="derive, prove, compile, verify and write files")
    _add_spec_options(derive)
    derive.add_argument(
        "--out", default="output", metavar="DIR", help="folder for the generated files (output)"
    )
    derive.add_argument(
        "--title",
        default=DEFAULT_TITLE,
        help=f"document title, at most {MAX_TITLE} characters",
    )
    _add_report_options(derive)
    derive.add_argument(
        "--train",
        action="store_true",
        help="also train the network on handwritten digits (symbp train's defaults) and add a "
        "Training section with its curve, learned filters and test accuracy (needs the train "
        "extra: pip install 'symbp[train]')",
    )
    derive.add_argument(
        "--format",
        default=DEFAULT_FORMATS,
        metavar="LIST",
        help="comma list of the files to write: tex, pdf, md, py, ipynb, html (default: "
        f"{DEFAULT_FORMATS}). pdf needs latexmk or pdflatex; without one it is skipped with a "
        "notice; ipynb (a Jupyter notebook) needs the extra: pip install 'symbp[notebook]'; "
        "html (one interactive page) needs: pip install 'symbp[html]'",
    )
    derive.add_argument(
        "--stages",
        choices=("auto", "elementwise", "array"),
        default="auto",
        help="how gradients.py computes: elementwise (one printed line per element), array (each "
        "stage as array code, licensed by its proof, checked against the engine before it is "
        "written) or auto (array from a symbolic cost of 2000 on, so the teaching network keeps "
        "its readable module; default)",
    )


def _add_laws_command(commands: Any) -> None:
    laws = commands.add_parser(
        "laws",
        help="the convolution-gradient laws for every size, proved, and checked at this network",
        description="Print every law the network calls for (output size, dW, dB, dX, pooling, "
        "activations, the head, the matrix view) in index form over symbolic sizes, how each "
        "was established ([holds: symbolic] or [holds: checked for all sizes up to ...]), and "
        "whether, at this network's sizes, it reproduces every element of the element-wise "
        "derivation. Exit status 1 if any law or instance fails.",
    )
    _add_spec_options(laws)
    _add_report_options(laws)
    add_laws_arguments(laws)


def _add_train_command(commands: Any) -> None:
    train = commands.add_parser(
        "train",
        help="train the network on handwritten digits with its derived gradients",
        description="Gradient descent on scikit-learn's handwritten digits (one digit against "
        "another), with the gradients of the generated module; writes training.json, the loss "
        "curve and the learned filters. Needs the extra: pip install 'symbp[train]'.",
    )
    _add_spec_options(train)
    _add_report_options(train)
    add_train_arguments(train)


def _add_verify_command(commands: Any) -> None:
    verify = commands.add_parser("verify", help="check the compiled gradients against references")
    _add_spec_options(verify)
    _add_report_options(verify)


def _add_explain_command(commands: Any) -> None:
    explain = commands.add_parser(
        "explain",
        help="one gradient element as its sum of products, or one law (symbp laws lists them)",
        description="Print one gradient element, e.g. dW1[0,1], dB1, dX[3,4] or dZ1[1,1]: its "
        "explicit sum of products, the chain from the loss, and grids of the entries that meet; "
        "or one law by name (e.g. dX, dW, 'output size'), with this network's sizes put in. "
        "Quote the element in shells that expand brackets (zsh): symbp explain 'dW1[0,1]'.",
    )
    explain.add_argument(
        "element", nargs="+", metavar="ELEMENT", help="gradient element, e.g. dW1[0,1]"
    )
    _add_spec_options(explain)


def parse_formats(text: str) -> list[str]:
    """'pdf, TEX' -> ['tex', 'pdf'] in the canonical order; UsageError naming the valid ones."""
    names = [word.strip().lower() for word in text.split(",") if word.strip()]
    unknown = [name for name in names if name not in FORMATS]
    if unknown or not names:
        listed = clipped(", ".join(map(repr, unknown)))
        what = f"unknown --format {listed}" if unknown else "empty --format"
        raise UsageError(
            f"{what}; valid formats: {', '.join(_listed_formats())} as a comma list, "
            "e.g. --format tex,pdf"
        )
    return [name for name in FORMATS if name in names]


def _listed_formats() -> list[str]:
    """The default formats, then the others (ipynb): the order --help and errors name them."""
    defaults = DEFAULT_FORMATS.split(",")
    return [*defaults, *(name for name in FORMATS if name not in defaults)]


def _spec(args: argparse.Namespace) -> NetworkSpec:
    """The network from --config, or from the flags (defaults: the teaching network)."""
    given = {key: getattr(args, key) for key in SPEC_FLAGS if getattr(args, key) is not None}
    if args.config is not None:
        if given:
            flags = ", ".join(f"--{key.replace('_', '-')}" for key in given)
            raise UsageError(
                f"--config cannot be combined with {flags}; put those values in the file"
            )
        from symbp.spec.config import load_config

        return load_config(checked_config(args.config), allow_large=args.allow_large)
    if str(given.get("pool_type", "")).strip().lower() == "none":
        pooling = [f"--{k.replace('_', '-')}" for k in ("pool", "pool_stride") if given.get(k)]
        if pooling:
            raise UsageError(f"{' and '.join(pooling)} cannot be combined with --pool-type none")
    leaky = str(given.get("activation", "")).strip().lower() in ("leaky_relu", "leaky-relu")
    if "leaky_slope" in given and not leaky:
        raise UsageError("--leaky-slope needs --activation leaky_relu")
    values = {SPEC_FLAGS[key]: value for key, value in given.items()}
    return spec_from_strings(allow_large=args.allow_large, **values)


def checked_config(where: str) -> str:
    """The --config path, or UsageError naming the fix: for a missing file or a folder the
    reader's own message would say only what the system said ("No such file or directory")."""
    name, example = clipped(where), "for example --config examples/teaching.toml"
    if os.path.isdir(where):
        raise UsageError(f"cannot read config {name}: it is a folder; name a TOML file, {example}")
    if not os.path.exists(where):  # a dangling link, or a name no file could have, too
        raise UsageError(f"cannot read config {name}: no such file; check the path, {example}")
    return where


def checked_title(text: str) -> str:
    """The --title as given, or UsageError: undecodable bytes, control characters or an
    essay-length title would fail late (in the encoder or in TeX) or bloat every page."""
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        raise UsageError(
            "--title holds bytes that are not UTF-8 text; write the title in UTF-8 "
            f"(got {shown(text)})"
        )
    control = next((ch for ch in text if unicodedata.category(ch) in ("Cc", "Cs")), None)
    if control is not None:
        raise UsageError(
            f"--title holds the control character {control!r}; write the title on one line "
            "of printable text"
        )
    if len(text) > MAX_TITLE:
        raise UsageError(f"--title is {len(text):,} characters; keep it to {MAX_TITLE}")
    return text


class _Console:
    """Where each kind of message goes: details on stdout (not with --quiet or --json), the
    final line (not with --json), warnings and errors always on stderr, notes unless quiet."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.quiet = bool(getattr(args, "quiet", False))
        self.json = bool(getattr(args, "json", False))

    def detail(self, text: str) -> None:
        if not (self.quiet or self.json):
            _say(text)

    def final(self, text: str) -> None:
        if not self.json:
            _say(text)

    def note(self, text: str) -> None:
        if not self.quiet:
            _say(f"symbp: note: {text}", sys.stderr)

    def warn(self, text: str) -> None:
        _say(text, sys.stderr)

    def summary(self, checked: Checked) -> None:
        spec, report = checked.spec, checked.report
        self.detail(f"network: {spec.label}")
        self.detail(f"trainable parameters: {spec.parameter_count} ({spec.parameter_breakdown})")
        self.detail("proofs:")
        for proof in checked.proofs:
            self.detail(f"  {proof}")
        kind = "array-level" if checked.stages == "array" else "element-wise"
        self.detail(f"compiled gradients ({kind} module) against independent references:")
        self.detail(report.table())

    def report(self, command: str, checked: Checked, code: int, **extra: Any) -> int:
        """With --json, the one JSON document; returns the exit code either way."""
        if self.json:
            from symbp.report import dumps, report_data

            data = report_data(command, checked, **extra)
            data["exit_code"] = code
            _say(dumps(data))
        return code


def _laws_for_documents(formats: list[str]) -> Callable[[Any], object] | None:
    """The documents open with the general laws: build them while the proofs run."""
    if not set(formats) & {"tex", "md", "pdf", "ipynb", "html"}:
        return None
    from symbp.laws.established import prepare

    return prepare  # the general laws and the bridge to this derivation


def _run_derive(args: argparse.Namespace) -> int:
    from symbp.pipeline import check_spec
    from symbp.support.files import prepare_directory

    console = _Console(args)
    formats = parse_formats(args.format)
    args.title = checked_title(args.title)
    start = time.perf_counter()
    spec = _spec(args)
    if args.train:
        _require_training_extra()
    if "ipynb" in formats:
        _require_notebook_extra()
    if "html" in formats:
        _require_html_extra()
    out = prepare_directory(args.out)
    stages = getattr(args, "stages", "auto")
    checked = check_spec(spec, meanwhile=_laws_for_documents(formats), stages=stages)
    console.summary(checked)
    if not checked.passed:
        console.warn("verification FAILED: nothing was written")
        return console.report("derive", checked, EXIT_FAILED)

    # Everything is rendered in memory first; files are written only once all of it worked.
    try:
        training, figures = _training(checked, formats, console) if args.train else (None, {})
    except ArithmeticError as error:  # TrainingDiverged: this network, at train's defaults
        _say(f"symbp: error: {error}; nothing was written", sys.stderr)
        return EXIT_FAILED
    clock = time.perf_counter()
    files, tex = _render(args, checked, formats, training)
    files.update(figures)
    seconds = {"render": time.perf_counter() - clock}
    notes: list[str] = []
    pdf_data: dict[str, Any] | None = None
    if "pdf" in formats:
        from symbp.document.pdf import LatexError, compile_pdf, missing_engine_notice

        try:
            pictures = {n: data for n, data in figures.items() if n.endswith(".pdf")}
            compiled = compile_pdf(tex, jobname=Path(FORMATS["tex"]).stem, files=pictures)
        except LatexError as error:
            written = _latex_failed(out, files, tex, error, start, console)
            return console.report("derive", checked, EXIT_FAILED, files=written, notes=[str(error)])
        if compiled is None:
            notes.append(missing_engine_notice(FORMATS["pdf"]))
        else:
            pdf, result = compiled
            files[FORMATS["pdf"]] = pdf
            seconds["pdf"] = result.seconds
            pdf_data = _pdf_facts(result, console)
    _write(out, files)
    for notice in notes:
        console.note(notice)
    console.final(_written(out, files, start))
    seconds["total"] = time.perf_counter() - start
    listed = [str(out / name) for name in files]
    extra = {"files": listed, "pdf": pdf_data, "notes": notes, "seconds": seconds}
    return console.report("derive", checked, EXIT_OK, **extra)


def _pdf_facts(result: Any, console: _Console) -> dict[str, Any]:
    """What the report says about a compiled PDF; the details line, and a warning for an
    undefined reference."""
    pages = f"{result.pages} pages" if result.pages is not None else "? pages"
    console.detail(
        f"pdf: {pages}, {result.overfull_boxes} overfull boxes, "
        f"compiled by {result.engine} ({result.runs} passes) in {result.seconds:.2f} s"
    )
    if result.undefined_references:
        console.warn(f"symbp: warning: {result.undefined_references[0]}")
    return {
        "pages": result.pages,
        "overfull_boxes": result.overfull_boxes,
        "engine": result.engine,
        "runs": result.runs,
    }


def _require_training_extra() -> None:
    from symbp.training import MissingExtraError, require_training_extra

    try:
        require_training_extra()
    except MissingExtraError as error:
        raise UsageError(f"--train: {error}") from None


def _require_notebook_extra() -> None:
    from symbp.document.ipynb import MissingExtraError, require_nbformat

    try:
        require_nbformat()
    except MissingExtraError as error:
        raise UsageError(str(error)) from None


def _require_html_extra() -> None:
    from symbp.document.html import MissingExtraError, require_html

    try:
        require_html()
    except MissingExtraError as error:
        raise UsageError(str(error)) from None


def _training(
    checked: Checked, formats: list[str], console: _Console
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Train with `symbp train`'s defaults: what the Training section shows, and its figures
    (PDF beside the .tex and for the PDF build, PNG beside the .md)."""
    from symbp.training import TrainingSettings, train, training_figures, training_section_data

    progress.step("training on handwritten digits")
    result = train(checked.spec, TrainingSettings(), module=checked.module)
    facts = {
        **training_section_data(result),
        "figures": {"curve": "training-curve", "filters": "training-filters"},
    }
    figures: dict[str, bytes] = {}
    if "tex" in formats or "pdf" in formats:
        figures.update(training_figures(result, "latex"))
    if "md" in formats:
        figures.update(training_figures(result, "markdown"))
    console.detail(
        f"training: test accuracy {facts['test_accuracy']:.1%} after {facts['steps']} steps "
        f"(majority class {facts['majority_rate']:.1%})"
    )
    return facts, figures


def _checks(checked: Checked) -> dict[str, Any]:
    """The document's gradient-check table: the verified module at the two example points,
    beside central differences and PyTorch (its worker's answers, when it ran)."""
    from symbp.reference.gradient_table import gradient_table

    progress.step("checking the document's gradient table")
    return gradient_table(checked.spec, checked.module, checked.report.torch_points)


def _render(
    args: argparse.Namespace,
    checked: Checked,
    formats: list[str],
    training: dict[str, Any] | None = None,
) -> tuple[dict[str, str | bytes], str]:
    """The requested text files in writing order, and the LaTeX source (needed for a PDF too)."""
    from symbp.document.build import render_document, render_markdown

    derivation, proofs = checked.derivation, checked.proofs
    progress.step("rendering the files")
    files: dict[str, str | bytes] = {}
    documents = {"tex", "pdf", "md", "html", "ipynb"}
    checks = _checks(checked) if documents & set(formats) else None
    if "py" in formats:
        files[FORMATS["py"]] = _module_source(args, checked)
    tex = ""
    if "tex" in formats or "pdf" in formats:
        tex = render_document(derivation, proofs, args.title, training=training, checks=checks)
    if "tex" in formats:
        files[FORMATS["tex"]] = tex
    if "md" in formats:
        files[FORMATS["md"]] = render_markdown(
            derivation, proofs, args.title, training=training, checks=checks
        )
    if "ipynb" in formats:
        from symbp.document.ipynb import render_notebook

        source = _module_source(args, checked)
        markdown = files.get(FORMATS["md"]) if training is None else None  # no Training section
        text = markdown if isinstance(markdown, str) else None
        notebook = render_notebook(
            derivation, proofs, source, args.title, markdown=text, checks=checks
        )
        files[FORMATS["ipynb"]] = notebook
    if "html" in formats:
        files[FORMATS["html"]] = _render_html(args, derivation, proofs, files, checks)
    return files, tex


def _render_html(
    args: argparse.Namespace,
    derivation: Derivation,
    proofs: list[Proof],
    files: dict[str, str | bytes],
    checks: dict[str, Any] | None = None,
) -> str:
    """The web page, from the Markdown chapter (rendered again unless it is already there;
    without the Training section, whose figures are separate files)."""
    from symbp.document.build import render_markdown
    from symbp.document.html import render_html

    given = files.get(FORMATS["md"]) if not args.train else None
    markdown = (
        given
        if isinstance(given, str)
        else render_markdown(derivation, proofs, args.title, checks=checks)
    )
    return render_html(derivation, markdown, args.title)


def _module_source(args: argparse.Namespace, checked: Checked) -> str:
    """gradients.py in the stages asked for: the module the pipeline compiled and verified
    (check_spec); stages it could not license (--stages array, a proof failed) are refused."""
    from symbp.codegen.module import generate_source, resolve_stages

    derivation, proofs = checked.derivation, checked.proofs
    stages = getattr(args, "stages", "elementwise")
    if resolve_stages(derivation, stages, proofs) != checked.stages:
        raise RuntimeError(f"the {stages} module was not the one verified; not written")
    command = derivation.spec.command_line()
    return generate_source(derivation, command=command, stages=stages, proofs=proofs)


def _write(out: Path, files: dict[str, str | bytes]) -> None:
    """The run's files as one set: all of them land, or none (see files.write_set)."""
    from symbp.support.files import write_set

    write_set(out, files)


def _written(out: Path, files: dict[str, str | bytes], start: float) -> str:
    listed = ", ".join(str(out / name) for name in files) or "nothing"
    return f"wrote {listed} in {time.perf_counter() - start:.2f} s"


def _latex_failed(
    out: Path,
    files: dict[str, str | bytes],
    tex: str,
    error: Exception,
    start: float,
    console: _Console,
) -> list[str]:
    """Keep the .tex (even if not asked for) so the error can be reproduced; no PDF."""
    files = {**files, FORMATS["tex"]: tex}
    ordered = {name: files[name] for name in FORMATS.values() if name in files}
    _write(out, ordered)
    console.final(_written(out, ordered, start))
    reproduce = f"cd {shlex.quote(str(out))} && pdflatex -halt-on-error {FORMATS['tex']}"
    console.warn(
        f"symbp: error: {error}; no PDF was written, {out / FORMATS['tex']} was kept; "
        f"reproduce with: {reproduce}"
    )
    return [str(out / name) for name in ordered]


def _run_explain(args: argparse.Namespace) -> int:
    from symbp.document.explain import ExplainError, explain, parse_element
    from symbp.symbolic.derivation import derive, quantity_shapes

    element = " ".join(args.element)
    spec = _spec(args)
    law = explain_law(element, spec)
    if law is not None:  # `symbp explain dX` for the law, `symbp explain 'dX[2,3]'` for an element
        _say(law, end="")
        return EXIT_OK
    shapes = {n: s for n, s in quantity_shapes(spec).items() if n not in ("L", "Y")}
    try:
        parse_element(element, shapes)  # refuse a bad name before the derivation's work
        _say(explain(derive(spec), element), end="")
    except ExplainError as error:
        raise UsageError(str(error)) from None
    return EXIT_OK


def _run_laws(args: argparse.Namespace) -> int:
    spec = _spec(args)
    try:
        return run_laws(args, spec)
    except ValueError as error:  # an unknown --law
        raise UsageError(str(error)) from None


def _run_verify(args: argparse.Namespace) -> int:
    from symbp.pipeline import check_spec

    console = _Console(args)
    checked = check_spec(_spec(args))
    console.summary(checked)
    console.final("verification passed" if checked.passed else "verification FAILED")
    return console.report("verify", checked, EXIT_OK if checked.passed else EXIT_FAILED)


def _say(text: str, stream: object = None, end: str = "\n") -> None:
    """print(), except that a reader who stopped reading (`symbp derive | head -1`) does not
    stop the work: the stream is pointed at /dev/null and the run goes on to write its files."""
    target = sys.stdout if stream is None else stream
    if _status.line is not None:
        _status.line.clear()  # a message starts at the left edge, not after the status line
    try:
        print(text, file=target, end=end)  # type: ignore[arg-type]
    except BrokenPipeError:
        _silence(target)


def _silence(stream: object) -> None:
    """Send the rest of a closed pipe's output to /dev/null (Python's documented remedy)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())  # type: ignore[attr-defined]
        os.close(devnull)
    except (OSError, AttributeError, ValueError):  # not a real file: nothing more to do
        pass


def _flush_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            _silence(stream)
        except (OSError, ValueError):
            pass


@contextmanager
def _signals_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM, SIGHUP (terminal closed) and SIGQUIT like Ctrl-C, so temporary files are
    removed and no output set is left half-written."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    caught = [s for s in INTERRUPTS if s != signal.SIGINT]
    try:
        previous = {s: signal.signal(s, interrupt) for s in caught}
    except ValueError:  # not the main thread: leave signal handling alone
        yield
        return
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def console_main() -> NoReturn:
    """The `symbp` command: run, flush, and leave without tearing down SymPy's object graph
    (a tenth of a second that only delays the shell prompt)."""
    code = main()
    _flush_streams()
    os._exit(code)


class _Status:
    """The terminal's status line while a command runs (None: not on a terminal, or quiet)."""

    line: TerminalProgress | None = None


_status = _Status()


@contextmanager
def _progress_shown(args: argparse.Namespace) -> Iterator[None]:
    """Show the core's progress on stderr, only when it is a terminal and --quiet is off."""
    shown_here = sys.stderr.isatty() and not getattr(args, "quiet", False)
    line = TerminalProgress(sys.stderr) if shown_here else None
    _status.line = line
    try:
        with progress.listening(line):
            yield
    finally:
        if line is not None:
            line.clear()
        _status.line = None


def main(argv: Sequence[str] | None = None) -> int:
    """The command; a run that wrote nothing leaves no new empty output folder behind."""
    forget_created()  # folders made by an earlier call in this process are not this run's
    code = _main(argv)
    if code != 0:
        discard_created()
    return code


def _main(argv: Sequence[str] | None) -> int:
    try:
        with _signals_as_interrupt():
            args = build_parser().parse_args(argv)
            with _progress_shown(args):
                if args.command == "derive":
                    return _run_derive(args)
                if args.command == "explain":
                    return _run_explain(args)
                if args.command == "train":
                    return run_train(args, _spec(args))
                if args.command == "laws":
                    return _run_laws(args)
                return _run_verify(args)
    except (UsageError, SpecError, OutputError) as error:
        _say(f"symbp: error: {error}", sys.stderr)
        return EXIT_USAGE
    except OSError as error:  # the disk, not the arguments: a failed write or read
        message = clipped(str(error), 300)
        _say(f"symbp: error: {message}; no file was left half-written", sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        _say("symbp: interrupted; no file was left half-written", sys.stderr)
        return 130
    except Exception as error:  # a bug: one line, and the traceback on request
        if os.environ.get("SYMBP_DEBUG"):
            raise
        _say(
            f"symbp: internal error: {type(error).__name__}: {clipped(str(error), 300)}; no "
            "file was left half-written (set SYMBP_DEBUG=1 for the traceback)",
            sys.stderr,
        )
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
