"""The `symbp` command line: derive, verify, explain.

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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

from . import __version__
from .files import OutputError
from .spec import DEFAULT_SYMBOLIC_BUDGET, NetworkSpec, SpecError, spec_from_strings

if TYPE_CHECKING:  # imported lazily at run time: `symbp --help` stays fast
    from .derivation import Derivation
    from .proofs import Proof

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

# --format name -> the file it writes, in the order files are written and listed.
FORMATS = {
    "py": "gradients.py",
    "tex": "cnn_backprop.tex",
    "md": "cnn_backprop.md",
    "pdf": "cnn_backprop.pdf",
}
DEFAULT_FORMATS = "tex,pdf,md,py"


class UsageError(Exception):
    """Bad command-line input; the message is the one line the user sees."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


SPEC_DEFAULTS = {
    "input": "6x6",
    "channels": "1",
    "filter": "3x3",
    "filters": "1",
    "stride": "1",
    "padding": "0",
    "activation": "relu",
    "leaky_slope": "0.01",
    "pool_type": "max",
    "pool": "2",
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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="symbp", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"symbp {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    derive = commands.add_parser("derive", help="derive, prove, compile, verify and write files")
    _add_spec_options(derive)
    derive.add_argument(
        "--out", default="output", metavar="DIR", help="folder for the generated files (output)"
    )
    derive.add_argument(
        "--title",
        default="Backpropagation in a Convolutional Neural Network",
        help="document title",
    )
    derive.add_argument(
        "--format",
        default=DEFAULT_FORMATS,
        metavar="LIST",
        help="comma list of the files to write: tex, pdf, md, py (default: all). "
        "pdf needs latexmk or pdflatex; without one it is skipped with a notice",
    )

    verify = commands.add_parser("verify", help="check the compiled gradients against references")
    _add_spec_options(verify)

    explain = commands.add_parser(
        "explain",
        help="one gradient element as its sum of products, with grids of what meets",
        description="Print one gradient element, e.g. dW1[0,1], dB1, dX[3,4] or dZ1[1,1]: its "
        "explicit sum of products, the chain from the loss, and grids of the entries that meet. "
        "Quote the element in shells that expand brackets (zsh): symbp explain 'dW1[0,1]'.",
    )
    explain.add_argument(
        "element", nargs="+", metavar="ELEMENT", help="gradient element, e.g. dW1[0,1]"
    )
    _add_spec_options(explain)
    return parser


def parse_formats(text: str) -> list[str]:
    """'pdf, TEX' -> ['tex', 'pdf'] in the canonical order; UsageError naming the valid ones."""
    names = [word.strip().lower() for word in text.split(",") if word.strip()]
    unknown = [name for name in names if name not in FORMATS]
    if unknown or not names:
        what = f"unknown --format {', '.join(map(repr, unknown))}" if unknown else "empty --format"
        raise UsageError(
            f"{what}; valid formats: {DEFAULT_FORMATS.replace(',', ', ')} as a comma list, "
            "e.g. --format tex,pdf"
        )
    return [name for name in FORMATS if name in names]


def _spec(args: argparse.Namespace) -> NetworkSpec:
    """The network from --config, or from the flags (defaults: the teaching network)."""
    flags = {key: getattr(args, key) for key in SPEC_DEFAULTS}
    if args.config is not None:
        given = [f"--{k.replace('_', '-')}" for k, v in flags.items() if v is not None]
        if args.pool_stride is not None:
            given.append("--pool-stride")
        if given:
            raise UsageError(
                f"--config cannot be combined with {', '.join(given)}; put those values in the file"
            )
        from .config import load_config

        return load_config(args.config, allow_large=args.allow_large)
    values = {k: SPEC_DEFAULTS[k] if v is None else v for k, v in flags.items()}
    if values["pool_type"].strip().lower() == "none":
        given = [f for f, v in (("--pool", args.pool), ("--pool-stride", args.pool_stride)) if v]
        if given:
            raise UsageError(f"{' and '.join(given)} cannot be combined with --pool-type none")
    if args.leaky_slope is not None and values["activation"].strip().lower() not in (
        "leaky_relu",
        "leaky-relu",
    ):
        raise UsageError("--leaky-slope needs --activation leaky_relu")
    return spec_from_strings(
        values["input"],
        values["filter"],
        values["pool"],
        args.pool_stride,
        allow_large=args.allow_large,
        channels=values["channels"],
        filters=values["filters"],
        stride=values["stride"],
        padding=values["padding"],
        activation=values["activation"],
        leaky_slope=values["leaky_slope"],
        pool_type=values["pool_type"],
    )


def _command_line(spec: NetworkSpec) -> str:
    """The command that regenerates the module, written from the validated spec (never from
    the raw arguments, so no user text reaches the generated source). Several blocks need a
    config file: the command names one, and the module's header prints its text."""
    if len(spec.blocks) > 1:
        return "symbp derive --config net.toml"
    (h, w), (kh, kw) = spec.input_shape, spec.filter_shape
    words = ["symbp derive", f"--input {h}x{w}"]
    if spec.channels != 1:
        words.append(f"--channels {spec.channels}")
    words.append(f"--filter {kh}x{kw}")
    for flag, value, default in (
        ("--filters", spec.filters, 1),
        ("--stride", spec.stride, 1),
        ("--padding", spec.padding, 0),
        ("--activation", spec.activation, "relu"),
    ):
        if value != default:
            words.append(f"{flag} {value}")
    if spec.activation == "leaky_relu":
        words.append(f"--leaky-slope {spec.leaky_slope!r}")
    if spec.pool_type != "max":
        words.append(f"--pool-type {spec.pool_type}")
    if spec.pool_type != "none":
        words.append(f"--pool {spec.pool_size}")
        if spec.pool_step != spec.pool_size:
            words.append(f"--pool-stride {spec.pool_step}")
    if spec.symbolic_cost > DEFAULT_SYMBOLIC_BUDGET:
        words.append("--allow-large")
    return " ".join(words)


def _run_derive(args: argparse.Namespace) -> int:
    from .files import prepare_directory
    from .verify import start_torch_reference, verify

    formats = parse_formats(args.format)
    start = time.perf_counter()
    spec = _spec(args)
    out = prepare_directory(Path(args.out))
    torch_answers = start_torch_reference(spec)  # PyTorch works on the other core meanwhile

    from .codegen import load  # SymPy is imported here, while the worker starts
    from .derivation import derive
    from .proofs import prove_all

    derivation = derive(spec)
    proofs = prove_all(derivation)
    report = verify(spec, load(derivation), torch_future=torch_answers)
    _print_summary(spec, proofs, report)
    failed = [p for p in proofs if not p.holds]
    if failed or not report.passed:
        print("verification FAILED: nothing was written", file=sys.stderr)
        return EXIT_FAILED

    # Everything is rendered in memory first; files are written only once all of it worked.
    files, tex = _render(args, derivation, proofs, formats)
    notice = ""
    if "pdf" in formats:
        from .latex import LatexError, compile_pdf, missing_engine_notice

        try:
            compiled = compile_pdf(tex, jobname=Path(FORMATS["tex"]).stem)
        except LatexError as error:
            return _latex_failed(out, files, tex, error, start)
        if compiled is None:
            notice = missing_engine_notice(FORMATS["pdf"])
        else:
            pdf, result = compiled
            files[FORMATS["pdf"]] = pdf
            pages = f"{result.pages} pages" if result.pages is not None else "? pages"
            print(
                f"pdf: {pages}, {result.overfull_boxes} overfull boxes, "
                f"compiled by {result.engine} ({result.runs} passes) in {result.seconds:.2f} s"
            )
            if result.undefined_references:
                print(f"symbp: warning: {result.undefined_references[0]}", file=sys.stderr)
    _write(out, files)
    if notice:
        print(f"symbp: note: {notice}", file=sys.stderr)
    _print_written(out, files, start)
    return EXIT_OK


def _render(
    args: argparse.Namespace, derivation: Derivation, proofs: list[Proof], formats: list[str]
) -> tuple[dict[str, str | bytes], str]:
    """The requested text files in writing order, and the LaTeX source (needed for a PDF too)."""
    from .codegen import generate_source
    from .document import render_document, render_markdown

    files: dict[str, str | bytes] = {}
    if "py" in formats:
        files[FORMATS["py"]] = generate_source(derivation, command=_command_line(derivation.spec))
    tex = ""
    if "tex" in formats or "pdf" in formats:
        tex = render_document(derivation, proofs, args.title)
    if "tex" in formats:
        files[FORMATS["tex"]] = tex
    if "md" in formats:
        files[FORMATS["md"]] = render_markdown(derivation, proofs, args.title)
    return files, tex


def _write(out: Path, files: dict[str, str | bytes]) -> None:
    from .files import write_atomic

    for name, data in files.items():
        write_atomic(out / name, data)


def _print_written(out: Path, files: dict[str, str | bytes], start: float) -> None:
    listed = ", ".join(str(out / name) for name in files) or "nothing"
    print(f"wrote {listed} in {time.perf_counter() - start:.2f} s")


def _latex_failed(
    out: Path, files: dict[str, str | bytes], tex: str, error: Exception, start: float
) -> int:
    """Keep the .tex (even if not asked for) so the error can be reproduced; no PDF."""
    files = {**files, FORMATS["tex"]: tex}
    ordered = {name: files[name] for name in FORMATS.values() if name in files}
    _write(out, ordered)
    _print_written(out, ordered, start)
    reproduce = f"cd {shlex.quote(str(out))} && pdflatex -halt-on-error {FORMATS['tex']}"
    print(
        f"symbp: error: {error}; no PDF was written, {out / FORMATS['tex']} was kept; "
        f"reproduce with: {reproduce}",
        file=sys.stderr,
    )
    return EXIT_FAILED


def _run_explain(args: argparse.Namespace) -> int:
    from .derivation import derive, quantity_shapes
    from .explain import ExplainError, explain, parse_element

    element = " ".join(args.element)
    spec = _spec(args)
    shapes = {n: s for n, s in quantity_shapes(spec).items() if n not in ("L", "Y")}
    try:
        parse_element(element, shapes)  # refuse a bad name before the derivation's work
        print(explain(derive(spec), element), end="")
    except ExplainError as error:
        raise UsageError(str(error)) from None
    return EXIT_OK


def _run_verify(args: argparse.Namespace) -> int:
    from .codegen import load
    from .derivation import derive
    from .proofs import prove_all
    from .verify import start_torch_reference, verify

    spec = _spec(args)
    torch_answers = start_torch_reference(spec)
    derivation = derive(spec)
    proofs = prove_all(derivation)
    report = verify(spec, load(derivation), torch_future=torch_answers)
    _print_summary(spec, proofs, report)
    ok = report.passed and all(p.holds for p in proofs)
    print("verification passed" if ok else "verification FAILED")
    return EXIT_OK if ok else EXIT_FAILED


def _print_summary(spec: NetworkSpec, proofs: list, report: object) -> None:
    print(f"network: {spec.label}")
    print(f"trainable parameters: {spec.parameter_count} ({spec.parameter_breakdown})")
    print("proofs:")
    for proof in proofs:
        print(f"  {proof}")
    print("compiled gradients against independent references:")
    print(report.table())  # type: ignore[attr-defined]


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C, so temporary files are removed and nothing half-written stays."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signal handling alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def console_main() -> NoReturn:
    """The `symbp` command: run, flush, and leave without tearing down SymPy's object graph
    (a tenth of a second that only delays the shell prompt)."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        with _sigterm_as_interrupt():
            args = build_parser().parse_args(argv)
            if args.command == "derive":
                return _run_derive(args)
            if args.command == "explain":
                return _run_explain(args)
            return _run_verify(args)
    except (UsageError, SpecError, OutputError) as error:
        print(f"symbp: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:  # the disk, not the arguments: a failed write or read
        print(f"symbp: error: {error}; files already written are whole", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("symbp: interrupted; no partial files were written", file=sys.stderr)
        return 130
    except Exception as error:  # a bug: one line, and the traceback on request
        if os.environ.get("SYMBP_DEBUG"):
            raise
        print(
            f"symbp: internal error: {type(error).__name__}: {error}; no partial files were "
            "written (set SYMBP_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
