"""Summaries of lifelong runs: a table, ``<protocol>_summary.csv``/``.json`` and two figures.

Runs whose loss became non-finite (``status: "diverged"``) are counted per
method and named in the table; the figures show the finished runs, and a
method whose every run diverged gets the word "diverged" where its bar would be.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from minisyn.experiments.lifelong.methods import METHODS
from minisyn.output import pyplot, save_csv, save_figure, save_json

__all__ = ["SUMMARY_COLUMNS", "CHANCE", "mean_sd", "finished", "summarise", "write_summary_csv", "format_table",
           "diverged_lines", "plot_matrices", "plot_summary", "report"]

SUMMARY_COLUMNS = ("method", "label", "n_seeds", "n_diverged", "final_mean", "final_sd", "first_task_mean",
                   "first_task_sd", "seconds_per_run")
#: Accuracy of guessing, per protocol (2 outputs for split, 10 otherwise).
CHANCE = {"split": 0.5, "permuted": 0.1, "continuous": 0.1}


def mean_sd(a, axis=0):
    """Mean and sample SD over seeds (SD 0 for one seed)."""
    a = np.asarray(a, dtype=np.float64)
    sd = a.std(axis=axis, ddof=1) if a.shape[axis] > 1 else np.zeros_like(a.mean(axis=axis))
    return a.mean(axis=axis), sd


def finished(runs):
    """The runs that trained to the end (records saved before ``status`` existed count as finished)."""
    return [r for r in runs if r.get("status", "finished") == "finished"]


def summarise(results):
    """Rows ``{method, label, n_seeds, n_diverged, final_mean, final_sd, first_task_mean, first_task_sd,
    seconds_per_run}``; ``n_seeds`` counts finished runs, the accuracies are theirs (None if none
    finished; the SDs None below two finished runs)."""
    rows = []
    for m, runs in results.items():
        if not runs:
            continue
        done = finished(runs)
        row = {"method": m, "label": METHODS[m][0], "n_seeds": len(done), "n_diverged": len(runs) - len(done),
               "final_mean": None, "final_sd": None, "first_task_mean": None, "first_task_sd": None,
               "seconds_per_run": float(np.mean([r["seconds"] for r in runs]))}
        if done:
            fm, fs = mean_sd([r["final_mean"] for r in done])
            tm, ts = mean_sd([r["matrix"][-1][0] for r in done])
            spread = len(done) > 1
            row.update(final_mean=float(fm), final_sd=float(fs) if spread else None, first_task_mean=float(tm),
                       first_task_sd=float(ts) if spread else None)
        rows.append(row)
    return rows


def write_summary_csv(path, rows):
    """The rows of :func:`summarise` as CSV (:data:`SUMMARY_COLUMNS`; empty cells where every run diverged)."""
    save_csv(path, SUMMARY_COLUMNS, [[r[k] for k in SUMMARY_COLUMNS] for r in rows])


def format_table(rows, protocol):
    """The printed summary table."""
    lines = [f"final mean accuracy over tasks ({protocol}), mean ± SD over seeds",
             f"{'method':34s} {'seeds':>5s} {'final mean acc':>17s} {'task 1 at end':>17s} {'s/run':>7s}"]
    def sd(v):
        return "   n/a" if v is None else f"{v:6.4f}"

    for r in rows:
        if r["n_seeds"]:
            acc = (f"{r['final_mean']:8.4f} ± {sd(r['final_sd'])} "
                   f"{r['first_task_mean']:8.4f} ± {sd(r['first_task_sd'])}")
        else:
            acc = f"{'diverged':>17s} {'':17s}"
        note = f"  ({r['n_diverged']} diverged)" if r["n_diverged"] and r["n_seeds"] else ""
        lines.append(f"{r['label']:34s} {r['n_seeds']:5d} {acc} {r['seconds_per_run']:7.1f}{note}")
    return "\n".join(lines)


def diverged_lines(results):
    """One line per method with diverged runs: how many, and the first run's error (what to lower)."""
    lines = []
    for m, runs in results.items():
        bad = [r for r in runs if r.get("status") == "diverged"]
        if bad:
            lines.append(f"note: {m} diverged in {len(bad)} of {len(runs)} run(s); {bad[0]['error']}")
    return lines


def _save(fig, stem):
    stem = Path(stem)
    return save_figure(fig, stem.parent, stem.name, dpi=130)


def plot_matrices(results, stem, protocol):
    """Seed-averaged accuracy matrices of the finished runs, one panel per method (PNG and PDF at
    ``stem``); None if no run finished."""
    methods = [m for m, runs in results.items() if finished(runs)]
    if not methods:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(methods), figsize=(2.9 * len(methods) + 0.8, 3.1), squeeze=False,
                             constrained_layout=True)
    im = None
    for ax, m in zip(axes[0], methods):
        mat = np.mean([r["matrix"] for r in finished(results[m])], axis=0)
        K = mat.shape[0]
        im = ax.imshow(mat, vmin=CHANCE[protocol], vmax=1.0, cmap="viridis")
        if K <= 6:
            for i in range(K):
                for j in range(K):
                    ax.text(j, i, f"{mat[i, j]:.2f}", ha="center", va="center", fontsize=7,
                            color="w" if mat[i, j] < 0.8 else "k")
        ax.set_title(METHODS[m][0], fontsize=8)
        ax.set_xlabel("test task j")
        ax.set_ylabel("after training task i")
        ticks = range(0, K, 1 if K <= 10 else 2)
        ax.set_xticks(ticks, [str(k + 1) for k in ticks])
        ax.set_yticks(ticks, [str(k + 1) for k in ticks])
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="test accuracy")
    return _save(fig, stem)


def plot_summary(results, stem, protocol):
    """First-task accuracy over training (left; mean ± SD over seeds, clipped to [0, 1]) and final
    mean accuracy per method (right; bars from 0, the dashed line is chance)."""
    plt = pyplot()
    rows = summarise(results)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True,
                                 gridspec_kw={"width_ratios": [1.6, 1]})
    K = None
    for m, runs in results.items():
        done = finished(runs)
        if not done:
            continue
        label, color = METHODS[m]
        curves = [r["first_task"] for r in done]
        n = min(len(c["acc"]) for c in curves)
        t = np.asarray(curves[0]["task"][:n])
        mu, sd = mean_sd([c["acc"][:n] for c in curves])
        a1.plot(t, mu, color=color, label=label)
        a1.fill_between(t, np.clip(mu - sd, 0, 1), np.clip(mu + sd, 0, 1), color=color, alpha=0.2, lw=0)
        K = len(done[0]["matrix"])
    for k in range(1, K or 0):
        a1.axvline(k, color="0.85", lw=0.8, zorder=0)
    a1.axhline(CHANCE[protocol], color="0.5", lw=0.8, ls="--", zorder=0)
    a1.set_ylim(0, 1.02)
    a1.set_xlabel("training progress (tasks)")
    a1.set_ylabel("test accuracy on task 1")
    a1.set_title(f"first task during training ({protocol})", fontsize=9)
    if K:
        a1.legend(fontsize=7, loc="lower left")
    x = np.arange(len(rows))
    for i, r in enumerate(rows):
        color = METHODS[r["method"]][1]
        if not r["n_seeds"]:
            a2.text(i, 0.03, "diverged", rotation=90, ha="center", va="bottom", fontsize=8, color=color)
            continue
        spread = r["final_sd"] or 0.0
        a2.bar(i, r["final_mean"], yerr=spread, capsize=3, color=color, alpha=0.85)
        a2.text(i, min(r["final_mean"] + spread, 1.0) + 0.02, f"{r['final_mean']:.3f}", ha="center",
                va="bottom", fontsize=7)
        finals = [run["final_mean"] for run in finished(results[r["method"]])]
        a2.scatter(np.full(len(finals), i) + np.linspace(-0.15, 0.15, len(finals)), finals, s=8, color="k",
                   zorder=3)
    a2.axhline(CHANCE[protocol], color="0.5", lw=0.8, ls="--")
    a2.set_xticks(x, [r["label"].replace(" (", "\n(") for r in rows], rotation=35, ha="right", fontsize=7)
    a2.set_ylim(0, 1.1)
    a2.set_yticks(np.linspace(0, 1, 6))
    a2.set_ylabel("final mean accuracy over tasks")
    a2.set_title("mean ± SD over seeds (dots: seeds; dashed: chance)", fontsize=9)
    return _save(fig, stem)


def report(out, protocol, results, quiet=False):
    """Write ``<protocol>_summary.csv``/``.json`` and the figures; return the printed table
    (with a note line per method that diverged)."""
    out = Path(out)
    rows = summarise(results)
    write_summary_csv(out / f"{protocol}_summary.csv", rows)
    save_json(out / f"{protocol}_summary.json", {"protocol": protocol, "rows": rows,
                                                 "diverged": diverged_lines(results)})
    plot_matrices(results, out / f"{protocol}_matrices", protocol)
    plot_summary(results, out / f"{protocol}_first_task_and_final", protocol)
    table = "\n".join([format_table(rows, protocol), *diverged_lines(results)])
    if not quiet:
        print(table)
    return table
