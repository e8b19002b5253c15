"""The ``minisyn lifelong`` command (and the entry point of the Fig. 4 and 5a demos).

Settings come from a preset per protocol (:data:`QUICK_SETTINGS`, or
:data:`PAPER_SETTINGS` with ``--paper``); an option given on the command line,
0 included, is kept (:func:`minisyn.experiments.kit.apply_preset`).
"""
from __future__ import annotations

import argparse
import sys

from minisyn.experiments import kit
from minisyn.experiments.lifelong.methods import METHODS
from minisyn.experiments.lifelong.report import report
from minisyn.experiments.lifelong.run import run_lifelong
from minisyn.experiments.lifelong.tasks import EVAL_MODES, PREDICTIVE_SAMPLES, PROTOCOLS
from minisyn.output import save_json

__all__ = ["PAPER_SETTINGS", "QUICK_SETTINGS", "register", "settings_from_args", "run_cli", "run_demo"]

# The paper (§B1, §B2, §B5) and the authors' configs: 784-200-200-out, minibatch 100, 10 epochs a
# task, lr 1e-3 (Split) / 1e-2 (Permuted), standardised pixels, 10 release samples at test time.
# EWC's lam is ours (the paper gives none): 1000 diverges at lr 1e-2 (docs/results/lifelong.md).
_PAPER = dict(sizes=[200, 200], epochs_per_task=10, batch_size=100, n_tasks=10, eval_mode="predictive",
              inputs="standardized", fisher_samples=1000, bgd_eta=1.0, bgd_sigma=0.06, bgd_samples=10,
              n_seeds=5)
PAPER_SETTINGS = {"split": dict(_PAPER, lr=1e-3, ewc_lambda=1000.0),
                  "permuted": dict(_PAPER, lr=1e-2, ewc_lambda=100.0),
                  "continuous": dict(_PAPER, lr=1e-2, ewc_lambda=100.0)}

# Quick: the embedded 5,000 digits, each protocol in about a minute of one core. Bernoulli
# networks are scored with their mean weights w = m ('mean': one matrix product, where
# 'predictive' takes ten). Split: its tasks conflict in the shared 2-way head, so plain SGD
# forgets within 100 steps a task and consolidation shows at once ([0, 1] pixels: standardised
# ones make the no-consolidation ablation diverge at lr 0.05). Permuted and continuous: tasks
# share no pixels and SGD forgets slowly, so consolidation pays off only once ten tasks of 500
# steps follow the first (with 5 tasks, or 300 steps a task, SGD is ahead); a 64-wide net forgets
# faster than a 100-wide one; one seed keeps this within budget. EWC's lam keeps its explicit penalty
# step stable (lr * lam * max F < 2, F summed over the tasks so far): split 1000 and permuted 20
# diverge in some seeds (docs/lifelong.md).
_QUICK = dict(epochs_per_task=5, batch_size=50, lr=0.05, eval_mode="mean", fisher_samples=200, bgd_eta=10.0,
              bgd_sigma=0.06, bgd_samples=2)
QUICK_SETTINGS = {
    "split": dict(_QUICK, sizes=[100, 100], n_tasks=5, inputs="unit", ewc_lambda=200.0, n_seeds=3),
    "permuted": dict(_QUICK, sizes=[64, 64], n_tasks=10, inputs="standardized", ewc_lambda=10.0, n_seeds=1),
    "continuous": dict(_QUICK, sizes=[64, 64], n_tasks=10, inputs="standardized", ewc_lambda=10.0, n_seeds=1),
}


def _preset_table():
    """The quick presets as help text, one line per protocol."""
    lines = []
    for protocol, q in QUICK_SETTINGS.items():
        tasks = "5 tasks" if protocol == "split" else f"{q['n_tasks']} tasks"
        lines.append(f"  {protocol:10s} {','.join(map(str, q['sizes']))} hidden, {tasks}, {q['inputs']} pixels, "
                     f"EWC lam {q['ewc_lambda']:g}, {q['n_seeds']} seeds")
    return "\n".join(lines)


def register(sub):
    p = sub.add_parser(
        "lifelong", formatter_class=kit.Formatter,
        help="lifelong learning: Split / Permuted / continuous MNIST (Figs. 4 and 5a)",
        description="Learn tasks one after another (MODEL.md §B5) with presynaptic consolidation "
                    "(Bernoulli synapses, the rule of §B2 with the (1 - p) learning-rate factor and "
                    "freezing), plain SGD, EWC, BGD and the two ablations (no consolidation; ghost "
                    "release probabilities).\n\nPer method and seed: the accuracy matrix acc[i, j] (task j "
                    "after task i), the first task's accuracy during training and the final mean "
                    "accuracy. Runs are saved in <out>/runs/ as they finish; rerunning resumes. A run "
                    "whose loss becomes non-finite is reported as diverged in the table (and saved as "
                    "such); the other runs go on. Writes <protocol>_summary.csv/.json and figures "
                    "(PNG, PDF) to --out.\n\nQuick presets (the default; embedded digits, 5 epochs a task, "
                    "minibatch 50, lr 0.05, Bernoulli networks scored with their mean weights, BGD eta 10 "
                    "with 2 samples):\n" + _preset_table() + "\n--paper: the paper's settings (784-200-200, "
                    "10 epochs a task, minibatch 100, lr 1e-3 split / 1e-2 permuted, 10 permuted tasks, "
                    f"the softmax averaged over {PREDICTIVE_SAMPLES} release samples, 5 seeds) on full "
                    "MNIST (split: about an hour for all methods and seeds; permuted: several hours).",
        epilog="examples:\n"
               "  minisyn lifelong                         # quick: split, 3 seeds (~30 s)\n"
               "  minisyn lifelong --protocol permuted     # quick: 10 permuted tasks, 1 seed (~70 s)\n"
               "  minisyn lifelong --protocol permuted --n-seeds 3         # with its spread (~4 min)\n"
               "  minisyn lifelong --protocol permuted --dataset mnist --data-dir DIR --methods presynaptic,sgd\n"
               "                                           # the same on full MNIST, far clearer (~3 min)\n"
               "  minisyn lifelong --paper --dataset mnist --data-dir DIR --methods presynaptic,sgd,no-consolidation\n"
               "                                           # Split at the paper's settings (5 seeds, ~10 min)\n")
    g = p.add_argument_group("protocol")
    g.add_argument("--protocol", choices=PROTOCOLS, default="split", help="task sequence")
    g.add_argument("--methods", type=kit.names, default=list(METHODS),
                   help=f"comma separated, from: {', '.join(METHODS)} (default: all)")
    g.add_argument("--seeds", type=kit.ints, default=None, help="comma separated seeds (default: --seed and the "
                   "next ones, --n-seeds in all)")
    g.add_argument("--n-seeds", type=int, default=None,
                   help="number of seeds when --seeds is not given (quick: 3 split, 1 permuted/continuous, "
                        "whose runs are ten times longer; paper 5)")
    g.add_argument("--n-tasks", type=int, default=None,
                   help="permuted/continuous: number of tasks (quick and paper 10)")
    g.add_argument("--permute-first", action="store_true",
                   help="permuted: permute task 1 too (default: task 1 is the original images)")
    g.add_argument("--transition", type=int, default=None,
                   help="continuous: steps over which one task blends into the next (default: half a task)")
    g.add_argument("--paper", action="store_true", help="the paper's settings (see above)")
    g = p.add_argument_group("network and training")
    g.add_argument("--sizes", type=kit.ints, default=None, help="hidden widths, comma separated (quick 100,100 "
                   "split, 64,64 permuted/continuous; paper 200,200)")
    g.add_argument("--epochs-per-task", type=int, default=None, help="quick 5 (paper 10)")
    g.add_argument("--batch-size", type=int, default=None, help="quick 50 (paper 100)")
    g.add_argument("--lr", type=kit.fraction, default=None,
                   help="learning rate of SGD, EWC and the rule's strengths (quick 0.05; paper 1e-3 split, "
                        "1e-2 permuted)")
    g.add_argument("--eval-mode", choices=EVAL_MODES, default=None,
                   help="Bernoulli networks: evaluate with one release sample, the mean weights (quick), "
                        f"or the softmax averaged over {PREDICTIVE_SAMPLES} release samples ('predictive', "
                        "as the authors' code; paper)")
    g.add_argument("--eval-every", type=int, default=None,
                   help="steps between first-task evaluations and divergence checks (default: about 10 a task)")
    kit.add_inputs_option(g)
    p.set_defaults(inputs=None)   # from the preset (quick: split 'unit', else 'standardized'; paper 'standardized')
    g = p.add_argument_group("baselines")
    g.add_argument("--ewc-lambda", type=kit.fraction, default=None,
                   help="EWC penalty strength lam (quick: 200 split, 10 permuted/continuous; paper: 1000 split, "
                        "100 permuted/continuous)")
    g.add_argument("--fisher-samples", type=int, default=None,
                   help="training examples per task in EWC's Fisher (quick 200, paper 1000)")
    g.add_argument("--bgd-eta", type=kit.fraction, default=None,
                   help="BGD mean learning rate (quick 10; paper 1, as Zeno et al.)")
    g.add_argument("--bgd-sigma", type=kit.fraction, default=None, help="BGD initial standard deviation (0.06)")
    g.add_argument("--bgd-samples", type=int, default=None, help="BGD Monte-Carlo samples K (quick 2, paper 10)")
    kit.add_data_options(p, test_limit=True)
    kit.add_run_options(p, default_out="runs/lifelong", resumable=True)
    p.set_defaults(func=run_cli)
    return p


def settings_from_args(args):
    """run_one keyword arguments from parsed options: the protocol's quick preset, or ``--paper``'s,
    under every option given (:func:`kit.apply_preset`; fills ``args`` in place)."""
    kit.apply_preset(args, QUICK_SETTINGS[args.protocol], PAPER_SETTINGS[args.protocol], use_paper=args.paper)
    return dict(
        hidden=list(args.sizes), epochs=args.epochs_per_task, batch_size=args.batch_size, lr=args.lr,
        n_tasks=args.n_tasks, permute_first=args.permute_first, transition=args.transition,
        eval_every=args.eval_every, eval_mode=args.eval_mode, ewc_lambda=args.ewc_lambda,
        fisher_samples=args.fisher_samples, bgd_eta=args.bgd_eta, bgd_sigma=args.bgd_sigma,
        bgd_samples=args.bgd_samples)


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
    for option, value in (("--lr", kw["lr"]), ("--bgd-eta", kw["bgd_eta"]), ("--bgd-sigma", kw["bgd_sigma"])):
        if not value > 0:
            raise kit.CLIError(f"{option} must be > 0, got {value}")
    if not kw["ewc_lambda"] >= 0:
        raise kit.CLIError(f"--ewc-lambda must be >= 0, got {kw['ewc_lambda']}")
    bad = [m for m in args.methods if m not in METHODS]
    if bad or not args.methods:
        raise kit.CLIError(f"--methods: unknown method(s) {bad}: choose from {', '.join(METHODS)}")


def run_cli(args):
    kw = settings_from_args(args)
    if args.seeds is None:
        seeds = list(range(args.seed, args.seed + kit.at_least("--n-seeds", args.n_seeds)))
    elif not args.seeds:
        raise kit.CLIError("--seeds: no seeds given")
    else:
        seeds = args.seeds
    _check(args, kw)
    backend = kit.backend_from_args(args)
    dataset = "mnist" if (args.paper and args.dataset == "embedded") else args.dataset
    data = kit.data_from_args(args, None, dataset=dataset)
    out = kit.out_dir(args)
    out.mkdir(parents=True, exist_ok=True)
    limited = args.train_limit is not None or args.test_limit is not None
    data_settings = {"dataset": dataset, "train_limit": args.train_limit, "test_limit": args.test_limit,
                     "subset_seed": args.seed if limited else None, "inputs": args.inputs}
    print(f"minisyn lifelong: {args.protocol} on {dataset} ({data.n_train} training examples, {args.inputs} "
          f"pixels), methods {', '.join(args.methods)}, seeds {seeds}; results go to {out}/", file=sys.stderr)
    results = run_lifelong(out, args.protocol, args.methods, seeds, data.arrays(), force=args.force,
                           progress=not args.no_progress, data_settings=data_settings, backend=backend, **kw)
    save_json(out / f"{args.protocol}_config.json",
              {**data_settings, "data_source": data.source, "seeds": seeds, "methods": args.methods,
               "backend": backend.name, "dtype": backend.dtype.name, **kw})
    report(out, args.protocol, results)
    if args.protocol == "split" and dataset == "mnist" and args.train_limit is None and not args.paper:
        print("note: on full MNIST the quick split preset (1,200 steps a task at lr 0.05) forgets nearly everything, "
              "and consolidation leads SGD by only about 1 point; --paper (lr 1e-3) shows it clearly "
              "(docs/results/lifelong.md)")
    print(f"saved in {out}/ ({args.protocol}_summary.csv, figures, runs/)")
    return 0


def run_demo(argv, name, methods, doc):
    """A figure demo: ``minisyn lifelong --methods <methods>`` into ``runs/<name>``, and ``--full``
    for the paper's settings on full MNIST (``--paper``: 5 seeds, the authors' predictive
    evaluation); other options go to ``minisyn lifelong``. Runs with the command line's BLAS
    thread default (``--threads``). Returns the exit status."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="paper settings on full MNIST, 5 seeds")
    ap.add_argument("--out", default=None, help=f"output folder (default: runs/{name}[-full])")
    args, rest = ap.parse_known_args(argv)
    parser = argparse.ArgumentParser(prog=name)
    register(parser.add_subparsers(dest="command"))
    extra = ["--methods", methods]
    if args.full:
        extra += ["--paper"]
        if "--dataset" not in rest:
            extra += ["--dataset", "mnist"]
    out = args.out or f"runs/{name}{'-full' if args.full else ''}"
    largs = parser.parse_args(["lifelong", *extra, "--out", out, *rest])
    try:
        with kit.blas_threads(largs.threads):
            return run_cli(largs)
    except (kit.CLIError, ValueError, OSError) as err:
        print(f"{name}: error: {err}", file=sys.stderr)
        return 2
