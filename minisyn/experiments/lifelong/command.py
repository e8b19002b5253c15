"""The ``minisyn lifelong`` command (and the entry point of the Fig. 4 and 5a demos)."""
from __future__ import annotations

import argparse
import sys

from minisyn.experiments import kit
from minisyn.experiments.lifelong.methods import METHODS, PAPER_LR
from minisyn.experiments.lifelong.report import report
from minisyn.experiments.lifelong.run import run_lifelong
from minisyn.experiments.lifelong.tasks import EVAL_MODES, PREDICTIVE_SAMPLES, PROTOCOLS
from minisyn.output import save_json
from minisyn.train import TrainingDiverged

__all__ = ["PAPER_SETTINGS", "QUICK_SETTINGS", "register", "settings_from_args", "run_cli", "run_demo"]

# The paper (§B1, §B5): 784-200-200-out, minibatch 100, 10 epochs a task, full MNIST.
PAPER_SETTINGS = dict(dataset="mnist", hidden=(200, 200), epochs=10, batch_size=100, n_tasks=10,
                      lr=None, seeds=(0, 1, 2, 3, 4), fisher_samples=1000, bgd_samples=10, bgd_eta=1.0,
                      bgd_sigma=0.06, ewc_lambda=1000.0)
# Quick: the embedded 5,000-digit sample, a smaller net, larger steps (few steps a task).
QUICK_SETTINGS = dict(dataset="embedded", hidden=(100, 100), epochs=5, batch_size=50, n_tasks=5,
                      lr={"split": 0.05, "permuted": 0.05, "continuous": 0.05}, seeds=(0, 1, 2),
                      fisher_samples=200, bgd_samples=4, bgd_eta=10.0, bgd_sigma=0.06, ewc_lambda=100.0)


def register(sub):
    q = QUICK_SETTINGS
    p = sub.add_parser(
        "lifelong", formatter_class=kit.Formatter,
        help="lifelong learning: Split / Permuted / continuous MNIST (Figs. 4 and 5a)",
        description="Learn tasks one after another (MODEL.md §B5) with presynaptic consolidation "
                    "(Bernoulli synapses, the rule of §B2 with the (1 - p) learning-rate factor and "
                    "freezing), plain SGD, EWC, BGD and the two ablations (no consolidation; ghost "
                    "release probabilities).\n\nPer method and seed: the accuracy matrix acc[i, j] (task j "
                    "after task i), the first task's accuracy during training and the final mean "
                    "accuracy. Runs are saved in <out>/runs/ as they finish; rerunning resumes. Writes "
                    "<protocol>_summary.csv/.json and figures (PNG, PDF) to --out.",
        epilog="examples:\n"
               "  minisyn lifelong                                # quick: embedded data, split, 3 seeds\n"
               "  minisyn lifelong --protocol permuted --n-tasks 5\n"
               "  minisyn lifelong --dataset mnist --data-dir DIR --paper --seeds 0,1,2,3,4\n")
    g = p.add_argument_group("protocol")
    g.add_argument("--protocol", choices=PROTOCOLS, default="split", help="task sequence")
    g.add_argument("--methods", type=kit.names, default=list(METHODS),
                   help=f"comma separated, from: {', '.join(METHODS)} (default: all)")
    g.add_argument("--seeds", type=kit.ints, default=None, help="comma separated seeds (default: --seed and the "
                   "next ones, --n-seeds in all)")
    g.add_argument("--n-seeds", type=int, default=len(q["seeds"]), help="number of seeds when --seeds is not given")
    g.add_argument("--n-tasks", type=int, default=None,
                   help=f"permuted/continuous: number of tasks (default {q['n_tasks']}; paper 10, --paper)")
    g.add_argument("--permute-first", action="store_true",
                   help="permuted: permute task 1 too (default: task 1 is the original images)")
    g.add_argument("--transition", type=int, default=None,
                   help="continuous: steps over which one task blends into the next (default: half a task)")
    g.add_argument("--paper", action="store_true",
                   help="the paper's settings: hidden 200,200, 10 epochs a task, minibatch 100, lr 1e-3 "
                        "(split) / 1e-2 (permuted), 10 permuted tasks, Fisher on 1000 examples, BGD K=10")
    g = p.add_argument_group("network and training")
    g.add_argument("--sizes", type=kit.ints, default=None,
                   help=f"hidden widths, comma separated (default {','.join(map(str, q['hidden']))}; paper 200,200)")
    g.add_argument("--epochs-per-task", type=int, default=None, help=f"default {q['epochs']} (paper 10)")
    g.add_argument("--batch-size", type=int, default=None, help=f"default {q['batch_size']} (paper 100)")
    g.add_argument("--lr", type=kit.fraction, default=None,
                   help="learning rate of SGD, EWC and the rule's strengths (default 0.05 quick; paper "
                        "1e-3 split, 1e-2 permuted)")
    g.add_argument("--eval-mode", choices=EVAL_MODES, default="sample",
                   help="Bernoulli networks: evaluate with one release sample, the mean weights, or the "
                        f"softmax averaged over {PREDICTIVE_SAMPLES} release samples ('predictive', as "
                        "the authors' code)")
    g.add_argument("--eval-every", type=int, default=None,
                   help="steps between first-task evaluations and divergence checks (default: about 10 a task)")
    g = p.add_argument_group("baselines")
    g.add_argument("--ewc-lambda", type=kit.fraction, default=None,
                   help=f"EWC penalty strength lam (default {q['ewc_lambda']:g}; 1000 with --paper)")
    g.add_argument("--fisher-samples", type=int, default=None,
                   help=f"training examples per task in EWC's Fisher (default {q['fisher_samples']})")
    g.add_argument("--bgd-eta", type=kit.fraction, default=None,
                   help=f"BGD mean learning rate (default {q['bgd_eta']:g} quick, 1 with --paper as Zeno et al.)")
    g.add_argument("--bgd-sigma", type=kit.fraction, default=None,
                   help=f"BGD initial standard deviation (default {q['bgd_sigma']:g})")
    g.add_argument("--bgd-samples", type=int, default=None,
                   help=f"BGD Monte-Carlo samples K (default {q['bgd_samples']})")
    kit.add_data_options(p, test_limit=True)
    kit.add_run_options(p, default_out="runs/lifelong", resumable=True)
    p.set_defaults(func=run_cli)
    return p


def _pick(value, default):
    return default if value is None else value


def settings_from_args(args):
    """run_one keyword arguments from parsed options (quick defaults, or --paper)."""
    base = PAPER_SETTINGS if args.paper else QUICK_SETTINGS
    lr = args.lr
    if lr is None:
        lr = PAPER_LR[args.protocol] if base["lr"] is None else base["lr"][args.protocol]
    return dict(
        hidden=list(_pick(args.sizes, base["hidden"])), epochs=_pick(args.epochs_per_task, base["epochs"]),
        batch_size=_pick(args.batch_size, base["batch_size"]), lr=lr, n_tasks=_pick(args.n_tasks, base["n_tasks"]),
        permute_first=args.permute_first, transition=args.transition, eval_every=args.eval_every,
        eval_mode=args.eval_mode, ewc_lambda=_pick(args.ewc_lambda, base["ewc_lambda"]),
        fisher_samples=_pick(args.fisher_samples, base["fisher_samples"]),
        bgd_eta=_pick(args.bgd_eta, base["bgd_eta"]), bgd_sigma=_pick(args.bgd_sigma, base["bgd_sigma"]),
        bgd_samples=_pick(args.bgd_samples, base["bgd_samples"]))


def _check(args, kw):
    """A :class:`kit.CLIError` naming the option of a value out of range."""
    for option, name in (("--epochs-per-task", "epochs"), ("--batch-size", "batch_size"), ("--n-tasks", "n_tasks"),
                         ("--fisher-samples", "fisher_samples"), ("--bgd-samples", "bgd_samples")):
        kit.at_least(option, kw[name])
    for width in kw["hidden"]:
        kit.at_least("--sizes", width)
    if args.eval_every is not None:
        kit.at_least("--eval-every", args.eval_every)
    if args.transition is not None:
        kit.at_least("--transition", args.transition, 0)
    bad = [m for m in args.methods if m not in METHODS]
    if bad or not args.methods:
        raise kit.CLIError(f"--methods: unknown method(s) {bad}: choose from {', '.join(METHODS)}")


def run_cli(args):
    if args.seeds is None:
        seeds = list(range(args.seed, args.seed + kit.at_least("--n-seeds", args.n_seeds)))
    elif not args.seeds:
        raise kit.CLIError("--seeds: no seeds given")
    else:
        seeds = args.seeds
    kw = settings_from_args(args)
    _check(args, kw)
    backend = kit.backend_from_args(args)
    dataset = "mnist" if (args.paper and args.dataset == "embedded") else args.dataset
    data = kit.data_from_args(args, None, dataset=dataset)
    out = kit.out_dir(args)
    out.mkdir(parents=True, exist_ok=True)
    limited = args.train_limit is not None or args.test_limit is not None
    data_settings = {"dataset": dataset, "train_limit": args.train_limit, "test_limit": args.test_limit,
                     "subset_seed": args.seed if limited else None}
    print(f"minisyn lifelong: {args.protocol} on {dataset} ({data.n_train} training examples), methods "
          f"{', '.join(args.methods)}, seeds {seeds}; results go to {out}/", file=sys.stderr)
    try:
        results = run_lifelong(out, args.protocol, args.methods, seeds, data.arrays(), force=args.force,
                               progress=not args.no_progress, data_settings=data_settings, backend=backend, **kw)
    except TrainingDiverged as err:
        raise kit.CLIError(str(err)) from None
    save_json(out / f"{args.protocol}_config.json",
              {**data_settings, "data_source": data.source, "seeds": seeds, "methods": args.methods,
               "backend": backend.name, "dtype": backend.dtype.name, **kw})
    report(out, args.protocol, results)
    print(f"saved in {out}/ ({args.protocol}_summary.csv, figures, runs/)")
    return 0


def run_demo(argv, name, methods, doc):
    """A figure demo: ``minisyn lifelong --methods <methods>`` into ``runs/<name>``, and ``--full``
    for the paper's settings on full MNIST (5 seeds, the authors' predictive evaluation); other
    options go to ``minisyn lifelong``. Returns the exit status."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="paper settings on full MNIST, 5 seeds")
    ap.add_argument("--out", default=None, help=f"output folder (default: runs/{name}[-full])")
    args, rest = ap.parse_known_args(argv)
    parser = argparse.ArgumentParser(prog=name)
    register(parser.add_subparsers(dest="command"))
    extra = ["--methods", methods]
    if args.full:
        extra += ["--paper", "--n-seeds", "5"]
        if "--dataset" not in rest:
            extra += ["--dataset", "mnist"]
        if "--eval-mode" not in rest:
            extra += ["--eval-mode", "predictive"]    # the authors' evaluation (docs/lifelong.md)
    out = args.out or f"runs/{name}{'-full' if args.full else ''}"
    largs = parser.parse_args(["lifelong", *extra, "--out", out, *rest])
    try:
        return run_cli(largs)
    except (kit.CLIError, ValueError, OSError) as err:
        print(f"{name}: error: {err}", file=sys.stderr)
        return 2
