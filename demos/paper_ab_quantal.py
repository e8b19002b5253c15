#!/usr/bin/env python3
"""Both papers in one model: quantal synapses (n, p, q) trained end to end (MODEL.md Part C).

Trains networks of quantal synapses, ``w = q k`` with ``k ~ Binomial(n, p)``,
for each reliability mechanism of §A2 (its energy ``E(n, p, q)`` as the cost)
and each number of release sites ``n``, with
:func:`minisyn.experiments.quantal.run_quantal`, and reports per layer the
Spearman correlation of the weight's standard deviation sigma with the Fisher
information of its mean (Paper A's signature: negative) and of the release
probability p with it (Paper B's: positive), and test accuracy against the
mechanism's energy as n varies. Figures: quantal_signatures.png (sigma
against Fisher, coloured by p), quantal_energy.png; tables quantal.csv,
quantal.json.

Quick mode (default, the quick preset of ``minisyn quantal``, about a minute
of one core): the embedded 5,000 digits, calcium and membrane mechanisms,
n = 1 and 5, 6 epochs. Under calcium both signatures appear; under the
membrane cost (which, at a fixed n, charges the quantal size and rewards
reliable release) both reverse (docs/results/quantal.md).

``--full``: full MNIST (``--data-dir``), every mechanism, n = 1, 5, 20,
10 epochs of minibatches of 100: 12 networks, about 15 minutes of one core.

Rerunning the same command resumes: finished networks in <out>/runs/ are kept.
"""
from __future__ import annotations

import sys

from minisyn.backend import get_backend
from minisyn.experiments import kit, quantal

NAME = "paper_ab_quantal"
QUICK = dict(quantal.QUICK)
FULL = dict(quantal.PAPER)


def run(args):
    """Run (or resume) the grid for parsed ``args``; return :func:`quantal.run_quantal`'s result."""
    kit.apply_preset(args, QUICK, FULL, use_paper=args.full)
    preset = {name: getattr(args, name) for name in QUICK}      # run_quantal's own parameter names
    with kit.blas_threads():
        return quantal.run_quantal(args.out, **preset, data_dir=args.data_dir, train_limit=args.train_limit,
                                   scheme=args.scheme, backend=get_backend(args.backend), force=args.force,
                                   progress=not args.no_progress, log=lambda m: print(m, file=sys.stderr))


def build_parser():
    p, g = kit.demo_parser(__doc__, NAME, "every mechanism on full MNIST (about 15 minutes)")
    g.add_argument("--mechanisms", type=kit.names, default=None, help="comma-separated mechanisms of §A2")
    g.add_argument("--n-sites", type=kit.ints, default=None, help="release sites per synapse, comma separated")
    g.add_argument("--c", type=float, default=None, help="weight of the mechanism's energy")
    g.add_argument("--epochs", type=int, default=None)
    g.add_argument("--batch-size", type=int, default=None)
    g.add_argument("--lr", type=float, default=None, help="Adam learning rate")
    g.add_argument("--sizes", type=kit.sizes, default=None)
    g.add_argument("--fisher-examples", type=int, default=None, help="examples of the Fisher estimate")
    g.add_argument("--scheme", choices=("sample", "local"), default="local", help="sampling scheme")
    g.add_argument("--train-limit", type=int, default=None, help="use only N training examples")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        result = run(args)
    except (kit.CLIError, ValueError, OSError) as err:
        print(f"{NAME}: error: {err}", file=sys.stderr)
        return 2
    print("Spearman correlation with the Fisher information of the mean weight, per layer "
          "(Paper A: S(σ,F) < 0; Paper B: S(p,F) > 0):")
    quantal.print_table(result["records"])
    print(f"saved in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
