#!/usr/bin/env python3
"""Fig. 7 and Appendix 4 Fig. 1: energy-efficient synapses against Bayes by backprop (MODEL.md §A8).

Trains one energy-efficient Gaussian-synapse network per reliability-cost
exponent rho (cost ``c sum sigma^-rho + lambda |mu|_1``) and one
Bayes-by-backprop network (ELBO with a Gaussian prior ``N(0, s_p^2)``, the
closed-form KL) from the same seed on the same data, with
:func:`minisyn.experiments.bayes.run_bayes`, then compares

- per-synapse noise: log-log scatter of ``sigma`` against the posterior
  ``sigma_post`` per layer, their Pearson correlation and fitted slope
  (prediction, §A7: positive correlation, slope ``2/(2+rho)`` below 1, rising
  towards 1 as rho falls) -> ``fig7_bayes_sigmas``, ``fig7_bayes_slopes``;
- predictive distributions: per test example, the S-sample averaged
  probability of the true class under BBB and under each energy-efficient
  network -> ``app4_fig1_predictive``.

Quick mode (default, well under a minute on 2 CPU cores): the embedded
5,000-digit sample, 784-100-100-10, 3 epochs, Adam at 1e-2 from sigma = 1e-2
(Adam moves phi = softplus^-1(sigma) by about lr per step, so a short run needs
these for sigma to move; the paper: 5e-4 and 1e-4 over 50 epochs).
``--full``: MNIST (``--data-dir``), 50 epochs, lr 5e-4, sigma_init 1e-4.

Rerunning the same command resumes: finished networks in <out>/runs/ are kept.
"""
from __future__ import annotations

import argparse
import sys

from minisyn.backend import get_backend
from minisyn.experiments import bayes, kit

NAME = "fig7_bayes"


def run(out, full=False, data_dir=None, overrides=None, force=False, progress=True, backend=None, log=print):
    """Run (or resume) the comparison; return :func:`bayes.run_bayes`'s result."""
    s = dict(bayes.FULL_SETTINGS if full else bayes.QUICK_SETTINGS)
    s.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return bayes.run_bayes(
        out, rhos=s["rhos"], c=s["c"], lam=s["lam"], prior_sigma=s["prior_sigma"], sizes=s["sizes"],
        epochs=s["epochs"], batch_size=s["batch_size"], lr=s["lr"], sigma_init=s["sigma_init"],
        eval_samples=s["eval_samples"], dataset=s["dataset"], data_dir=data_dir, train_limit=s.get("train_limit"),
        test_limit=s.get("test_limit"), backend=get_backend(backend), force=force, progress=progress, log=log)


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=f"runs/{NAME}", help="output folder (default: %(default)s)")
    p.add_argument("--full", action="store_true", help="MNIST with the paper's training settings (long)")
    p.add_argument("--data-dir", default=None, help="folder with the MNIST IDX files (for --full)")
    p.add_argument("--force", action="store_true", help="retrain networks already saved in --out")
    p.add_argument("--backend", choices=("numpy", "cupy", "strict"), default=None, help="array backend")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    g = p.add_argument_group("overrides (smaller or larger runs)")
    g.add_argument("--rho", type=kit.floats, default=None, help="rho values, comma separated")
    g.add_argument("--c", type=float, default=None, help="reliability cost weight")
    g.add_argument("--prior-sigma", type=float, default=None, help="BBB prior standard deviation")
    g.add_argument("--epochs", type=int, default=None)
    g.add_argument("--lr", type=float, default=None)
    g.add_argument("--sigma-init", type=float, default=None)
    g.add_argument("--eval-samples", type=int, default=None)
    g.add_argument("--sizes", type=kit.sizes, default=None)
    g.add_argument("--train-limit", type=int, default=None, help="train on a random subset of N training examples")
    g.add_argument("--test-limit", type=int, default=None, help="evaluate on a random subset of N test examples")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    overrides = dict(rhos=args.rho, c=args.c, prior_sigma=args.prior_sigma, epochs=args.epochs, lr=args.lr,
                     sigma_init=args.sigma_init, eval_samples=args.eval_samples, sizes=args.sizes,
                     train_limit=args.train_limit, test_limit=args.test_limit)
    try:
        result = run(args.out, args.full, args.data_dir, overrides, args.force, not args.no_progress, args.backend,
                     log=lambda m: print(m, file=sys.stderr))
    except (ValueError, OSError) as err:
        print(f"{NAME}: error: {err}", file=sys.stderr)
        return 2
    bayes.print_table(result)
    print(f"trained {result['trained']}, reused {result['skipped']}; saved in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
