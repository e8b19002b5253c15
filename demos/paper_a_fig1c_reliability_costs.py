#!/usr/bin/env python3
"""Fig. 1c: the energy cost of reliability for the four mechanisms (MODEL.md §A2).

For each mechanism, the synapse of noise level ``sigma`` at fixed mean ``mu``
is built from its quantal parameters (``minisyn.biophysics``), its energy is
evaluated as a function of ``(n, p, q)``, and cost is plotted against sigma on
log-log axes: four straight lines of slope ``-rho`` (1/2, 2/3, 4/3, 2). The
fitted slopes are printed and saved.

Writes ``fig1c_reliability_costs.png``/``.pdf``, ``costs.csv`` (sigma, then
the cost and the quantal parameters of each mechanism) and ``results.json``.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from minisyn.biophysics import MECHANISMS
from minisyn.experiments import kit
from minisyn.output import pyplot, save_csv, save_figure, save_json

plt = pyplot()

NAME = "paper_a_fig1c_reliability_costs"
PANELS = ("I", "II", "III", "IV")


def cost_curves(sigma, mu=1.0):
    """Cost, quantal parameters and fitted log-log slope of each mechanism on the grid ``sigma``.

    Returns ``{key: {'cost', 'n', 'p', 'q', 'rho', 'slope'}}`` (arrays on the grid).
    """
    curves = {}
    for key, mech in MECHANISMS.items():
        n, p, q = mech.parameters(sigma, mu, mech.fixed_default)
        cost = mech.energy(n, p, q)
        slope = float(np.polyfit(np.log(sigma), np.log(cost), 1)[0])
        curves[key] = dict(cost=cost, n=np.broadcast_to(n, sigma.shape), p=np.broadcast_to(p, sigma.shape),
                           q=q, rho=mech.rho, slope=slope)
    return curves


def plot(sigma, curves, mu):
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.3), constrained_layout=True)
    for ax, panel, (key, cur) in zip(axes, PANELS, curves.items()):
        mech = MECHANISMS[key]
        ref = cur["cost"][len(sigma) // 2]
        ax.loglog(sigma, cur["cost"] / ref, lw=2, label="energy of (n, p, q)")
        ax.loglog(sigma, (sigma / sigma[len(sigma) // 2]) ** -mech.rho, "k--", lw=1,
                  label=rf"$\sigma^{{-{mech.rho:.3g}}}$")
        fixed = "n" if mech.varies == "p" else "p"
        ax.set_title(f"({panel}) {mech.name}\n{mech.varies} varies, {fixed} fixed: "
                     f"slope {cur['slope']:.4f}", fontsize=9)
        ax.set_xlabel(rf"PSP noise $\sigma$ (mean $\mu$ = {mu:g})")
        ax.legend(fontsize=8, frameon=False)
    axes[0].set_ylabel("energy cost (relative)")
    return fig


def save_costs(path, sigma, curves):
    """``sigma``, then each mechanism's cost and quantal parameters, one line per grid point."""
    cols = [(k, v) for k in curves for v in ("cost", "n", "p", "q")]
    save_csv(path, ["sigma"] + [f"{k}_{v}" for k, v in cols],
             ([s] + [curves[k][v][j] for k, v in cols] for j, s in enumerate(sigma)))


def run(out, quick=True, force=False, mu=1.0):
    """Compute, plot and save; return the results dictionary."""
    out = kit.prepare_out_dir(out, force)
    sigma = mu * np.logspace(-1.5, 0.5, 41 if quick else 401)
    curves = cost_curves(sigma, mu)
    save_figure(plot(sigma, curves, mu), out, NAME)
    save_costs(out / "costs.csv", sigma, curves)
    results = {
        "figure": "Fig. 1c", "model": "MODEL.md §A1, §A2", "mu": mu,
        "sigma_range": [float(sigma[0]), float(sigma[-1])], "points": int(sigma.size),
        "mechanisms": {k: {"name": MECHANISMS[k].name, "rho": MECHANISMS[k].rho, "varies": MECHANISMS[k].varies,
                           "fixed_value": MECHANISMS[k].fixed_default, "fitted_slope": c["slope"]}
                       for k, c in curves.items()},
    }
    save_json(out / "results.json", results)
    return results


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=kit.Formatter)
    p.add_argument("--out", default=f"runs/{NAME}", help="output folder")
    p.add_argument("--full", action="store_true", help="a denser sigma grid (the default is quick)")
    p.add_argument("--mu", type=kit.fraction, default=1.0, help="the fixed mean PSP")
    p.add_argument("--force", action="store_true", help="overwrite results already in --out")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        if args.mu <= 0:
            raise kit.CLIError("--mu must be > 0")
        results = run(args.out, quick=not args.full, force=args.force, mu=args.mu)
    except kit.CLIError as err:
        print(f"{NAME}: error: {err}", file=sys.stderr)
        return 2
    for k, m in results["mechanisms"].items():
        print(f"{m['name']:>17s}: rho = {m['rho']:.4f}, fitted log-log slope = {m['fitted_slope']:.6f}")
    print(f"saved in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
