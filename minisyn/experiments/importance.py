"""Synapse importance against noise (MODEL.md §A5, §A6; Fig. 5 of the first paper).

After training, training continues for ``extra_epochs`` more epochs (same
objective, same Adam optimiser) while, per synapse ``i`` of every layer,
these are averaged over the minibatches:

- the empirical Fisher ``H_ii ≈ mean_minibatches g_i^2``, where ``g`` is the
  gradient of the minibatch *cross-entropy* (the performance cost only, no
  magnitude or reliability cost) with respect to ``mu_i``, taken with sampled
  weights as in training;
- Adam's per-synapse learning rate ``eta_i = eta / (sqrt(v_hat_i) + eps)``
  (§A5, :meth:`minisyn.optim.Adam.effective_lr` of ``mu``, read after each
  step; ``v`` there holds the gradient of the whole objective);
- the papers' proxy ``eta / mean_minibatches |g_i|``;
- the input rate ``mean |x_j|`` of the synapse's presynaptic unit ``j``,
  averaged over the examples (read from the layer's input ``layer.last_input``
  after each forward pass; for the first layer, the pixel intensities).

The extra epochs run the one training loop, :func:`minisyn.train.train`, with
two hooks: ``on_gradient`` (the cross-entropy gradient, before the costs are
added) and ``on_step`` (after the optimiser's step).

Then ``sigma_i`` is plotted against each quantity on log-log axes, one row per
quantity and one column per layer, with Spearman rank correlations. Bias
synapses are left out (their input is the constant 1), and so are synapses
whose input unit was never active (``mean |x_j| = 0``: their gradient is
exactly zero, so all four quantities are degenerate).

Predictions (§A6): sigma falls with ``H_ii`` and with the input rate, and
rises with the learning rate.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from minisyn.backend import get_backend
from minisyn.costs import L1Cost, PowerLawCost, sigma_bar
from minisyn.experiments import kit
from minisyn.network import MLP
from minisyn.optim import Adam
from minisyn.output import no_minor_labels, pyplot, save_figure, save_json, save_npz
from minisyn.train import evaluate, train

__all__ = ["QUANTITIES", "accumulate_importance", "spearman_table", "plot_importance", "run_importance",
           "register"]

QUANTITIES = {
    "fisher": r"Fisher $\overline{g^2}$ (Hessian diag.)",
    "adam_lr": r"Adam learning rate $\eta/(\sqrt{\hat v}+\epsilon)$",
    "proxy_lr": r"proxy $\eta/\overline{|g|}$",
    "input_rate": r"input rate $\overline{|x|}$",
}


def accumulate_importance(net, optimizer, x, y, *, epochs, batch_size, costs=(), seed=1, progress=False):
    """Continue training ``net`` and accumulate the §A6 quantities per synapse.

    Training continues with :func:`minisyn.train.train` (same objective,
    ``costs`` and ``optimizer``; example order from ``seed``). At each step,
    ``on_gradient`` records the cross-entropy gradient (sampled weights; ``g``,
    ``g^2``) and the input rates of each synaptic layer (``layer.last_input``,
    bias column dropped), before the costs' gradients are added; ``on_step``
    reads Adam's effective learning rate of every ``mu`` after the step.

    Returns a list (one dict per synaptic layer) of host arrays, each of the
    weight shape without the bias column: ``sigma``, ``mu``, ``fisher``,
    ``mean_abs_grad``, ``adam_lr``, ``proxy_lr``, ``input_rate``.
    """
    be, xp = net.be, net.be.xp
    layers = net.synaptic
    acc = [{"g2": xp.zeros_like(l.mu.value), "absg": xp.zeros_like(l.mu.value),
            "lr": xp.zeros_like(l.mu.value), "x": None} for l in layers]

    def on_gradient(out):
        for layer, a in zip(layers, acc):
            g = layer.mu.grad                                           # d mean_batch CE / d mu
            a["g2"] += g * g
            a["absg"] += xp.abs(g)
            rate = xp.abs(layer.last_input).mean(axis=-2)               # (*E, n_in + bias): mean over the batch
            a["x"] = rate if a["x"] is None else a["x"] + rate

    steps = []

    def on_step(step, out):
        for layer, a in zip(layers, acc):
            a["lr"] += optimizer.effective_lr(layer.mu)
        steps.append(step)

    train(net, optimizer, x, y, epochs=epochs, batch_size=batch_size, costs=costs, seed=seed, progress=progress,
          on_gradient=on_gradient, on_step=on_step)
    total = len(steps)
    eta = np.asarray(optimizer.lr, dtype=float)
    out = []
    for layer, a in zip(layers, acc):
        n_in = layer.n_in
        sigma = be.to_numpy(xp.broadcast_to(layer.sigma(), layer.mu.shape))[..., :n_in]
        fisher = be.to_numpy(a["g2"] / total)[..., :n_in]
        absg = be.to_numpy(a["absg"] / total)[..., :n_in]
        rate = be.to_numpy(a["x"] / total)[..., :n_in]
        with np.errstate(divide="ignore"):
            proxy = (eta.reshape(eta.shape + (1, 1)) if eta.ndim else eta) / absg
        out.append({
            "sigma": np.array(sigma), "mu": np.array(be.to_numpy(layer.mu.value))[..., :n_in],
            "fisher": fisher, "mean_abs_grad": absg,
            "adam_lr": be.to_numpy(a["lr"] / total)[..., :n_in], "proxy_lr": proxy,
            "input_rate": np.broadcast_to(rate[..., None, :], sigma.shape).copy(),
        })
    return out


def spearman_table(stats):
    """Spearman rank correlation of sigma with each quantity, per layer.

    Synapses with an inactive input unit (rate 0) or a non-finite, non-positive
    value are left out. Returns ``[{quantity: {'rho', 'p', 'n'}}]`` per layer.
    """
    table = []
    for layer in stats:
        row = {}
        for q in QUANTITIES:
            s, v = layer["sigma"].ravel(), layer[q].ravel()
            ok = (layer["input_rate"].ravel() > 0) & np.isfinite(v) & (v > 0) & np.isfinite(s)
            if ok.sum() < 3 or np.ptp(s[ok]) == 0 or np.ptp(v[ok]) == 0:   # undefined for constant input
                row[q] = {"rho": float("nan"), "p": float("nan"), "n": int(ok.sum())}
                continue
            r = spearmanr(v[ok], s[ok])
            row[q] = {"rho": float(r.statistic if hasattr(r, "statistic") else r[0]),
                      "p": float(r.pvalue if hasattr(r, "pvalue") else r[1]), "n": int(ok.sum())}
        table.append(row)
    return table


def plot_importance(stats, table, out, stem="fig5_importance", max_points=4000, seed=0):
    """Log-log scatter of sigma against each quantity (rows) for every layer (columns)."""
    plt = pyplot()

    out = Path(out)
    rng = np.random.default_rng(seed)
    nq, nl = len(QUANTITIES), len(stats)
    fig, axes = plt.subplots(nq, nl, figsize=(3.3 * nl + 0.3, 2.6 * nq), squeeze=False, constrained_layout=True)
    for j, layer in enumerate(stats):
        for i, q in enumerate(QUANTITIES):
            ax = axes[i, j]
            s, v = layer["sigma"].ravel(), layer[q].ravel()
            ok = np.flatnonzero((layer["input_rate"].ravel() > 0) & np.isfinite(v) & (v > 0) & (s > 0))
            if ok.size > max_points:
                ok = rng.choice(ok, max_points, replace=False)
            ax.scatter(v[ok], s[ok], s=2, alpha=0.3, color="tab:green", rasterized=True, lw=0)
            if ok.size:
                ax.set_xscale("log")
                ax.set_yscale("log")
                no_minor_labels(ax)
            c = table[j][q]
            ax.set_title(f"layer {j + 1}: Spearman {c['rho']:+.2f} (n={c['n']})", fontsize=8)
            ax.set_xlabel(QUANTITIES[q], fontsize=8)
            if j == 0:
                ax.set_ylabel(r"$\sigma$")
    return save_figure(fig, out, stem, dpi=110)


def run_importance(out, *, net=None, optimizer=None, rho=0.5, c=None, s=1e-3, lam=1e-4, sizes=(784, 100, 100, 10),
                   epochs=2, extra_epochs=1, batch_size=20, lr=5e-4, sigma_init=1e-4, scheme="weights",
                   seed=0, dataset="embedded", data_dir=None, download=True, train_limit=None, backend=None,
                   progress=True, plot=True, log=print, inputs="unit"):
    """Train a heterogeneous-noise network (or take ``net`` and its Adam ``optimizer``),
    continue for ``extra_epochs`` while accumulating the §A6 quantities, and save
    ``importance.json`` (Spearman correlations, settings, accuracies),
    ``importance.npz`` (per-layer arrays) and the figure.

    The reliability cost is ``c sigma^-rho``; without ``c`` it is the s-form with
    ``s`` (the paper's Fig. 5 used ``s = 1e-3``): ``c = s^rho / rho``.
    The data come from :func:`minisyn.experiments.kit.prepare_data`; ``inputs``
    is ``'unit'`` (pixels in [0, 1]) or ``'standardized'`` (see there); the
    input rate is ``mean |x|`` of whichever inputs the network sees.
    Returns a dict with ``'correlations'`` (one dict per layer), ``'stats'`` and ``'paths'``.
    """
    be = get_backend(backend if net is None else net.be)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    c = float(s) ** rho / rho if c is None else float(c)
    data = kit.prepare_data(dataset, data_dir=data_dir, download=download, train_limit=train_limit,
                            inputs=inputs, seed=seed, backend=be)
    x, y, xt, yt = data.arrays()
    costs = [PowerLawCost(c, rho), L1Cost(lam)]
    t0 = time.perf_counter()
    if net is None:
        net = MLP(sizes, "gaussian", be, seed=seed, scheme=scheme, noise="heterogeneous", sigma_init=sigma_init)
        optimizer = Adam(net.params(), lr, be)
        log(f"importance: training {'-'.join(map(str, sizes))} for {epochs} epochs (rho={rho:g}, c={c:.4g})")
        train(net, optimizer, x, y, epochs=epochs, batch_size=batch_size, costs=costs, seed=seed, progress=progress)
    elif not isinstance(optimizer, Adam):
        raise ValueError("pass the trained network's Adam optimiser (its state gives the learning rates)")
    if net.noise != "heterogeneous" or net.synapse != "gaussian":
        raise ValueError("the importance analysis needs Gaussian synapses with heterogeneous noise")
    log(f"importance: {extra_epochs} more epochs, accumulating Fisher, learning rates and input rates")
    stats = accumulate_importance(net, optimizer, x, y, epochs=extra_epochs, batch_size=batch_size, costs=costs,
                                  seed=seed + 1, progress=progress)
    seconds = time.perf_counter() - t0
    table = spearman_table(stats)
    results = {
        "figure": "Fig. 5", "model": "MODEL.md §A5, §A6",
        "settings": {"sizes": net.sizes, "rho": rho, "c": c, "lambda": lam, "epochs": epochs,
                     "extra_epochs": extra_epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
                     "dataset": dataset, "train_limit": train_limit, "scheme": net.scheme,
                     "backend": be.name, "dtype": be.dtype.name, "inputs": inputs},
        "fisher_of": "gradient of the minibatch cross-entropy w.r.t. mu (no costs), sampled weights",
        "test_accuracy": evaluate(net, xt, yt),
        "sigma_bar": be.to_numpy(sigma_bar(net.sigmas(), be)).tolist(),
        "spearman": {f"layer{j + 1}": row for j, row in enumerate(table)},
        "seconds": seconds,
    }
    save_json(out / "importance.json", results)
    save_npz(out / "importance.npz", {f"layer{j + 1}.{k}": v for j, layer in enumerate(stats) for k, v in layer.items()})
    paths = plot_importance(stats, table, out) if plot else []
    return {"correlations": table, "stats": stats, "results": results, "paths": paths}


def print_correlations(table, file=None):
    print(f"{'':8s}" + "".join(f"{q:>12s}" for q in QUANTITIES), file=file)
    for j, row in enumerate(table):
        print(f"layer {j + 1:<2d}" + "".join(f"{row[q]['rho']:+12.3f}" for q in QUANTITIES), file=file)


# -- the command line -------------------------------------------------------------
def register(sub):
    p = sub.add_parser(
        "importance", formatter_class=kit.Formatter,
        help="synapse importance, learning rate and input rate against noise (Fig. 5)",
        description="Train a heterogeneous-noise Gaussian network, continue for --extra-epochs while "
                    "accumulating per synapse the empirical Fisher (mean squared cross-entropy gradient "
                    "w.r.t. mu), Adam's learning rate, the proxy eta/mean|g| and the input rate "
                    "(MODEL.md §A5, §A6); plot sigma against each, per layer, with Spearman correlations.\n\n"
                    "Writes importance.json, importance.npz and fig5_importance.png/pdf to --out.",
        epilog="examples:\n"
               "  minisyn importance                          # quick: embedded data\n"
               "  minisyn importance --dataset mnist --data-dir DIR --epochs 50 --extra-epochs 10\n")
    g = p.add_argument_group("network, costs and training")
    g.add_argument("--sizes", type=kit.sizes, default=[784, 100, 100, 10], help="layer widths")
    g.add_argument("--rho", type=kit.fraction, default=0.5, help="reliability cost exponent (fractions allowed: 2/3)")
    g.add_argument("--c", type=float, default=None, help="reliability cost weight (default: from --s)")
    g.add_argument("--s", type=float, default=1e-3, help="s-form scale, c = s^rho/rho (paper's Fig. 5: 1e-3)")
    g.add_argument("--lambda", dest="lam", type=float, default=1e-4, help="L1 magnitude cost weight")
    g.add_argument("--epochs", type=int, default=2, help="training epochs (paper: 50)")
    g.add_argument("--extra-epochs", type=int, default=1, help="epochs of accumulation after training (paper: 10)")
    g.add_argument("--batch-size", type=int, default=20)
    g.add_argument("--lr", type=float, default=5e-4, help="Adam learning rate")
    g.add_argument("--sigma-init", type=float, default=1e-4, help="initial sigma")
    g.add_argument("--scheme", choices=("weights", "local"), default="weights")
    kit.add_inputs_option(g)
    kit.add_data_options(p)
    kit.add_run_options(p, default_out="runs/importance-{stamp}")
    p.set_defaults(func=run_cli)


def run_cli(args):
    if not args.rho > 0:
        raise kit.CLIError(f"--rho must be > 0, got {args.rho}")
    kit.at_least("--epochs", args.epochs, 0)
    kit.at_least("--extra-epochs", args.extra_epochs)
    kit.at_least("--batch-size", args.batch_size)
    if args.train_limit is not None:
        kit.at_least("--train-limit", args.train_limit)
    backend = kit.backend_from_args(args)
    out = kit.prepare_out_dir(kit.out_dir(args), args.force, marker="importance.json")
    res = run_importance(out, rho=args.rho, c=args.c, s=args.s, lam=args.lam, sizes=args.sizes,
                         epochs=args.epochs, extra_epochs=args.extra_epochs, batch_size=args.batch_size,
                         lr=args.lr, sigma_init=args.sigma_init, scheme=args.scheme, seed=args.seed,
                         dataset=args.dataset, data_dir=args.data_dir, download=not args.no_download,
                         train_limit=args.train_limit, backend=backend, progress=not args.no_progress,
                         log=lambda m: print(m, file=sys.stderr), inputs=args.inputs)
    print("Spearman rank correlation of sigma with each quantity:")
    print_correlations(res["correlations"])
    print(f"results in {out}/ (importance.json, importance.npz, fig5_importance.png/pdf)")
    return 0
