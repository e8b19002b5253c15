"""Lifelong memorisation with a perceptron of stochastic synapses (MODEL.md §B6; Fig. 5b, c).

A sequence of tasks, each a set of random patterns ``x`` uniform on
``{-1, +1}^N`` with random labels ``y`` in ``{-1, +1}``, is learned one task
after the other by :class:`minisyn.network.Perceptron`: Rosenblatt's rule,
averaged over groups of 5 patterns, with

- Bernoulli synapses and the presynaptic rule with consolidation (the
  ``(1 - p)`` learning-rate factor and freezing of ``p``, §B2, §B5): the
  *stochastic* perceptron;
- deterministic synapses: the *standard* perceptron.

Measured: accuracy on the first task after every pass, the accuracy on every
task after each task, and the final mean accuracy; and, in a sweep, the final
mean accuracy against the load ``n_tasks * n_patterns / (2N)`` (2N is the
capacity of a perceptron).

Patterns live on the host (numpy) and go to the backend once per task; all
model arithmetic runs through the backend's ``xp`` inside ``Perceptron``.
:func:`run` is the whole experiment of Fig. 5b, c (figure, CSV tables,
``results.json``); ``minisyn perceptron`` and ``demos/paper_b_fig5bc_perceptron.py``
call it.
"""
from __future__ import annotations

import sys
import time

import numpy as np

from minisyn.backend import get_backend
from minisyn.experiments import kit
from minisyn.experiments.lifelong.methods import LIFELONG_RULE
from minisyn.experiments.lifelong.report import mean_sd
from minisyn.network import Perceptron
from minisyn.output import pyplot, save_csv, save_figure, save_json

__all__ = ["LIFELONG_RULE", "MODELS", "PROTOCOL", "QUICK_LOADS", "FULL_LOADS", "EVAL_MODES", "VOTE_SAMPLES",
           "SCORING", "QUICK_SETTINGS", "PAPER_SETTINGS", "make_tasks", "task_accuracy",
           "train_lifelong", "compare", "load_sweep", "patterns_for_load", "run", "plot", "summary",
           "format_summary", "register", "run_cli"]

#: model name -> (label for tables and figures, colour)
MODELS = {"stochastic": ("stochastic + consolidation", "C1"), "standard": ("standard perceptron", "C7")}
#: The paper's protocol (§B6): 5 tasks of 100 patterns, N = 1000, 25 passes a task, groups of 5.
PROTOCOL = dict(n_inputs=1000, n_tasks=5, n_patterns=100, passes=25, group=5)
#: Loads ``n_tasks * P / (2N)`` of the sweep: quick, and up to 1.5 times capacity.
QUICK_LOADS = (0.1, 0.25, 0.5, 1.0)
FULL_LOADS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5)
FIGURE = "fig5bc_perceptron"
EVAL_MODES = ("sample", "mean", "vote")
VOTE_SAMPLES = 10  # release samples of eval_mode='vote' (the authors' n_evals)
#: How each eval mode scores, in words (figure labels and the printed summary).
SCORING = {"sample": "one release sample", "mean": "mean weights", "vote": f"vote of {VOTE_SAMPLES} release samples"}
#: Quick (the default): the paper's protocol and 5 seeds, 4 loads, scored with the mean weights.
QUICK_SETTINGS = dict(loads=list(QUICK_LOADS), n_seeds=5, eval_mode="mean")
#: --paper: 10 seeds (as the authors' notebook), loads up to 1.5 times capacity, their 10-sample vote.
PAPER_SETTINGS = dict(loads=list(FULL_LOADS), n_seeds=10, eval_mode="vote")


def make_tasks(n_tasks, n_patterns, n_inputs, seed):
    """Random ±1 patterns and labels for ``n_tasks`` tasks (host arrays).

    Returns
    -------
    x : ndarray of shape (n_tasks, n_patterns, n_inputs)
    y : ndarray of shape (n_tasks, n_patterns)
    """
    rng = np.random.default_rng(seed)
    x = rng.choice([-1.0, 1.0], size=(n_tasks, n_patterns, n_inputs))
    y = rng.choice([-1.0, 1.0], size=(n_tasks, n_patterns))
    return x, y


def task_accuracy(net, x, y, mode="sample"):
    """Fraction of patterns ``x`` (backend, ``(P, N)``) classified as ``y``.

    ``mode``: one of :data:`EVAL_MODES`; ``'sample'`` one release sample (the perceptron as it
    runs), ``'mean'`` the mean weights ``w = m``, ``'vote'`` the majority of
    :data:`VOTE_SAMPLES` release samples (a tie counts as wrong), as the authors' notebook scores
    the stochastic perceptron.
    """
    if mode not in EVAL_MODES:
        raise ValueError(f"eval_mode must be one of {EVAL_MODES}, got {mode!r}")
    if mode != "vote":
        return net.be.scalar((net.predict(x, mode) == y).mean())
    votes = sum(net.predict(x, "sample") for _ in range(VOTE_SAMPLES))
    return net.be.scalar((votes * y > 0).mean())


def train_lifelong(n_inputs=1000, n_tasks=5, n_patterns=100, passes=25, group=5, stochastic=True,
                   seed=0, lr=1.0, rule_kwargs=None, eval_mode="sample", backend=None):
    """Learn ``n_tasks`` memorisation tasks one after another (MODEL.md §B6).

    Each pass visits a task's patterns in a fresh random order, in groups of
    ``group`` patterns, one averaged Rosenblatt update per group.

    Parameters
    ----------
    n_inputs : int
        N (capacity 2N patterns).
    n_tasks, n_patterns, passes, group : int
    stochastic : bool
        Stochastic perceptron with consolidation, or the standard one.
    seed : int
        Seeds the patterns, the order of presentation and the synaptic noise;
        the same seed gives both models the same tasks and orders.
    lr : float
    rule_kwargs : dict or None
        Presynaptic-rule settings; default :data:`LIFELONG_RULE` (the lifelong experiment's,
        whose ``p_min`` 0.25 is the perceptron's ``p_init``).
    eval_mode : {'sample', 'mean', 'vote'}
        Accuracy with sampled release (the network as it runs), the mean weights, or the
        majority of 10 release samples (:func:`task_accuracy`).
    backend : Backend, str or None

    Returns
    -------
    dict with
        ``first_task`` : (n_tasks * passes,) accuracy on task 1 after every pass;
        ``matrix`` : (n_tasks, n_tasks), ``matrix[t, k]`` = accuracy on task k after task t;
        ``mean_accuracy`` : mean of the last row;
        ``train_error`` : (n_tasks * passes,) fraction of misclassified patterns during each pass;
        ``mean_p`` : mean release probability at the end (1 for the standard perceptron).
    """
    if n_patterns % group:
        raise ValueError(f"n_patterns ({n_patterns}) must be a multiple of the group size ({group})")
    be = get_backend(backend)
    xs, ys = make_tasks(n_tasks, n_patterns, n_inputs, seed)
    rng = np.random.default_rng([seed, 1])
    rule = dict(LIFELONG_RULE if rule_kwargs is None else rule_kwargs)
    net = Perceptron(n_inputs, be, seed=seed + 1, stochastic=stochastic, lr=lr, rule_kwargs=rule)
    tasks = [(be.floats(x), be.floats(y)) for x, y in zip(xs, ys)]
    first, errors, matrix = [], [], np.zeros((n_tasks, n_tasks))
    for t, (x, y) in enumerate(tasks):
        for _ in range(passes):
            order = rng.permutation(n_patterns)
            wrong = 0.0
            for start in range(0, n_patterns, group):
                idx = be.asarray(order[start:start + group])
                wrong += be.scalar(net.update(x[idx], y[idx]))
            errors.append(wrong * group / n_patterns)
            first.append(task_accuracy(net, *tasks[0], eval_mode))
        matrix[t] = [task_accuracy(net, xk, yk, eval_mode) for xk, yk in tasks]
    mean_p = float(be.to_numpy(net.layer.p).mean())
    return {"first_task": np.array(first), "matrix": matrix, "mean_accuracy": float(matrix[-1].mean()),
            "train_error": np.array(errors), "mean_p": mean_p}


def compare(seeds, **kwargs):
    """Both perceptrons over several seeds; ``kwargs`` go to :func:`train_lifelong`.

    Returns
    -------
    dict ``{'stochastic': runs, 'standard': runs}``, each a dict of arrays
    stacked over seeds (leading axis ``len(seeds)``).
    """
    out = {}
    for name, stochastic in (("stochastic", True), ("standard", False)):
        runs = [train_lifelong(seed=int(s), stochastic=stochastic, **kwargs) for s in seeds]
        out[name] = {k: np.array([r[k] for r in runs]) for k in runs[0]}
    return out


def patterns_for_load(load, n_inputs, n_tasks, group=5):
    """Patterns per task for a total load ``n_tasks * P / (2N)``, a multiple of ``group`` (at least one group)."""
    p = load * 2 * n_inputs / n_tasks
    return max(group, int(round(p / group)) * group)


def load_sweep(loads, seeds, n_inputs=1000, n_tasks=5, **kwargs):
    """Final mean and first-task accuracy against load for both perceptrons.

    Parameters
    ----------
    loads : sequence of float
        Total load ``n_tasks * n_patterns / (2N)`` (1 = capacity).
    seeds : sequence of int

    Returns
    -------
    dict with ``'load'``, ``'n_patterns'`` and, per model, ``'<model>_mean'``
    and ``'<model>_first'`` arrays of shape ``(len(loads), len(seeds))``.
    """
    n_patterns = [patterns_for_load(f, n_inputs, n_tasks) for f in loads]
    out = {"load": np.array([n_tasks * p / (2 * n_inputs) for p in n_patterns]), "n_patterns": np.array(n_patterns)}
    rows = [compare(seeds, n_inputs=n_inputs, n_tasks=n_tasks, n_patterns=p, **kwargs) for p in n_patterns]
    for name in ("stochastic", "standard"):
        out[f"{name}_mean"] = np.array([r[name]["mean_accuracy"] for r in rows])
        out[f"{name}_first"] = np.array([r[name]["matrix"][:, -1, 0] for r in rows])
    return out


# ---------------------------------------------------------------------------------------------
# The experiment of Fig. 5b, c: both models, a load sweep, figure and tables
def plot(runs, sweep, passes, n_inputs, eval_mode="mean"):
    """Fig. 5b, c: the first task during training, every task at the end, and the load sweep
    (mean ± SD over seeds, bands clipped to [0, 1]; the dashed line is chance, 0.5)."""
    plt = pyplot()
    n_tasks = runs["stochastic"]["matrix"].shape[1]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), constrained_layout=True)
    ax = axes[0]
    for name, (label, color) in MODELS.items():
        m, s = mean_sd(runs[name]["first_task"])
        t = np.arange(1, m.size + 1) / passes
        ax.plot(t, m, color=color, label=label)
        ax.fill_between(t, np.clip(m - s, 0, 1), np.clip(m + s, 0, 1), color=color, alpha=0.25, lw=0)
    for k in range(1, n_tasks):
        ax.axvline(k, color="k", lw=0.5, ls=":")
    ax.axhline(0.5, color="0.5", lw=0.8, ls="--")
    ax.set(xlabel=f"task ({passes} passes each)", ylabel=f"accuracy on task 1 ({SCORING[eval_mode]})",
           title="(b) first task during training", ylim=(0.4, 1.02))
    ax.legend(fontsize=8, frameon=False, loc="lower left")

    ax = axes[1]                                   # points, not bars: the axis need not start at 0
    for j, (name, (label, color)) in enumerate(MODELS.items()):
        m, s = mean_sd(runs[name]["matrix"][:, -1, :])
        x = np.arange(1, n_tasks + 1) + (j - 0.5) * 0.25
        mean_acc = mean_sd(runs[name]["mean_accuracy"])[0]
        ax.errorbar(x, m, yerr=s, color=color, marker="o", ms=5, ls="none", capsize=2,
                    label=f"{label} (mean {mean_acc:.3f})")
    ax.axhline(0.5, color="0.5", lw=0.8, ls="--")
    ax.set(xlabel="task", ylabel=f"accuracy after task {n_tasks}", title="(c) every task after learning all",
           ylim=(0.4, 1.1))
    ax.set_xticks(np.arange(1, n_tasks + 1))
    ax.legend(fontsize=7, frameon=False, loc="upper left")

    ax = axes[2]
    for name, (label, color) in MODELS.items():
        m, s = mean_sd(sweep[f"{name}_mean"], axis=1)
        ax.errorbar(sweep["load"], m, yerr=s, color=color, marker="o", ms=4, capsize=2, label=label)
    ax.axhline(0.5, color="0.5", lw=0.8, ls="--")
    ax.set(xscale="log", xlabel=rf"load ${n_tasks}P / 2N$ (capacity = 1)", ylabel="final mean accuracy",
           title=f"load sweep (N = {n_inputs})", ylim=(0.4, 1.02))
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


def format_summary(results):
    """The printed lines: first-task and mean accuracy after the last task, mean ± SD over seeds."""
    s, p = results["summary"], results["protocol"]
    lines = [f"first-task accuracy at the end of task {p['n_tasks']} (mean ± SD over {len(results['seeds'])} "
             f"seeds, N = {p['n_inputs']}, scored by {SCORING[results.get('evaluation', 'sample')]}):"]
    for name, (label, _) in MODELS.items():
        f, m = s[name]["first_task_after_last"], s[name]["mean_accuracy"]
        lines.append(f"  {label:>27s}: {f['mean']:.3f} ± {f['sd']:.3f}   "
                     f"(mean over tasks {m['mean']:.3f} ± {m['sd']:.3f})")
    return "\n".join(lines)


def _save_mean_sd_table(path, lead, rows, stats):
    """A CSV of ``lead`` columns, then mean and SD of each model per row (``stats[model] = (means, sds)``)."""
    header = [*lead, *(f"{m}_{k}" for m in MODELS for k in ("mean", "sd"))]
    save_csv(path, header, [[*row, *(stats[m][j][i] for m in MODELS for j in (0, 1))] for i, row in enumerate(rows)])


def run(out, seeds, *, loads=QUICK_LOADS, n_inputs=1000, n_tasks=5, n_patterns=100, passes=25, group=5,
        eval_mode="mean", force=False, backend=None):
    """Both perceptrons on the same tasks for each seed, and the load sweep; writes into ``out``
    ``fig5bc_perceptron.png``/``.pdf``, ``first_task.csv``, ``final_accuracy.csv``,
    ``load_sweep.csv`` and ``results.json``, and returns the results dictionary. Accuracies are
    scored by ``eval_mode`` (:func:`task_accuracy`).

    Raises :class:`kit.CLIError` for settings out of range or an ``out`` that already holds
    results (unless ``force``).
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise kit.CLIError("--seeds: no seeds given")
    for option, value in (("--n-inputs", n_inputs), ("--n-tasks", n_tasks), ("--n-patterns", n_patterns),
                          ("--passes", passes), ("--group", group)):
        kit.at_least(option, value)
    if n_patterns % group:
        raise kit.CLIError(f"--n-patterns ({n_patterns}) must be a multiple of --group ({group})")
    if not loads or min(loads) <= 0:
        raise kit.CLIError(f"--loads must be positive, got {list(loads)}")
    if eval_mode not in EVAL_MODES:
        raise kit.CLIError(f"--eval-mode must be one of {', '.join(EVAL_MODES)}, got {eval_mode!r}")
    out = kit.prepare_out_dir(out, force)
    be = get_backend(backend)
    protocol = dict(n_inputs=n_inputs, n_tasks=n_tasks, n_patterns=n_patterns, passes=passes, group=group)
    t0 = time.perf_counter()
    runs = compare(seeds, backend=be, eval_mode=eval_mode, **protocol)
    sweep = load_sweep(loads, seeds, n_inputs=n_inputs, n_tasks=n_tasks, passes=passes, group=group,
                       eval_mode=eval_mode, backend=be)
    seconds = time.perf_counter() - t0
    for name, r in runs.items():
        if not all(np.isfinite(v).all() for v in r.values()):
            raise RuntimeError(f"non-finite accuracies for the {name} perceptron")

    save_figure(plot(runs, sweep, passes, n_inputs, eval_mode), out, FIGURE)
    first = {m: mean_sd(runs[m]["first_task"]) for m in MODELS}
    _save_mean_sd_table(out / "first_task.csv", ["pass"], [[i + 1] for i in range(n_tasks * passes)], first)
    final = {m: mean_sd(runs[m]["matrix"][:, -1, :]) for m in MODELS}
    _save_mean_sd_table(out / "final_accuracy.csv", ["task"], [[k + 1] for k in range(n_tasks)], final)
    swept = {m: mean_sd(sweep[f"{m}_mean"], axis=1) for m in MODELS}
    _save_mean_sd_table(out / "load_sweep.csv", ["load", "patterns_per_task"],
                        [[load, int(p)] for load, p in zip(sweep["load"], sweep["n_patterns"])], swept)
    results = {
        "figure": "Fig. 5b, c", "model": "MODEL.md §B6, §B2, §B5", "seeds": seeds, "loads": list(loads),
        "backend": be.name, "dtype": be.dtype.name, "protocol": protocol, "rule": LIFELONG_RULE,
        "evaluation": eval_mode, "seconds": seconds,
        "summary": summary(runs),
        "per_seed": {k: {"matrix": runs[k]["matrix"], "first_task": runs[k]["first_task"],
                         "mean_accuracy": runs[k]["mean_accuracy"], "mean_p": runs[k]["mean_p"]} for k in MODELS},
        "load_sweep": dict(sweep),
    }
    save_json(out / "results.json", results)
    return results


# ---------------------------------------------------------------------------------------------
# Command line
def register(sub):
    q, paper = PROTOCOL, PAPER_SETTINGS
    p = sub.add_parser(
        "perceptron", formatter_class=kit.Formatter,
        help="lifelong memorisation with a stochastic perceptron (Fig. 5b, c)",
        description="Tasks of random ±1 patterns with random labels, learned one after another "
                    "(MODEL.md §B6) by the stochastic perceptron (Bernoulli synapses, the presynaptic "
                    "rule with the (1 - p) learning-rate factor and freezing, the lifelong values of §B2) "
                    "and the standard perceptron, on the same tasks for each seed; and the final mean "
                    "accuracy against the load n_tasks P / 2N (capacity 2N).\n\nQuick (the default): the "
                    f"paper's protocol (N = {q['n_inputs']}, {q['n_tasks']} tasks of {q['n_patterns']} patterns, "
                    f"{q['passes']} passes a task, groups of {q['group']}), 5 seeds, loads "
                    f"{','.join(f'{v:g}' for v in QUICK_LOADS)}, both perceptrons scored with their mean "
                    "weights w = m. --paper: 10 seeds, loads up to 1.5 times capacity, and the authors' "
                    f"scoring (the majority of {VOTE_SAMPLES} release samples).\n\nWrites "
                    f"{FIGURE}.png/.pdf, first_task.csv, final_accuracy.csv, load_sweep.csv and "
                    "results.json to --out.",
        epilog="examples:\n"
               "  minisyn perceptron                          # quick: 5 seeds, 4 loads (~25 s)\n"
               "  minisyn perceptron --paper                  # 10 seeds, 7 loads, the authors' scoring (~2 min)\n"
               "  minisyn perceptron --n-inputs 200 --seeds 0,1,2\n")
    g = p.add_argument_group("protocol")
    g.add_argument("--n-inputs", type=int, default=q["n_inputs"], help="N, the number of inputs")
    g.add_argument("--n-tasks", type=int, default=q["n_tasks"], help="tasks learned one after another")
    g.add_argument("--n-patterns", type=int, default=q["n_patterns"], help="patterns per task")
    g.add_argument("--passes", type=int, default=q["passes"], help="passes through each task")
    g.add_argument("--group", type=int, default=q["group"], help="patterns per averaged Rosenblatt update")
    g.add_argument("--loads", type=kit.floats, default=None,
                   help="total loads n_tasks P / 2N of the sweep, comma separated (quick: "
                        f"{','.join(f'{v:g}' for v in QUICK_LOADS)}; paper, up to 1.5 times capacity: "
                        f"{','.join(f'{v:g}' for v in FULL_LOADS)})")
    g.add_argument("--eval-mode", choices=EVAL_MODES, default=None,
                   help="score with one release sample, the mean weights (quick) or the majority of "
                        f"{VOTE_SAMPLES} release samples ('vote', the authors'; paper)")
    g.add_argument("--seeds", type=kit.ints, default=None,
                   help="comma separated seeds (default: --seed and the next ones, --n-seeds in all)")
    g.add_argument("--n-seeds", type=int, default=None,
                   help=f"number of seeds when --seeds is not given (quick 5, paper {paper['n_seeds']})")
    g.add_argument("--paper", action="store_true", help="the paper's settings (see above)")
    kit.add_run_options(p, default_out="runs/perceptron")
    p.set_defaults(func=run_cli)
    return p


def run_cli(args):
    kit.apply_preset(args, QUICK_SETTINGS, PAPER_SETTINGS, use_paper=args.paper)
    if args.seeds is None:
        seeds = list(range(args.seed, args.seed + kit.at_least("--n-seeds", args.n_seeds)))
    else:
        seeds = args.seeds
    backend = kit.backend_from_args(args)
    out = kit.out_dir(args)
    print(f"minisyn perceptron: N = {args.n_inputs}, {args.n_tasks} tasks of {args.n_patterns} patterns, "
          f"seeds {seeds}, loads {args.loads}, scored by {args.eval_mode}; results go to {out}/", file=sys.stderr)
    results = run(out, seeds, loads=args.loads, n_inputs=args.n_inputs, n_tasks=args.n_tasks,
                  n_patterns=args.n_patterns, passes=args.passes, group=args.group, eval_mode=args.eval_mode,
                  force=args.force, backend=backend)
    print(format_summary(results))
    print(f"saved in {out}/")
    return 0
