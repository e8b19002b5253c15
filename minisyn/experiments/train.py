"""``minisyn train``: train one network of stochastic synapses and save it.

Gaussian synapses (MODEL.md §A3-§A5) minimise cross-entropy + (lambda |mu|_1 +
c sum sigma^-rho)/N with Adam; Bernoulli synapses (§B1-§B2) learn expected
strengths and release probabilities with the presynaptic rule. Any
registered synapse type (:data:`minisyn.layers.SYNAPSES`) can be chosen; its
defaults (widths, optimiser, learning rate, batch size) come from the type.

After training, a Gaussian network is checked (:func:`noise_report`): how
sigma spreads over the synapses of each layer, its rank correlation with the
input rate of the synapse's presynaptic unit (§A6 predicts negative), and two
warnings, each naming the options that fix it: the reliability cost still
dominates the loss (its gradient on sigma outweighs the cross-entropy's), or
sigma has only moved at Adam's per-step limit.

Writes ``results.json`` (settings, per-epoch history, test accuracies, the
synapse type's summary numbers and the noise report), ``history.csv`` and
``params.npz`` to the output folder.
"""
from __future__ import annotations

import sys
import textwrap

import numpy as np
from scipy.stats import spearmanr

from minisyn.costs import L1Cost, L2Cost, PowerLawCost
from minisyn.experiments import kit
from minisyn.layers import SYNAPSES, synapse_type
from minisyn.losses import one_hot
from minisyn.network import MLP
from minisyn.output import save_history_csv, save_json, save_npz
from minisyn.train import OPTIMISERS, TrainingDiverged, evaluate, make_optimizer, train

__all__ = ["QUICK", "PAPER", "QUICK_ADAM_LR", "PAPER_ADAM_LR", "register", "run_cli", "settings_from_args",
           "build_costs", "noise_report", "input_rates", "warnings_from_report"]

#: The default (quick) preset. sigma_init and Adam's learning rate differ from the
#: paper's so that sigma can reach its balance with the data in 2,500 steps: Adam moves
#: phi (~ log sigma for small sigma) by at most about lr per step (docs/results/train.md).
QUICK = dict(epochs=10, sigma_init=1e-2)
#: ``--paper``: the first paper's Methods (§A4): 50 epochs from sigma = 1e-4 (use with --dataset mnist).
PAPER = dict(epochs=50, sigma_init=1e-4)
#: Adam's learning rate for Gaussian synapses in each preset (other types keep their own).
QUICK_ADAM_LR, PAPER_ADAM_LR = 3e-3, 5e-4
#: Warning thresholds of :func:`warnings_from_report`.
COST_GRADIENT_RATIO = 10.0     # sum |dcost/dphi| / sum rms(dCE/dphi) above which the cost dominates
AT_LIMIT_SHARE = 0.9           # share of synapses whose phi moved >= 0.8 lr steps


def register(sub):
    p = sub.add_parser(
        "train", formatter_class=kit.Formatter,
        help="train one network and save its results",
        description=__doc__.split("\n\n", 1)[1].split("\n\nWrites")[0] + "\n\n" + textwrap.fill(
            "Presets. Without options (quick): Gaussian synapses 784-100-100-10 on the embedded 5,000 digits, "
            f"sigma_init {QUICK['sigma_init']:g}, Adam lr {QUICK_ADAM_LR:g}, {QUICK['epochs']} epochs (about "
            "10 s on one core): sigma spreads over a decade, lowest at synapses with active inputs. --paper: the "
            f"paper's sigma_init {PAPER['sigma_init']:g}, lr {PAPER_ADAM_LR:g}, {PAPER['epochs']} epochs (add "
            "--dataset mnist). The quick preset starts sigma 100 times higher and steps 6 times larger because "
            "Adam moves phi = softplus^-1(sigma) by at most about lr per step: from 1e-4 at lr 5e-4, the "
            "2,500 steps of 10 epochs on the embedded digits leave every sigma near 3e-4, each moved at that "
            "limit (and train says so).", 79) + "\n\n"
        "Writes results.json, history.csv and params.npz to --out.",
        epilog="examples:\n"
               "  minisyn train                                   # quick preset, embedded data, about 10 s\n"
               "  minisyn train --dataset mnist --data-dir DIR    # the same on MNIST, about 2 min of CPU\n"
               "  minisyn train --paper --dataset mnist --data-dir DIR   # the paper's settings, about 8 min of CPU\n"
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
    g.add_argument("--sigma-init", type=float, default=None,
                   help=f"initial Gaussian sigma (§A4; default: {QUICK['sigma_init']:g}, the paper's "
                        f"{PAPER['sigma_init']:g} with --paper)")
    g.add_argument("--p-init", type=float, default=0.25, help="initial Bernoulli release probability (§B1)")

    g = p.add_argument_group("costs (divided by the training-set size N, §A4)")
    g.add_argument("--c", type=float, default=1e-2, help="reliability cost weight c in c*sigma^-rho (Gaussian)")
    g.add_argument("--rho", type=kit.fraction, default=0.5,
                   help="reliability cost exponent rho (1/2, 2/3, 4/3, 2 in §A2; fractions allowed)")
    g.add_argument("--lambda", dest="lam", type=float, default=1e-4, help="L1 magnitude cost weight lambda (Gaussian)")
    g.add_argument("--l2", type=float, default=0.0, help="L2 weight decay (lam/2)|w|^2 (§B3)")

    g = p.add_argument_group("learning")
    g.add_argument("--paper", action="store_true",
                   help=f"the paper's settings where not given: sigma_init {PAPER['sigma_init']:g}, Adam lr "
                        f"{PAPER_ADAM_LR:g}, {PAPER['epochs']} epochs (quick preset: {QUICK['sigma_init']:g}, "
                        f"{QUICK_ADAM_LR:g}, {QUICK['epochs']})")
    g.add_argument("--optimizer", choices=OPTIMISERS, default=None,
                   help="default: the synapse type's (adam; presynaptic for bernoulli)")
    g.add_argument("--lr", type=kit.fraction, default=None,
                   help=f"learning rate (default: {QUICK_ADAM_LR:g} for Gaussian synapses with adam, "
                        f"{PAPER_ADAM_LR:g} with --paper; otherwise the synapse type's, 0.05 for bernoulli; "
                        "0.05 for sgd)")
    g.add_argument("--epochs", type=int, default=None,
                   help=f"passes through the training set (default: {QUICK['epochs']}; {PAPER['epochs']} "
                        "with --paper)")
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
    for cls in SYNAPSES.values():                          # options a synapse type adds for itself
        cls.add_options(p.add_argument_group(f"{cls.name} synapses"))
    g = kit.add_data_options(p, val_fraction=True)
    kit.add_inputs_option(g)
    kit.add_run_options(p, default_out="runs/train-{stamp}")
    p.set_defaults(func=run_cli)


def settings_from_args(args):
    """Fill the options left unset from the preset (:data:`QUICK`, or :data:`PAPER` with
    ``--paper``), then from the synapse type's defaults; an explicit value, 0 included, is kept.

    The preset's Adam learning rate applies to Gaussian synapses trained with Adam; other
    types and optimisers keep their own defaults.
    """
    d = synapse_type(args.synapse).train_defaults
    args.preset = kit.apply_preset(args, QUICK, PAPER, use_paper=getattr(args, "paper", False))
    args.sizes = list(d["sizes"]) if args.sizes is None else args.sizes
    args.optimizer = d["optimizer"] if args.optimizer is None else args.optimizer
    if args.lr is None:
        if args.synapse == "gaussian" and args.optimizer == "adam":
            args.lr = PAPER_ADAM_LR if args.preset == "paper" else QUICK_ADAM_LR
        else:
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
    costs, rule = list(net.synapse_type.training_costs(args)), {}
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


# -- the noise report (Gaussian synapses) -------------------------------------------------
def input_rates(net, x, chunk=1000):
    """Mean ``|x_j|`` of each synaptic layer's input units over ``x`` (mean weights), host arrays (n_in,)."""
    xp, be = net.be.xp, net.be
    sums = [xp.zeros(layer.n_in, dtype=be.dtype) for layer in net.synaptic]
    for start in range(0, x.shape[0], chunk):
        net.forward(x[start:start + chunk], "mean")
        for s, layer in zip(sums, net.synaptic):
            s += xp.abs(layer.last_input[..., :layer.n_in]).sum(axis=-2)   # bias column dropped
    return [be.to_numpy(s) / x.shape[0] for s in sums]


def _phis(net):
    """The ``phi`` parameters (sigma = softplus(phi)) of a network whose layers have noise levels, else []."""
    if "sigma" not in net.synapse_type.cost_targets or not all(hasattr(l, "sigma") for l in net.synaptic):
        return []
    return [p for p in net.params() if p.name == "phi"]


def _cost_to_data_gradient(net, x, y, costs, n_train, batch_size, batches=20, seed=0):
    """``sum_i |d(reliability cost)/d phi_i| / sum_i rms(d(minibatch CE)/d phi_i)``, over all synapses.

    The cross-entropy gradient is taken on ``batches`` random minibatches of
    ``batch_size`` with sampled weights, as in training, and its root mean
    square is the scale of the data's pull that Adam sees (§A5). Where sigma
    has found its level the cost's steady push is well below that scale
    (0.09 after the quick preset); where the ratio is far above 1, Adam
    sees the cost's gradient alone and moves every sigma at its per-step limit
    (150 after 10 epochs from the paper's start on the embedded digits).
    The sums weight the synapses where each gradient is large: the
    smallest sigmas for the cost, the most important synapses for the data.
    """
    be, xp = net.be, net.be.xp
    phis = _phis(net)
    rng = np.random.default_rng(seed)
    sq = [xp.zeros_like(p.value) for p in phis]
    for _ in range(batches):
        idx = be.asarray(rng.choice(x.shape[0], batch_size, replace=False))
        net.zero_grad()
        net.objective(x[idx], one_hot(y[idx], net.sizes[-1], xp, be.dtype), n_train)   # CE only
        for s, p in zip(sq, phis):
            s += p.grad * p.grad
    data = sum(float(xp.sqrt(s / batches).sum()) for s in sq)
    net.zero_grad()
    net.add_costs([c for c in costs if c.target == "sigma"], n_train)
    cost = sum(float(xp.abs(p.grad).sum()) for p in phis)
    net.zero_grad()
    return cost / data if data > 0 else float("inf")


def noise_report(net, x, y, costs, n_train, batch_size, phi_start, lr=None, steps=0, seed=0):
    """How trained sigma spreads and what set it, per layer, as host numbers for ``results.json``.

    - ``layers``: per synaptic layer, the 10th/50th/90th percentiles of sigma
      (bias synapses left out) and Spearman's rank correlation of sigma with
      the input rate ``mean |x_j|`` of its presynaptic unit (:func:`input_rates`;
      synapses of never-active inputs left out; MODEL.md §A6 predicts < 0);
    - ``cost_to_data_gradient``: see :func:`_cost_to_data_gradient`;
    - ``share_at_step_limit`` (with ``lr``, Adam's): the share of synapses whose
      ``phi`` moved from ``phi_start`` by at least 0.8 ``lr steps``, the most
      Adam moves a parameter in ``steps`` steps (about ``lr`` each, §A5).
    """
    be, xp = net.be, net.be.xp
    layers = []
    for layer, rate in zip(net.synaptic, input_rates(net, x)):
        sigma = be.to_numpy(xp.broadcast_to(layer.sigma(), layer.mu.shape))[..., :layer.n_in]
        active = np.broadcast_to(rate > 0, sigma.shape)
        s, r = sigma[active], np.broadcast_to(rate, sigma.shape)[active]
        corr = float(spearmanr(r, s)[0]) if s.size > 2 and np.ptp(s) > 0 and np.ptp(r) > 0 else float("nan")
        layers.append({"sigma_p10": float(np.percentile(sigma, 10)), "sigma_p50": float(np.median(sigma)),
                       "sigma_p90": float(np.percentile(sigma, 90)), "spearman_input_rate": corr,
                       "n_active": int(s.size)})
    report = {"layers": layers,
              "cost_to_data_gradient": _cost_to_data_gradient(net, x, y, costs, n_train, batch_size, seed=seed)}
    if lr is not None and steps:
        moved = np.concatenate([np.abs(be.to_numpy(p.value) - p0).ravel() for p, p0 in zip(_phis(net), phi_start)])
        report.update(share_at_step_limit=float(np.mean(moved >= 0.8 * lr * steps)), step_limit=float(lr * steps))
    return report


def warnings_from_report(report, history, settings):
    """One line for each way the run did not show sigma finding its own level, naming the options that fix it.

    ``settings`` holds the run's ``sigma_init``, ``lr``, ``epochs`` and ``c``: an
    option below the quick preset's value is named with that value, any other
    with its current one.
    """
    def more(option, key, quick=None):
        now = settings[key]
        return f"{option} {quick:g}" if quick is not None and now < quick else f"{option} (now {now:g})"

    out = []
    loss, cost = history["loss"][-1], history["cost"][-1]
    ratio = report["cost_to_data_gradient"]
    start = f"start nearer the balance with a larger {more('--sigma-init', 'sigma_init', QUICK['sigma_init'])}"
    faster = (f"raise {more('--lr', 'lr', QUICK_ADAM_LR)} or {more('--epochs', 'epochs', QUICK['epochs'])}")
    if cost > 0.5 * loss and ratio > COST_GRADIENT_RATIO:
        out.append(f"warning: the reliability cost dominates the loss ({cost:.3g} of {loss:.3g}) and its gradient "
                   f"on sigma is {ratio:.3g} times the cross-entropy's (summed over synapses; rms over "
                   f"minibatches): sigma is far below where the two balance (MODEL.md §A4); {start}, {faster}, "
                   f"or lower {more('--c', 'c')}")
    share = report.get("share_at_step_limit")
    if share is not None and share >= AT_LIMIT_SHARE:
        lo = min(l["sigma_p10"] for l in report["layers"])
        hi = max(l["sigma_p90"] for l in report["layers"])
        out.append(f"warning: sigma has only moved at Adam's per-step limit: phi = softplus^-1(sigma) changed by "
                   f"about lr x steps = {report['step_limit']:.3g} at {share:.0%} of synapses, so no synapse found "
                   f"its own noise level (sigma {lo:.3g} to {hi:.3g}, 10th-90th percentile); {faster}, or {start}")
    return out


def print_report(report, file=None):
    layers = report["layers"]
    print("sigma, 10th / 50th / 90th percentile: " + " | ".join(
        f"layer {j + 1} {l['sigma_p10']:.3g} / {l['sigma_p50']:.3g} / {l['sigma_p90']:.3g}"
        for j, l in enumerate(layers)), file=file)
    print("Spearman correlation of sigma with the input rate (MODEL.md §A6 predicts < 0): " + " | ".join(
        f"layer {j + 1} " + (f"{l['spearman_input_rate']:+.2f}" if np.isfinite(l["spearman_input_rate"])
                             else "n/a (one sigma)") for j, l in enumerate(layers)), file=file)


# -- the command ----------------------------------------------------------------------------
def run_cli(args):
    settings_from_args(args)
    backend = kit.backend_from_args(args)
    data = kit.data_from_args(args, backend)
    data.check(args.sizes, args.batch_size)
    net = MLP(args.sizes, args.synapse, backend, seed=args.seed, scheme=args.scheme, noise=args.noise,
              sigma_init=args.sigma_init, p_init=args.p_init, **synapse_type(args.synapse).options_from_args(args))
    costs, rule = build_costs(args, net, data.n_train)
    opt = make_optimizer(net, args.optimizer, args.lr, **rule)
    out = kit.prepare_out_dir(kit.out_dir(args), args.force)   # only once every input has been checked

    config = {k: v for k, v in vars(args).items() if k not in ("func", "default_out")}
    config.update(backend=backend.name, dtype=backend.dtype.name, n_train=data.n_train, data_source=data.source)
    run_id = kit.run_id()                  # carried by every file of the run
    results = {"status": "running", "run_id": run_id, "config": config, "history": None}
    print(f"minisyn train: {args.synapse} {'-'.join(map(str, args.sizes))} on {args.dataset} "
          f"({data.n_train} training examples), {args.epochs} epochs, {args.optimizer} lr={args.lr:g}"
          + (f", sigma_init={args.sigma_init:g}" if "sigma" in net.synapse_type.cost_targets else "")
          + f" ({args.preset} preset); results go to {out}/", file=sys.stderr)

    def save(status=None):
        if status:
            results["status"] = status
        if results["history"]:
            save_history_csv(out / "history.csv", dict(results["history"],
                                                       run_id=[run_id] * len(results["history"]["epoch"])))
        save_npz(out / "params.npz", dict(net.state(), run_id=np.array(run_id)))
        save_json(out / "results.json", results)          # last: a results.json names a complete set

    def checkpoint(epoch, history):
        from tqdm.auto import tqdm

        results["history"] = history
        save()
        # tqdm.write prints above the progress bar instead of through it
        tqdm.write(f"epoch {epoch:3d}  loss {history['loss'][-1]:.4f} (cross-entropy {history['ce'][-1]:.4f})"
                   f"  train acc {history['train_acc'][-1]:.4f}"
                   + ("" if history["val_acc"][-1] is None else f"  val acc {history['val_acc'][-1]:.4f}")
                   + f"  ({history['seconds'][-1]:.1f} s)", file=sys.stdout)

    phi_start = [backend.to_numpy(p.value).copy() for p in _phis(net)]
    try:
        history = train(net, opt, data.x, data.y, epochs=args.epochs, batch_size=args.batch_size, costs=costs,
                        seed=args.seed, x_val=data.x_val, y_val=data.y_val, progress=not args.no_progress,
                        on_epoch=checkpoint)
        test = evaluate(net, data.x_test, data.y_test, samples=args.eval_samples)
    except TrainingDiverged as err:        # the network holds the last finite epoch's parameters
        save("diverged")
        raise kit.CLIError(f"training diverged: {err}. The finished epochs are saved in {out}/") from None
    except KeyboardInterrupt:              # in training or in the evaluation: keep what was trained
        save("interrupted")
        raise
    results.update(status="finished", history=history, test_accuracy=test)
    results.update(net.describe(rho=args.rho))
    if phi_start:
        steps = args.epochs * (data.n_train // args.batch_size)
        report = noise_report(net, data.x, data.y, costs, data.n_train, args.batch_size, phi_start,
                              lr=args.lr if args.optimizer == "adam" else None, steps=steps, seed=args.seed)
        settings = dict(sigma_init=args.sigma_init, lr=args.lr, epochs=args.epochs, c=args.c)
        results.update(noise=report, warnings=warnings_from_report(report, history, settings))
    save()
    print(f"test accuracy: sampled {test['sampled']:.4f}  mean weights {test['mean']:.4f}  "
          f"predictive (S={args.eval_samples}) {test['predictive']:.4f}")
    for key in ("sigma_bar", "reliability_cost", "energy"):
        if key in results:
            print(f"{key}: {results[key]:.6g}")
    if phi_start:
        print_report(results["noise"])
        for line in results["warnings"]:
            print(line, file=sys.stderr)
    print(f"results saved in {out}/ (results.json, history.csv, params.npz)")
    return 0
