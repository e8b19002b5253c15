#!/usr/bin/env python3
"""Fig. 1: information against energy for plastic, fixed and no release noise (MODEL.md §B3).

An L2 sweep trains three models per L2 strength: plastic stochastic release
(presynaptic rule, d_up = d_down = 0.07, g_lim = 1e-3, lr 0.05), fixed release
at the plastic model's mean p, and deterministic synapses (p = 1, SGD). Plots
the mutual information I(Y; Yhat) (soft confusion matrix, test set) against
the energy sum|m|, and prints the energy each model needs for a target
information (3 bits by default, interpolated along each curve).

Quick by default (embedded 5,000 digits, 5 epochs, 5 L2 values: a few
minutes on two cores); ``--full`` runs the paper's setting on MNIST (read
from ``--data-dir``, 50 epochs, 9 L2 values from 1e-5 to 1e-1, pixels
standardised as in the authors' code). Rerunning into the same
``--out`` resumes.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from minisyn.experiments import kit
from minisyn.experiments.energy_info import (DEFAULT_TARGET_BITS, PAPER_SETTINGS, QUICK_SETTINGS, print_table,
                                             run_energy_info)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="the paper's setting on full MNIST (hours on a CPU)")
    ap.add_argument("--data-dir", default=None, help="folder of the MNIST IDX files (with --full)")
    ap.add_argument("--out", default=None, help="output folder (default: runs/fig1_energy_information[_full])")
    ap.add_argument("--epochs", type=int, default=None, help="override the number of epochs")
    ap.add_argument("--target-bits", type=float, default=DEFAULT_TARGET_BITS)
    ap.add_argument("--inputs", choices=kit.INPUTS, default=None,
                    help="pixels in [0, 1] ('unit') or standardised by the training set's mean and SD "
                         "(default: unit in the quick form, the paper setting's choice with --full)")
    ap.add_argument("--backend", default=None, help="numpy, strict or cupy (default: $MINISYN_BACKEND or numpy)")
    ap.add_argument("--force", action="store_true", help="retrain networks already saved in --out")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    s = dict(PAPER_SETTINGS if args.full else QUICK_SETTINGS)
    if args.epochs is not None:
        s["epochs"] = args.epochs
    if args.inputs:
        s["inputs"] = args.inputs
    out = Path(("runs/fig1_energy_information" + ("_full" if args.full else "")) if args.out is None else args.out)
    try:
        res = run_energy_info(out, l2_min=s["l2_min"], l2_max=s["l2_max"], n_l2=s["n_l2"], sizes=s["sizes"],
                              epochs=s["epochs"], batch_size=s["batch_size"], lr=s["lr"], dataset=s["dataset"],
                              data_dir=args.data_dir, target_bits=args.target_bits, backend=args.backend,
                              force=args.force, progress=not args.no_progress, inputs=s.get("inputs", "unit"),
                              log=lambda m: print(m, file=sys.stderr))
    except (kit.CLIError, ValueError, OSError) as err:
        print(f"fig1_energy_information: error: {err}", file=sys.stderr)
        return 2
    print_table(res["records"], res["energy_at_target"], args.target_bits)
    print(f"figure: {out}/fig1_energy_information.png (and .pdf); tables: energy_info.csv, "
          "energy_at_information.csv, energy_info.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
