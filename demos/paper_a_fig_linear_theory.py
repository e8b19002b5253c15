#!/usr/bin/env python3
"""The linear model: learned sigma against Hcal_ii has log-log slope -1/(2+rho) (MODEL.md §A7).

Linear regression ``y = X w + noise`` on random ``X`` whose inputs have
heterogeneous scales, with Gaussian synapses ``w ~ N(mu, diag(sigma^2))``.
``mu`` and ``log sigma`` are learned by plain gradient descent, written out by
hand in numpy, on the exact objective of §A7,

    L = (1/T) [ (1/2) ||y - X mu||^2 + (1/2) sum_i sigma_i^2 Hcal_ii + c sum_i sigma_i^-rho ],

(the ``1/T`` only rescales the step). For each of the four rho the log-log
slope of the learned sigma against ``Hcal_ii`` is fitted and compared with
``-1/(2+rho)``; against the posterior sigma ``Hcal_ii^-1/2`` with ``2/(2+rho)``.

Writes ``fig_linear_theory.png``/``.pdf``, ``sigmas.csv`` and ``results.json``
(fitted and predicted slopes).
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
from matplotlib.ticker import NullFormatter

from minisyn.experiments import kit
from minisyn.output import pyplot, save_csv, save_figure, save_json
from minisyn.theory import hessian_diag, optimal_sigma, posterior_sigma, predicted_slopes

plt = pyplot()

NAME = "paper_a_fig_linear_theory"
RHOS = (1 / 2, 2 / 3, 4 / 3, 2.0)
MAX_LOG_STEP = 0.5   # trust region: |change of log sigma| per step


def make_problem(T, D, seed):
    """Random ``X`` (T, D) with input scales log-uniform over one decade, and ``y = X w + noise``."""
    rng = np.random.default_rng(seed)
    scales = 10.0 ** rng.uniform(-1.0, 0.0, size=D)
    X = rng.normal(size=(T, D)) * scales
    y = X @ rng.normal(size=D) + rng.normal(size=T)
    return X, y


def descend(X, y, c, rho, steps):
    """Gradient descent on ``(mu, s = log sigma)``; returns ``mu, sigma, final |dL/ds|``.

    The gradient in ``s`` is ``(sigma dC/dsigma - c rho sigma^-rho) / T``. ``L`` is
    convex in ``s`` (a sum of ``e^(2s)`` and ``e^(-rho s)`` terms), and the step
    is ``1 / (largest current curvature)``, capped at :data:`MAX_LOG_STEP`.
    ``mu`` takes steps ``1 / lambda_max(X^T X / T)``.
    """
    T, D = X.shape
    H = hessian_diag(X)
    mu, s = np.zeros(D), np.zeros(D)
    lr_mu = T / np.linalg.eigvalsh(X.T @ X)[-1]
    for _ in range(steps):
        sigma = np.exp(s)
        g_mu, g_sigma = -X.T @ (y - X @ mu), sigma * H                 # expected_cost_grad, H computed once
        rel = c * rho * sigma**-rho                                    # -sigma d(c sigma^-rho)/dsigma
        g_s = (sigma * g_sigma - rel) / T
        curvature = (2.0 * H * sigma**2 + rho * rel) / T               # d^2 L / ds^2
        s -= np.clip(g_s / curvature.max(), -MAX_LOG_STEP, MAX_LOG_STEP)
        mu -= lr_mu * g_mu / T
    return mu, np.exp(s), float(np.abs(g_s).max())


def fit_slopes(rhos=RHOS, T=400, D=100, c=0.5, steps=3000, seed=0):
    """Learn sigma for each rho and fit log-log slopes; return a dict keyed by ``f'{rho:.4g}'``."""
    X, y = make_problem(T, D, seed)
    H = hessian_diag(X)
    fits = {}
    for rho in rhos:
        mu, sigma, grad = descend(X, y, c, rho, steps)
        slope_post, slope_h = predicted_slopes(rho)
        fits[f"{rho:.4g}"] = dict(
            rho=float(rho), sigma=sigma, hessian=H,
            fitted_slope_hessian=float(np.polyfit(np.log(H), np.log(sigma), 1)[0]),
            predicted_slope_hessian=float(slope_h),
            fitted_slope_posterior=float(np.polyfit(np.log(posterior_sigma(X)), np.log(sigma), 1)[0]),
            predicted_slope_posterior=float(slope_post),
            max_rel_error_to_closed_form=float(np.max(np.abs(sigma / optimal_sigma(X, c, rho) - 1))),
            final_max_grad_log_sigma=grad,
        )
    return fits


def plot(fits, X_post):
    fig, axes = plt.subplots(2, len(fits), figsize=(3.3 * len(fits), 6.2), constrained_layout=True)
    axes = np.asarray(axes).reshape(2, -1)
    for j, f in enumerate(fits.values()):
        H, sigma = f["hessian"], f["sigma"]
        for ax, x, fitted, predicted, xlabel in (
                (axes[0, j], H, f["fitted_slope_hessian"], f["predicted_slope_hessian"], r"$\mathcal{H}_{ii}$"),
                (axes[1, j], X_post, f["fitted_slope_posterior"], f["predicted_slope_posterior"],
                 r"posterior $\sigma_{post,i}$")):
            ax.loglog(x, sigma, "o", ms=3, alpha=0.7, label="learned by gradient descent")
            xs = np.array([x.min(), x.max()])
            anchor = np.exp(np.mean(np.log(sigma)) - predicted * np.mean(np.log(x)))
            ax.loglog(xs, anchor * xs**predicted, "k--", lw=1, label=f"slope {predicted:.4f} (theory)")
            ax.set_title(rf"$\rho$ = {f['rho']:.3g}: fitted slope {fitted:.4f}", fontsize=9)
            ax.set_xlabel(xlabel)
            ax.xaxis.set_minor_formatter(NullFormatter())   # minor labels collide on short log axes
            ax.legend(fontsize=7, frameon=False)
        axes[0, j].set_ylabel(r"learned $\sigma_i$" if j == 0 else "")
        axes[1, j].set_ylabel(r"learned $\sigma_i$" if j == 0 else "")
    return fig


def save_sigmas(path, fits, H):
    """``Hcal_ii``, then the learned sigma for each rho, one line per synapse."""
    save_csv(path, ["hessian_diag"] + [f"sigma_rho_{k}" for k in fits],
             np.column_stack([H, *(f["sigma"] for f in fits.values())]))


def run(out, quick=True, force=False, c=0.5, seed=0):
    """Learn, fit, plot and save; return the results dictionary."""
    out = kit.prepare_out_dir(out, force)
    T, D, steps = (400, 100, 3000) if quick else (1000, 300, 4000)
    fits = fit_slopes(RHOS, T=T, D=D, c=c, steps=steps, seed=seed)
    X, _ = make_problem(T, D, seed)
    save_figure(plot(fits, posterior_sigma(X)), out, NAME)
    save_sigmas(out / "sigmas.csv", fits, hessian_diag(X))
    summary = {k: {n: v for n, v in f.items() if n not in ("sigma", "hessian")} for k, f in fits.items()}
    results = {"model": "MODEL.md §A7", "T": T, "D": D, "c": c, "seed": seed, "steps": steps, "slopes": summary}
    save_json(out / "results.json", results)
    return results


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=kit.Formatter)
    p.add_argument("--out", default=f"runs/{NAME}", help="output folder")
    p.add_argument("--full", action="store_true", help="T=1000, D=300, 4000 steps (default: 400, 100, 3000)")
    p.add_argument("--c", type=kit.fraction, default=0.5, help="reliability cost weight")
    p.add_argument("--seed", type=int, default=0, help="seed of the random problem (default: %(default)s)")
    p.add_argument("--force", action="store_true", help="overwrite results already in --out")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        if args.c <= 0:
            raise kit.CLIError(f"--c must be > 0, got {args.c:g}")
        kit.at_least("--seed", args.seed, 0)
        r = run(args.out, quick=not args.full, force=args.force, c=args.c, seed=args.seed)
    except kit.CLIError as err:
        print(f"{NAME}: error: {err}", file=sys.stderr)
        return 2
    for f in r["slopes"].values():
        print(f"rho = {f['rho']:.4f}: slope vs Hcal {f['fitted_slope_hessian']:+.6f} "
              f"(theory {f['predicted_slope_hessian']:+.6f}); vs posterior sigma "
              f"{f['fitted_slope_posterior']:+.6f} (theory {f['predicted_slope_posterior']:+.6f}); "
              f"max |sigma/sigma* - 1| = {f['max_rel_error_to_closed_form']:.2e}")
    print(f"saved in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
