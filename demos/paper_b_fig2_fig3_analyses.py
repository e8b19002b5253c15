#!/usr/bin/env python3
"""Figs. 2 and 3 of the second paper: what the release probabilities of a trained network encode (MODEL.md §B4).

Trains a 784-200-200-10 network of plastic Bernoulli synapses (presynaptic
rule, energy-experiment values) or loads ``--params`` (a ``params.npz`` of
``minisyn train --synapse bernoulli``), then draws: the histogram of p; lesion
curves (lowest p first against random orders); energy |m| against p; the
single-example empirical Fisher information against p (Spearman); and
neuron-level sparsity of important synapses, each hidden layer against a
shuffled baseline of its own synapses (KS test, neurons beyond 2 SD, in/out
correlation). It runs ``minisyn analyse`` with the same options.

Quick by default (the quick preset of ``minisyn analyse``, about 10 s of one
core): the embedded digits with standardised pixels, 10 epochs with weight
decay 0.1, 500 Fisher examples, 3 random lesion orders. With 80 % of the
synapses removed, lowest p first keeps 0.85 accuracy, random orders about 0.4
(docs/results/analyses.md). ``--dataset mnist --data-dir DIR`` runs the same
preset on full MNIST. ``--full`` takes the paper's settings (50 epochs, no
weight decay, 10,000 Fisher examples, 10 random lesion orders) on full MNIST.
"""
from __future__ import annotations

import argparse
import sys

from minisyn.experiments import analyses, kit

NAME = "paper_b_fig2_fig3_analyses"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="the paper's settings on full MNIST (about an hour on a CPU)")
    ap.add_argument("--dataset", choices=kit.DATASETS, default=None, help="data set (quick: embedded; --full: mnist)")
    ap.add_argument("--data-dir", default=None, help="folder of the MNIST IDX files (with --full or --dataset mnist)")
    ap.add_argument("--params", default=None, help="analyse this params.npz instead of training")
    ap.add_argument("--out", default=None, help=f"output folder (default: runs/{NAME}[_full])")
    ap.add_argument("--fisher-examples", type=int, default=None)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    dataset = args.dataset or ("mnist" if args.full else "embedded")
    out = args.out or (f"runs/{NAME}" + ("_full" if args.full else ""))
    cli = ["analyse", "--dataset", dataset, "--out", out] + ["--paper"] * args.full
    for flag, value in (("--data-dir", args.data_dir), ("--params", args.params), ("--epochs", args.epochs),
                        ("--fisher-examples", args.fisher_examples)):
        if value is not None:
            cli += [flag, str(value)]
    cli += ["--force"] * args.force + ["--no-progress"] * args.no_progress
    parser = argparse.ArgumentParser()
    analyses.register(parser.add_subparsers(dest="command"))
    ns = parser.parse_args(cli)
    try:
        with kit.blas_threads():
            return ns.func(ns)
    except (kit.CLIError, ValueError, OSError) as err:
        print(f"{NAME}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
