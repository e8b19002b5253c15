#!/usr/bin/env python3
"""Figs. 2 and 3: the accuracy / noise / reliability-cost tradeoff (MODEL.md §A4).

Trains Gaussian-synapse networks over reliability-cost exponents rho, cost
weights c and both noise settings (heterogeneous: one sigma per synapse;
homogeneous: one per network), with :func:`minisyn.experiments.tradeoff.run_sweep`,
and plots accuracy and sigma_bar against c (Fig. 2) and accuracy and the
reliability cost against sigma_bar (Fig. 3).

Quick mode (default, about two minutes on 2 CPU cores): 2,000 digits of the embedded
sample, rho in {1/2, 2}, 4 values of c in 1e-3..1e2, 2 epochs. Two epochs are
only 200 Adam steps, and Adam moves phi = softplus^-1(sigma) by at most about
the learning rate per step, so quick mode starts from sigma = 1e-2 and uses
lr = 1e-2 for sigma to be able to move (the paper: 1e-4 and 5e-4 over 50
epochs). ``--full``: the paper's sweep on MNIST (4 rho, 30 c values
10^(-3 + 0.25 k), 50 epochs, minibatch 20, Adam at the authors' sweep-code
learning rate 1e-4, lambda 1e-4, pixels standardised by the training set's mean
and SD as in the authors' script): 240
networks, 15 hours or more on a 2-core CPU (see docs/tradeoff-and-importance.md).

Rerunning the same command resumes: finished networks in <out>/runs/ are kept.
"""
from __future__ import annotations

import argparse
import sys

from minisyn.backend import get_backend
from minisyn.experiments import kit, tradeoff

NAME = "fig2_fig3_tradeoff"
QUICK = dict(tradeoff.QUICK_SETTINGS, lr=1e-2, sigma_init=1e-2, train_limit=2000)
FULL = dict(tradeoff.PAPER_SETTINGS, sigma_init=1e-4, inputs="standardized")


def run(out, full=False, data_dir=None, overrides=None, force=False, progress=True, backend=None):
    """Run (or resume) the sweep; return :func:`tradeoff.run_sweep`'s result."""
    s = dict(FULL if full else QUICK)
    s.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return tradeoff.run_sweep(
        out, rhos=s["rhos"], c_min=s["c_min"], c_max=s["c_max"], n_c=s["n_c"], noises=s["noises"],
        sizes=s["sizes"], epochs=s["epochs"], batch_size=s["batch_size"], lr=s["lr"], lam=s["lam"],
        sigma_init=s["sigma_init"], ensemble_size=s.get("ensemble_size", 16), dataset=s["dataset"],
        data_dir=data_dir, train_limit=s.get("train_limit"), backend=get_backend(backend), force=force,
        progress=progress, inputs=s.get("inputs", "unit"), workers=s.get("workers", 1))


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=f"runs/{NAME}", help="output folder (default: %(default)s)")
    p.add_argument("--full", action="store_true", help="the paper's sweep on full MNIST (very long)")
    p.add_argument("--data-dir", default=None, help="folder with the MNIST IDX files (for --full)")
    p.add_argument("--force", action="store_true", help="retrain networks already saved in --out")
    p.add_argument("--backend", choices=("numpy", "cupy", "strict"), default=None, help="array backend")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    g = p.add_argument_group("overrides (smaller or larger runs)")
    g.add_argument("--n-c", type=int, default=None, help="number of c values")
    g.add_argument("--rho", type=kit.floats, default=None, help="rho values, comma separated (fractions allowed)")
    g.add_argument("--epochs", type=int, default=None)
    g.add_argument("--sizes", type=kit.sizes, default=None)
    g.add_argument("--train-limit", type=int, default=None, help="use only N training examples")
    g.add_argument("--ensemble-size", type=int, default=None)
    g.add_argument("--inputs", choices=kit.INPUTS, default=None,
                   help="pixels in [0, 1] ('unit', quick default) or standardised ('standardized', --full default)")
    g.add_argument("--workers", type=int, default=None, help="ensembles trained at once in separate processes")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    overrides = dict(n_c=args.n_c, rhos=args.rho, epochs=args.epochs, sizes=args.sizes,
                     train_limit=args.train_limit, ensemble_size=args.ensemble_size, inputs=args.inputs,
                     workers=args.workers)
    try:
        result = run(args.out, args.full, args.data_dir, overrides, args.force, not args.no_progress, args.backend)
    except (kit.CLIError, ValueError, OSError) as err:
        print(f"{NAME}: error: {err}", file=sys.stderr)
        return 2
    tradeoff.print_table(result["records"])
    print(f"trained {result['trained']}, reused {result['skipped']}; saved in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
