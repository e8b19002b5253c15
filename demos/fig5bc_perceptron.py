#!/usr/bin/env python3
"""Fig. 5b, c: lifelong memorisation with a stochastic perceptron (MODEL.md §B6).

Five tasks of random ±1 patterns (100 patterns each, N inputs) are learned one
after another, 25 passes a task, Rosenblatt updates averaged over 5 patterns.
The stochastic perceptron (Bernoulli synapses, presynaptic rule with the
(1 - p) learning-rate factor and freezing, lifelong values of §B2) is compared
with the standard perceptron, on the same tasks for each seed.

Panels: (b) accuracy on the first task during training; (c) accuracy on every
task after the last one; and the final mean accuracy against the load
``5 P / 2N`` (capacity 2N). Mean and SD over seeds.

Writes ``fig5bc_perceptron.png``/``.pdf``, ``first_task.csv``,
``final_accuracy.csv``, ``load_sweep.csv`` and ``results.json``; prints the
first-task accuracy at the end of task 5 for both models (mean ± SD).
"""
from __future__ import annotations

import argparse
import sys

from minisyn.experiments import kit, perceptron

NAME = "fig5bc_perceptron"
QUICK_LOADS = perceptron.QUICK_LOADS
FULL_LOADS = perceptron.FULL_LOADS


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=f"runs/{NAME}", help="output folder (default: %(default)s)")
    p.add_argument("--seeds", type=int, default=5, help="number of seeds, 0 .. SEEDS-1 (default: %(default)s)")
    p.add_argument("--n-inputs", type=int, default=1000, help="N, the number of inputs (default: %(default)s)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="quick", action="store_true", default=True,
                      help=f"load sweep over {len(QUICK_LOADS)} loads (the default)")
    size.add_argument("--full", dest="quick", action="store_false",
                      help=f"load sweep over {len(FULL_LOADS)} loads, up to 1.5 times capacity")
    p.add_argument("--force", action="store_true", help="overwrite results already in --out")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        results = perceptron.run(args.out, range(kit.at_least("--seeds", args.seeds)),
                                 loads=QUICK_LOADS if args.quick else FULL_LOADS, n_inputs=args.n_inputs,
                                 force=args.force)
    except kit.CLIError as err:
        print(f"{NAME}: error: {err}", file=sys.stderr)
        return 2
    print(perceptron.format_summary(results))
    print(f"saved in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
