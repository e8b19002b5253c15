#!/usr/bin/env python3
"""Fig. 1 of the second paper: information against energy for plastic, fixed and no release noise (MODEL.md §B3).

An L2 sweep trains three models per L2 strength, with
:func:`minisyn.experiments.energy_info.run_energy_info`: plastic stochastic
release (presynaptic rule, d_up = d_down = 0.07, g_lim = 1e-3), fixed release
at the plastic model's mean p, and deterministic synapses (p = 1, SGD). Plots
the mutual information I(Y; Yhat) (soft confusion matrix, test set) against
the energy sum|m|, and prints the energy each model needs for the same
information.

Quick mode (default; the quick preset of ``minisyn energy-info``, about half a
minute of one core): the embedded 5,000 digits with standardised pixels, a
784-64-64-10 network (the paper: 784-200-200-10), 30 epochs at lr 0.1 (the
paper: 50 at 0.05 on 60,000 digits), five L2 values from 1e-3 to 0.1,
compared at 2 bits. Release probabilities need many steps to separate, so
the narrower network buys 1,500 of them. Plastic release needs about a fifth
less energy than deterministic synapses and half that of fixed release
(docs/results/energy.md). ``--dataset mnist --data-dir DIR`` runs the same
preset on full MNIST (about 15 times longer).

``--full``: the paper's setting on MNIST (``--data-dir``, 50 epochs, 9 L2
values from 1e-5 to 1e-1, compared at 3 bits): hours on a CPU.

Rerunning into the same ``--out`` resumes.
"""
from __future__ import annotations

import argparse
import sys

from minisyn.backend import get_backend
from minisyn.experiments import energy_info, kit

NAME = "paper_b_fig1_energy_information"
QUICK = dict(energy_info.QUICK_SETTINGS)
FULL = dict(energy_info.PAPER_SETTINGS)


def run(args):
    """Run (or resume) the sweep for parsed ``args``; return :func:`energy_info.run_energy_info`'s result."""
    kit.apply_preset(args, QUICK, FULL, use_paper=args.full)
    for name in ("epochs", "n_l2"):
        kit.at_least(f"--{name.replace('_', '-')}", getattr(args, name))
    if not args.target_bits > 0:
        raise kit.CLIError(f"--target-bits must be > 0, got {args.target_bits}")
    out = args.out or f"runs/{NAME}" + ("_full" if args.full else "")
    with kit.blas_threads():
        return out, energy_info.run_energy_info(
            out, l2_min=args.l2_min, l2_max=args.l2_max, n_l2=args.n_l2, sizes=args.sizes, epochs=args.epochs,
            batch_size=args.batch_size, lr=args.lr, dataset=args.dataset, data_dir=args.data_dir,
            target_bits=args.target_bits, backend=get_backend(args.backend), force=args.force,
            progress=not args.no_progress, inputs=args.inputs, log=lambda m: print(m, file=sys.stderr))


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--full", action="store_true", help="the paper's setting on full MNIST (hours on a CPU)")
    p.add_argument("--data-dir", default=None, help="folder of the MNIST IDX files (with --full or --dataset mnist)")
    p.add_argument("--out", default=None, help=f"output folder (default: runs/{NAME}[_full])")
    p.add_argument("--backend", choices=("numpy", "cupy", "strict"), default=None,
                   help="array backend (default: $MINISYN_BACKEND or numpy)")
    p.add_argument("--force", action="store_true", help="retrain networks already saved in --out")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    g = p.add_argument_group("overrides of the preset")
    g.add_argument("--dataset", choices=kit.DATASETS, default=None, help="data set (quick: embedded; --full: mnist)")
    g.add_argument("--epochs", type=int, default=None, help="epochs per network (quick: 30; --full: 50)")
    g.add_argument("--target-bits", type=float, default=None,
                   help="information level at which to compare the models (quick: 2; --full: 3)")
    g.add_argument("--l2-min", type=float, default=None, help="smallest L2 strength")
    g.add_argument("--l2-max", type=float, default=None, help="largest L2 strength")
    g.add_argument("--n-l2", type=int, default=None, help="number of log-spaced L2 strengths")
    g.add_argument("--sizes", type=kit.sizes, default=None, help="layer widths")
    g.add_argument("--batch-size", type=int, default=None)
    g.add_argument("--lr", type=float, default=None, help="learning rate of m")
    g.add_argument("--inputs", choices=kit.INPUTS, default=None,
                   help="pixels in [0, 1] ('unit') or standardised ('standardized', both presets)")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        out, res = run(args)
    except (kit.CLIError, ValueError, OSError) as err:
        print(f"{NAME}: error: {err}", file=sys.stderr)
        return 2
    energy_info.print_table(res["records"], args.target_bits)
    print(f"figure: {out}/{NAME}.png (and .pdf); tables: energy_info.csv, energy_at_information.csv, "
          "energy_info.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
