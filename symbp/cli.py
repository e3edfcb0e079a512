"""The `symbp` command line: derive, verify.

Exit status: 0 success, 1 a proof or the verification failed, 2 bad arguments or an impossible
network (one line on stderr naming the problem; never a traceback, never a partial file).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from . import __version__
from .spec import NetworkSpec, SpecError, spec_from_strings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad command-line input; the message is the one line the user sees."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _add_spec_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", default="6x6", metavar="HxW", help="input image size (6x6)")
    parser.add_argument("--filter", default="3x3", metavar="KxK", help="filter size (3x3)")
    parser.add_argument("--pool", default="2", metavar="P", help="max-pool window size (2)")
    parser.add_argument(
        "--pool-stride", default=None, metavar="S", help="max-pool stride (default: the pool size)"
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

    verify = commands.add_parser("verify", help="check the compiled gradients against references")
    _add_spec_options(verify)
    return parser


def _spec(args: argparse.Namespace) -> NetworkSpec:
    return spec_from_strings(
        args.input, args.filter, args.pool, args.pool_stride, allow_large=args.allow_large
    )


def _command_line(args: argparse.Namespace) -> str:
    words = [
        "symbp derive",
        f"--input {args.input}",
        f"--filter {args.filter}",
        f"--pool {args.pool}",
    ]
    if args.pool_stride is not None:
        words.append(f"--pool-stride {args.pool_stride}")
    return " ".join(words)


def _run_derive(args: argparse.Namespace) -> int:
    from .codegen import generate_source, load
    from .derivation import derive
    from .document import render_document
    from .files import prepare_directory, write_atomic
    from .proofs import prove_all
    from .verify import verify

    start = time.perf_counter()
    spec = _spec(args)
    out = prepare_directory(Path(args.out))
    derivation = derive(spec)
    proofs = prove_all(derivation)
    source = generate_source(derivation, command=_command_line(args))
    report = verify(spec, load(derivation))
    files = {
        "gradients.py": source,
        "cnn_backprop.tex": render_document(derivation, proofs, args.title),
    }
    _print_summary(spec, proofs, report)
    failed = [p for p in proofs if not p.holds]
    if failed or not report.passed:
        print("verification FAILED: nothing was written", file=sys.stderr)
        return EXIT_FAILED
    for name, text in files.items():
        write_atomic(out / name, text)
    elapsed = time.perf_counter() - start
    print(f"wrote {', '.join(str(out / n) for n in files)} in {elapsed:.2f} s")
    return EXIT_OK


def _run_verify(args: argparse.Namespace) -> int:
    from .codegen import load
    from .derivation import derive
    from .proofs import prove_all
    from .verify import verify

    spec = _spec(args)
    derivation = derive(spec)
    proofs = prove_all(derivation)
    report = verify(spec, load(derivation))
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


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "derive":
            return _run_derive(args)
        return _run_verify(args)
    except (UsageError, SpecError, OSError) as error:
        print(f"symbp: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("symbp: interrupted; no partial files were written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
