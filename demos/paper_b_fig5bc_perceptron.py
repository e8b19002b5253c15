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

Quick by default (5 seeds, 4 loads, both perceptrons scored with their mean
weights; about 25 s). ``--full``: 10 seeds, 7 loads up to 1.5 times capacity,
scored as the authors' notebook does (the majority of 10 release samples).

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
    p.add_argument("--seeds", type=int, default=None,
                   help=f"number of seeds, 0 .. SEEDS-1 (default: {perceptron.QUICK_SETTINGS['n_seeds']}, "
                        f"{perceptron.PAPER_SETTINGS['n_seeds']} with --full)")
    p.add_argument("--n-inputs", type=int, default=1000, help="N, the number of inputs (default: %(default)s)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="quick", action="store_true", default=True,
                      help=f"{len(QUICK_LOADS)} loads, mean-weight scoring (the default)")
    size.add_argument("--full", dest="quick", action="store_false",
                      help=f"{len(FULL_LOADS)} loads up to 1.5 times capacity, the authors' 10-sample vote")
    p.add_argument("--force", action="store_true", help="overwrite results already in --out")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    preset = perceptron.QUICK_SETTINGS if args.quick else perceptron.PAPER_SETTINGS
    n_seeds = preset["n_seeds"] if args.seeds is None else args.seeds
    try:
        with kit.blas_threads():
            results = perceptron.run(args.out, range(kit.at_least("--seeds", n_seeds)), loads=preset["loads"],
                                     n_inputs=args.n_inputs, eval_mode=preset["eval_mode"], force=args.force)
    except kit.CLIError as err:
        print(f"{NAME}: error: {err}", file=sys.stderr)
        return 2
    print(perceptron.format_summary(results))
    print(f"saved in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
