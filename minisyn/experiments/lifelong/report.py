"""Summaries of lifelong runs: a table, ``<protocol>_summary.csv``/``.json`` and two figures."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from minisyn.experiments.lifelong.methods import METHODS
from minisyn.output import pyplot, save_csv, save_figure, save_json

__all__ = ["SUMMARY_COLUMNS", "mean_sd", "summarise", "write_summary_csv", "format_table", "plot_matrices",
           "plot_summary", "report"]

SUMMARY_COLUMNS = ("method", "label", "n_seeds", "final_mean", "final_sd", "first_task_mean", "first_task_sd",
                   "seconds_per_run")


def mean_sd(a, axis=0):
    """Mean and sample SD over seeds (SD 0 for one seed)."""
    a = np.asarray(a, dtype=np.float64)
    sd = a.std(axis=axis, ddof=1) if a.shape[axis] > 1 else np.zeros_like(a.mean(axis=axis))
    return a.mean(axis=axis), sd


def summarise(results):
    """Rows ``{method, label, n_seeds, final_mean, final_sd, first_task_mean, first_task_sd, seconds_per_run}``."""
    rows = []
    for m, runs in results.items():
        if not runs:
            continue
        final = [r["final_mean"] for r in runs]
        first = [r["matrix"][-1][0] for r in runs]
        fm, fs = mean_sd(final)
        tm, ts = mean_sd(first)
        rows.append({"method": m, "label": METHODS[m][0], "n_seeds": len(runs), "final_mean": float(fm),
                     "final_sd": float(fs), "first_task_mean": float(tm), "first_task_sd": float(ts),
                     "seconds_per_run": float(np.mean([r["seconds"] for r in runs]))})
    return rows


def write_summary_csv(path, rows):
    """The rows of :func:`summarise` as CSV (:data:`SUMMARY_COLUMNS`)."""
    save_csv(path, SUMMARY_COLUMNS, [[r[k] for k in SUMMARY_COLUMNS] for r in rows])


def format_table(rows, protocol):
    """The printed summary table."""
    lines = [f"final mean accuracy over tasks ({protocol}), mean ± SD over seeds",
             f"{'method':34s} {'seeds':>5s} {'final mean acc':>17s} {'task 1 at end':>17s} {'s/run':>7s}"]
    for r in rows:
        lines.append(f"{r['label']:34s} {r['n_seeds']:5d} {r['final_mean']:8.4f} ± {r['final_sd']:6.4f} "
                     f"{r['first_task_mean']:8.4f} ± {r['first_task_sd']:6.4f} {r['seconds_per_run']:7.1f}")
    return "\n".join(lines)


def _save(fig, stem):
    stem = Path(stem)
    return save_figure(fig, stem.parent, stem.name, dpi=130)


def plot_matrices(results, stem, protocol):
    """Seed-averaged accuracy matrices, one panel per method (PNG and PDF at ``stem``)."""
    plt = pyplot()
    methods = [m for m, runs in results.items() if runs]
    fig, axes = plt.subplots(1, len(methods), figsize=(2.9 * len(methods) + 0.8, 3.1), squeeze=False,
                             constrained_layout=True)
    im = None
    for ax, m in zip(axes[0], methods):
        mat = np.mean([r["matrix"] for r in results[m]], axis=0)
        K = mat.shape[0]
        im = ax.imshow(mat, vmin=0.5 if protocol == "split" else 0.0, vmax=1.0, cmap="viridis")
        for i in range(K):
            for j in range(K):
                if K <= 6:
                    ax.text(j, i, f"{mat[i, j]:.2f}", ha="center", va="center", fontsize=7,
                            color="w" if mat[i, j] < 0.8 else "k")
        ax.set_title(METHODS[m][0], fontsize=8)
        ax.set_xlabel("test task j")
        ax.set_ylabel("after training task i")
        ax.set_xticks(range(K), [str(k + 1) for k in range(K)])
        ax.set_yticks(range(K), [str(k + 1) for k in range(K)])
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="test accuracy")
    return _save(fig, stem)


def plot_summary(results, stem, protocol):
    """First-task accuracy over training (left) and final mean accuracy per method (right)."""
    plt = pyplot()
    methods = [m for m, runs in results.items() if runs]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True,
                                 gridspec_kw={"width_ratios": [1.6, 1]})
    for m in methods:
        label, color = METHODS[m]
        curves = [r["first_task"] for r in results[m]]
        n = min(len(c["acc"]) for c in curves)
        t = np.asarray(curves[0]["task"][:n])
        mu, sd = mean_sd([c["acc"][:n] for c in curves])
        a1.plot(t, mu, color=color, label=label)
        a1.fill_between(t, mu - sd, mu + sd, color=color, alpha=0.2, lw=0)
    K = len(results[methods[0]][0]["matrix"])
    for k in range(1, K):
        a1.axvline(k, color="0.85", lw=0.8, zorder=0)
    a1.set_xlabel("training progress (tasks)")
    a1.set_ylabel("test accuracy on task 1")
    a1.set_title(f"first task during training ({protocol})", fontsize=9)
    a1.legend(fontsize=7, loc="lower left")
    rows = summarise({m: results[m] for m in methods})
    x = np.arange(len(rows))
    a2.bar(x, [r["final_mean"] for r in rows], yerr=[r["final_sd"] for r in rows], capsize=3,
           color=[METHODS[r["method"]][1] for r in rows], alpha=0.85)
    for i, m in enumerate(methods):
        finals = [r["final_mean"] for r in results[m]]
        a2.scatter(np.full(len(finals), i) + np.linspace(-0.15, 0.15, len(finals)), finals, s=8, color="k",
                   zorder=3)
    a2.set_xticks(x, [r["label"].replace(" (", "\n(") for r in rows], rotation=35, ha="right", fontsize=7)
    lo = min(r["final_mean"] - r["final_sd"] for r in rows)
    a2.set_ylim(max(0.0, lo - 0.05), 1.0)
    a2.set_ylabel("final mean accuracy over tasks")
    a2.set_title("mean ± SD over seeds (dots: seeds)", fontsize=9)
    return _save(fig, stem)


def report(out, protocol, results, quiet=False):
    """Write ``<protocol>_summary.csv``/``.json`` and the figures; return the printed table."""
    out = Path(out)
    rows = summarise(results)
    write_summary_csv(out / f"{protocol}_summary.csv", rows)
    save_json(out / f"{protocol}_summary.json", {"protocol": protocol, "rows": rows})
    plot_matrices(results, out / f"{protocol}_matrices", protocol)
    plot_summary(results, out / f"{protocol}_first_task_and_final", protocol)
    table = format_table(rows, protocol)
    if not quiet:
        print(table)
    return table
