#!/usr/bin/env python3
"""Figs. 2 and 3: what the release probabilities of a trained network encode (MODEL.md §B4).

Trains a 784-200-200-10 network of plastic Bernoulli synapses (presynaptic
rule, energy-experiment values) or loads ``--params`` (a ``params.npz`` of
``minisyn train --synapse bernoulli``), then draws: the histogram of p; lesion
curves (lowest p first against random orders); energy |m| against p; the
single-example empirical Fisher information against p (Spearman); and
neuron-level sparsity of important synapses against a shuffled baseline (KS
test, neurons beyond 2 SD, in/out correlation).

Quick by default (embedded digits, 10 epochs, 500 Fisher examples);
``--full`` trains on full MNIST (``--data-dir``) for 50 epochs with 10,000
Fisher examples and 10 random lesion orders.
"""
from __future__ import annotations

import argparse
import sys

from minisyn.experiments import analyses, kit


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="full MNIST, 50 epochs (about an hour on a CPU)")
    ap.add_argument("--data-dir", default=None, help="folder of the MNIST IDX files (with --full)")
    ap.add_argument("--params", default=None, help="analyse this params.npz instead of training")
    ap.add_argument("--out", default=None, help="output folder (default: runs/fig2_fig3_analyses[_full])")
    ap.add_argument("--fisher-examples", type=int, default=None)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    s = analyses.PAPER_SETTINGS if args.full else analyses.QUICK_SETTINGS
    out = args.out or ("runs/fig2_fig3_analyses" + ("_full" if args.full else ""))
    epochs = s["epochs"] if args.epochs is None else args.epochs
    fisher_examples = s["fisher_examples"] if args.fisher_examples is None else args.fisher_examples
    cli = ["analyse", "--dataset", s["dataset"], "--epochs", str(epochs), "--lesion-seeds", str(s["lesion_seeds"]),
           "--fisher-examples", str(fisher_examples), "--out", out]
    for flag, value in (("--data-dir", args.data_dir), ("--params", args.params)):
        if value:
            cli += [flag, value]
    cli += ["--force"] * args.force + ["--no-progress"] * args.no_progress
    parser = argparse.ArgumentParser()
    analyses.register(parser.add_subparsers(dest="command"))
    ns = parser.parse_args(cli)
    try:
        return ns.func(ns)
    except (kit.CLIError, ValueError, OSError) as err:
        print(f"fig2_fig3_analyses: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
