#!/usr/bin/env python3
"""Figs. 2 and 3 of the first paper: the accuracy / noise / reliability-cost tradeoff (MODEL.md §A4).

Trains Gaussian-synapse networks over reliability-cost exponents rho, cost
weights c and both noise settings (heterogeneous: one sigma per synapse;
homogeneous: one per network), with :func:`minisyn.experiments.tradeoff.run_sweep`,
and plots accuracy and sigma_bar against c (Fig. 2) and accuracy and the
reliability cost against sigma_bar (Fig. 3).

Quick mode (default; the quick preset of ``minisyn sweep``, about half a
minute of one core): the embedded 5,000 digits with standardised pixels, a
784-50-10 network, rho in {1/2, 2}, five values of c from 1e-3 to 10, 4 epochs
(1,000 Adam steps). For sigma to reach its tradeoff in so few steps it starts
at 0.05 (the paper: 1e-4), Adam runs at lr 1e-2 (the paper: 1e-4 in its sweep
code) and remembers 100 steps of squared gradients (b2 = 0.99; the paper:
0.999). Accuracy falls and sigma_bar rises with c; heterogeneous noise stays
accurate to a larger c than homogeneous noise (docs/results/tradeoff.md).

``--full``: the paper's sweep on MNIST (4 rho, 30 c values 10^(-3 + 0.25 k),
784-100-100-10, 50 epochs, minibatch 20, Adam at the authors' sweep-code
learning rate 1e-4, lambda 1e-4, sigma from 1e-4, standardised pixels as in
the authors' script): 240 networks, 5 hours or more on a 2-core CPU with
``--workers 2``.

Rerunning the same command resumes: finished networks in <out>/runs/ are kept.
"""
from __future__ import annotations

import sys

from minisyn.backend import get_backend
from minisyn.experiments import kit, tradeoff

NAME = "paper_a_fig2_fig3_tradeoff"
QUICK = dict(tradeoff.QUICK_SETTINGS)
FULL = dict(tradeoff.PAPER_SETTINGS)


def run(args):
    """Run (or resume) the sweep for parsed ``args``; return :func:`tradeoff.run_sweep`'s result."""
    kit.apply_preset(args, QUICK, FULL, use_paper=args.full)
    preset = {name: getattr(args, name) for name in QUICK}      # run_sweep's own parameter names
    with kit.blas_threads():
        return tradeoff.run_sweep(args.out, **preset, ensemble_size=args.ensemble_size, data_dir=args.data_dir,
                                  train_limit=args.train_limit, backend=get_backend(args.backend),
                                  force=args.force, progress=not args.no_progress, workers=args.workers,
                                  log=lambda m: print(m, file=sys.stderr))


def build_parser():
    p, g = kit.demo_parser(__doc__, NAME, "the paper's sweep on full MNIST (hours)")
    g.add_argument("--n-c", type=int, default=None, help="number of c values")
    g.add_argument("--c-min", type=float, default=None, help="smallest c")
    g.add_argument("--c-max", type=float, default=None, help="largest c")
    g.add_argument("--rho", dest="rhos", type=kit.floats, default=None,
                   help="rho values, comma separated (fractions allowed)")
    g.add_argument("--epochs", type=int, default=None)
    g.add_argument("--batch-size", type=int, default=None)
    g.add_argument("--lr", type=float, default=None, help="Adam learning rate")
    g.add_argument("--adam-b2", type=float, default=None, help="Adam's second-moment decay")
    g.add_argument("--lambda", dest="lam", type=float, default=None, help="L1 magnitude cost weight")
    g.add_argument("--sigma-init", type=float, default=None)
    g.add_argument("--sizes", type=kit.sizes, default=None)
    g.add_argument("--train-limit", type=int, default=None, help="use only N training examples")
    g.add_argument("--ensemble-size", type=int, default=16)
    g.add_argument("--inputs", choices=kit.INPUTS, default=None,
                   help="pixels in [0, 1] ('unit') or standardised ('standardized', both presets)")
    g.add_argument("--workers", type=int, default=1, help="ensembles trained at once in separate processes")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        result = run(args)
    except (kit.CLIError, ValueError, OSError) as err:
        print(f"{NAME}: error: {err}", file=sys.stderr)
        return 2
    tradeoff.print_table(result["records"])
    print(f"trained {result['trained']}, reused {result['skipped']}; saved in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
