"""``minisyn train``: train one network of stochastic synapses and save it.

Gaussian synapses (MODEL.md §A3-§A5) minimise cross-entropy + (lambda |mu|_1 +
c sum sigma^-rho)/N with Adam; Bernoulli synapses (§B1-§B2) learn expected
strengths and release probabilities with the presynaptic rule. Any
registered synapse type (:data:`minisyn.layers.SYNAPSES`) can be chosen; its
defaults (widths, optimiser, learning rate, batch size) come from the type.

Writes ``results.json`` (settings, per-epoch history, test accuracies and the
synapse type's summary numbers), ``history.csv`` and ``params.npz`` to the
output folder.
"""
from __future__ import annotations

import sys

from minisyn.costs import L1Cost, L2Cost, PowerLawCost
from minisyn.experiments import kit
from minisyn.layers import SYNAPSES, synapse_type
from minisyn.network import MLP
from minisyn.output import save_history_csv, save_json, save_npz
from minisyn.train import OPTIMISERS, TrainingDiverged, evaluate, make_optimizer, train

__all__ = ["register", "run_cli", "settings_from_args", "build_costs"]


def register(sub):
    p = sub.add_parser(
        "train", formatter_class=kit.Formatter,
        help="train one network and save its results",
        description=__doc__.split("\n\n", 1)[1].split("\n\nWrites")[0] + "\n\n"
                    "Writes results.json, history.csv and params.npz to --out.",
        epilog="examples:\n"
               "  minisyn train                                   # embedded data, about a minute\n"
               "  minisyn train --dataset mnist --data-dir DIR --epochs 3\n"
               "  minisyn train --synapse bernoulli --dataset mnist --epochs 10\n")
    g = p.add_argument_group("network")
    g.add_argument("--synapse", choices=tuple(SYNAPSES), default="gaussian",
                   help="synapse model: Gaussian (§A3), Bernoulli (§B1) or deterministic")
    g.add_argument("--sizes", type=kit.sizes, default=None,
                   help="layer widths, comma separated (default: the synapse type's, 784,100,100,10; "
                        "784,200,200,10 for bernoulli)")
    g.add_argument("--scheme", choices=("weights", "local"), default="weights",
                   help="Gaussian sampling: one weight sample per minibatch, or local reparameterisation")
    g.add_argument("--noise", choices=("heterogeneous", "homogeneous"), default="heterogeneous",
                   help="Gaussian noise: one sigma per synapse, or one for the network")
    g.add_argument("--sigma-init", type=float, default=1e-4, help="initial Gaussian sigma (§A4)")
    g.add_argument("--p-init", type=float, default=0.25, help="initial Bernoulli release probability (§B1)")

    g = p.add_argument_group("costs (divided by the training-set size N, §A4)")
    g.add_argument("--c", type=float, default=1e-2, help="reliability cost weight c in c*sigma^-rho (Gaussian)")
    g.add_argument("--rho", type=kit.fraction, default=0.5,
                   help="reliability cost exponent rho (1/2, 2/3, 4/3, 2 in §A2; fractions allowed)")
    g.add_argument("--lambda", dest="lam", type=float, default=1e-4, help="L1 magnitude cost weight lambda (Gaussian)")
    g.add_argument("--l2", type=float, default=0.0, help="L2 weight decay (lam/2)|w|^2 (§B3)")

    g = p.add_argument_group("learning")
    g.add_argument("--optimizer", choices=OPTIMISERS, default=None,
                   help="default: the synapse type's (adam; presynaptic for bernoulli)")
    g.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: the synapse type's, 5e-4 with adam, 0.05 for bernoulli; "
                        "0.05 for sgd)")
    g.add_argument("--epochs", type=int, default=10, help="passes through the training set")
    g.add_argument("--batch-size", type=int, default=None,
                   help="minibatch size (default: the synapse type's, 20; 100 for bernoulli)")
    g.add_argument("--eval-samples", type=int, default=10,
                   help="noise samples S averaged in the predictive accuracy")
    g = p.add_argument_group("presynaptic rule (§B2)")
    g.add_argument("--d-up", type=float, default=0.07, help="release-probability increase step")
    g.add_argument("--d-down", type=float, default=0.07, help="release-probability decrease step")
    g.add_argument("--g-lim", type=float, default=1e-3, help="gradient threshold for potentiation")
    g.add_argument("--p-min", type=float, default=0.25, help="lower bound of release probabilities")
    g.add_argument("--p-freeze", type=float, default=1.0, help="freeze p above this (1: no freezing)")
    g.add_argument("--consolidate", action="store_true", help="scale the learning rate by (1 - p) (§B5)")
    g = kit.add_data_options(p, val_fraction=True)
    kit.add_inputs_option(g)
    kit.add_run_options(p, default_out="runs/train-{stamp}")
    p.set_defaults(func=run_cli)


def settings_from_args(args):
    """Fill the options left unset from the synapse type's defaults (an explicit value is kept)."""
    d = synapse_type(args.synapse).train_defaults
    args.sizes = list(d["sizes"]) if args.sizes is None else args.sizes
    args.optimizer = d["optimizer"] if args.optimizer is None else args.optimizer
    if args.lr is None:
        args.lr = d["lr"] if args.optimizer == d["optimizer"] else (5e-4 if args.optimizer == "adam" else 0.05)
    args.batch_size = d["batch_size"] if args.batch_size is None else args.batch_size
    for name in ("epochs", "batch_size", "eval_samples"):
        kit.at_least(f"--{name.replace('_', '-')}", getattr(args, name))
    return args


def build_costs(args, net, n_train):
    """The costs of the objective and the optimiser's keyword arguments.

    Types with a noise level take the reliability cost ``c sigma^-rho`` and the
    L1 cost (§A4). ``--l2`` is a cost, except with the presynaptic rule, where it
    is weight decay, so that the release probabilities see the data gradient
    alone (minisyn.rules); the same step on m as ``L2Cost(l2)``, whose gradient
    the engine divides by N.
    """
    costs, rule = [], {}
    if "sigma" in net.synapse_type.cost_targets:
        costs += [PowerLawCost(args.c, args.rho), L1Cost(args.lam)]
    if args.optimizer == "presynaptic":
        rule = dict(d_up=args.d_up, d_down=args.d_down, g_lim=args.g_lim, p_min=args.p_min,
                    p_freeze=args.p_freeze, lr_factor=args.consolidate)
        if args.l2:
            rule["weight_decay"] = args.l2 / n_train
    elif args.l2:
        costs.append(L2Cost(args.l2))
    return costs, rule


def run_cli(args):
    settings_from_args(args)
    backend = kit.backend_from_args(args)
    data = kit.data_from_args(args, backend)
    data.check(args.sizes, args.batch_size)
    net = MLP(args.sizes, args.synapse, backend, seed=args.seed, scheme=args.scheme, noise=args.noise,
              sigma_init=args.sigma_init, p_init=args.p_init)
    costs, rule = build_costs(args, net, data.n_train)
    opt = make_optimizer(net, args.optimizer, args.lr, **rule)
    out = kit.prepare_out_dir(kit.out_dir(args), args.force)   # only once every input has been checked

    config = {k: v for k, v in vars(args).items() if k not in ("func", "default_out")}
    config.update(backend=backend.name, dtype=backend.dtype.name, n_train=data.n_train, data_source=data.source)
    results = {"status": "running", "config": config, "history": None}
    print(f"minisyn train: {args.synapse} {'-'.join(map(str, args.sizes))} on {args.dataset} "
          f"({data.n_train} training examples), {args.epochs} epochs, {args.optimizer} lr={args.lr}; "
          f"results go to {out}/", file=sys.stderr)

    def checkpoint(epoch, history):
        from tqdm.auto import tqdm

        results["history"] = history
        save_json(out / "results.json", results)
        save_history_csv(out / "history.csv", history)
        # tqdm.write prints above the progress bar instead of through it
        tqdm.write(f"epoch {epoch:3d}  loss {history['loss'][-1]:.4f} (cross-entropy {history['ce'][-1]:.4f})"
                   f"  train acc {history['train_acc'][-1]:.4f}"
                   + ("" if history["val_acc"][-1] is None else f"  val acc {history['val_acc'][-1]:.4f}")
                   + f"  ({history['seconds'][-1]:.1f} s)", file=sys.stdout)

    try:
        history = train(net, opt, data.x, data.y, epochs=args.epochs, batch_size=args.batch_size, costs=costs,
                        seed=args.seed, x_val=data.x_val, y_val=data.y_val, progress=not args.no_progress,
                        on_epoch=checkpoint)
    except (TrainingDiverged, KeyboardInterrupt) as err:
        results["status"] = "diverged" if isinstance(err, TrainingDiverged) else "interrupted"
        save_json(out / "results.json", results)
        save_npz(out / "params.npz", net.state())
        raise kit.CLIError(f"training stopped ({results['status']}): {err}. The finished epochs are saved in "
                           f"{out}/") from None

    test = evaluate(net, data.x_test, data.y_test, samples=args.eval_samples)
    results.update(status="finished", history=history, test_accuracy=test)
    results.update(net.describe(rho=args.rho))
    save_npz(out / "params.npz", net.state())
    save_json(out / "results.json", results)
    print(f"test accuracy: sampled {test['sampled']:.4f}  mean weights {test['mean']:.4f}  "
          f"predictive (S={args.eval_samples}) {test['predictive']:.4f}")
    for key in ("sigma_bar", "reliability_cost", "energy"):
        if key in results:
            print(f"{key}: {results[key]:.6g}")
    print(f"results saved in {out}/ (results.json, history.csv, params.npz)")
    return 0
