#!/usr/bin/env python3
"""Fig. 7 and Appendix 4 Fig. 1 of the first paper: energy-efficient synapses against Bayes by backprop (MODEL.md §A8).

Trains one energy-efficient Gaussian-synapse network per reliability-cost
exponent rho (cost ``c sum sigma^-rho + lambda |mu|_1`` with ``c = s^rho / rho``)
and one Bayes-by-backprop network (ELBO with a Gaussian prior ``N(0, s_p^2)``,
the closed-form KL) from the same seed on the same data, with
:func:`minisyn.experiments.bayes.run_bayes`, then compares

- per-synapse noise: log-log scatter of ``sigma`` against the posterior
  ``sigma_post`` per layer, their Pearson correlation and fitted slope over the
  synapses whose posterior the data set (``sigma_post <= s_p / 2``; prediction,
  §A7: positive correlation, slope ``2/(2+rho)`` below 1, rising towards 1 as
  rho falls) -> ``fig7_bayes_sigmas``, ``fig7_bayes_slopes``;
- predictive distributions: per test example, the S-sample averaged
  probability of the true class under BBB and under each energy-efficient
  network -> ``app4_fig1_predictive``.

Quick mode (default; the quick preset of ``minisyn bayes``, about 15 s of one
core): the embedded 5,000 digits, 784-50-10, 3 epochs, Adam at lr 1e-2 with
b2 = 0.99 from sigma = 0.05 (the paper: 784-100-100-10, 50 epochs, 5e-4, 0.999,
1e-4), s = 0.1, prior s_p = 1. The fitted slopes come out close to
0.80, 0.75, 0.60, 0.50 and fall as rho rises (docs/results/bayes.md).
``--full``: the paper's training settings on MNIST (``--data-dir``).

Rerunning the same command resumes: finished networks in <out>/runs/ are kept.
"""
from __future__ import annotations

import sys

from minisyn.backend import get_backend
from minisyn.experiments import bayes, kit

NAME = "paper_a_fig7_bayes"
QUICK = dict(bayes.QUICK_SETTINGS)
FULL = dict(bayes.PAPER_SETTINGS)


def run(args):
    """Run (or resume) the comparison for parsed ``args``; return :func:`bayes.run_bayes`'s result."""
    kit.apply_preset(args, QUICK, FULL, use_paper=args.full)
    preset = {name: getattr(args, name) for name in QUICK}      # run_bayes's own parameter names
    with kit.blas_threads():
        return bayes.run_bayes(args.out, **preset, data_dir=args.data_dir, train_limit=args.train_limit,
                               test_limit=args.test_limit, backend=get_backend(args.backend), force=args.force,
                               progress=not args.no_progress, log=lambda m: print(m, file=sys.stderr))


def build_parser():
    p, g = kit.demo_parser(__doc__, NAME, "MNIST with the paper's training settings (hours)")
    g.add_argument("--rho", dest="rhos", type=kit.floats, default=None, help="rho values, comma separated")
    g.add_argument("--s", type=float, default=None, help="scale of the cost weights c = s^rho / rho")
    g.add_argument("--c", type=float, default=None, help="one cost weight for every rho instead")
    g.add_argument("--lambda", dest="lam", type=float, default=None, help="L1 weight of the EE networks")
    g.add_argument("--prior-sigma", type=float, default=None, help="BBB prior standard deviation")
    g.add_argument("--epochs", type=int, default=None)
    g.add_argument("--batch-size", type=int, default=None)
    g.add_argument("--lr", type=float, default=None)
    g.add_argument("--adam-b2", type=float, default=None, help="Adam's second-moment decay")
    g.add_argument("--sigma-init", type=float, default=None)
    g.add_argument("--eval-samples", type=int, default=None)
    g.add_argument("--sizes", type=kit.sizes, default=None)
    g.add_argument("--train-limit", type=int, default=None, help="train on a random subset of N training examples")
    g.add_argument("--test-limit", type=int, default=None, help="evaluate on a random subset of N test examples")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        result = run(args)
    except (ValueError, OSError) as err:
        print(f"{NAME}: error: {err}", file=sys.stderr)
        return 2
    bayes.print_table(result)
    print(f"trained {result['trained']}, reused {result['skipped']}; saved in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
