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
added) and ``on_step`` (after the optimiser's step). ``frozen=True`` is the
authors' code instead (``--authors``; EfficientBayes ``sims-fig5.py``@884c073,
lines 139-162): the network does not change during the extra epochs, ``g`` is
the gradient of the whole objective (cross-entropy and costs), and Adam's
learning rate is that of its last training step.

Then ``sigma_i`` is plotted against each quantity on log-log axes, one row per
quantity and one column per layer, with Spearman rank correlations. Bias
synapses are left out (their input is the constant 1), and so are synapses
whose input unit was never active (``mean |x_j| = 0``: their gradient is
exactly zero, so all four quantities are degenerate).

Predictions (§A6): sigma falls with ``H_ii`` and with the input rate, and
rises with the learning rate.

The log-log slope of sigma against the Fisher estimate is fitted per layer
(:func:`loglog_slopes`, least squares of ``log sigma`` on ``log H_ii``) and set
beside the linear model's ``-1/(2+rho)`` (§A7, :func:`minisyn.theory.predicted_slopes`):
exact for a linear model at its optimum, a reference for a network (the
paper's Appendix 5 checks it on MNIST with no hidden layer, ``--sizes 784,10``).
"""
from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from minisyn.backend import get_backend
from minisyn.costs import L1Cost, PowerLawCost, sigma_bar
from minisyn.experiments import kit, published
from minisyn.network import MLP
from minisyn.optim import Adam
from minisyn.output import no_minor_labels, pyplot, save_figure, save_json, save_npz
from minisyn.theory import predicted_slopes
from minisyn.train import evaluate, fit, minibatches, train

__all__ = ["QUANTITIES", "QUICK", "PAPER", "AUTHORS", "accumulate_importance", "spearman_table", "loglog_slopes",
           "plot_importance", "run_importance", "print_correlations", "print_slopes", "register"]

#: The default (quick) preset: 10 + 2 epochs from sigma = 1e-2 at Adam lr 1e-3, so that sigma
#: spreads by importance within a minute on the embedded digits (Adam moves phi ~ log sigma by
#: at most about lr per step; from the paper's 1e-4 at 5e-4, a short run moves every sigma alike).
QUICK = dict(epochs=10, extra_epochs=2, lr=1e-3, sigma_init=1e-2, lam=1e-4, inputs="unit")
#: ``--paper``: the paper's Fig. 5 (Methods): 50 epochs of training, 10 of accumulation,
#: lr 5e-4, sigma_init 1e-4 (use with --dataset mnist).
PAPER = dict(epochs=50, extra_epochs=10, lr=5e-4, sigma_init=1e-4, lam=1e-4, inputs="unit")
#: ``--authors``: the authors' Fig. 5 code, EfficientBayes sims-fig5.py@884c073 (the HEAD
#: version; the data were made with an earlier one, figure5.py@9f8e7a1, with s = 0.01 and
#: 1000 + 100 epochs: docs/results/differences.md, A12). Lines: 125 `range(60)` with 50-59
#: accumulating (50 + 10 epochs); 177 `lr=0.0001`; 175 `s = 0.001` (the default --s here too);
#: 89 lambda `0.01`; 18 standardised pixels; 45-50 sigma from 1e-4, float64; 96-109 the ReLUs
#: after layers 2 and 3 only (as in the sweep, A1); 139-162 the whole loss's gradient at sampled
#: weights, the optimiser not stepping during accumulation (frozen).
AUTHORS = dict(PAPER, lr=1e-4, lam=0.01, inputs="standardized", dtype="float64", relu_after=(False, True, True),
               frozen=True)

QUANTITIES = {
    "fisher": r"Fisher $\overline{g^2}$ (Hessian diag.)",
    "adam_lr": r"Adam learning rate $\eta/(\sqrt{\hat v}+\epsilon)$",
    "proxy_lr": r"proxy $\eta/\overline{|g|}$",
    "input_rate": r"input rate $\overline{|x|}$",
}


def accumulate_importance(net, optimizer, x, y, *, epochs, batch_size, costs=(), seed=1, progress=False,
                          frozen=False):
    """Continue training ``net`` and accumulate the §A6 quantities per synapse.

    Training continues with :func:`minisyn.train.train` (same objective,
    ``costs`` and ``optimizer``; example order from ``seed``). At each step,
    ``on_gradient`` records the cross-entropy gradient (sampled weights; ``g``,
    ``g^2``) and the input rates of each synaptic layer (``layer.last_input``,
    bias column dropped), before the costs' gradients are added; ``on_step``
    reads Adam's effective learning rate of every ``mu`` after the step.

    With ``frozen`` (the authors' code) nothing is trained: each minibatch's
    ``g`` is the gradient of the whole objective, costs included, and the
    optimiser takes no step (its learning rate stays that of the last
    training step).

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

    if frozen:
        order_rng = np.random.default_rng(seed)
        fit(net, _gradient_only(net, x.shape[0], costs, on_gradient),
            lambda epoch: minibatches(x, y, int(batch_size), order_rng, be),
            epochs=epochs, steps_per_epoch=x.shape[0] // int(batch_size), progress=progress, on_step=on_step)
    else:
        train(net, optimizer, x, y, epochs=epochs, batch_size=batch_size, costs=costs, seed=seed,
              progress=progress, on_gradient=on_gradient, on_step=on_step)
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


def _gradient_only(net, n_train, costs, on_gradient):
    """A step of :func:`minisyn.train.fit` that computes the whole objective's gradient and
    hands it to ``on_gradient``, without changing the network."""
    def update(xb, targets):
        net.zero_grad()
        out = net.objective(xb, targets, n_train, costs)
        on_gradient(out)
        return out

    return update


def _kept(layer, q):
    """A mask over the flattened arrays: ``q`` and sigma finite and positive, and the input unit ever active."""
    s, v = layer["sigma"].ravel(), layer[q].ravel()
    return (layer["input_rate"].ravel() > 0) & np.isfinite(v) & (v > 0) & np.isfinite(s) & (s > 0)


def spearman_table(stats):
    """Spearman rank correlation of sigma with each quantity, per layer.

    Synapses with an inactive input unit (rate 0) or a non-finite, non-positive
    value are left out. Returns ``[{quantity: {'rho', 'p', 'n'}}]`` per layer.
    """
    table = []
    for layer in stats:
        row = {}
        for q in QUANTITIES:
            ok = _kept(layer, q)
            s, v = layer["sigma"].ravel()[ok], layer[q].ravel()[ok]
            if ok.sum() < 3 or np.ptp(s) == 0 or np.ptp(v) == 0:   # undefined for constant input
                row[q] = {"rho": float("nan"), "p": float("nan"), "n": int(ok.sum())}
                continue
            r = spearmanr(v, s)
            row[q] = {"rho": float(r.statistic if hasattr(r, "statistic") else r[0]),
                      "p": float(r.pvalue if hasattr(r, "pvalue") else r[1]), "n": int(ok.sum())}
        table.append(row)
    return table


def _fit(lv, ls):
    """Slope and intercept of the least-squares line ``ls ~ lv`` (NaN where no line is defined)."""
    if lv.size < 3 or np.ptp(lv) == 0:
        return float("nan"), float("nan")
    slope, intercept = np.polyfit(lv, ls, 1)
    return float(slope), float(intercept)


def loglog_slopes(stats, rho, quantity="fisher"):
    """Least-squares slope of ``log sigma`` against ``log`` of the Fisher estimate, per layer.

    Beside each fit is the linear model's slope ``-1/(2+rho)`` (MODEL.md §A7:
    ``sigma_i = (c rho / Hcal_ii)^(1/(2+rho))`` at the optimum; a constant
    factor between the Fisher estimate and ``Hcal_ii`` moves the intercept, not
    the slope). ``fitted`` uses the synapses of :func:`spearman_table`;
    ``fitted_upper_half`` only those whose Fisher estimate is at or above the
    layer's median. The lower half holds the synapses of rarely active inputs:
    their Fisher estimate rests on a few examples, and their sigma, which the
    cost alone pushes up, is still rising when training stops; both flatten
    the fit over all synapses. Returns ``[{'fitted', 'intercept',
    'fitted_upper_half', 'predicted', 'n'}]`` per layer (NaN where fewer than
    3 synapses or a constant quantity leave no line).
    """
    predicted = float(predicted_slopes(rho)[1])
    out = []
    for layer in stats:
        ok = _kept(layer, quantity)
        ls, lv = np.log(layer["sigma"].ravel()[ok]), np.log(layer[quantity].ravel()[ok])
        fitted, intercept = _fit(lv, ls)
        upper = lv >= np.median(lv) if lv.size else lv.astype(bool)
        out.append({"fitted": fitted, "intercept": intercept, "fitted_upper_half": _fit(lv[upper], ls[upper])[0],
                    "predicted": predicted, "n": int(ok.sum())})
    return out


def _label_short_log_axis(axis, lo, hi):
    """Plain labels on a log axis that spans less than two decades (it would otherwise have one or none)."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator, MaxNLocator, NullLocator

    if hi >= 100 * lo:
        return
    axis.set_major_locator(LogLocator(10, subs=(1.0, 2.0, 5.0)) if hi >= 4 * lo else MaxNLocator(3))
    axis.set_major_formatter(FormatStrFormatter("%.3g"))
    axis.set_minor_locator(NullLocator())


def plot_importance(stats, table, out, stem="fig5_importance", max_points=4000, seed=0, slopes=None):
    """Log-log scatter of sigma against each quantity (rows) for every layer (columns).

    With ``slopes`` (:func:`loglog_slopes`), the Fisher row shows the fitted
    line (solid) and the linear model's slope through the same centre
    (dashed). Each axis spans the 0.5th-99.5th percentiles of the synapses it
    plots (a few synapses of rarely active inputs reach Fisher values of 1e-30
    and below); the title says how many fall outside.
    """
    plt = pyplot()

    out = Path(out)
    rng = np.random.default_rng(seed)
    nq, nl = len(QUANTITIES), len(stats)
    fig, axes = plt.subplots(nq, nl, figsize=(3.4 * nl + 0.3, 2.7 * nq + 0.3), squeeze=False,
                             constrained_layout=True)
    for j, layer in enumerate(stats):
        for i, q in enumerate(QUANTITIES):
            ax = axes[i, j]
            s, v = layer["sigma"].ravel(), layer[q].ravel()
            kept = np.flatnonzero(_kept(layer, q))
            c = table[j][q]
            title = f"layer {j + 1}: Spearman {c['rho']:+.2f} (n={c['n']})"
            if kept.size:
                (x0, x1), (y0, y1) = (np.percentile(a[kept], [0.5, 99.5]) for a in (v, s))
                inside = kept[(v[kept] >= x0) & (v[kept] <= x1) & (s[kept] >= y0) & (s[kept] <= y1)]
                shown = rng.choice(inside, max_points, replace=False) if inside.size > max_points else inside
                ax.scatter(v[shown], s[shown], s=2, alpha=0.3, color="tab:green", rasterized=True, lw=0)
                ax.set_xscale("log")
                ax.set_yscale("log")
                pad_x, pad_y = (x1 / x0) ** 0.03, (y1 / y0) ** 0.03
                ax.set_xlim(x0 / pad_x, x1 * pad_x)
                ax.set_ylim(y0 / pad_y, y1 * pad_y)
                no_minor_labels(ax)
                _label_short_log_axis(ax.xaxis, x0, x1)
                _label_short_log_axis(ax.yaxis, y0, y1)
                if kept.size > inside.size:
                    title += f", {kept.size - inside.size} off axes"
                if q == "fisher" and slopes is not None and np.isfinite(slopes[j]["fitted"]):
                    f = slopes[j]
                    xs = np.geomspace(x0, x1, 50)
                    ax.plot(xs, np.exp(f["intercept"]) * xs ** f["fitted"], "k-", lw=1)
                    centre_x, centre_y = np.mean(np.log(v[kept])), np.mean(np.log(s[kept]))
                    ax.plot(xs, np.exp(centre_y + f["predicted"] * (np.log(xs) - centre_x)), "k--", lw=1)
                    ax.set_ylim(y0 / pad_y, y1 * pad_y)               # the lines do not widen the axis
                    title += (f"\nslope {f['fitted']:+.3f}, upper half {f['fitted_upper_half']:+.3f} "
                              f"(linear model {f['predicted']:+.3f})")
            ax.set_title(title, fontsize=8)
            ax.set_xlabel(QUANTITIES[q], fontsize=8)
            if j == 0:
                ax.set_ylabel(r"$\sigma$")
    if slopes is not None:
        fig.suptitle(textwrap.fill("top row: least-squares fit of log sigma on log Fisher (solid) and the linear "
                                   "model's slope -1/(2+rho) through the same centre (dashed, MODEL.md §A7)",
                                   48 * nl), fontsize=8)
    return save_figure(fig, out, stem, dpi=110)


def run_importance(out, *, net=None, optimizer=None, rho=0.5, c=None, s=1e-3, lam=1e-4, sizes=(784, 100, 100, 10),
                   epochs=QUICK["epochs"], extra_epochs=QUICK["extra_epochs"], batch_size=20, lr=QUICK["lr"],
                   sigma_init=QUICK["sigma_init"], scheme="weights",
                   seed=0, dataset="embedded", data_dir=None, download=True, train_limit=None, backend=None,
                   progress=True, plot=True, log=print, inputs="unit", relu_after=None, frozen=False):
    """Train a heterogeneous-noise network (or take ``net`` and its Adam ``optimizer``),
    continue for ``extra_epochs`` while accumulating the §A6 quantities, and save
    ``importance.json`` (Spearman correlations, log-log slopes against the Fisher
    estimate with the linear model's, settings, accuracies),
    ``importance.npz`` (per-layer arrays) and the figure.

    The reliability cost is ``c sigma^-rho``; without ``c`` it is the s-form with
    ``s`` (the paper's Fig. 5 used ``s = 1e-3``): ``c = s^rho / rho``.
    The data come from :func:`minisyn.experiments.kit.prepare_data`; ``inputs``
    is ``'unit'`` (pixels in [0, 1]) or ``'standardized'`` (see there); the
    input rate is ``mean |x|`` of whichever inputs the network sees.
    The defaults are the quick preset (:data:`QUICK`); :data:`PAPER` holds the paper's,
    :data:`AUTHORS` the authors' code's (``relu_after`` places the ReLUs,
    :class:`~minisyn.network.MLP`; ``frozen``: see :func:`accumulate_importance`).
    Returns a dict with ``'correlations'`` and ``'slopes'`` (one dict per layer), ``'stats'``,
    ``'results'`` and ``'paths'``.
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
        net = MLP(sizes, "gaussian", be, seed=seed, scheme=scheme, noise="heterogeneous", sigma_init=sigma_init,
                  relu_after=relu_after)
        optimizer = Adam(net.params(), lr, be)
        log(f"importance: training {'-'.join(map(str, sizes))} for {epochs} epochs (rho={rho:g}, c={c:.4g})")
        train(net, optimizer, x, y, epochs=epochs, batch_size=batch_size, costs=costs, seed=seed, progress=progress)
    elif not isinstance(optimizer, Adam):
        raise ValueError("pass the trained network's Adam optimiser (its state gives the learning rates)")
    if net.noise != "heterogeneous" or net.synapse != "gaussian":
        raise ValueError("the importance analysis needs Gaussian synapses with heterogeneous noise")
    log(f"importance: {extra_epochs} more epochs, accumulating Fisher, learning rates and input rates")
    stats = accumulate_importance(net, optimizer, x, y, epochs=extra_epochs, batch_size=batch_size, costs=costs,
                                  seed=seed + 1, progress=progress, frozen=frozen)
    seconds = time.perf_counter() - t0
    table = spearman_table(stats)
    slopes = loglog_slopes(stats, rho)
    results = {
        "figure": "Fig. 5", "model": "MODEL.md §A5, §A6",
        "settings": {"sizes": net.sizes, "rho": rho, "c": c, "lambda": lam, "epochs": epochs,
                     "extra_epochs": extra_epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
                     "dataset": dataset, "train_limit": train_limit, "scheme": net.scheme,
                     "backend": be.name, "dtype": be.dtype.name, "inputs": inputs,
                     "relu_after": list(net.relu_after), "frozen": bool(frozen)},
        "fisher_of": ("gradient of the whole minibatch objective (costs included) w.r.t. mu, sampled weights, "
                      "network frozen" if frozen else
                      "gradient of the minibatch cross-entropy w.r.t. mu (no costs), sampled weights"),
        "test_accuracy": evaluate(net, xt, yt),
        "sigma_bar": be.to_numpy(sigma_bar(net.sigmas(), be)).tolist(),
        "spearman": {f"layer{j + 1}": row for j, row in enumerate(table)},
        "loglog_slope_sigma_vs_fisher": {f"layer{j + 1}": row for j, row in enumerate(slopes)},
        "slope_model": "least squares of log sigma on log Fisher; predicted: -1/(2+rho), MODEL.md §A7",
        "seconds": seconds,
    }
    save_json(out / "importance.json", results)
    save_npz(out / "importance.npz",
             {f"layer{j + 1}.{k}": v for j, layer in enumerate(stats) for k, v in layer.items()})
    paths = plot_importance(stats, table, out, slopes=slopes) if plot else []
    if dataset == "mnist" and tuple(net.sizes) == published.FIG5_SIZES:   # the authors' Fig. 5 network and data
        results["published_fig5"] = published.write_importance_comparison(table, slopes, rho, out, log=log)
        save_json(out / "importance.json", results)
    return {"correlations": table, "slopes": slopes, "stats": stats, "results": results, "paths": paths}


def print_correlations(table, file=None):
    print(f"{'':8s}" + "".join(f"{q:>12s}" for q in QUANTITIES), file=file)
    for j, row in enumerate(table):
        print(f"layer {j + 1:<2d}" + "".join(f"{row[q]['rho']:+12.3f}" for q in QUANTITIES), file=file)


def print_slopes(slopes, file=None):
    """The fitted log-log slope of sigma against the Fisher estimate per layer (all synapses, and the
    upper half by Fisher), beside the linear model's."""
    print("log-log slope of sigma against the Fisher estimate (all synapses / upper half by Fisher): "
          + " | ".join(f"layer {j + 1} {f['fitted']:+.3f} / {f['fitted_upper_half']:+.3f}"
                       for j, f in enumerate(slopes))
          + f"  (linear model, MODEL.md §A7: -1/(2+rho) = {slopes[0]['predicted']:+.3f})", file=file)


# -- the command line -------------------------------------------------------------
def register(sub):
    p = sub.add_parser(
        "importance", formatter_class=kit.Formatter,
        help="synapse importance, learning rate and input rate against noise (Fig. 5)",
        description=textwrap.fill(
            "Train a heterogeneous-noise Gaussian network, continue for --extra-epochs while accumulating per "
            "synapse the empirical Fisher (mean squared cross-entropy gradient w.r.t. mu), Adam's learning "
            "rate, the proxy eta/mean|g| and the input rate (MODEL.md §A5, §A6); plot sigma against each, per "
            "layer, with Spearman correlations, and fit the log-log slope of sigma against the Fisher estimate "
            "per layer beside the linear model's -1/(2+rho) (§A7; the paper's Appendix 5 check: --sizes "
            "784,10).", 79) + "\n\n" + textwrap.fill(
            f"Presets. Without options (quick): 784-100-100-10 on the embedded 5,000 digits, "
            f"{QUICK['epochs']} + {QUICK['extra_epochs']} epochs from sigma_init {QUICK['sigma_init']:g} at "
            f"Adam lr {QUICK['lr']:g} (about 20 s on one core): sigma falls with the Fisher information and "
            f"rises with Adam's learning rate in every layer. --paper: the paper's {PAPER['epochs']} + "
            f"{PAPER['extra_epochs']} epochs from {PAPER['sigma_init']:g} at lr {PAPER['lr']:g} (add "
            "--dataset mnist; about half an hour). The quick preset starts sigma higher and steps larger "
            "because Adam moves phi = softplus^-1(sigma) by at most about lr per step: from 1e-4 at 5e-4 a "
            "short run moves every sigma alike.", 79) + "\n\n"
        "Writes importance.json, importance.npz and fig5_importance.png/pdf to --out; with the 784-100-100-10 "
        "network on\nMNIST also published_comparison.csv/.json/.png/.pdf: its statistics beside the same ones "
        "computed\nfrom the authors' Fig. 5 data (minisyn/data/authors_fig5.md).",
        epilog="examples:\n"
               "  minisyn importance                          # quick preset: embedded data, about 20 s\n"
               "  minisyn importance --dataset mnist --data-dir DIR           # the same on MNIST, a few minutes\n"
               "  minisyn importance --paper --dataset mnist --data-dir DIR   # the paper's Fig. 5\n"
               "  minisyn importance --sizes 784,10 --dataset mnist --data-dir DIR --rho 2   # Appendix 5\n")
    g = p.add_argument_group("network, costs and training")
    g.add_argument("--sizes", type=kit.sizes, default=[784, 100, 100, 10], help="layer widths")
    g.add_argument("--rho", type=kit.fraction, default=0.5, help="reliability cost exponent (fractions allowed: 2/3)")
    g.add_argument("--c", type=float, default=None, help="reliability cost weight (default: from --s)")
    g.add_argument("--s", type=float, default=1e-3, help="s-form scale, c = s^rho/rho (paper's Fig. 5: 1e-3)")
    g.add_argument("--lambda", dest="lam", type=float, default=None,
                   help="L1 magnitude cost weight (default: 1e-4; --authors: 0.01)")
    g.add_argument("--paper", action="store_true",
                   help=f"the paper's settings where not given: {PAPER['epochs']} + {PAPER['extra_epochs']} "
                        f"epochs, lr {PAPER['lr']:g}, sigma_init {PAPER['sigma_init']:g}")
    g.add_argument("--authors", action="store_true",
                   help="the settings of the authors' Fig. 5 code (EfficientBayes sims-fig5.py@884c073): "
                        "--paper's, with lr 1e-4 (line 177), --lambda 0.01 (89), standardised pixels (18), "
                        "float64 (45-50), the ReLUs after layers 2 and 3 only (96-109), and the importance "
                        "accumulated from the whole objective's gradient with the network frozen (139-162); "
                        "docs/results/differences.md, A12. The authors' Fig. 5 data fit --relu-after 1,1,0 in "
                        "layer 3 (measured there)")
    g.add_argument("--epochs", type=int, default=None,
                   help=f"training epochs (default: {QUICK['epochs']}; paper: {PAPER['epochs']})")
    g.add_argument("--extra-epochs", type=int, default=None,
                   help=f"epochs of accumulation after training (default: {QUICK['extra_epochs']}; paper: "
                        f"{PAPER['extra_epochs']})")
    g.add_argument("--batch-size", type=int, default=20)
    g.add_argument("--lr", type=float, default=None,
                   help=f"Adam learning rate (default: {QUICK['lr']:g}; paper: {PAPER['lr']:g})")
    g.add_argument("--sigma-init", type=float, default=None,
                   help=f"initial sigma (default: {QUICK['sigma_init']:g}; paper: {PAPER['sigma_init']:g})")
    g.add_argument("--scheme", choices=("weights", "local"), default="weights")
    kit.add_relu_option(g)
    kit.add_inputs_option(g)
    p.set_defaults(inputs=None)            # from the preset
    kit.add_data_options(p)
    kit.add_run_options(p, default_out="runs/importance-{stamp}")
    p.set_defaults(func=run_cli)


def run_cli(args):
    if args.paper and args.authors:
        raise kit.CLIError("--paper and --authors are two presets: give one")
    preset = kit.apply_preset(args, QUICK, AUTHORS if args.authors else PAPER, use_paper=args.paper or args.authors)
    preset = "authors" if args.authors else preset
    if not args.rho > 0:
        raise kit.CLIError(f"--rho must be > 0, got {args.rho}")
    kit.at_least("--epochs", args.epochs, 0)
    kit.at_least("--extra-epochs", args.extra_epochs)
    kit.at_least("--batch-size", args.batch_size)
    if args.train_limit is not None:
        kit.at_least("--train-limit", args.train_limit)
    backend = kit.backend_from_args(args)
    out = kit.prepare_out_dir(kit.out_dir(args), args.force, marker="importance.json")
    print(f"minisyn importance: {preset} preset: {args.epochs} + {args.extra_epochs} epochs, lr {args.lr:g}, "
          f"sigma_init {args.sigma_init:g}", file=sys.stderr)
    res = run_importance(out, rho=args.rho, c=args.c, s=args.s, lam=args.lam, sizes=args.sizes,
                         epochs=args.epochs, extra_epochs=args.extra_epochs, batch_size=args.batch_size,
                         lr=args.lr, sigma_init=args.sigma_init, scheme=args.scheme, seed=args.seed,
                         dataset=args.dataset, data_dir=args.data_dir, download=not args.no_download,
                         train_limit=args.train_limit, backend=backend, progress=not args.no_progress,
                         log=lambda m: print(m, file=sys.stderr), inputs=args.inputs,
                         relu_after=getattr(args, "relu_after", None), frozen=getattr(args, "frozen", False))
    print("Spearman rank correlation of sigma with each quantity (MODEL.md §A6 predicts fisher < 0, "
          "adam_lr > 0, proxy_lr > 0, input_rate < 0):")
    print_correlations(res["correlations"])
    print_slopes(res["slopes"])
    extra = ", published_comparison.csv/.png" if res["results"].get("published_fig5") else ""
    print(f"results in {out}/ (importance.json, importance.npz, fig5_importance.png/pdf{extra})")
    return 0
