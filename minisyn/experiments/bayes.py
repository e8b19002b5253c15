"""Energy-efficient synapses against Bayes by backprop (MODEL.md §A8; Fig. 7 and Appendix 4 Fig. 1).

Two kinds of Gaussian-synapse MLP are trained from the same seed (the same
initial means and noise stream) on the same data in the same order:

- *energy-efficient* (EE) networks, one per reliability-cost exponent ``rho``
  (trained together as one ensemble), minimising (§A4)

      mean_batch CE + (lambda sum_i |mu_i| + c sum_i sigma_i^-rho) / N;

- a *Bayes-by-backprop* (BBB) network (Blundell et al. 2015) maximising the
  ELBO with a Gaussian prior ``N(0, s_p^2)``, i.e. minimising

      mean_batch CE + sum_i KL(N(mu_i, sigma_i^2) || N(0, s_p^2)) / N,

  with the closed-form KL of :class:`~minisyn.costs.GaussianPriorKL` (its
  sigma part) plus ``L2Cost(1/s_p^2)`` (its mu part).

The BBB network's ``sigma_i`` is the (mean-field) posterior ``sigma_post,i``.
The comparison (Fig. 7): per layer and over all synapses, the Pearson
correlation of ``log sigma_EE`` with ``log sigma_post`` and the least-squares
slope of ``log sigma_EE`` on ``log sigma_post``, against the linear-model
prediction ``2 / (2 + rho)`` of §A7 (positive correlation; slope below 1,
rising towards 1 as rho falls). And the predictive distributions (Appendix 4
Fig. 1): for each test example, the probability of the true class under the
S-sample averaged predictive distribution of BBB and of each EE network, with
the predictive entropies, NLL and accuracy.

Every finished network is saved as ``<out>/runs/<key>.json`` plus
``<key>.npz`` (per-layer ``mu``, ``sigma`` and the test predictive
probabilities) by :class:`~minisyn.experiments.kit.RunStore`; running the same
command again skips networks already saved. ``--test-limit N`` evaluates on the
kit's random subset of N test examples (:func:`minisyn.experiments.kit.subset`).
``minisyn bayes`` and ``demos/fig7_bayes.py`` call :func:`run_bayes`.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from minisyn.backend import get_backend
from minisyn.costs import GaussianPriorKL, L1Cost, PowerLawCost, sigma_bar
from minisyn.experiments import kit
from minisyn.experiments.tradeoff import RHOS
from minisyn.network import MLP
from minisyn.optim import Adam
from minisyn.output import no_minor_labels, pyplot, save_csv, save_figure, save_json
from minisyn.train import TrainingDiverged, evaluate, train

__all__ = ["QUICK_SETTINGS", "FULL_SETTINGS", "ee_key", "bbb_key", "train_ee", "train_bbb", "predictive",
           "active_masks", "compare_sigmas", "compare_predictive", "run_bayes", "plot_sigmas", "plot_slopes",
           "plot_predictive", "register"]

# Quick: the embedded digits (5,000 train / 1,000 test), 3 epochs; sigma must be able to
# move in 750 Adam steps, hence lr = 1e-2 and sigma_init = 1e-2 (Adam moves phi by ~lr a step).
QUICK_SETTINGS = dict(dataset="embedded", sizes=(784, 100, 100, 10), rhos=RHOS, c=1e-2, lam=1e-4,
                      prior_sigma=0.1, epochs=3, batch_size=20, lr=1e-2, sigma_init=1e-2, eval_samples=10,
                      train_limit=None)
# Full: MNIST with the paper's training settings (50 epochs, minibatch 20, Adam 5e-4, sigma_init 1e-4).
FULL_SETTINGS = dict(QUICK_SETTINGS, dataset="mnist", epochs=50, lr=5e-4, sigma_init=1e-4)


def ee_key(rho, c, seed):
    return f"ee_rho{rho:.6g}_c{c:.6e}_seed{seed}".replace("+", "")


def bbb_key(prior_sigma, seed):
    return f"bbb_sp{prior_sigma:.6g}_seed{seed}".replace("+", "")


def predictive(net, x, samples, batch_size=1000):
    """Host array ``(*E, n, C)``: the softmax averaged over ``samples`` weight samples."""
    be = net.be
    parts = [be.to_numpy(net.predict_proba(x[s:s + batch_size], "sample", samples))
             for s in range(0, x.shape[0], batch_size)]
    return np.concatenate(parts, axis=-2)


def _arrays(net, probs, k=None):
    """Per-layer mu and sigma (member ``k``) and the test predictive probabilities, host arrays."""
    be, out = net.be, {}
    for i, (layer, sig) in enumerate(zip(net.synaptic, net.sigmas())):
        mu, s = layer.mu.value, sig
        if k is not None:
            mu, s = mu[k], s[k]
        out[f"mu{i}"] = np.array(be.to_numpy(mu), dtype=np.float32)
        out[f"sigma{i}"] = np.array(be.to_numpy(s), dtype=np.float32)
    out["probs"] = np.asarray(probs if k is None else probs[k], dtype=np.float32)
    return out


def _fit(net, costs, x, y, *, epochs, batch_size, lr, seed, progress):
    opt = Adam(net.params(), lr, net.be)
    t0 = time.perf_counter()
    try:
        history = train(net, opt, x, y, epochs=epochs, batch_size=batch_size, costs=costs, seed=seed,
                        progress=progress)
        status = "finished"
    except TrainingDiverged as err:
        status, history = "diverged", err.history
    return status, history, time.perf_counter() - t0


def _summary(net, k, history, status, seconds, x_test, y_test, eval_samples):
    test = evaluate(net, x_test, y_test, samples=eval_samples)
    sbar = np.atleast_1d(net.be.to_numpy(sigma_bar(net.sigmas(), net.be)))
    j = 0 if k is None else k
    last = (lambda key: history[key][-1] if k is None else history[key][-1][k]) if history["loss"] else (lambda key: None)
    return {"status": status,
            "test_accuracy": {m: float(np.atleast_1d(v)[j]) for m, v in test.items()},
            "sigma_bar": float(sbar[j]), "final_loss": last("loss"), "final_ce": last("ce"),
            "final_cost": last("cost"), "train_seconds": seconds}


def train_ee(backend, x, y, x_test, y_test, *, rhos, c, lam, sizes, epochs, batch_size, lr, sigma_init,
             seed=0, eval_samples=10, progress=False):
    """Train the energy-efficient networks (one ensemble member per ``rho``).

    Returns a list of ``(record, arrays)``, one per rho.
    """
    K = len(rhos)
    net = MLP(sizes, "gaussian", backend, seed=[seed] * K, ensemble=K, sigma_init=sigma_init)
    costs = [PowerLawCost(np.full(K, float(c)), np.asarray(rhos, float)), L1Cost(lam)]
    status, history, seconds = _fit(net, costs, x, y, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                                    progress=progress)
    probs = predictive(net, x_test, eval_samples)
    out = []
    for k, rho in enumerate(rhos):
        rec = {"key": ee_key(float(rho), float(c), seed), "kind": "ee", "rho": float(rho), "c": float(c),
               "lambda": float(lam), "seed": int(seed)}
        rec.update(_summary(net, k, history, status, seconds, x_test, y_test, eval_samples))
        out.append((rec, _arrays(net, probs, k)))
    return out


def train_bbb(backend, x, y, x_test, y_test, *, prior_sigma, sizes, epochs, batch_size, lr, sigma_init, seed=0,
              eval_samples=10, progress=False):
    """Train the Bayes-by-backprop network; returns ``(record, arrays)``."""
    net = MLP(sizes, "gaussian", backend, seed=seed, sigma_init=sigma_init)
    kl = GaussianPriorKL(prior_sigma)
    status, history, seconds = _fit(net, kl.costs(), x, y, epochs=epochs, batch_size=batch_size, lr=lr,
                                    seed=seed, progress=progress)
    probs = predictive(net, x_test, eval_samples)
    rec = {"key": bbb_key(float(prior_sigma), seed), "kind": "bbb", "prior_sigma": float(prior_sigma),
           "seed": int(seed)}
    rec.update(_summary(net, None, history, status, seconds, x_test, y_test, eval_samples))
    kl_total = sum(backend.scalar(kl.kl(l.mu.value, s, backend)) for l, s in zip(net.synaptic, net.sigmas()))
    rec["kl"] = kl_total
    rec["neg_elbo_over_n"] = None if rec["final_ce"] is None else rec["final_ce"] + kl_total / x.shape[0]
    return rec, _arrays(net, probs)


# -- the comparison -------------------------------------------------------------------
def _line_fit(a, b):
    """Pearson r of (a, b) and the least-squares slope and intercept of b on a."""
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if a.size < 3 or a.std() == 0 or b.std() == 0:
        return float("nan"), float("nan"), float("nan")
    slope, intercept = np.polyfit(a, b, 1)
    return float(np.corrcoef(a, b)[0, 1]), float(slope), float(intercept)


def active_masks(bbb, x_active):
    """Per-layer boolean masks of the synapses compared: in the first layer, the
    synapses from inputs that are zero in every training example are left out
    (no data gradient reaches them: the BBB sigma sits at the prior, the EE sigma
    grows for as long as training lasts); every other synapse is kept."""
    masks = {}
    for i in range(sum(1 for k in bbb if k.startswith("sigma"))):
        shape = bbb[f"sigma{i}"].shape
        m = np.ones(shape, bool)
        if i == 0 and x_active is not None:
            m[:, :len(x_active)] = np.asarray(x_active, bool)[None, :]
        masks[i] = m
    return masks


def compare_sigmas(ee, bbb, rho, masks=None):
    """Rows (per layer and 'all') comparing ``log sigma_EE`` with ``log sigma_post``
    over the synapses selected by ``masks`` (:func:`active_masks`; default all)."""
    n_layers = sum(1 for k in bbb if k.startswith("sigma"))
    masks = masks or {i: np.ones(bbb[f"sigma{i}"].shape, bool) for i in range(n_layers)}
    rows = []
    for layer in list(range(n_layers)) + ["all"]:
        idx = range(n_layers) if layer == "all" else [layer]
        lp = np.concatenate([np.log(bbb[f"sigma{i}"].astype(float))[masks[i]] for i in idx])
        le = np.concatenate([np.log(ee[f"sigma{i}"].astype(float))[masks[i]] for i in idx])
        r, slope, intercept = _line_fit(lp, le)
        rows.append({"rho": float(rho), "layer": str(layer), "n_synapses": int(lp.size),
                     "n_excluded": int(sum(masks[i].size - masks[i].sum() for i in idx)), "pearson_log": r,
                     "slope": slope, "intercept": intercept, "predicted_slope": 2.0 / (2.0 + rho),
                     "median_sigma_ee": float(np.exp(np.median(le))),
                     "median_sigma_post": float(np.exp(np.median(lp)))})
    return rows


def _entropy(p):
    return -(p * np.log(np.clip(p, 1e-30, None))).sum(axis=-1)


def compare_predictive(ee_probs, bbb_probs, y, rho):
    """Summary of the two predictive distributions on the test examples."""
    y = np.asarray(y)
    idx = np.arange(len(y))
    pe, pb = ee_probs[idx, y].astype(float), bbb_probs[idx, y].astype(float)
    he, hb = _entropy(ee_probs.astype(float)), _entropy(bbb_probs.astype(float))
    return {"rho": float(rho),
            "mean_p_true_ee": float(pe.mean()), "mean_p_true_bbb": float(pb.mean()),
            "nll_ee": float(-np.log(np.clip(pe, 1e-30, None)).mean()),
            "nll_bbb": float(-np.log(np.clip(pb, 1e-30, None)).mean()),
            "acc_ee": float((ee_probs.argmax(-1) == y).mean()), "acc_bbb": float((bbb_probs.argmax(-1) == y).mean()),
            "mean_entropy_ee": float(he.mean()), "mean_entropy_bbb": float(hb.mean()),
            "pearson_p_true": _line_fit(pb, pe)[0], "pearson_entropy": _line_fit(hb, he)[0],
            "agreement_argmax": float((ee_probs.argmax(-1) == bbb_probs.argmax(-1)).mean())}


# -- the driver --------------------------------------------------------------------------
# Runs saved before minisyn took the kit's subset rule evaluated on the *first* N test examples;
# their test predictive probabilities belong to other examples, so such runs are refused (a run
# without --test-limit saw every test example in order either way and resumes).
OLD_RUN_DEFAULTS = {"test_subset": "first"}


def _settings(sizes, epochs, batch_size, lr, sigma_init, dataset, train_limit, test_limit, backend, eval_samples):
    return {"sizes": [int(s) for s in sizes], "epochs": int(epochs), "batch_size": int(batch_size),
            "lr": float(lr), "sigma_init": float(sigma_init), "dataset": dataset, "train_limit": train_limit,
            "test_limit": test_limit, "test_subset": "random", "dtype": backend.dtype.name,
            "eval_samples": int(eval_samples)}


def _save_rows(path, rows):
    """A list of dicts with the same keys as a CSV table (one line per dict)."""
    save_csv(path, list(rows[0]), [list(r.values()) for r in rows])


def run_bayes(out, *, rhos=QUICK_SETTINGS["rhos"], c=1e-2, lam=1e-4, prior_sigma=0.1, sizes=(784, 100, 100, 10),
              epochs=3, batch_size=20, lr=1e-2, sigma_init=1e-2, eval_samples=10, seed=0, dataset="embedded",
              data_dir=None, download=True, train_limit=None, test_limit=None, backend=None, force=False,
              progress=True, plot=True, log=print):
    """Train (or resume) the EE networks and the BBB network into ``out``; compare them.

    The data come from :func:`minisyn.experiments.kit.prepare_data` (``train_limit`` and
    ``test_limit`` keep the kit's seeded random subsets).

    Returns a dict with ``'sigma_rows'`` (the Fig. 7 statistics), ``'predictive_rows'``
    (Appendix 4 Fig. 1 summaries), ``'records'``, ``'trained'``, ``'skipped'`` and ``'figures'``.
    """
    be = get_backend(backend)
    rhos = [float(r) for r in rhos]
    if not rhos or min(rhos) <= 0:
        raise ValueError(f"rho values must be > 0, got {rhos}")
    if not (c >= 0 and lam >= 0 and prior_sigma > 0 and sigma_init > 0):
        raise ValueError("need c >= 0, lambda >= 0, prior_sigma > 0 and sigma_init > 0")
    if int(epochs) < 1 or int(batch_size) < 1 or int(eval_samples) < 1:
        raise ValueError("epochs, batch_size and eval_samples must be >= 1")
    out = Path(out)
    store = kit.RunStore(out, force, defaults=OLD_RUN_DEFAULTS)
    settings = _settings(sizes, epochs, batch_size, lr, sigma_init, dataset, train_limit, test_limit, be,
                         eval_samples)
    unused = ("test_subset",) if test_limit is None else ()

    done = {}
    bkey = bbb_key(float(prior_sigma), seed)
    ekeys = {rho: ee_key(rho, float(c), seed) for rho in rhos}
    for key in [bkey, *ekeys.values()]:
        got = store.load(key, settings, arrays=True, ignore=unused)
        if got is not None:
            done[key] = got
    todo_rhos = [rho for rho in rhos if ekeys[rho] not in done]
    need_bbb = bkey not in done
    log(f"bayes: {1 + len(rhos)} networks ({len(done)} already saved in {store.dir}, "
        f"{int(need_bbb) + len(todo_rhos)} to train)")
    data = kit.prepare_data(dataset, data_dir=data_dir, download=download, train_limit=train_limit,
                            test_limit=test_limit, seed=seed, backend=be)
    x, y, xt, yt = data.arrays()
    y_test_host = be.to_numpy(yt)
    trained = 0
    if need_bbb or todo_rhos:
        if x.shape[1] != sizes[0]:
            raise ValueError(f"sizes start with {sizes[0]} inputs but {dataset} has {x.shape[1]} features")
        if batch_size > x.shape[0]:
            raise ValueError(f"batch size {batch_size} is larger than the {x.shape[0]} training examples")
    common = dict(sizes=sizes, epochs=epochs, batch_size=batch_size, lr=lr, sigma_init=sigma_init, seed=seed,
                  eval_samples=eval_samples, progress=progress)
    if need_bbb:
        rec, arrays = train_bbb(be, x, y, xt, yt, prior_sigma=prior_sigma, **common)
        done[bkey] = (store.save(bkey, rec, settings, arrays), arrays)
        trained += 1
        log(f"bayes: trained BBB (s_p = {prior_sigma:g}): accuracy {rec['test_accuracy']['sampled']:.4f}, "
            f"sigma_bar {rec['sigma_bar']:.4g} ({rec['train_seconds']:.1f} s)")
    if todo_rhos:
        for rec, arrays in train_ee(be, x, y, xt, yt, rhos=todo_rhos, c=c, lam=lam, **common):
            done[rec["key"]] = (store.save(rec["key"], rec, settings, arrays), arrays)
            trained += 1
        log(f"bayes: trained {len(todo_rhos)} energy-efficient networks ({rec['train_seconds']:.1f} s)")

    brec, barr = done[bkey]
    masks = active_masks(barr, be.to_numpy((x != 0).any(axis=0)))
    sigma_rows, pred_rows = [], []
    for rho in rhos:
        erec, earr = done[ekeys[rho]]
        sigma_rows += compare_sigmas(earr, barr, rho, masks)
        pred_rows.append(compare_predictive(earr["probs"], barr["probs"], y_test_host, rho))
    _save_rows(out / "bayes_sigmas.csv", sigma_rows)
    _save_rows(out / "bayes_predictive.csv", pred_rows)
    records = [brec] + [done[ekeys[r]][0] for r in rhos]
    summary = {"settings": settings, "rhos": rhos, "c": float(c), "lambda": float(lam),
               "prior_sigma": float(prior_sigma), "seed": int(seed), "backend": be.name,
               "trained_this_call": trained, "runs": [r["key"] for r in records],
               "test_accuracy": {r["key"]: r["test_accuracy"] for r in records},
               "sigma_comparison": sigma_rows, "predictive_comparison": pred_rows}
    save_json(out / "bayes.json", summary)
    figures = []
    if plot:
        ee_arrays = {rho: done[ekeys[rho]][1] for rho in rhos}
        figures += plot_sigmas(ee_arrays, barr, sigma_rows, out, masks)
        figures += plot_slopes(sigma_rows, out)
        figures += plot_predictive(ee_arrays, barr, y_test_host, pred_rows, out)
    return {"sigma_rows": sigma_rows, "predictive_rows": pred_rows, "records": records, "trained": trained,
            "skipped": 1 + len(rhos) - trained, "figures": figures, "summary": summary}


# -- figures -------------------------------------------------------------------------------
def plot_sigmas(ee_arrays, bbb, rows, out, masks=None, max_points=4000, seed=0):
    """Fig. 7a: log-log scatter of sigma_EE against sigma_post, rows = layers, columns = rho
    (the synapses of ``masks``)."""
    plt = pyplot()
    rhos = list(ee_arrays)
    n_layers = sum(1 for k in bbb if k.startswith("sigma"))
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(n_layers, len(rhos), figsize=(2.8 * len(rhos) + 0.4, 2.6 * n_layers),
                             squeeze=False, constrained_layout=True)
    for i in range(n_layers):
        keep = np.ones(bbb[f"sigma{i}"].shape, bool) if masks is None else masks[i]
        sp = bbb[f"sigma{i}"].astype(float)[keep]
        pick = rng.permutation(sp.size)[:max_points]
        for j, rho in enumerate(rhos):
            ax = axes[i, j]
            se = ee_arrays[rho][f"sigma{i}"].astype(float)[keep]
            ax.loglog(sp[pick], se[pick], ".", ms=1.5, alpha=0.35, color="tab:green", rasterized=True)
            row = next(r for r in rows if r["rho"] == rho and r["layer"] == str(i))
            if np.isfinite(row["slope"]):
                xs = np.geomspace(sp.min(), sp.max(), 20)
                ax.loglog(xs, np.exp(row["intercept"]) * xs ** row["slope"], "k-", lw=1)
            no_minor_labels(ax)
            ax.set_title(rf"$\rho$={kit.rho_label(rho)}, layer {i + 1}: r={row['pearson_log']:.2f}, "
                         f"slope={row['slope']:.2f}", fontsize=7)
            if i == n_layers - 1:
                ax.set_xlabel(r"BBB posterior $\sigma_{post}$")
            if j == 0:
                ax.set_ylabel(r"energy-efficient $\sigma$")
    return save_figure(fig, out, "fig7_bayes_sigmas", dpi=110)


def plot_slopes(rows, out):
    """Fig. 7b/c: fitted log-log slope and correlation against rho, with the §A7 prediction 2/(2+rho)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 2.9), constrained_layout=True)
    layers = sorted({r["layer"] for r in rows}, key=lambda s: (s == "all", s))
    rhos = sorted({r["rho"] for r in rows})
    for layer in layers:
        sel = sorted((r for r in rows if r["layer"] == layer), key=lambda r: r["rho"])
        style = dict(color="k", lw=2) if layer == "all" else dict(lw=1, alpha=0.7)
        lab = "all synapses" if layer == "all" else f"layer {int(layer) + 1}"
        axes[0].plot([r["rho"] for r in sel], [r["slope"] for r in sel], "o-", ms=3, label=lab, **style)
        axes[1].plot([r["rho"] for r in sel], [r["pearson_log"] for r in sel], "o-", ms=3, label=lab, **style)
    grid = np.linspace(min(rhos), max(rhos), 50)
    axes[0].plot(grid, 2 / (2 + grid), "--", color="tab:red", label=r"linear model $2/(2+\rho)$")
    axes[0].axhline(1, color="0.7", lw=0.8)
    axes[0].set_ylabel(r"slope of $\log\sigma$ on $\log\sigma_{post}$")
    axes[1].set_ylabel(r"Pearson r of $\log\sigma$, $\log\sigma_{post}$")
    for ax in axes:
        ax.set_xlabel(r"$\rho$")
    axes[0].legend(fontsize=7, frameon=False)
    return save_figure(fig, out, "fig7_bayes_slopes", dpi=110)


def plot_predictive(ee_arrays, bbb, y, rows, out):
    """Appendix 4 Fig. 1: per test example, the predictive probability of the true class, EE against BBB."""
    plt = pyplot()
    rhos = list(ee_arrays)
    idx = np.arange(len(y))
    pb = bbb["probs"][idx, y]
    fig, axes = plt.subplots(2, len(rhos), figsize=(2.8 * len(rhos) + 0.4, 5.4), squeeze=False,
                             constrained_layout=True)
    bins = np.linspace(0, 1, 21)
    for j, rho in enumerate(rhos):
        pe = ee_arrays[rho]["probs"][idx, y]
        row = next(r for r in rows if r["rho"] == rho)
        ax = axes[0, j]
        ax.plot(pb, pe, ".", ms=2, alpha=0.4, rasterized=True)
        ax.plot([0, 1], [0, 1], color="0.6", lw=0.8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_title(rf"$\rho$={kit.rho_label(rho)}: r={row['pearson_p_true']:.2f}", fontsize=8)
        ax.set_xlabel("BBB p(true class)")
        if j == 0:
            ax.set_ylabel("energy-efficient p(true class)")
        ax = axes[1, j]
        ax.hist(pb, bins=bins, histtype="step", color="k", label=f"BBB (NLL {row['nll_bbb']:.3f})")
        ax.hist(pe, bins=bins, histtype="step", color="tab:green", label=f"EE (NLL {row['nll_ee']:.3f})")
        ax.set_yscale("log")
        ax.set_xlabel("p(true class)")
        ax.legend(fontsize=6, frameon=False, loc="upper left")
        if j == 0:
            ax.set_ylabel("test examples")
    return save_figure(fig, out, "app4_fig1_predictive", dpi=110)


# -- the command line ------------------------------------------------------------------------
def print_table(result, file=None):
    print(f"{'rho':>5s} {'layer':>5s} {'r(log)':>7s} {'slope':>6s} {'2/(2+rho)':>9s}", file=file)
    for r in result["sigma_rows"]:
        print(f"{kit.rho_label(r['rho']):>5s} {r['layer']:>5s} {r['pearson_log']:7.3f} {r['slope']:6.3f} "
              f"{r['predicted_slope']:9.3f}", file=file)
    print(f"{'rho':>5s} {'acc_EE':>7s} {'acc_BBB':>7s} {'NLL_EE':>7s} {'NLL_BBB':>7s} {'r(p_true)':>9s}", file=file)
    for r in result["predictive_rows"]:
        print(f"{kit.rho_label(r['rho']):>5s} {r['acc_ee']:7.4f} {r['acc_bbb']:7.4f} {r['nll_ee']:7.4f} "
              f"{r['nll_bbb']:7.4f} {r['pearson_p_true']:9.3f}", file=file)


def register(sub):
    q = QUICK_SETTINGS
    p = sub.add_parser(
        "bayes", formatter_class=kit.Formatter,
        help="energy-efficient synapses against Bayes by backprop (Fig. 7, Appendix 4 Fig. 1)",
        description="Train energy-efficient Gaussian-synapse networks (one per rho; cost c sum sigma^-rho + "
                    "lambda |mu|_1) and a Bayes-by-backprop network (ELBO with a Gaussian prior N(0, s_p^2), "
                    "closed-form KL) from the same seed on the same data (MODEL.md §A8). Compare per-synapse "
                    "sigma with the posterior sigma_post (log-log scatter, Pearson r, fitted slope against "
                    "the prediction 2/(2+rho)) and the predictive distributions on the test set.\n\n"
                    "Each finished network is saved in <out>/runs/; rerunning resumes. Writes "
                    "bayes_sigmas.csv, bayes_predictive.csv, bayes.json and the figures (PNG, PDF).",
        epilog="examples:\n"
               "  minisyn bayes                                   # quick: embedded data, 3 epochs\n"
               "  minisyn bayes --dataset mnist --data-dir DIR --epochs 50 --lr 5e-4 --sigma-init 1e-4\n")
    g = p.add_argument_group("bayes")
    g.add_argument("--rho", type=kit.floats, default=list(q["rhos"]),
                   help="reliability-cost exponents, comma separated (fractions allowed)")
    g.add_argument("--c", type=float, default=q["c"], help="reliability cost weight c of the EE networks")
    g.add_argument("--lambda", dest="lam", type=float, default=q["lam"], help="L1 weight of the EE networks")
    g.add_argument("--prior-sigma", type=float, default=q["prior_sigma"], help="BBB prior standard deviation s_p")
    g = p.add_argument_group("network and training")
    g.add_argument("--sizes", type=kit.sizes, default=list(q["sizes"]), help="layer widths")
    g.add_argument("--epochs", type=int, default=q["epochs"], help="epochs per network (paper: 50)")
    g.add_argument("--batch-size", type=int, default=q["batch_size"], help="minibatch size")
    g.add_argument("--lr", type=float, default=q["lr"], help="Adam learning rate (paper: 5e-4)")
    g.add_argument("--sigma-init", type=float, default=q["sigma_init"],
                   help="initial sigma (paper: 1e-4). Adam moves phi = softplus^-1(sigma) by at most about "
                        "--lr per step, so short runs need a larger --lr or --sigma-init for sigma to move")
    g.add_argument("--eval-samples", type=int, default=q["eval_samples"],
                   help="weight samples S averaged in the predictive distributions")
    kit.add_data_options(p, test_limit=True)
    kit.add_run_options(p, default_out="runs/bayes", resumable=True,
                        force_help="retrain networks already saved in --out")
    p.set_defaults(func=run_cli)


def run_cli(args):
    if min(args.rho) <= 0:
        raise kit.CLIError(f"--rho values must be > 0, got {args.rho}")
    for name in ("prior_sigma", "sigma_init"):
        if not getattr(args, name) > 0:
            raise kit.CLIError(f"--{name.replace('_', '-')} must be > 0, got {getattr(args, name)}")
    kit.at_least("--c", args.c, 0)
    kit.at_least("--lambda", args.lam, 0)
    for name in ("epochs", "batch_size", "eval_samples"):
        kit.at_least(f"--{name.replace('_', '-')}", getattr(args, name))
    for name in ("train_limit", "test_limit"):
        if getattr(args, name) is not None:
            kit.at_least(f"--{name.replace('_', '-')}", getattr(args, name))
    backend = kit.backend_from_args(args)
    out = kit.out_dir(args)
    result = run_bayes(out, rhos=args.rho, c=args.c, lam=args.lam, prior_sigma=args.prior_sigma, sizes=args.sizes,
                       epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, sigma_init=args.sigma_init,
                       eval_samples=args.eval_samples, seed=args.seed, dataset=args.dataset,
                       data_dir=args.data_dir, download=not args.no_download, train_limit=args.train_limit,
                       test_limit=args.test_limit, backend=backend, force=args.force,
                       progress=not args.no_progress, log=lambda m: print(m, file=sys.stderr))
    print_table(result)
    print(f"trained {result['trained']}, reused {result['skipped']}; results in {out}/ (runs/, bayes_sigmas.csv, "
          f"bayes_predictive.csv, bayes.json, fig7_bayes_*.png/pdf, app4_fig1_predictive.png/pdf)")
    return 0
