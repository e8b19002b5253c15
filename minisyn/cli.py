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
from minisyn.experiments import (analyses, bayes, energy_info, importance, kit, lifelong, perceptron, quantal,
                                 tradeoff, train)

__all__ = ["main", "run", "build_parser", "COMMANDS", "CLIError"]

CLIError = kit.CLIError

#: The experiment modules, in the order ``minisyn --help`` lists their commands.
COMMANDS = (train, tradeoff, importance, lifelong, energy_info, analyses, bayes, perceptron, quantal)


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


def main(argv=None, *, exiting=False):
    """Run one command; returns its exit status.

    0: finished; 2: a user error or a diverged run (one line, no traceback);
    130 / 143: stopped by Ctrl-C / SIGTERM (one line; the finished work is saved).
    The command runs in its output folder's :class:`~minisyn.experiments.kit.RunFolder`
    (lock, run id, status), with the BLAS thread limit. A signal that arrives
    after the run is marked finished changes nothing (see
    :class:`~minisyn.experiments.kit.Signals`); ``exiting`` (the console
    command) leaves both signals ignored for the moments before the process exits.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    out = None
    signals = kit.Signals(ignore_after=exiting)
    try:
        with signals:
            out = kit.out_dir(args)
            with kit.blas_threads(getattr(args, "threads", kit.DEFAULT_THREADS)), \
                    kit.RunFolder(out, command="minisyn " + " ".join(argv), force=args.force):
                code = args.func(args)
                signals.defer()                         # the work is done: from here a signal is only noted
        if signals.late:
            print(f"minisyn {args.command}: {' and '.join(signals.late)} came after the run had finished; "
                  f"its results in {out}/ are complete", file=sys.stderr)
        return code
    except KeyboardInterrupt as err:
        if signals.deferred:                                        # came as the handlers were put back
            return code
        how = "SIGTERM" if isinstance(err, kit.Terminated) else "Ctrl-C"
        print(f"minisyn {args.command}: interrupted ({how}); the finished work is saved in {out}/ "
              f"(status 'interrupted' in {kit.RUN_FILE}): rerun the same command to resume", file=sys.stderr)
        return 143 if isinstance(err, kit.Terminated) else 130
    except OSError as err:                                          # a file or folder that cannot be used
        what = f"{err.filename}: {err.strerror}" if err.filename else str(err)
        print(f"minisyn {args.command}: error: cannot use {what} (check the path and its permissions)",
              file=sys.stderr)
        return 2
    except (CLIError, ValueError, MemoryError) as err:              # bad options, data, too little memory
        print(f"minisyn {args.command}: error: {err}", file=sys.stderr)
        return 2


def run():
    """The console command ``minisyn`` (and ``python -m minisyn``): :func:`main`, about to exit."""
    return main(exiting=True)


if __name__ == "__main__":
    sys.exit(run())
