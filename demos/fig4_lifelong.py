#!/usr/bin/env python3
"""Fig. 4: lifelong learning with presynaptic consolidation (MODEL.md §B5).

Split MNIST (5 digit-pair tasks, 2 outputs) learned one task after another by
presynaptic consolidation (Bernoulli synapses, the rule of §B2 with the (1 - p)
learning-rate factor and freezing of p), the standard model (deterministic
synapses, plain SGD), EWC and BGD. Panels: accuracy on the first task during
training (Fig. 4b), final mean accuracy over the tasks (Fig. 4c), and every
method's accuracy matrix acc[i, j] (task j after task i).

Quick by default: the embedded 5,000-digit sample, 784-100-100-2, 5 epochs a
task, 3 seeds (a few minutes). ``--full``: the paper's settings (784-200-200,
10 epochs a task, minibatch 100, lr 1e-3 for Split / 1e-2 for Permuted) on
full MNIST (``--data-dir``), 5 seeds, Bernoulli networks scored by the softmax
averaged over 10 release samples (``--eval-mode predictive``); ``--dataset fashion-mnist`` for
Fashion-MNIST. Any other option of ``minisyn lifelong`` (``--protocol
permuted``, ``--methods``, ``--sizes``, ``--train-limit``, ...) is passed on.
Runs are saved in ``<out>/runs/``: rerunning resumes.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import minisyn  # noqa: F401
except ImportError:  # running from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minisyn.cli import CLIError  # noqa: E402
from minisyn.experiments import lifelong  # noqa: E402

NAME = "fig4_lifelong"
METHODS = "presynaptic,sgd,ewc,bgd"


def run_demo(argv, name, methods, doc):
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="paper settings on full MNIST, 5 seeds")
    ap.add_argument("--out", default=None, help=f"output folder (default: runs/{name}[-full])")
    args, rest = ap.parse_known_args(argv)
    parser = argparse.ArgumentParser(prog=name)
    sub = parser.add_subparsers(dest="command")
    lifelong.register(sub)
    extra = ["--methods", methods]
    if args.full:
        extra += ["--paper", "--n-seeds", "5"]
        if "--dataset" not in rest:
            extra += ["--dataset", "mnist"]
        if "--eval-mode" not in rest:
            extra += ["--eval-mode", "predictive"]    # the authors' evaluation (docs/lifelong.md)
    out = args.out or f"runs/{name}{'-full' if args.full else ''}"
    largs = parser.parse_args(["lifelong", *extra, "--out", out, *rest])
    try:
        return lifelong.run_cli(largs)
    except (CLIError, ValueError, OSError) as err:
        print(f"{name}: error: {err}", file=sys.stderr)
        return 2


def main(argv=None):
    return run_demo(argv, NAME, METHODS, __doc__)


if __name__ == "__main__":
    sys.exit(main())
