#!/usr/bin/env python3
"""Appendix 4: the biological reliability cost bounds the entropic one (MODEL.md §A8).

Plots ``C_VI = -log sigma`` and ``C_BI = (1/rho)(s/sigma)^rho - 1/rho - log s``
against sigma for the four rho (1/2, 2/3, 4/3, 2), and the gap ``C_BI - C_VI``,
which is never negative, vanishes at ``sigma = s`` and shrinks as rho -> 0
(shown for rho = 1, 0.1, 0.01 too).

Writes ``fig_bound.png``/``.pdf``, ``bound.csv`` and ``results.json``.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from minisyn.experiments import kit
from minisyn.output import pyplot, save_csv, save_figure, save_json
from minisyn.theory import c_bi, c_vi

plt = pyplot()

NAME = "paper_a_fig_bound"
RHOS = (1 / 2, 2 / 3, 4 / 3, 2.0)
SMALL_RHOS = (1.0, 0.1, 0.01)


def curves(sigma, s, rhos):
    """``C_BI`` on the grid for each rho, keyed by ``f'{rho:.4g}'``, and ``C_VI``."""
    return {f"{r:.4g}": c_bi(sigma, s, r) for r in rhos}, c_vi(sigma)


def gap_panel(ax, sigma, bi, vi, title):
    """``C_BI - C_VI`` against sigma, one line for each rho of ``bi``."""
    for key, v in bi.items():
        ax.semilogx(sigma, v - vi, lw=1.5, label=rf"$\rho$ = {float(key):.3g}")
    ax.axhline(0, color="k", lw=0.8)
    ax.set(xlabel=r"$\sigma$", ylabel=r"$C_{BI} - C_{VI}$", title=title)
    ax.set_ylim(-0.5, 6)
    ax.legend(fontsize=8, frameon=False)


def plot(sigma, s, bi, vi, bi_small):
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), constrained_layout=True)
    ax = axes[0]
    for key, v in bi.items():
        ax.semilogx(sigma, v, lw=1.5, label=rf"$C_{{BI}}$, $\rho$ = {float(key):.3g}")
    ax.semilogx(sigma, vi, "k", lw=2.5, label=r"$C_{VI} = -\log\sigma$")
    ax.axvline(s, color="0.6", ls=":", lw=1)
    ax.set(xlabel=r"$\sigma$", ylabel="reliability cost", title=f"the bound (s = {s:g})")
    ax.set_ylim(vi.min() - 1, vi.max() + 2)
    ax.legend(fontsize=8, frameon=False)
    gap_panel(axes[1], sigma, bi, vi, r"the gap is $\geq 0$, zero at $\sigma = s$")
    gap_panel(axes[2], sigma, bi_small, vi, r"$C_{BI} \to C_{VI}$ as $\rho \to 0$")
    return fig


def save_bound(path, sigma, bi, vi):
    """``sigma``, ``C_VI``, then ``C_BI`` for each rho, one line per grid point."""
    save_csv(path, ["sigma", "c_vi"] + [f"c_bi_rho_{k}" for k in bi], np.column_stack([sigma, vi, *bi.values()]))


def run(out, quick=True, force=False, s=1.0):
    """Compute, plot and save; return the results dictionary."""
    out = kit.prepare_out_dir(out, force)
    sigma = s * np.logspace(-2, 2, 201 if quick else 2001)
    bi, vi = curves(sigma, s, RHOS)
    bi_small, _ = curves(sigma, s, SMALL_RHOS)
    save_figure(plot(sigma, s, bi, vi, bi_small), out, NAME)
    save_bound(out / "bound.csv", sigma, {**bi, **{k: v for k, v in bi_small.items() if k not in bi}}, vi)
    gaps = {k: v - vi for k, v in {**bi, **bi_small}.items()}
    results = {
        "figure": "Appendix 4 (the bound)", "model": "MODEL.md §A8", "s": s, "points": int(sigma.size),
        "sigma_range": [float(sigma[0]), float(sigma[-1])],
        "min_gap": {k: float(g.min()) for k, g in gaps.items()},
        "gap_at_sigma_equal_s": {k: float(c_bi(s, s, float(k)) - c_vi(s)) for k in gaps},
        "max_gap_on_grid": {k: float(g.max()) for k, g in gaps.items()},
    }
    save_json(out / "results.json", results)
    return results


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=kit.Formatter)
    p.add_argument("--out", default=f"runs/{NAME}", help="output folder")
    p.add_argument("--full", action="store_true", help="a denser sigma grid (the default is quick)")
    p.add_argument("--s", type=kit.fraction, default=1.0, help="the scale s of the s-form")
    p.add_argument("--force", action="store_true", help="overwrite results already in --out")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        if args.s <= 0:
            raise kit.CLIError(f"--s must be > 0, got {args.s:g}")
        r = run(args.out, quick=not args.full, force=args.force, s=args.s)
    except kit.CLIError as err:
        print(f"{NAME}: error: {err}", file=sys.stderr)
        return 2
    for k in r["min_gap"]:
        print(f"rho = {float(k):<6.4g} min gap {r['min_gap'][k]:+.3e}   largest gap on the grid "
              f"{r['max_gap_on_grid'][k]:.4g}   gap at sigma = s {r['gap_at_sigma_equal_s'][k]:+.1e}")
    print(f"saved in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
