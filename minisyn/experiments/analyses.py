"""Analyses of a trained network of plastic Bernoulli synapses (MODEL.md §B4; Figs. 2 and 3).

Given a network trained with the presynaptic rule (trained here with the
energy-experiment values of §B2, or loaded from the ``params.npz`` written by
``minisyn train --synapse bernoulli``), :func:`run_analyses` computes, with
the functions of :mod:`minisyn.analysis`:

- Fig. 2a: the histogram of release probabilities ``p``;
- Fig. 2b: lesion curves, accuracy as synapses are removed (``m = 0``) lowest
  ``p`` first against a random order (several random seeds);
  :func:`~minisyn.analysis.lesion_curve`;
- Fig. 2c: the energy ``|m|`` of each synapse against its ``p``;
  :func:`~minisyn.analysis.energy_per_synapse`;
- Fig. 2d: the diagonal empirical Fisher information from single-example
  gradients against ``p``, with the Spearman rank correlation and its
  p-value; :func:`~minisyn.analysis.empirical_fisher`, :func:`~minisyn.analysis.spearman`;
- Fig. 3: neuron-level sparsity of the important synapses (``p >= p_imp``),
  each hidden layer against the shuffles of its own synapses (the layers
  differ in fan-in, so one pooled baseline would be one bump per layer): KS
  test, neurons beyond 2 SD, in/out correlation;
  :func:`~minisyn.analysis.neuron_sparsity`.

:func:`summary_lines` prints the key numbers and :func:`lesion_verdict` says
whether lowest-p-first lesions stay above random ones (Fig. 2b), or which
command shows it. The figures keep to what the numbers can be: accuracy
bands inside [0, 1], log axes from the 1 % quantile of the plotted values
(the number of points below is written on the panel), p-values that
underflowed written ``p < 1e-300``.

Writes ``analyses.json`` (every number), ``lesion.csv``, ``p_histogram.csv``,
``energy_vs_p.csv``, ``fisher_vs_p.csv``, ``neuron_counts.csv`` and
``fig2_analyses.png/pdf``, ``fig3_sparsity.png/pdf``.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from minisyn.analysis import empirical_fisher, energy_per_synapse, lesion_curve, neuron_sparsity, spearman
from minisyn.experiments import kit
from minisyn.experiments.energy_info import ENERGY_RULE
from minisyn.network import MLP
from minisyn.output import pyplot, save_csv, save_figure, save_json, save_npz
from minisyn.rules import PresynapticRule
from minisyn.train import accuracy, train

__all__ = ["QUICK_SETTINGS", "PAPER_SETTINGS", "LESION_FRACTIONS", "LESION_MARGIN", "train_plastic",
           "load_network", "sizes_from_state", "run_analyses", "binned", "p_value_text", "lesion_verdict",
           "summary_lines", "register"]

# The quick default (about 10 s of one core): the paper's network on the embedded 5,000 digits
# with standardised pixels, 10 epochs (500 steps: enough for the release probabilities to
# separate), weight decay l2 = 0.1 as in the sweep of Fig. 1 (without it |m| stays near its
# initial value in so short a run, and energy does not rise with p: Spearman 0.00 against 0.30),
# 3 random lesion orders, the Fisher from 500 examples. The paper: full MNIST, 50 epochs,
# 10 lesion orders, 10,000 Fisher examples; it does not give the L2 strength of Figs. 2 and 3.
QUICK_SETTINGS = dict(dataset="embedded", sizes=(784, 200, 200, 10), epochs=10, batch_size=100, lr=0.05,
                      l2=0.1, lesion_seeds=3, fisher_examples=500, inputs="standardized")
PAPER_SETTINGS = dict(dataset="mnist", sizes=(784, 200, 200, 10), epochs=50, batch_size=100, lr=0.05,
                      l2=0.0, lesion_seeds=10, fisher_examples=10000, inputs="standardized")
# lowest-p-first lesions count as above random ones when the area under their curve is larger by this
LESION_MARGIN = 0.05
LESION_FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99)


def train_plastic(backend, x, y, *, sizes=(784, 200, 200, 10), epochs=10, batch_size=100, lr=0.05, l2=0.0,
                  seed=0, progress=False):
    """A Bernoulli MLP trained with the presynaptic rule, energy-experiment values (§B2).

    ``l2`` is the weight-decay coefficient on the mean cross-entropy scale (as
    in :mod:`minisyn.experiments.energy_info`), applied as weight decay so that
    ``p`` follows the data gradient alone. Returns ``(net, history)``.
    """
    net = MLP(sizes, "bernoulli", backend, seed=seed, p_init=ENERGY_RULE["p_min"])
    rule = PresynapticRule(net.synaptic, lr, backend, weight_decay=l2, **ENERGY_RULE)
    history = train(net, rule, x, y, epochs=epochs, batch_size=batch_size, seed=seed,
                    progress=progress)
    return net, history


def sizes_from_state(state):
    """Layer widths and the bias flag of a Bernoulli MLP from its saved arrays."""
    ms = []
    while f"layer{len(ms)}.m" in state:
        ms.append(np.asarray(state[f"layer{len(ms)}.m"]))
    if not ms or "layer0.p" not in state:
        raise ValueError("the parameters are not those of a Bernoulli network (no layer0.m / layer0.p): "
                         "train one with `minisyn train --synapse bernoulli`")
    if any(m.ndim != 2 for m in ms):
        raise ValueError("the analyses take one network, not an ensemble")
    bias = len(ms) > 1 and ms[1].shape[1] == ms[0].shape[0] + 1
    sizes = [ms[0].shape[1] - int(bias)] + [m.shape[0] for m in ms]
    for a, b in zip(ms[:-1], ms[1:]):
        if b.shape[1] != a.shape[0] + int(bias):
            raise ValueError(f"inconsistent layer shapes {a.shape} and {b.shape}")
    return sizes, bias


def load_network(path, backend):
    """An MLP of Bernoulli synapses from a ``params.npz`` of ``minisyn train``."""
    with np.load(path) as f:
        state = {k: f[k] for k in f.files}
    kit.check_same_run(path, state.pop("run_id", None))
    sizes, bias = sizes_from_state(state)
    net = MLP(sizes, "bernoulli", backend, seed=0, bias=bias)
    net.load_state(state)
    return net


def binned(p, values, edges, stat="mean"):
    """Mean (or median) of ``values`` in bins of ``p``; returns centres, statistics and counts."""
    p, values = np.asarray(p, float), np.asarray(values, float)
    idx = np.clip(np.digitize(p, edges) - 1, 0, len(edges) - 2)
    centres = 0.5 * (edges[:-1] + edges[1:])
    stats, counts = [], []
    for b in range(len(edges) - 1):
        v = values[idx == b]
        counts.append(int(v.size))
        stats.append(float("nan") if v.size == 0 else float(np.mean(v) if stat == "mean" else np.median(v)))
    return centres, np.array(stats), np.array(counts)


def _area(x, y):
    """Trapezoid area under a curve (the mean accuracy over the lesioned fractions, times their range)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    return float(np.sum(np.diff(x) * 0.5 * (y[1:] + y[:-1])))


def run_analyses(net, x_test, y_test, x_fisher, y_fisher, out, *, fractions=LESION_FRACTIONS, lesion_seeds=3,
                 lesion_mode="mean", fisher_mode="mean", p_imp=0.9, n_shuffles=100, seed=0, plot=True,
                 extra=None):
    """Every analysis of §B4 on ``net``; writes tables and figures into ``out``.

    Parameters
    ----------
    net : MLP of Bernoulli synapses (one network)
    x_test, y_test : backend arrays
        Lesion accuracies are measured here.
    x_fisher, y_fisher : backend arrays
        The examples of the empirical Fisher (e.g. a subset of the training set).
    fractions : fractions of synapses removed
    lesion_seeds : int
        Number of random removal orders (and of tie-breakings of the low-p order).
    lesion_mode, fisher_mode : {'mean', 'sample'}
    p_imp : float
        Release probability from which a synapse counts as important.
    extra : dict, optional
        Added to ``analyses.json`` (e.g. the training configuration).

    Returns
    -------
    dict of the results (host numbers and arrays) and the figure paths.
    """
    if net.synapse != "bernoulli":
        raise ValueError("the analyses of §B4 need a network of Bernoulli synapses")
    if int(lesion_seeds) < 1:
        raise ValueError(f"lesion_seeds must be >= 1, got {lesion_seeds}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    be = net.be
    res = {"extra": extra or {}, "p_imp": p_imp}
    t0 = time.perf_counter()

    # Fig. 2a: histogram of p
    ep = energy_per_synapse(net)
    p, e = ep["p"], ep["energy"]
    edges = np.linspace(0.25, 1.0, 16) if p.min() >= 0.25 else np.linspace(0.0, 1.0, 21)
    counts, _ = np.histogram(p, bins=edges)
    res["p_summary"] = {"n_synapses": int(p.size), "mean": float(p.mean()), "median": float(np.median(p)),
                        "fraction_at_least_p_imp": float((p >= p_imp).mean()),
                        "fraction_below_0.3": float((p < 0.3).mean())}
    res["p_histogram"] = {"edges": edges, "counts": counts}
    save_csv(out / "p_histogram.csv", ("bin_low", "bin_high", "count"), zip(edges[:-1], edges[1:], counts))

    # Fig. 2b: lesions
    fractions = np.asarray(fractions, float)
    acc0 = {m: float(accuracy(net, x_test, y_test, m)) for m in ("mean", "sample")}
    res["test_accuracy"] = acc0
    low = np.array([lesion_curve(net, x_test, y_test, fractions, "low_p", seed + s, lesion_mode)["accuracy"]
                    for s in range(int(lesion_seeds))])
    rnd = np.array([lesion_curve(net, x_test, y_test, fractions, "random", seed + s, lesion_mode)["accuracy"]
                    for s in range(int(lesion_seeds))])
    res["lesion"] = {"mode": lesion_mode, "fraction": fractions, "low_p_mean": low.mean(0), "low_p_sd": low.std(0),
                     "random_mean": rnd.mean(0), "random_sd": rnd.std(0), "low_p_runs": low, "random_runs": rnd,
                     "area_low_p": _area(fractions, low.mean(0)), "area_random": _area(fractions, rnd.mean(0))}
    save_csv(out / "lesion.csv", ("fraction", "low_p_mean", "low_p_sd", "random_mean", "random_sd"),
         zip(fractions, low.mean(0), low.std(0), rnd.mean(0), rnd.std(0)))

    # Fig. 2c: energy per synapse against p
    pe = np.linspace(p.min(), max(p.max(), p.min() + 1e-6), 11)
    c_e, mean_e, n_e = binned(p, e, pe)
    rho_e = spearman(p, e)
    res["energy_vs_p"] = {"bin_centre": c_e, "mean_energy": mean_e, "count": n_e,
                          "spearman": {"rho": rho_e[0], "p_value": rho_e[1]},
                          "mean_energy_p_at_least_p_imp": float(e[p >= p_imp].mean()) if (p >= p_imp).any() else None,
                          "mean_energy_p_below_0.3": float(e[p < 0.3].mean()) if (p < 0.3).any() else None}
    save_csv(out / "energy_vs_p.csv", ("p_bin_centre", "mean_energy", "count"), zip(c_e, mean_e, n_e))

    # Fig. 2d: empirical Fisher against p
    tf = time.perf_counter()
    F = empirical_fisher(net, x_fisher, y_fisher, fisher_mode)
    fisher = np.concatenate([np.asarray(be.to_numpy(f), np.float64).ravel() for f in F])
    rho_f = spearman(fisher, p)
    c_f, med_f, n_f = binned(p, fisher, pe, stat="median")
    _, mean_f, _ = binned(p, fisher, pe, stat="mean")
    res["fisher_vs_p"] = {"mode": fisher_mode, "n_examples": int(x_fisher.shape[0]),
                          "seconds": time.perf_counter() - tf,
                          "spearman": {"rho": rho_f[0], "p_value": rho_f[1]},
                          "bin_centre": c_f, "median_fisher": med_f, "mean_fisher": mean_f, "count": n_f}
    save_csv(out / "fisher_vs_p.csv", ("p_bin_centre", "median_fisher", "mean_fisher", "count"),
         zip(c_f, med_f, mean_f, n_f))

    # Fig. 3: neuron-level sparsity, each hidden layer against the shuffles of its own synapses
    ns = neuron_sparsity(net, p_imp=p_imp, n_shuffles=n_shuffles, seed=seed)
    res["neuron_sparsity"] = {
        "n_hidden": int(ns["in_counts"].size), "n_shuffles": int(n_shuffles), "baseline": "per hidden layer",
        "ks_in": {"statistic": ns["ks_in"][0], "p_value": ns["ks_in"][1]},
        "ks_out": {"statistic": ns["ks_out"][0], "p_value": ns["ks_out"][1]},
        "n_beyond_2sd_in": ns["n_beyond_2sd_in"], "n_beyond_2sd_out": ns["n_beyond_2sd_out"],
        "shuffled_mean_beyond_2sd_in": float(ns["shuffled_beyond_2sd_in"].mean()),
        "shuffled_mean_beyond_2sd_out": float(ns["shuffled_beyond_2sd_out"].mean()),
        "in_out_correlation": ns["in_out_correlation"],
        "layers": [{k: ({"statistic": v[0], "p_value": v[1]} if k.startswith("ks_") else v) for k, v in d.items()}
                   for d in ns["layers"]],
    }
    save_csv(out / "neuron_counts.csv", ("neuron", "hidden_layer", "important_inputs", "important_outputs",
                                         "z_inputs", "z_outputs"),
             ((i, int(l), int(a), int(b), za, zb) for i, (l, a, b, za, zb)
              in enumerate(zip(ns["layer"], ns["in_counts"], ns["out_counts"], ns["z_in"], ns["z_out"]))))
    res["seconds"] = time.perf_counter() - t0
    res["figures"] = plot_analyses(res, p, e, fisher, ns, out, seed) if plot else []
    save_json(out / "analyses.json", res | {"figures": [str(f) for f in res["figures"]]})
    return res


def p_value_text(p):
    """``'p = 9.4e-31'``, or ``'p < 1e-300'`` where the p-value underflowed to 0 (no title reads p = 0)."""
    return "p < 1e-300" if p < 1e-300 else f"p = {p:.1e}"


def _log_ylim(ax, values, quantile=0.01):
    """A log y axis from the ``quantile`` of the positive ``values`` (halved) to their maximum
    (doubled): float32 squares of tiny gradients reach 1e-40 and would stretch the axis over
    dozens of empty decades. Returns how many positive values lie below the axis."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return 0
    lo, hi = np.quantile(v, quantile) / 2, v.max() * 2
    ax.set_ylim(lo, hi)
    return int((v < lo).sum())


def plot_analyses(res, p, e, fisher, ns, out, seed=0):
    """Fig. 2 (a: p histogram, b: lesions, c: energy vs p, d: Fisher vs p) and Fig. 3 (sparsity:
    one panel per hidden layer against its own shuffled baseline, neurons beyond 2 SD, in/out)."""
    plt = pyplot()

    out = Path(out)
    rng = np.random.default_rng(seed)
    show = rng.permutation(p.size)[: min(p.size, 20000)]
    jit = p[show] + rng.uniform(-0.004, 0.004, show.size)
    paths = []
    fig, ax = plt.subplots(1, 4, figsize=(14, 3.3), constrained_layout=True)
    h = res["p_histogram"]
    ax[0].stairs(h["counts"], h["edges"], fill=True, color="tab:red", alpha=0.7)
    ax[0].set_yscale("log")
    ax[0].set_xlabel("release probability p")
    ax[0].set_ylabel("synapses")
    ax[0].set_title("a  release probabilities", loc="left", fontsize=10)
    les = res["lesion"]
    for key, colour, label in (("low_p", "tab:red", "lowest p first"), ("random", "0.4", "random order")):
        m, s = np.asarray(les[f"{key}_mean"]), np.asarray(les[f"{key}_sd"])
        ax[1].plot(les["fraction"], m, "o-", ms=3, color=colour, label=f"{label} (mean ± SD)")
        # the band is clipped to what an accuracy can be
        ax[1].fill_between(les["fraction"], np.clip(m - s, 0, 1), np.clip(m + s, 0, 1), color=colour, alpha=0.2,
                           lw=0)
    ax[1].axhline(0.1, color="0.8", lw=0.8, ls=":")
    ax[1].set_ylim(0, 1)
    ax[1].set_xlim(0, 1)
    ax[1].set_xlabel("fraction of synapses removed")
    ax[1].set_ylabel(f"test accuracy ({les['mode']} weights)")
    ax[1].legend(fontsize=8, frameon=False, loc="lower left")
    ax[1].set_title("b  lesions (dotted: chance)", loc="left", fontsize=10)
    ev = res["energy_vs_p"]
    ax[2].scatter(jit, e[show], s=1, alpha=0.15, color="0.5", rasterized=True)
    ax[2].plot(ev["bin_centre"], ev["mean_energy"], "o-", color="tab:red", ms=4, label="bin mean")
    ax[2].set_xlabel("release probability p")
    ax[2].set_ylabel("energy |m|")
    ax[2].set_yscale("log")
    hidden = _log_ylim(ax[2], e[show])
    ax[2].legend(fontsize=8, frameon=False, loc="upper left", title_fontsize=7,
                 title=f"{hidden} of {show.size} shown points below the axis" if hidden else None)
    ax[2].set_title(f"c  energy (Spearman {ev['spearman']['rho']:.2f})", loc="left", fontsize=10)
    fv = res["fisher_vs_p"]
    pos = fisher[show] > 0
    ax[3].scatter(jit[pos], fisher[show][pos], s=1, alpha=0.15, color="0.5", rasterized=True)
    ax[3].plot(fv["bin_centre"], fv["median_fisher"], "o-", color="tab:red", ms=4, label="bin median")
    ax[3].set_yscale("log")
    hidden = _log_ylim(ax[3], fisher[show][pos]) + int((~pos).sum())
    ax[3].set_xlabel("release probability p")
    ax[3].set_ylabel("empirical Fisher information")
    ax[3].legend(fontsize=8, frameon=False, loc="upper left", title_fontsize=7,
                 title=f"{hidden} of {show.size} shown points below the axis" if hidden else None)
    sp = fv["spearman"]
    ax[3].set_title(f"d  Fisher (Spearman {sp['rho']:.2f}, {p_value_text(sp['p_value'])})", loc="left",
                    fontsize=10)
    paths += save_figure(fig, out, "fig2_analyses", dpi=120)

    s = res["neuron_sparsity"]
    n_layers = len(s["layers"])
    fig, ax = plt.subplots(1, n_layers + 2, figsize=(3.7 * (n_layers + 2), 3.3), constrained_layout=True)
    for l, summary in enumerate(s["layers"]):
        cols = ns["layer"] == l
        ins, sh = ns["in_counts"][cols], ns["shuffled_in"][:, cols].ravel()
        top = int(max(ins.max(), sh.max())) + 1
        width = int(np.ceil(top / 40))                       # whole counts per bin: no empty comb teeth
        bins = np.arange(0, top + width, width) - 0.5
        ax[l].hist(sh, bins=bins, density=True, color="0.6", alpha=0.6, label="shuffled p (this layer)")
        ax[l].hist(ins, bins=bins, density=True, histtype="step", color="tab:red", lw=1.5, label="trained")
        ax[l].set_xlabel(f"important inputs per neuron (p ≥ {res['p_imp']:g})")
        ax[l].set_ylabel("density")
        ax[l].legend(fontsize=8, frameon=False, loc="upper right")
        ax[l].set_title(f"a{l + 1}  hidden layer {l + 1}: KS {p_value_text(summary['ks_in']['p_value'])}",
                        loc="left", fontsize=10)
    b, c = ax[n_layers], ax[n_layers + 1]
    real = [s["n_beyond_2sd_in"], s["n_beyond_2sd_out"]]
    base = [s["shuffled_mean_beyond_2sd_in"], s["shuffled_mean_beyond_2sd_out"]]
    xs = np.arange(2)
    b.bar(xs - 0.2, real, 0.4, color="tab:red", label="trained")
    b.bar(xs + 0.2, base, 0.4, color="0.6", label="shuffled (mean)")
    b.set_xticks(xs, ["inputs", "outputs"])
    b.set_ylim(0, max(max(real), max(base), 1) * 1.15)       # bars start at 0
    b.set_ylabel(f"neurons beyond 2 SD (of {s['n_hidden']})")
    b.legend(fontsize=8, frameon=False, loc="upper right")
    b.set_title("b  highly (un)important neurons", loc="left", fontsize=10)
    for l in range(n_layers):
        cols = ns["layer"] == l
        c.scatter(ns["in_counts"][cols], ns["out_counts"][cols], s=6, alpha=0.6, label=f"hidden layer {l + 1}")
    c.set_xlabel("important inputs")
    c.set_ylabel("important outputs")
    c.legend(fontsize=8, frameon=False, loc="upper left")
    c.set_title(f"c  in/out correlation r = {s['in_out_correlation']:.2f}", loc="left", fontsize=10)
    paths += save_figure(fig, out, "fig3_sparsity", dpi=120)
    return paths


def lesion_verdict(res, margin=LESION_MARGIN):
    """One line: whether removing the lowest-p synapses first keeps more accuracy than a random
    order (Fig. 2b), by more than ``margin`` in the area under the lesion curve; if not, the
    command that shows it."""
    les = res["lesion"]
    gap = les["area_low_p"] - les["area_random"]
    if gap > margin:
        return (f"lowest-p-first lesions keep more accuracy than random ones, as in Fig. 2b (area {gap:+.3f}): "
                "the release probabilities mark the synapses the network needs")
    return (f"lowest-p-first lesions are not clearly above random ones here (area {gap:+.3f}; Fig. 2b: they are): "
            "the quick default (minisyn analyse, no options) shows it; else train longer (--epochs) so that "
            "the release probabilities can separate")


def summary_lines(res):
    """Human-readable key numbers."""
    ps, les, fv, ns = res["p_summary"], res["lesion"], res["fisher_vs_p"], res["neuron_sparsity"]
    fr = np.asarray(les["fraction"])
    lines = [f"test accuracy: mean weights {res['test_accuracy']['mean']:.4f}, sampled {res['test_accuracy']['sample']:.4f}",
             f"p: mean {ps['mean']:.3f}, median {ps['median']:.3f}, fraction p >= {res['p_imp']:g}: "
             f"{ps['fraction_at_least_p_imp']:.3f}, fraction p < 0.3: {ps['fraction_below_0.3']:.3f}"]
    for f in (0.5, 0.8, 0.9, 0.95):
        j = np.flatnonzero(np.isclose(fr, f))
        if j.size:
            j = j[0]
            lines.append(f"lesion {f:.0%}: lowest p first {les['low_p_mean'][j]:.3f}, random "
                         f"{les['random_mean'][j]:.3f} ± {les['random_sd'][j]:.3f}")
    lines.append(f"lesion curve area: lowest p first {les['area_low_p']:.3f}, random {les['area_random']:.3f}")
    lines.append(lesion_verdict(res))
    ev = res["energy_vs_p"]
    show = lambda v: "—" if v is None else f"{v:.4f}"  # noqa: E731
    lines.append(f"energy vs p: Spearman {ev['spearman']['rho']:.3f}; mean |m| at p >= {res['p_imp']:g}: "
                 f"{show(ev['mean_energy_p_at_least_p_imp'])}, at p < 0.3: {show(ev['mean_energy_p_below_0.3'])}")
    lines.append(f"Fisher vs p ({fv['n_examples']} examples, {fv['mode']}): Spearman {fv['spearman']['rho']:.3f} "
                 f"({p_value_text(fv['spearman']['p_value'])})")
    lines.append(f"neuron sparsity (each hidden layer against its own shuffles): KS inputs "
                 f"{p_value_text(ns['ks_in']['p_value'])}, outputs {p_value_text(ns['ks_out']['p_value'])}; "
                 f"beyond 2 SD: in {ns['n_beyond_2sd_in']} (shuffled {ns['shuffled_mean_beyond_2sd_in']:.1f}), "
                 f"out {ns['n_beyond_2sd_out']} (shuffled {ns['shuffled_mean_beyond_2sd_out']:.1f}) of "
                 f"{ns['n_hidden']}; in/out correlation {ns['in_out_correlation']:.3f}")
    return lines


# -- the command line -------------------------------------------------------------
def _preset(name):
    """'(quick: Q; --paper: P)' for an option's help."""
    show = lambda v: ",".join(str(x) for x in v) if isinstance(v, tuple) else f"{v:g}"  # noqa: E731
    return f"(quick: {show(QUICK_SETTINGS[name])}; --paper: {show(PAPER_SETTINGS[name])})"


def register(sub):
    q = QUICK_SETTINGS
    p = sub.add_parser(
        "analyse", formatter_class=kit.Formatter,
        help="release-probability, lesion, energy, Fisher and sparsity analyses (Figs. 2, 3, §B4)",
        description="Analyse a network of plastic Bernoulli synapses (MODEL.md §B4): histogram of p, "
                    "lesion curves (lowest p first vs random order), energy per synapse vs p, empirical "
                    "Fisher vs p (Spearman), neuron-level sparsity of each hidden layer vs a shuffled "
                    "baseline of its own synapses (KS test).\n\n"
                    "Trains the network first (presynaptic rule, energy-experiment values), or loads "
                    "--params (params.npz of `minisyn train --synapse bernoulli`). The default is a quick "
                    "preset (about 10 s of one core): the paper's 784-200-200-10 network on the embedded "
                    f"5,000 digits, standardised pixels, {q['epochs']} epochs with weight decay l2 = "
                    f"{q['l2']:g}, {q['lesion_seeds']} random lesion orders, the Fisher from "
                    f"{q['fisher_examples']} examples. It shows lowest-p-first lesions keeping far more "
                    "accuracy than random ones, and energy and Fisher information rising with p. --paper "
                    "takes the paper's settings instead (50 epochs, no weight decay (the paper gives none "
                    "for these figures), 10 lesion orders, 10,000 Fisher examples; add --dataset mnist). "
                    "Options given explicitly override either preset.\n\n"
                    "Writes analyses.json, CSV tables and fig2_analyses / fig3_sparsity (PNG, PDF) to --out.",
        epilog="examples:\n"
               "  minisyn analyse                                     # quick preset (embedded digits)\n"
               "  minisyn analyse --dataset mnist --data-dir DIR      # quick preset on MNIST: clearer, ~5x longer\n"
               "  minisyn analyse --paper --dataset mnist --data-dir DIR   # the paper's setting\n"
               "  minisyn analyse --params runs/train-X/params.npz --dataset mnist --data-dir DIR\n")
    g = p.add_argument_group("network (ignored with --params)")
    g.add_argument("--paper", action="store_true", help="start from the paper's settings instead of the quick preset")
    g.add_argument("--params", default=None, help="params.npz of a trained Bernoulli network")
    g.add_argument("--sizes", type=kit.sizes, default=None, help="layer widths " + _preset("sizes"))
    g.add_argument("--epochs", type=int, default=None, help="training epochs " + _preset("epochs"))
    g.add_argument("--batch-size", type=int, default=None, help="minibatch size " + _preset("batch_size"))
    g.add_argument("--lr", type=float, default=None, help="learning rate of m " + _preset("lr"))
    g.add_argument("--l2", type=float, default=None,
                   help="weight decay (l2/2)|m|^2 on the mean-CE scale " + _preset("l2"))
    kit.add_inputs_option(g)
    p.set_defaults(inputs=None)                 # from the preset: standardised in both
    g = p.add_argument_group("analyses")
    g.add_argument("--p-imp", type=float, default=0.9, help="release probability of an important synapse")
    g.add_argument("--lesion-seeds", type=int, default=None, help="random lesion orders " + _preset("lesion_seeds"))
    g.add_argument("--lesion-mode", choices=("mean", "sample"), default="mean",
                   help="lesioned accuracy with mean weights or sampled release")
    g.add_argument("--fisher-examples", type=int, default=None,
                   help="training examples of the empirical Fisher, one backward pass each "
                        + _preset("fisher_examples"))
    g.add_argument("--fisher-mode", choices=("mean", "sample"), default="mean",
                   help="Fisher gradients at the mean weights, or through a release sample per example")
    g.add_argument("--n-shuffles", type=int, default=100, help="shuffles of the sparsity baseline")
    kit.add_data_options(p)
    kit.add_run_options(p, default_out="runs/analyse-{stamp}")
    p.set_defaults(func=run_cli)


def run_cli(args):
    kit.apply_preset(args, {k: v for k, v in QUICK_SETTINGS.items() if k != "dataset"},
                     {k: v for k, v in PAPER_SETTINGS.items() if k != "dataset"}, use_paper=args.paper)
    for name in ("epochs", "batch_size", "lesion_seeds", "fisher_examples", "n_shuffles"):
        kit.at_least(f"--{name.replace('_', '-')}", getattr(args, name))
    if not 0 < args.p_imp <= 1:
        raise kit.CLIError(f"--p-imp must lie in (0, 1], got {args.p_imp}")
    if not args.lr > 0 or not args.l2 >= 0:
        raise kit.CLIError(f"--lr must be > 0 and --l2 >= 0, got {args.lr} and {args.l2}")
    backend = kit.backend_from_args(args)
    data = kit.data_from_args(args, backend)
    x, y, xt, yt = data.arrays()
    extra = {"dataset": args.dataset, "data_source": data.source, "backend": backend.name,
             "dtype": backend.dtype.name, "inputs": args.inputs}
    if args.params:
        if not Path(args.params).exists():
            raise kit.CLIError(f"--params {args.params} does not exist")
        net = load_network(args.params, backend)
        if net.sizes[0] != data.n_features:
            raise kit.CLIError(f"the network takes {net.sizes[0]} inputs but {args.dataset} has "
                               f"{data.n_features} features")
        out = kit.prepare_out_dir(kit.out_dir(args), args.force)
        extra.update(params=str(args.params), sizes=net.sizes)
    else:
        data.check(args.sizes, args.batch_size)
        out = kit.prepare_out_dir(kit.out_dir(args), args.force)
        print(f"minisyn analyse: training a plastic Bernoulli {'-'.join(map(str, args.sizes))} network on "
              f"{args.dataset} ({data.n_train} examples, {args.inputs} pixels), {args.epochs} epochs",
              file=sys.stderr)
        net, history = train_plastic(backend, x, y, sizes=args.sizes, epochs=args.epochs,
                                     batch_size=args.batch_size, lr=args.lr, l2=args.l2, seed=args.seed,
                                     progress=not args.no_progress)
        save_npz(out / "params.npz", net.state())
        extra.update(sizes=args.sizes, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, l2=args.l2,
                     seed=args.seed, history=history)
    nf = min(args.fisher_examples, data.n_train)
    res = run_analyses(net, xt, yt, x[:nf], y[:nf], out, lesion_seeds=args.lesion_seeds,
                       lesion_mode=args.lesion_mode, fisher_mode=args.fisher_mode, p_imp=args.p_imp,
                       n_shuffles=args.n_shuffles, seed=args.seed, extra=extra)
    save_json(out / "results.json", {"status": "finished", "analyses": "analyses.json"})
    for line in summary_lines(res):
        print(line)
    print(f"results in {out}/ (analyses.json, *.csv, fig2_analyses.png/pdf, fig3_sparsity.png/pdf)")
    return 0
