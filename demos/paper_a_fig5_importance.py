#!/usr/bin/env python3
"""Fig. 5 of the first paper (Malkin et al.): synapse importance, learning rate and input rate
against noise (MODEL.md §A5, §A6).

Trains a heterogeneous-noise Gaussian network, continues training while
accumulating per synapse the empirical Fisher (mean squared cross-entropy
gradient w.r.t. mu), Adam's learning rate, the proxy eta/mean|g| and the input
rate, then plots sigma against each on log-log axes (a column per layer) with
Spearman rank correlations, and fits the log-log slope of sigma against the
Fisher estimate beside the linear model's -1/(2+rho) (§A7)
(:func:`minisyn.experiments.importance.run_importance`).

Quick mode (default; ``minisyn importance`` without options): the embedded
5,000-digit sample, 784-100-100-10, 10 + 2 epochs from sigma = 1e-2 at Adam
lr = 1e-3 (:data:`minisyn.experiments.importance.QUICK`; short runs need
these for sigma to move: Adam moves phi = softplus^-1(sigma) by at most about
lr per step). About 20 s on one core; sigma falls with the Fisher
information and rises with Adam's learning rate in every layer. ``--full``:
MNIST, 50 + 10 epochs, lr 5e-4, sigma_init 1e-4, s = 1e-3 (the paper's Fig. 5,
:data:`~minisyn.experiments.importance.PAPER`; about half an hour).
"""
from __future__ import annotations

import argparse
import sys

from minisyn.backend import get_backend
from minisyn.experiments import importance, kit

NAME = "paper_a_fig5_importance"
QUICK = dict(importance.QUICK, dataset="embedded", sizes=(784, 100, 100, 10), rho=0.5, s=1e-3, train_limit=None)
FULL = dict(importance.PAPER, dataset="mnist", sizes=(784, 100, 100, 10), rho=0.5, s=1e-3, train_limit=None)


def run(out, full=False, data_dir=None, overrides=None, progress=True, backend=None):
    s = dict(FULL if full else QUICK)
    s.update({k: v for k, v in (overrides or {}).items() if v is not None})
    with kit.blas_threads():
        return importance.run_importance(out, rho=s["rho"], s=s["s"], sizes=s["sizes"], epochs=s["epochs"],
                                         extra_epochs=s["extra_epochs"], lr=s["lr"], sigma_init=s["sigma_init"],
                                         dataset=s["dataset"], data_dir=data_dir, train_limit=s["train_limit"],
                                         backend=get_backend(backend), progress=progress)


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=f"runs/{NAME}", help="output folder (default: %(default)s)")
    p.add_argument("--full", action="store_true", help="the paper's settings on full MNIST (long)")
    p.add_argument("--data-dir", default=None, help="folder with the MNIST IDX files (for --full)")
    p.add_argument("--force", action="store_true", help="overwrite results already in --out")
    p.add_argument("--backend", choices=("numpy", "cupy", "strict"), default=None, help="array backend")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    g = p.add_argument_group("overrides (smaller or larger runs)")
    g.add_argument("--epochs", type=int, default=None)
    g.add_argument("--extra-epochs", type=int, default=None)
    g.add_argument("--sizes", type=kit.sizes, default=None)
    g.add_argument("--train-limit", type=int, default=None, help="train on a random subset of N training examples")
    g.add_argument("--rho", type=kit.fraction, default=None)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    overrides = dict(epochs=args.epochs, extra_epochs=args.extra_epochs, sizes=args.sizes,
                     train_limit=args.train_limit, rho=args.rho)
    try:
        kit.prepare_out_dir(args.out, args.force, marker="importance.json")
        res = run(args.out, args.full, args.data_dir, overrides, not args.no_progress, args.backend)
    except (kit.CLIError, ValueError, OSError) as err:
        print(f"{NAME}: error: {err}", file=sys.stderr)
        return 2
    print("Spearman rank correlation of sigma with each quantity:")
    importance.print_correlations(res["correlations"])
    importance.print_slopes(res["slopes"])
    print(f"test accuracy: {res['results']['test_accuracy']}")
    print(f"saved in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
