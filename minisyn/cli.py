"""The ``minisyn`` command line (also ``python -m minisyn``): the parser and the command registry.

Each command lives in an experiment module with ``register(subparsers)``,
which adds its parser and sets ``func``; ``func(args)`` runs it. What commands
share (option groups, data preparation, the run store, file writing) is in
:mod:`minisyn.experiments.kit` and :mod:`minisyn.output`.
"""
from __future__ import annotations

import argparse
import sys

from minisyn import __version__
from minisyn.experiments import analyses, bayes, energy_info, importance, kit, lifelong, perceptron, tradeoff, train

__all__ = ["main", "build_parser", "COMMANDS", "CLIError"]

CLIError = kit.CLIError

#: The experiment modules, in the order ``minisyn --help`` lists their commands.
COMMANDS = (train, tradeoff, importance, lifelong, energy_info, analyses, bayes, perceptron)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="minisyn", formatter_class=kit.Formatter,
        description="Networks of stochastic, energy-efficient synapses, written out by hand in numpy "
                    "(equations: MODEL.md; see docs/).")
    parser.add_argument("--version", action="version", version=f"minisyn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv=None):
    """Run one command; returns its exit status (2 for a user error, printed in one line)."""
    args = build_parser().parse_args(argv)
    try:
        with kit.blas_threads(getattr(args, "threads", kit.DEFAULT_THREADS)):
            return args.func(args)
    except (CLIError, ValueError, OSError, MemoryError) as err:   # bad options, data, too little memory
        print(f"minisyn {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
