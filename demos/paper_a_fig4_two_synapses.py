#!/usr/bin/env python3
"""Fig. 4: why optimised, heterogeneous noise beats shared noise (MODEL.md §A9).

Two synapses under the quadratic performance cost
``C(w) = (1/2)(h1 (w1 - w1*)^2 + h2 (w2 - w2*)^2)``, ``h1 >> h2`` (w1 important,
w2 unimportant), with reliability cost ``c sum_i sigma_i^-rho``. The
heterogeneous noise is the optimum of §A7, ``sigma_i = (c rho / h_i)^(1/(2+rho))``;
the homogeneous noise is the one shared sigma with the same reliability cost.
Their expected performance costs are computed exactly
(``minisyn.theory.equal_cost_sigmas``) and, for the picture, estimated from
the drawn samples too.

Writes ``fig4_two_synapses.png``/``.pdf``, ``samples.csv`` and ``results.json``.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from minisyn.experiments import kit
from minisyn.output import pyplot, save_csv, save_figure, save_json
from minisyn.theory import equal_cost_sigmas

plt = pyplot()

NAME = "paper_a_fig4_two_synapses"
GREY, GREEN = "0.45", "tab:green"


def draw(cmp, samples, seed):
    """Weight deviations ``w - w*`` under shared and optimised noise, ``(samples, 2)`` each."""
    xi = np.random.default_rng(seed).normal(size=(samples, 2))
    return cmp.sigma_hom * xi, cmp.sigma_het * xi          # the same xi: only the noise levels differ


def plot(cmp, dev_hom, dev_het):
    h = cmp.h
    lim = 3.2 * max(cmp.sigma_hom, cmp.sigma_het.max())
    g = np.linspace(-lim, lim, 201)
    W1, W2 = np.meshgrid(g, g)
    C = 0.5 * (h[0] * W1**2 + h[1] * W2**2)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.9), constrained_layout=True)
    for ax, dev, colour, label in ((axes[0], dev_hom, GREY, rf"homogeneous, $\sigma$ = {cmp.sigma_hom:.3f}"),
                                   (axes[1], dev_het, GREEN, "heterogeneous, $\\sigma$ = "
                                    f"({cmp.sigma_het[0]:.3f}, {cmp.sigma_het[1]:.3f})")):
        ax.contour(W1, W2, C, levels=np.quantile(C, [0.02, 0.05, 0.1, 0.2, 0.4]), colors="0.7", linewidths=1)
        ax.scatter(dev[:, 0], dev[:, 1], s=5, color=colour, alpha=0.6)
        ax.plot(0, 0, "k+", ms=10)
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal",
               xlabel=f"$w_1 - w_1^*$ (important, $h_1$ = {h[0]:g})",
               ylabel=f"$w_2 - w_2^*$ (unimportant, $h_2$ = {h[1]:g})")
        ax.set_title(label, fontsize=9)
    ax = axes[2]
    names = ["homogeneous", "heterogeneous"]
    perf = [cmp.expected_cost_hom, cmp.expected_cost_het]
    ax.bar(names, perf, color=[GREY, GREEN], label="expected performance cost (exact)")
    ax.bar(names, [cmp.reliability_cost] * 2, bottom=perf, color=[GREY, GREEN], alpha=0.35,
           label="reliability cost (equal)")
    mc = [float(np.mean(0.5 * (h * d**2).sum(axis=1))) for d in (dev_hom, dev_het)]
    ax.plot(names, mc, "kx", ms=8, label="Monte-Carlo estimate")
    ax.set_ylabel("cost")
    ax.set_title(rf"$c$ = {cmp.c:g}, $\rho$ = {cmp.rho:g}: total cost", fontsize=9)
    ax.legend(fontsize=8, frameon=False, loc="upper right")
    ax.set_ylim(0, 1.35 * (max(perf) + cmp.reliability_cost))
    return fig, mc


def save_samples(path, dev_hom, dev_het):
    save_csv(path, ["hom_dw1", "hom_dw2", "het_dw1", "het_dw2"], np.hstack([dev_hom, dev_het]))


def run(out, quick=True, force=False, h=(10.0, 0.5), c=0.05, rho=2.0, seed=0):
    """Compute, plot and save; return the results dictionary."""
    out = kit.prepare_out_dir(out, force)
    cmp = equal_cost_sigmas(np.asarray(h, dtype=float), c, rho)
    dev_hom, dev_het = draw(cmp, 400 if quick else 5000, seed)
    fig, mc = plot(cmp, dev_hom, dev_het)
    save_figure(fig, out, NAME)
    save_samples(out / "samples.csv", dev_hom, dev_het)
    results = {
        "figure": "Fig. 4", "model": "MODEL.md §A9 (sigma from §A7)",
        "h": cmp.h, "c": c, "rho": rho, "seed": seed, "samples": int(dev_hom.shape[0]),
        "sigma_homogeneous": cmp.sigma_hom, "sigma_heterogeneous": cmp.sigma_het,
        "reliability_cost": cmp.reliability_cost,
        "expected_cost_homogeneous": cmp.expected_cost_hom,
        "expected_cost_heterogeneous": cmp.expected_cost_het,
        "total_cost_homogeneous": cmp.expected_cost_hom + cmp.reliability_cost,
        "total_cost_heterogeneous": cmp.expected_cost_het + cmp.reliability_cost,
        "monte_carlo_cost_homogeneous": mc[0], "monte_carlo_cost_heterogeneous": mc[1],
    }
    save_json(out / "results.json", results)
    return results


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=kit.Formatter)
    p.add_argument("--out", default=f"runs/{NAME}", help="output folder")
    p.add_argument("--full", action="store_true", help="draw 5000 samples instead of 400")
    p.add_argument("--h", type=kit.fraction, nargs=2, default=(10.0, 0.5), metavar=("H1", "H2"),
                   help="curvatures of the important and the unimportant synapse (default: 10 0.5)")
    p.add_argument("--c", type=kit.fraction, default=0.05, help="reliability cost weight")
    p.add_argument("--rho", type=kit.fraction, default=2.0, help="reliability cost exponent")
    p.add_argument("--seed", type=int, default=0, help="seed of the drawn samples (default: %(default)s)")
    p.add_argument("--force", action="store_true", help="overwrite results already in --out")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        for option, value in (("--h", min(args.h)), ("--c", args.c), ("--rho", args.rho)):
            if value <= 0:
                raise kit.CLIError(f"{option} must be > 0, got {value:g}")
        kit.at_least("--seed", args.seed, 0)
        r = run(args.out, quick=not args.full, force=args.force, h=args.h, c=args.c, rho=args.rho, seed=args.seed)
    except kit.CLIError as err:
        print(f"{NAME}: error: {err}", file=sys.stderr)
        return 2
    print(f"reliability cost (both): {r['reliability_cost']:.6g}")
    print(f"homogeneous   sigma = {r['sigma_homogeneous']:.4f}: expected cost {r['expected_cost_homogeneous']:.6g}")
    print(f"heterogeneous sigma = {np.round(r['sigma_heterogeneous'], 4)}: "
          f"expected cost {r['expected_cost_heterogeneous']:.6g}")
    print(f"saved in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
