"""The ``swinseg`` command line: one module per subcommand, each with ``add_parser(subparsers)``.

Errors are one line naming the problem (``swinseg predict: error: photos/a.jpg: cannot identify image file``);
``--verbose`` shows the traceback as well. Exit status: 0 done, 1 error, 2 bad usage, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
import warnings

from swinseg.core.errors import NoticeWarning, first_line
from swinseg.core.memory import HUGE_PAGES_ENV
from swinseg.core.stopping import Stopped

__all__ = ["build_parser", "main"]

# subcommand -> module in swinseg.cli that defines add_parser(subparsers); in the order --help lists them
COMMANDS = {
    "demo": "demo",
    "train": "train",
    "eval": "evaluate",
    "predict": "predict",
    "score": "score",
    "compare": "compare",
    "aggregate": "aggregate",
    "leaderboard": "leaderboard",
    "benchmark": "benchmark",
    "convert": "convert",
    "export": "export",
    "data": "data",
}

EXAMPLES = """examples:
  swinseg demo                                   # synthetic data -> train -> evaluate -> report, on CPU
  swinseg train configs/upernet_swin_t_ade20k_512.yaml --set data.root=data/ade/ADEChallengeData2016
  swinseg eval runs/upernet_swin_t_ade20k_512/best.safetensors --data data/ade/ADEChallengeData2016
  swinseg predict model.safetensors photos/ --out predictions/ --overlay
  swinseg compare a.npz b.npz --plot deltas.png                # paired difference in mIoU, interval, p-value
  swinseg <command> --help                       # options and examples of one command
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="swinseg",
        description="Semantic segmentation with Swin Transformers.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--verbose", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS.values():
        importlib.import_module(f"swinseg.cli.{module}").add_parser(sub)
    return parser


def _one_line_notices(command: str):  # noqa: ANN202
    """swinseg's notices (:class:`NoticeWarning`) as one line each on stderr; other warnings as Python shows them."""
    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
        if issubclass(category, NoticeWarning):
            print(f"swinseg {command}: warning: {message}", file=sys.stderr)
        else:
            shown(message, category, filename, lineno, file, line)

    return show


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault(HUGE_PAGES_ENV, "1")  # huge pages (core.memory), before the subcommands import torch
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_notices(args.command)
            return args.run(args)
    except Stopped as e:  # a stop signal: the work saved what it needs, the same command continues it
        print(f"swinseg {args.command}: {e}", file=sys.stderr)
        return e.exit_status
    except KeyboardInterrupt:
        print(f"swinseg {args.command}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, RuntimeError, ImportError) as e:
        if args.verbose:
            traceback.print_exc()
        print(f"swinseg {args.command}: error: {first_line(e)}", file=sys.stderr)
        return 1
