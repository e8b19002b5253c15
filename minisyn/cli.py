"""The ``minisyn`` command line (also ``python -m minisyn``).

``minisyn train`` trains one network of stochastic synapses and writes
``results.json`` (configuration, history, accuracies), ``history.csv`` and
``params.npz`` into an output folder.
"""
from __future__ import annotations

import argparse
import csv
import datetime
import importlib
import io
import json
import os
import sys
from pathlib import Path

import numpy as np

__all__ = ["main", "build_parser"]

DEFAULTS = {
    # synapse: (sizes, optimizer, lr, batch size)
    "gaussian": ("784,100,100,10", "adam", 5e-4, 20),
    "deterministic": ("784,100,100,10", "adam", 5e-4, 20),
    "bernoulli": ("784,200,200,10", "presynaptic", 0.05, 100),
}


# Modules that add experiment subcommands: each has ``register(subparsers)``,
# which adds its parser(s) with ``set_defaults(func=...)`` (using the helpers
# below: add_data_options, add_run_options, prepare_out_dir, save_json, ...).
EXPERIMENT_COMMANDS = [
    "minisyn.experiments.tradeoff",
    "minisyn.experiments.importance",
    "minisyn.experiments.lifelong",
    "minisyn.experiments.energy_info",
    "minisyn.experiments.analyses",
    "minisyn.experiments.bayes",
]


class CLIError(Exception):
    """A user error: printed without a traceback, exit status 2."""


# -- writing results safely ------------------------------------------------------
def atomic_write(path, data):
    """Write bytes or text to ``path`` through a temporary file and a rename,
    so that a crash never leaves a half-written file behind."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(tmp, mode) as f:
        f.write(data)
    os.replace(tmp, path)


def save_json(path, obj):
    atomic_write(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def save_npz(path, arrays):
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write(path, buf.getvalue())


def save_history_csv(path, history):
    buf = io.StringIO()
    keys = [k for k in history if history[k]]
    w = csv.writer(buf)
    w.writerow(keys)
    for row in zip(*(history[k] for k in keys)):
        w.writerow([json.dumps(v) if isinstance(v, list) else v for v in row])
    atomic_write(path, buf.getvalue())


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"cannot save {type(o).__name__} as JSON")


def prepare_out_dir(out, force, kind="train"):
    """Create the output folder; refuse to overwrite earlier results."""
    if out is None:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / f"{kind}-{stamp}"
    out = Path(out)
    if (out / "results.json").exists() and not force:
        raise CLIError(f"{out}/results.json already exists: choose another --out, or pass --force to overwrite it")
    out.mkdir(parents=True, exist_ok=True)
    return out


def backend_from_args(args):
    """The Backend named by ``--backend``/``--dtype``, else by the environment."""
    from minisyn.backend import Backend

    return Backend(args.backend or os.environ.get("MINISYN_BACKEND", "numpy"),
                   args.dtype or os.environ.get("MINISYN_DTYPE", "float32"))


def mark_resumable(parser, default_out, force_help="retrain networks already saved in --out"):
    """Reword ``--out``/``--force`` for a command that saves runs as they finish and resumes."""
    for action in parser._actions:
        if action.dest == "out":
            action.help = f"output folder (default: {default_out}); rerunning into it resumes"
        if action.dest == "force":
            action.help = force_help


# -- the parser ------------------------------------------------------------------
def _floats(text):
    return [float(v) for v in text.split(",")]


def _sizes(text):
    try:
        sizes = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be comma-separated integers, got {text!r}") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"sizes need at least two positive widths, got {text!r}")
    return sizes


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


def add_data_options(p):
    g = p.add_argument_group("data")
    g.add_argument("--dataset", choices=("embedded", "mnist", "fashion-mnist"), default="embedded",
                   help="'embedded': 5,000 training and 1,000 test MNIST digits shipped with minisyn "
                        "(offline); 'mnist' / 'fashion-mnist': the full sets (read from --data-dir or "
                        "$MINISYN_DATA, else downloaded once with checksums into a cache folder)")
    g.add_argument("--data-dir", default=None,
                   help="folder holding the four IDX files of --dataset (default: $MINISYN_DATA or the cache)")
    g.add_argument("--no-download", action="store_true", help="never download; fail if the files are missing")
    g.add_argument("--val-fraction", type=float, default=0.0,
                   help="fraction of the training set held out for validation after each epoch")
    g.add_argument("--train-limit", type=int, default=None,
                   help="use only the first N training examples (after shuffling), for quick runs")


def add_inputs_option(group):
    """``--inputs unit|standardized``, shared by the commands that train on pixels."""
    from minisyn.experiments.tradeoff import INPUTS

    group.add_argument("--inputs", choices=INPUTS, default="unit",
                       help="'unit': pixels in [0, 1]; 'standardized': (x - mean) / SD with the mean and SD "
                            "of the training pixels, as the authors' data loaders do (Normalize((0.1307,), "
                            "(0.3081,)) on MNIST). With [0, 1] pixels, a pixel that is 0 in every image "
                            "gives its synapses no data gradient (minisyn.datasets.standardize)")


def add_run_options(p):
    g = p.add_argument_group("run")
    g.add_argument("--seed", type=int, default=0, help="seeds initial weights, synaptic noise and example order")
    g.add_argument("--backend", choices=("numpy", "cupy", "strict"), default=None,
                   help="array backend (default: $MINISYN_BACKEND or numpy); cupy needs a GPU")
    g.add_argument("--dtype", choices=("float32", "float64"), default=None,
                   help="floating type (default: $MINISYN_DTYPE or float32)")
    g.add_argument("--threads", type=int, default=1,
                   help="BLAS threads; this network's small matrix products run fastest on one "
                        "(0: the BLAS library's default)")
    g.add_argument("--out", default=None, help="output folder (default: runs/<command>-<date>-<time>)")
    g.add_argument("--force", action="store_true", help="allow overwriting results already in --out")
    g.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="minisyn",
        description="Networks of stochastic, energy-efficient synapses, written out by hand in numpy "
                    "(equations: MODEL.md; see docs/).",
        formatter_class=_Formatter,
    )
    from minisyn import __version__

    parser.add_argument("--version", action="version", version=f"minisyn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser(
        "train", formatter_class=_Formatter,
        help="train one network and save its results",
        description="Train one network of stochastic synapses on MNIST-like data.\n\n"
                    "Gaussian synapses (MODEL.md §A3-§A5) minimise cross-entropy + (lambda |mu|_1 + "
                    "c sum sigma^-rho)/N with Adam; Bernoulli synapses (§B1-§B2) learn expected "
                    "strengths and release probabilities with the presynaptic rule.\n\n"
                    "Writes results.json, history.csv and params.npz to --out.",
        epilog="examples:\n"
               "  minisyn train                                   # embedded data, about a minute\n"
               "  minisyn train --dataset mnist --data-dir DIR --epochs 3\n"
               "  minisyn train --synapse bernoulli --dataset mnist --epochs 10\n")
    g = p.add_argument_group("network")
    g.add_argument("--synapse", choices=tuple(DEFAULTS), default="gaussian",
                   help="synapse model: Gaussian (§A3), Bernoulli (§B1) or deterministic")
    g.add_argument("--sizes", type=_sizes, default=None,
                   help="layer widths, comma separated (default: 784,100,100,10; 784,200,200,10 for bernoulli)")
    g.add_argument("--scheme", choices=("weights", "local"), default="weights",
                   help="Gaussian sampling: one weight sample per minibatch, or local reparameterisation")
    g.add_argument("--noise", choices=("heterogeneous", "homogeneous"), default="heterogeneous",
                   help="Gaussian noise: one sigma per synapse, or one for the network")
    g.add_argument("--sigma-init", type=float, default=1e-4, help="initial Gaussian sigma (§A4)")
    g.add_argument("--p-init", type=float, default=0.25, help="initial Bernoulli release probability (§B1)")

    g = p.add_argument_group("costs (divided by the training-set size N, §A4)")
    g.add_argument("--c", type=float, default=1e-2, help="reliability cost weight c in c*sigma^-rho (Gaussian)")
    g.add_argument("--rho", type=float, default=0.5, help="reliability cost exponent rho (1/2, 2/3, 4/3, 2 in §A2)")
    g.add_argument("--lambda", dest="lam", type=float, default=1e-4, help="L1 magnitude cost weight lambda (Gaussian)")
    g.add_argument("--l2", type=float, default=0.0, help="L2 weight decay (lam/2)|w|^2 (§B3)")

    g = p.add_argument_group("learning")
    g.add_argument("--optimizer", choices=("adam", "sgd", "presynaptic"), default=None,
                   help="default: adam, or presynaptic for bernoulli")
    g.add_argument("--lr", type=float, default=None, help="learning rate (default: 5e-4 for adam, 0.05 otherwise)")
    g.add_argument("--epochs", type=int, default=10, help="passes through the training set")
    g.add_argument("--batch-size", type=int, default=None, help="minibatch size (default: 20, or 100 for bernoulli)")
    g.add_argument("--eval-samples", type=int, default=10,
                   help="noise samples S averaged in the predictive accuracy")
    g = p.add_argument_group("presynaptic rule (§B2)")
    g.add_argument("--d-up", type=float, default=0.07, help="release-probability increase step")
    g.add_argument("--d-down", type=float, default=0.07, help="release-probability decrease step")
    g.add_argument("--g-lim", type=float, default=1e-3, help="gradient threshold for potentiation")
    g.add_argument("--p-min", type=float, default=0.25, help="lower bound of release probabilities")
    g.add_argument("--p-freeze", type=float, default=1.0, help="freeze p above this (1: no freezing)")
    g.add_argument("--consolidate", action="store_true", help="scale the learning rate by (1 - p) (§B5)")
    add_data_options(p)
    add_inputs_option(p)
    add_run_options(p)
    p.set_defaults(func=run_train)
    for module in EXPERIMENT_COMMANDS:
        importlib.import_module(module).register(sub)
    return parser


# -- minisyn train ---------------------------------------------------------------
def load_data(args, backend):
    """Load, preprocess, split and move the data to ``backend``."""
    from minisyn import datasets
    from minisyn.train import prepare_arrays

    ds = datasets.load_dataset(args.dataset, data_dir=args.data_dir, download=not args.no_download)
    x_train = datasets.preprocess(ds.x_train)
    x_test = datasets.preprocess(ds.x_test)
    y_train, y_test = ds.y_train, ds.y_test
    if args.train_limit is not None:
        if args.train_limit < 1:
            raise CLIError(f"--train-limit must be >= 1, got {args.train_limit}")
        keep = np.random.default_rng(args.seed).permutation(len(y_train))[: args.train_limit]
        x_train, y_train = x_train[keep], y_train[keep]
    held_out = []
    if args.val_fraction:
        if not 0 < args.val_fraction < 1:
            raise CLIError(f"--val-fraction must lie in [0, 1), got {args.val_fraction}")
        x_train, y_train, x_val, y_val = datasets.train_val_split(x_train, y_train, args.val_fraction, args.seed)
        held_out = [x_val]
    if getattr(args, "inputs", "unit") == "standardized":     # by the statistics of the examples trained on
        x_train, x_test, *held_out, _, _ = datasets.standardize(x_train, x_test, *held_out)
    val = prepare_arrays(held_out[0], y_val, backend) if held_out else None
    return ds, prepare_arrays(x_train, y_train, backend), prepare_arrays(x_test, y_test, backend), val


def run_train(args):
    from minisyn.costs import L1Cost, L2Cost, PowerLawCost, reported_reliability_cost, sigma_bar
    from minisyn.network import MLP
    from minisyn.train import TrainingDiverged, evaluate, make_optimizer, train

    sizes, optimizer, lr, batch = DEFAULTS[args.synapse]
    args.sizes = args.sizes or [int(v) for v in sizes.split(",")]
    args.optimizer = args.optimizer or optimizer
    args.lr = args.lr if args.lr is not None else (5e-4 if args.optimizer == "adam" else 0.05)
    args.batch_size = args.batch_size or batch
    for name in ("epochs", "batch_size", "eval_samples"):
        if getattr(args, name) < 1:
            raise CLIError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")

    backend = backend_from_args(args)
    ds, (x, y), (x_test, y_test), val = load_data(args, backend)
    if args.sizes[0] != x.shape[1]:
        raise CLIError(f"--sizes starts with {args.sizes[0]} inputs but {args.dataset} has {x.shape[1]} features")
    if args.batch_size > x.shape[0]:
        raise CLIError(f"--batch-size {args.batch_size} is larger than the {x.shape[0]} training examples")

    net = MLP(args.sizes, args.synapse, backend, seed=args.seed, scheme=args.scheme, noise=args.noise,
              sigma_init=args.sigma_init, p_init=args.p_init)
    costs = []
    if args.synapse == "gaussian":
        costs += [PowerLawCost(args.c, args.rho), L1Cost(args.lam)]
    rule = {}
    if args.optimizer == "presynaptic":
        rule = dict(d_up=args.d_up, d_down=args.d_down, g_lim=args.g_lim, p_min=args.p_min,
                    p_freeze=args.p_freeze, lr_factor=args.consolidate)
    if args.l2 and args.optimizer == "presynaptic":
        # weight decay, so that the release probabilities see the data gradient alone (minisyn.rules);
        # the same step on m as L2Cost(l2), whose gradient the engine divides by N
        rule["weight_decay"] = args.l2 / x.shape[0]
    elif args.l2:
        costs.append(L2Cost(args.l2))
    opt = make_optimizer(net, args.optimizer, args.lr, **rule)
    out = prepare_out_dir(args.out, args.force)   # only once every input has been checked

    config = {k: v for k, v in vars(args).items() if k != "func"}
    config.update(backend=backend.name, dtype=backend.dtype.name, n_train=int(x.shape[0]),
                  data_source=str(ds.source))
    results = {"status": "running", "config": config, "history": None}
    print(f"minisyn train: {args.synapse} {'-'.join(map(str, args.sizes))} on {args.dataset} "
          f"({x.shape[0]} training examples), {args.epochs} epochs, {args.optimizer} lr={args.lr}; "
          f"results go to {out}/", file=sys.stderr)

    def checkpoint(epoch, history):
        results["history"] = history
        save_json(out / "results.json", results)
        save_history_csv(out / "history.csv", history)
        from tqdm.auto import tqdm

        # tqdm.write prints above the progress bar instead of through it
        tqdm.write(f"epoch {epoch:3d}  loss {history['loss'][-1]:.4f} (cross-entropy {history['ce'][-1]:.4f})"
                   f"  train acc {history['train_acc'][-1]:.4f}"
                   + ("" if history["val_acc"][-1] is None else f"  val acc {history['val_acc'][-1]:.4f}")
                   + f"  ({history['seconds'][-1]:.1f} s)", file=sys.stdout)

    try:
        history = train(net, opt, x, y, epochs=args.epochs, batch_size=args.batch_size, costs=costs,
                        seed=args.seed, x_val=val[0] if val else None, y_val=val[1] if val else None,
                        progress=not args.no_progress, on_epoch=checkpoint)
    except (TrainingDiverged, KeyboardInterrupt) as err:
        results["status"] = "diverged" if isinstance(err, TrainingDiverged) else "interrupted"
        save_json(out / "results.json", results)
        save_npz(out / "params.npz", net.state())
        raise CLIError(f"training stopped ({results['status']}): {err}. The finished epochs are saved in {out}/") \
            from None

    test = evaluate(net, x_test, y_test, samples=args.eval_samples)
    results.update(status="finished", history=history, test_accuracy=test)
    if args.synapse == "gaussian":
        sig = net.sigmas()
        results["sigma_bar"] = backend.scalar(sigma_bar(sig, backend))
        results["reliability_cost"] = backend.scalar(reported_reliability_cost(sig, args.rho, backend))
    if args.synapse == "bernoulli":
        results["mean_release_probability"] = [float(backend.to_numpy(l.p).mean()) for l in net.synaptic]
        results["energy"] = float(sum(np.abs(backend.to_numpy(l.m.value)).sum() for l in net.synaptic))
    save_npz(out / "params.npz", net.state())
    save_json(out / "results.json", results)
    print(f"test accuracy: sampled {test['sampled']:.4f}  mean weights {test['mean']:.4f}  "
          f"predictive (S={args.eval_samples}) {test['predictive']:.4f}")
    for key in ("sigma_bar", "reliability_cost", "energy"):
        if key in results:
            print(f"{key}: {results[key]:.6g}")
    print(f"results saved in {out}/ (results.json, history.csv, params.npz)")
    return 0


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        threads = getattr(args, "threads", 0)
        if threads < 0:
            raise CLIError(f"--threads must be >= 0, got {threads}")
        if threads:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=threads, user_api="blas"):
                return args.func(args)
        return args.func(args)
    except CLIError as err:
        print(f"minisyn {args.command}: error: {err}", file=sys.stderr)
        return 2
    except (ValueError, OSError, MemoryError) as err:   # bad hyperparameters, data, too little memory
        print(f"minisyn {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
