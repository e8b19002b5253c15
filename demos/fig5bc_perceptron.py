#!/usr/bin/env python3
"""Fig. 5b, c: lifelong memorisation with a stochastic perceptron (MODEL.md §B6).

Five tasks of random ±1 patterns (100 patterns each, N inputs) are learned one
after another, 25 passes a task, Rosenblatt updates averaged over 5 patterns.
The stochastic perceptron (Bernoulli synapses, presynaptic rule with the
(1 - p) learning-rate factor and freezing, lifelong values of §B2) is compared
with the standard perceptron, on the same tasks for each seed.

Panels: (b) accuracy on the first task during training; (c) accuracy on every
task after the last one; and the final mean accuracy against the load
``5 P / 2N`` (capacity 2N). Mean and SD over seeds.

Writes ``fig5bc_perceptron.png``/``.pdf``, ``first_task.csv``,
``final_accuracy.csv``, ``load_sweep.csv`` and ``results.json``; prints the
first-task accuracy at the end of task 5 for both models (mean ± SD).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

try:
    import minisyn  # noqa: F401
except ImportError:  # running from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minisyn.backend import get_backend  # noqa: E402
from minisyn.cli import CLIError, prepare_out_dir, save_json  # noqa: E402
from minisyn.experiments.perceptron import LIFELONG_RULE, compare, load_sweep  # noqa: E402
from minisyn.output import pyplot, save_csv, save_figure  # noqa: E402

plt = pyplot()

NAME = "fig5bc_perceptron"
MODELS = {"stochastic": ("stochastic + consolidation", "C1"), "standard": ("standard perceptron", "C7")}
QUICK_LOADS = (0.1, 0.25, 0.5, 1.0)
FULL_LOADS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5)


def mean_sd(a, axis=0):
    """Mean and sample SD over seeds (SD 0 for a single seed)."""
    a = np.asarray(a, dtype=np.float64)
    sd = a.std(axis=axis, ddof=1) if a.shape[axis] > 1 else np.zeros_like(a.mean(axis=axis))
    return a.mean(axis=axis), sd


def plot(runs, sweep, passes, n_inputs):
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), constrained_layout=True)
    ax = axes[0]
    for name, (label, color) in MODELS.items():
        m, s = mean_sd(runs[name]["first_task"])
        t = np.arange(1, m.size + 1) / passes
        ax.plot(t, m, color=color, label=label)
        ax.fill_between(t, m - s, m + s, color=color, alpha=0.25, lw=0)
    n_tasks = runs["stochastic"]["matrix"].shape[1]
    for k in range(1, n_tasks):
        ax.axvline(k, color="k", lw=0.5, ls=":")
    ax.set(xlabel="task (25 passes each)", ylabel="accuracy on task 1", title="(b) first task during training",
           ylim=(0.45, 1.02))
    ax.legend(fontsize=8, frameon=False, loc="lower left")

    ax = axes[1]
    width = 0.38
    for j, (name, (label, color)) in enumerate(MODELS.items()):
        m, s = mean_sd(runs[name]["matrix"][:, -1, :])
        x = np.arange(1, n_tasks + 1) + (j - 0.5) * width
        mean_acc = mean_sd(runs[name]["mean_accuracy"])[0]
        ax.bar(x, m, width, yerr=s, color=color, label=f"{label} (mean {mean_acc:.3f})", capsize=2)
    ax.set(xlabel="task", ylabel="accuracy after task 5", title="(c) every task after learning all", ylim=(0.45, 1.15))
    ax.set_xticks(np.arange(1, n_tasks + 1))
    ax.legend(fontsize=7, frameon=False, loc="upper left", ncol=2)

    ax = axes[2]
    for name, (label, color) in MODELS.items():
        m, s = mean_sd(sweep[f"{name}_mean"], axis=1)
        ax.errorbar(sweep["load"], m, yerr=s, color=color, marker="o", ms=4, capsize=2, label=label)
    ax.set(xscale="log", xlabel=r"load $5P / 2N$ (capacity = 1)", ylabel="final mean accuracy",
           title=f"load sweep (N = {n_inputs})", ylim=(0.45, 1.02))
    ax.legend(fontsize=8, frameon=False, loc="lower left")
    return fig


def summary(runs):
    """Mean and SD over seeds of the numbers reported in the text."""
    out = {}
    for name in MODELS:
        r = runs[name]
        first_m, first_s = mean_sd(r["matrix"][:, -1, 0])
        mean_m, mean_s = mean_sd(r["mean_accuracy"])
        out[name] = {"first_task_after_last": {"mean": float(first_m), "sd": float(first_s)},
                     "mean_accuracy": {"mean": float(mean_m), "sd": float(mean_s)},
                     "mean_release_probability": float(r["mean_p"].mean())}
    return out


def run(out, seeds=5, quick=True, force=False, n_inputs=1000, backend=None):
    """Run both models and the load sweep, plot and save; return the results dictionary."""
    if seeds < 1 or n_inputs < 1:
        raise CLIError("--seeds and --n-inputs must be >= 1")
    out = prepare_out_dir(out, force, NAME)
    be = get_backend(backend)
    seed_list = list(range(seeds))
    protocol = dict(n_inputs=n_inputs, n_tasks=5, n_patterns=100, passes=25, group=5)
    t0 = time.perf_counter()
    runs = compare(seed_list, backend=be, **protocol)
    loads = QUICK_LOADS if quick else FULL_LOADS
    sweep = load_sweep(loads, seed_list, n_inputs=n_inputs, n_tasks=5, passes=25, group=5, backend=be)
    seconds = time.perf_counter() - t0
    for name, r in runs.items():
        if not all(np.isfinite(v).all() for v in r.values()):
            raise RuntimeError(f"non-finite accuracies for the {name} perceptron")

    save_figure(plot(runs, sweep, protocol["passes"], n_inputs), out, NAME)
    ft = {k: mean_sd(runs[k]["first_task"]) for k in MODELS}
    save_csv(out / "first_task.csv", ["pass", "stochastic_mean", "stochastic_sd", "standard_mean", "standard_sd"],
             [[i + 1, ft["stochastic"][0][i], ft["stochastic"][1][i], ft["standard"][0][i], ft["standard"][1][i]]
              for i in range(ft["stochastic"][0].size)])
    fin = {k: mean_sd(runs[k]["matrix"][:, -1, :]) for k in MODELS}
    save_csv(out / "final_accuracy.csv", ["task", "stochastic_mean", "stochastic_sd", "standard_mean", "standard_sd"],
             [[k + 1, fin["stochastic"][0][k], fin["stochastic"][1][k], fin["standard"][0][k], fin["standard"][1][k]]
              for k in range(5)])
    sw = {k: mean_sd(sweep[f"{k}_mean"], axis=1) for k in MODELS}
    save_csv(out / "load_sweep.csv", ["load", "patterns_per_task", "stochastic_mean", "stochastic_sd",
                                      "standard_mean", "standard_sd"],
             [[sweep["load"][i], int(sweep["n_patterns"][i]), sw["stochastic"][0][i], sw["stochastic"][1][i],
               sw["standard"][0][i], sw["standard"][1][i]] for i in range(len(loads))])
    results = {
        "figure": "Fig. 5b, c", "model": "MODEL.md §B6, §B2, §B5", "seeds": seed_list, "quick": quick,
        "backend": be.name, "dtype": be.dtype.name, "protocol": protocol, "rule": LIFELONG_RULE,
        "evaluation": "sampled release", "seconds": seconds,
        "summary": summary(runs),
        "per_seed": {k: {"matrix": runs[k]["matrix"], "first_task": runs[k]["first_task"],
                         "mean_accuracy": runs[k]["mean_accuracy"], "mean_p": runs[k]["mean_p"]} for k in MODELS},
        "load_sweep": {k: v for k, v in sweep.items()},
    }
    save_json(out / "results.json", results)
    return results


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=f"runs/{NAME}", help="output folder (default: %(default)s)")
    p.add_argument("--seeds", type=int, default=5, help="number of seeds, 0 .. SEEDS-1 (default: %(default)s)")
    p.add_argument("--n-inputs", type=int, default=1000, help="N, the number of inputs (default: %(default)s)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="quick", action="store_true", default=True,
                      help=f"load sweep over {len(QUICK_LOADS)} loads (the default)")
    size.add_argument("--full", dest="quick", action="store_false",
                      help=f"load sweep over {len(FULL_LOADS)} loads, up to 1.5 times capacity")
    p.add_argument("--force", action="store_true", help="overwrite results already in --out")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        results = run(args.out, seeds=args.seeds, quick=args.quick, force=args.force, n_inputs=args.n_inputs)
    except CLIError as err:
        print(f"{NAME}: error: {err}", file=sys.stderr)
        return 2
    s = results["summary"]
    n = len(results["seeds"])
    print(f"first-task accuracy at the end of task 5 (mean ± SD over {n} seeds, N = {args.n_inputs}):")
    for name, (label, _) in MODELS.items():
        f, m = s[name]["first_task_after_last"], s[name]["mean_accuracy"]
        print(f"  {label:>27s}: {f['mean']:.3f} ± {f['sd']:.3f}   (mean over tasks {m['mean']:.3f} ± {m['sd']:.3f})")
    print(f"saved in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
