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
rising towards 1 as rho falls). The prediction is for a flat prior, so the fit
keeps the synapses whose posterior the data set (``sigma_post <= s_p / 2``,
:func:`likelihood_masks`); the same statistics over every synapse that data
reach are reported beside them. The EE cost weight of each rho is
``c = s^rho / rho`` (:func:`cost_weights`). And the predictive distributions
(Appendix 4 Fig. 1): for each test example, the probability of the true class
under the S-sample averaged predictive distribution of BBB and of each EE
network, with the predictive entropies, NLL and accuracy.

:data:`QUICK_SETTINGS` (the default) shows the predicted slopes and their order
on the embedded digits in about 15 s of one core; :data:`PAPER_SETTINGS`
(``--paper``) holds the paper's training settings. Measured results:
docs/results/bayes.md.

Every finished network is saved as ``<out>/runs/<key>.json`` plus
``<key>.npz`` (per-layer ``mu``, ``sigma`` and the test predictive
probabilities) by :class:`~minisyn.experiments.kit.RunStore`; running the same
command again skips networks already saved. ``--test-limit N`` evaluates on the
kit's random subset of N test examples (:func:`minisyn.experiments.kit.subset`).
``minisyn bayes`` and ``demos/paper_a_fig7_bayes.py`` call :func:`run_bayes`.
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

__all__ = ["QUICK_SETTINGS", "PAPER_SETTINGS", "LIKELIHOOD_SHARE", "cost_weights", "ee_key", "bbb_key", "train_ee",
           "train_bbb", "predictive", "active_masks", "likelihood_masks", "compare_sigmas", "compare_predictive",
           "slope_order", "run_bayes", "plot_sigmas", "plot_slopes", "plot_predictive", "print_table", "register",
           "run_cli"]

# The quick default (about 15 s of one core): the embedded 5,000 digits, a 784-50-10 network,
# 3 epochs (750 steps). For sigma to reach its optimum in so few steps it starts at 0.05, Adam
# runs at lr 1e-2 and remembers 100 steps of squared gradients (b2 = 0.99; with 0.999 the first,
# huge cost gradients hold sigma's steps small, docs/results/bayes.md). The cost weight of each rho
# is c = s^rho / rho with s = 0.1 (the s-form of §A8: every rho puts sigma = s where sigma_post = s,
# and the cost is strong enough at every rho to move sigma in 750 steps); the BBB prior is wide,
# s_p = 1, as the linear theory assumes a flat prior (§A7).
QUICK_SETTINGS = dict(dataset="embedded", sizes=(784, 50, 10), rhos=RHOS, s=0.1, c=None, lam=1e-4,
                      prior_sigma=1.0, epochs=3, batch_size=20, lr=1e-2, adam_b2=0.99, sigma_init=0.05,
                      eval_samples=10)
# The paper's training settings (§A4: 784-100-100-10, 50 epochs, minibatch 20, Adam 5e-4, sigma
# from 1e-4) on MNIST; the paper does not give its c or its prior for Fig. 7.
PAPER_SETTINGS = dict(QUICK_SETTINGS, dataset="mnist", sizes=(784, 100, 100, 10), epochs=50, lr=5e-4,
                      adam_b2=0.999, sigma_init=1e-4)
# A synapse's posterior is compared where the data, not the prior, set it: its precision
# 1/sigma_post^2 = N H + 1/s_p^2 is at least 4/s_p^2, i.e. sigma_post <= s_p / 2 (likelihood_masks).
LIKELIHOOD_SHARE = 0.5


def cost_weights(rhos, s=None, c=None):
    """The EE cost weight of each rho: ``c`` for all where given, else ``s^rho / rho``.

    With ``c = s^rho / rho`` the cost is ``(1/rho)(s/sigma)^rho``, the s-form of the bound of §A8
    (docs/bayes.md); in the linear model (§A7) every rho then gives ``sigma = s`` at
    ``sigma_post = s``, so the lines of Fig. 7 share a point and differ in slope alone.
    """
    if c is not None:
        return [float(c)] * len(rhos)
    if s is None or not s > 0:
        raise ValueError(f"need s > 0 (or a fixed c), got s = {s}")
    return [float(s) ** float(r) / float(r) for r in rhos]


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


def _fit(net, costs, x, y, *, epochs, batch_size, lr, seed, progress, adam_b2=0.999):
    opt = Adam(net.params(), lr, net.be, b2=adam_b2)
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
             seed=0, eval_samples=10, adam_b2=0.999, progress=False):
    """Train the energy-efficient networks (one ensemble member per ``rho``).

    ``c`` is one cost weight for all, or one per rho (:func:`cost_weights`).
    Returns a list of ``(record, arrays)``, one per rho.
    """
    K = len(rhos)
    cs = np.broadcast_to(np.asarray(c, float), (K,)).copy()
    net = MLP(sizes, "gaussian", backend, seed=[seed] * K, ensemble=K, sigma_init=sigma_init)
    costs = [PowerLawCost(cs, np.asarray(rhos, float)), L1Cost(lam)]
    status, history, seconds = _fit(net, costs, x, y, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                                    progress=progress, adam_b2=adam_b2)
    probs = predictive(net, x_test, eval_samples)
    out = []
    for k, rho in enumerate(rhos):
        rec = {"key": ee_key(float(rho), float(cs[k]), seed), "kind": "ee", "rho": float(rho), "c": float(cs[k]),
               "lambda": float(lam), "seed": int(seed)}
        rec.update(_summary(net, k, history, status, seconds, x_test, y_test, eval_samples))
        out.append((rec, _arrays(net, probs, k)))
    return out


def train_bbb(backend, x, y, x_test, y_test, *, prior_sigma, sizes, epochs, batch_size, lr, sigma_init, seed=0,
              eval_samples=10, adam_b2=0.999, progress=False):
    """Train the Bayes-by-backprop network; returns ``(record, arrays)``."""
    net = MLP(sizes, "gaussian", backend, seed=seed, sigma_init=sigma_init)
    kl = GaussianPriorKL(prior_sigma)
    status, history, seconds = _fit(net, kl.costs(), x, y, epochs=epochs, batch_size=batch_size, lr=lr,
                                    seed=seed, progress=progress, adam_b2=adam_b2)
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
    """Per-layer boolean masks of the synapses that data reach: in the first layer, the
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


def likelihood_masks(bbb, prior_sigma, masks=None, share=LIKELIHOOD_SHARE):
    """``masks`` narrowed to the synapses whose posterior the data set: ``sigma_post <= share * s_p``.

    With a Gaussian prior the (mean-field) posterior precision is ``N H + 1/s_p^2``; the
    linear-model prediction (§A7) is for the flat-prior posterior ``(N H)^-1/2``. Where the
    prior term dominates, sigma_post sits near s_p whatever the data say (synapses from
    silent units, say), and the EE sigma keeps growing: a vertical stripe at s_p that steepens
    any fit. ``share = 1/2`` keeps the synapses whose likelihood precision is at least 3 times
    the prior's. Selecting on sigma_post (the regressor) leaves the slope unbiased.
    """
    n_layers = sum(1 for k in bbb if k.startswith("sigma"))
    masks = masks or {i: np.ones(bbb[f"sigma{i}"].shape, bool) for i in range(n_layers)}
    return {i: masks[i] & (bbb[f"sigma{i}"] <= share * prior_sigma) for i in range(n_layers)}


def compare_sigmas(ee, bbb, rho, masks=None, synapses="all"):
    """Rows (per layer and 'all') comparing ``log sigma_EE`` with ``log sigma_post``
    over the synapses selected by ``masks`` (:func:`active_masks`, :func:`likelihood_masks`;
    default all), labelled ``synapses``."""
    n_layers = sum(1 for k in bbb if k.startswith("sigma"))
    masks = masks or {i: np.ones(bbb[f"sigma{i}"].shape, bool) for i in range(n_layers)}
    rows = []
    for layer in list(range(n_layers)) + ["all"]:
        idx = range(n_layers) if layer == "all" else [layer]
        lp = np.concatenate([np.log(bbb[f"sigma{i}"].astype(float))[masks[i]] for i in idx])
        le = np.concatenate([np.log(ee[f"sigma{i}"].astype(float))[masks[i]] for i in idx])
        r, slope, intercept = _line_fit(lp, le)
        rows.append({"rho": float(rho), "synapses": synapses, "layer": str(layer), "n_synapses": int(lp.size),
                     "n_excluded": int(sum(masks[i].size - masks[i].sum() for i in idx)), "pearson_log": r,
                     "slope": slope, "intercept": intercept, "predicted_slope": 2.0 / (2.0 + rho),
                     "median_sigma_ee": float(np.exp(np.median(le))) if le.size else float("nan"),
                     "median_sigma_post": float(np.exp(np.median(lp))) if lp.size else float("nan")})
    return rows


def slope_order(rows, synapses="likelihood", layer="all"):
    """``(ordered, slopes)``: whether the fitted slopes fall as rho rises (as 2/(2+rho) does),
    with the slopes by rho, for the rows of one selection and layer."""
    sel = sorted((r for r in rows if r["synapses"] == synapses and r["layer"] == layer), key=lambda r: r["rho"])
    slopes = [r["slope"] for r in sel]
    ok = len(slopes) > 1 and all(np.isfinite(slopes)) and all(a > b for a, b in zip(slopes, slopes[1:]))
    return ok, dict(zip([r["rho"] for r in sel], slopes))


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
# Settings added after some runs were saved, with the value those runs used. Runs saved
# before minisyn took the kit's subset rule evaluated on the *first* N test examples; their
# test predictive probabilities belong to other examples, so such runs are refused (a run
# without --test-limit saw every test example in order either way and resumes).
OLD_RUN_DEFAULTS = {"test_subset": "first", "adam_b2": 0.999}


def _settings(sizes, epochs, batch_size, lr, sigma_init, dataset, train_limit, test_limit, backend, eval_samples,
              adam_b2):
    return {"sizes": [int(s) for s in sizes], "epochs": int(epochs), "batch_size": int(batch_size),
            "lr": float(lr), "sigma_init": float(sigma_init), "dataset": dataset, "train_limit": train_limit,
            "test_limit": test_limit, "test_subset": "random", "dtype": backend.dtype.name,
            "eval_samples": int(eval_samples), "adam_b2": float(adam_b2)}


def _save_rows(path, rows):
    """A list of dicts with the same keys as a CSV table (one line per dict)."""
    save_csv(path, list(rows[0]), [list(r.values()) for r in rows])


_Q = QUICK_SETTINGS


def run_bayes(out, *, rhos=_Q["rhos"], s=_Q["s"], c=_Q["c"], lam=_Q["lam"], prior_sigma=_Q["prior_sigma"],
              sizes=_Q["sizes"], epochs=_Q["epochs"], batch_size=_Q["batch_size"], lr=_Q["lr"],
              adam_b2=_Q["adam_b2"], sigma_init=_Q["sigma_init"], eval_samples=_Q["eval_samples"], seed=0,
              dataset=_Q["dataset"], data_dir=None, download=True, train_limit=None, test_limit=None, backend=None,
              force=False, progress=True, plot=True, log=print):
    """Train (or resume) the EE networks and the BBB network into ``out``; compare them.

    The defaults are :data:`QUICK_SETTINGS`. The EE cost weight of each rho is
    ``c`` where given, else ``s^rho / rho`` (:func:`cost_weights`). The data come from
    :func:`minisyn.experiments.kit.prepare_data` (``train_limit`` and ``test_limit``
    keep the kit's seeded random subsets).

    Returns a dict with ``'sigma_rows'`` (the Fig. 7 statistics, over the synapses
    whose posterior the data set, ``synapses='likelihood'``, and over every synapse
    that data reach, ``'active'``), ``'predictive_rows'`` (Appendix 4 Fig. 1 summaries),
    ``'ordered'`` (whether the likelihood slopes fall as rho rises), ``'records'``,
    ``'trained'``, ``'skipped'`` and ``'figures'``.
    """
    be = get_backend(backend)
    rhos = [float(r) for r in rhos]
    if not rhos or min(rhos) <= 0:
        raise ValueError(f"rho values must be > 0, got {rhos}")
    if not ((c is None or c >= 0) and lam >= 0 and prior_sigma > 0 and sigma_init > 0):
        raise ValueError("need c >= 0, lambda >= 0, prior_sigma > 0 and sigma_init > 0")
    if int(epochs) < 1 or int(batch_size) < 1 or int(eval_samples) < 1:
        raise ValueError("epochs, batch_size and eval_samples must be >= 1")
    if not 0 <= adam_b2 < 1:
        raise ValueError(f"adam_b2 must lie in [0, 1), got {adam_b2}")
    cs = dict(zip(rhos, cost_weights(rhos, s, c)))
    out = Path(out)
    store = kit.RunStore(out, force, defaults=OLD_RUN_DEFAULTS)
    settings = _settings(sizes, epochs, batch_size, lr, sigma_init, dataset, train_limit, test_limit, be,
                         eval_samples, adam_b2)
    unused = ("test_subset",) if test_limit is None else ()

    done = {}
    bkey = bbb_key(float(prior_sigma), seed)
    ekeys = {rho: ee_key(rho, cs[rho], seed) for rho in rhos}
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
        data.check(sizes, batch_size)
    common = dict(sizes=sizes, epochs=epochs, batch_size=batch_size, lr=lr, sigma_init=sigma_init, seed=seed,
                  eval_samples=eval_samples, adam_b2=adam_b2, progress=progress)
    if need_bbb:
        rec, arrays = train_bbb(be, x, y, xt, yt, prior_sigma=prior_sigma, **common)
        done[bkey] = (store.save(bkey, rec, settings, arrays), arrays)
        trained += 1
        log(f"bayes: trained BBB (s_p = {prior_sigma:g}): accuracy {rec['test_accuracy']['sampled']:.4f}, "
            f"sigma_bar {rec['sigma_bar']:.4g} ({rec['train_seconds']:.1f} s)")
    if todo_rhos:
        for rec, arrays in train_ee(be, x, y, xt, yt, rhos=todo_rhos, c=[cs[r] for r in todo_rhos], lam=lam,
                                    **common):
            done[rec["key"]] = (store.save(rec["key"], rec, settings, arrays), arrays)
            trained += 1
        log(f"bayes: trained {len(todo_rhos)} energy-efficient networks ({rec['train_seconds']:.1f} s)")

    brec, barr = done[bkey]
    masks = active_masks(barr, be.to_numpy((x != 0).any(axis=0)))
    lmasks = likelihood_masks(barr, prior_sigma, masks)
    sigma_rows, pred_rows = [], []
    for rho in rhos:
        erec, earr = done[ekeys[rho]]
        sigma_rows += compare_sigmas(earr, barr, rho, lmasks, "likelihood")
        sigma_rows += compare_sigmas(earr, barr, rho, masks, "active")
        pred_rows.append(compare_predictive(earr["probs"], barr["probs"], y_test_host, rho))
    ordered, slopes = slope_order(sigma_rows)
    n_lik = next(r["n_synapses"] for r in sigma_rows if r["synapses"] == "likelihood" and r["layer"] == "all")
    if n_lik < 100:
        log(f"bayes: only {n_lik} synapses have a posterior set by the data rather than the prior "
            f"(sigma_post <= {LIKELIHOOD_SHARE:g} s_p): widen the prior (--prior-sigma) or train on more data")
    elif len(rhos) > 1 and not ordered:
        log("bayes: the fitted slopes are not ordered as 2/(2+rho) is ("
            + ", ".join(f"rho {kit.rho_label(r)}: {v:.2f}" for r, v in slopes.items())
            + "); the quick default (minisyn bayes, no options) shows the order; "
              "longer runs: docs/results/bayes.md")
    _save_rows(out / "bayes_sigmas.csv", sigma_rows)
    _save_rows(out / "bayes_predictive.csv", pred_rows)
    records = [brec] + [done[ekeys[r]][0] for r in rhos]
    summary = {"settings": settings, "rhos": rhos, "s": s, "c": {kit.rho_label(r): cs[r] for r in rhos},
               "lambda": float(lam), "prior_sigma": float(prior_sigma), "seed": int(seed), "backend": be.name,
               "trained_this_call": trained, "runs": [r["key"] for r in records],
               "test_accuracy": {r["key"]: r["test_accuracy"] for r in records},
               "slopes_ordered_as_predicted": ordered, "sigma_comparison": sigma_rows,
               "predictive_comparison": pred_rows}
    save_json(out / "bayes.json", summary)
    figures = []
    if plot:
        ee_arrays = {rho: done[ekeys[rho]][1] for rho in rhos}
        figures += plot_sigmas(ee_arrays, barr, sigma_rows, out, masks, lmasks)
        figures += plot_slopes(sigma_rows, out)
        figures += plot_predictive(ee_arrays, barr, y_test_host, pred_rows, out)
    return {"sigma_rows": sigma_rows, "predictive_rows": pred_rows, "ordered": ordered, "records": records,
            "trained": trained, "skipped": 1 + len(rhos) - trained, "figures": figures, "summary": summary}


# -- figures -------------------------------------------------------------------------------
def plot_sigmas(ee_arrays, bbb, rows, out, masks=None, lmasks=None, max_points=4000, seed=0):
    """Fig. 7a: log-log scatter of sigma_EE against sigma_post, rows = layers, columns = rho.

    Green: the synapses whose posterior the data set (``lmasks``), with their fitted line;
    grey: the other synapses of ``masks`` (their posterior sits near the prior width)."""
    plt = pyplot()
    rhos = list(ee_arrays)
    n_layers = sum(1 for k in bbb if k.startswith("sigma"))
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(n_layers, len(rhos), figsize=(2.8 * len(rhos) + 0.4, 2.6 * n_layers),
                             squeeze=False, constrained_layout=True)
    for i in range(n_layers):
        keep = np.ones(bbb[f"sigma{i}"].shape, bool) if masks is None else masks[i]
        lik = keep if lmasks is None else lmasks[i]
        sp = bbb[f"sigma{i}"].astype(float)
        pick = np.zeros(sp.shape, bool).ravel()
        pick[rng.permutation(sp.size)[:max_points]] = True
        pick = pick.reshape(sp.shape) & keep
        for j, rho in enumerate(rhos):
            ax = axes[i, j]
            se = ee_arrays[rho][f"sigma{i}"].astype(float)
            other, good = pick & ~lik, pick & lik
            ax.loglog(sp[other], se[other], ".", ms=1.5, alpha=0.3, color="0.6", rasterized=True)
            ax.loglog(sp[good], se[good], ".", ms=1.5, alpha=0.35, color="tab:green", rasterized=True)
            row = next(r for r in rows if r["rho"] == rho and r["layer"] == str(i) and r["synapses"] == "likelihood")
            if np.isfinite(row["slope"]) and (lik & keep).any():
                xs = np.geomspace(sp[lik & keep].min(), sp[lik & keep].max(), 20)
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
    """Fig. 7b/c: fitted log-log slope and correlation against rho, with the §A7 prediction 2/(2+rho).

    Solid: the synapses whose posterior the data set (per layer, and all of them in black);
    dashed grey: every synapse that data reach, prior-dominated posteriors included."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(7.6, 3.0), constrained_layout=True)
    lik = [r for r in rows if r["synapses"] == "likelihood"]
    layers = sorted({r["layer"] for r in lik}, key=lambda s: (s == "all", s))
    rhos = sorted({r["rho"] for r in rows})
    for layer in layers:
        sel = sorted((r for r in lik if r["layer"] == layer), key=lambda r: r["rho"])
        style = dict(color="k", lw=2) if layer == "all" else dict(lw=1, alpha=0.7)
        lab = "all synapses" if layer == "all" else f"layer {int(layer) + 1}"
        axes[0].plot([r["rho"] for r in sel], [r["slope"] for r in sel], "o-", ms=3, label=lab, **style)
        axes[1].plot([r["rho"] for r in sel], [r["pearson_log"] for r in sel], "o-", ms=3, label=lab, **style)
    every = sorted((r for r in rows if r["synapses"] == "active" and r["layer"] == "all"), key=lambda r: r["rho"])
    for ax, key in zip(axes, ("slope", "pearson_log")):
        ax.plot([r["rho"] for r in every], [r[key] for r in every], "s--", ms=3, color="0.6", lw=1,
                label="incl. prior-dominated")
    grid = np.linspace(min(rhos), max(rhos), 50)
    axes[0].plot(grid, 2 / (2 + grid), "--", color="tab:red", label=r"linear model $2/(2+\rho)$")
    axes[0].axhline(1, color="0.8", lw=0.8)
    axes[0].set_ylabel(r"slope of $\log\sigma$ on $\log\sigma_{post}$")
    axes[1].set_ylabel(r"Pearson r of $\log\sigma$, $\log\sigma_{post}$")
    axes[1].set_ylim(min([0.0] + [r["pearson_log"] for r in rows if np.isfinite(r["pearson_log"])]), 1.0)
    for ax in axes:
        ax.set_xlabel(r"$\rho$")
    axes[0].legend(fontsize=6.5, frameon=False)
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
    rows = result["sigma_rows"]
    layers = [r["layer"] for r in rows if r["rho"] == rows[0]["rho"] and r["synapses"] == "likelihood"]
    print("Fig. 7: log sigma_EE on log sigma_post over the synapses whose posterior the data set "
          f"(sigma_post <= {LIKELIHOOD_SHARE:g} s_p); last columns: every synapse that data reach", file=file)
    print(f"{'rho':>5s} {'layer':>5s} {'n':>7s} {'r(log)':>7s} {'slope':>6s} {'2/(2+rho)':>9s} "
          f"{'n_all':>7s} {'r_all':>6s} {'slope_all':>9s}", file=file)
    for rho in sorted({r["rho"] for r in rows}):
        for layer in layers:
            a, b = (next(r for r in rows if r["rho"] == rho and r["layer"] == layer and r["synapses"] == sel)
                    for sel in ("likelihood", "active"))
            print(f"{kit.rho_label(rho):>5s} {layer:>5s} {a['n_synapses']:7d} {a['pearson_log']:7.3f} "
                  f"{a['slope']:6.3f} {a['predicted_slope']:9.3f} {b['n_synapses']:7d} {b['pearson_log']:6.3f} "
                  f"{b['slope']:9.3f}", file=file)
    ordered = result.get("ordered")
    print(f"slopes fall as rho rises, as 2/(2+rho) does: {'yes' if ordered else 'no'}", file=file)
    print(f"{'rho':>5s} {'acc_EE':>7s} {'acc_BBB':>7s} {'NLL_EE':>7s} {'NLL_BBB':>7s} {'r(p_true)':>9s}", file=file)
    for r in result["predictive_rows"]:
        print(f"{kit.rho_label(r['rho']):>5s} {r['acc_ee']:7.4f} {r['acc_bbb']:7.4f} {r['nll_ee']:7.4f} "
              f"{r['nll_bbb']:7.4f} {r['pearson_p_true']:9.3f}", file=file)


def register(sub):
    q, pp = QUICK_SETTINGS, PAPER_SETTINGS
    h = kit.preset_help(q, pp)
    p = sub.add_parser(
        "bayes", formatter_class=kit.Formatter,
        help="energy-efficient synapses against Bayes by backprop (Fig. 7, Appendix 4 Fig. 1)",
        description="Train energy-efficient Gaussian-synapse networks (one per rho; cost c sum sigma^-rho + "
                    "lambda |mu|_1, c = s^rho / rho) and a Bayes-by-backprop network (ELBO with a Gaussian "
                    "prior N(0, s_p^2), closed-form KL) from the same seed on the same data (MODEL.md §A8). "
                    "Compare per-synapse sigma with the posterior sigma_post (log-log scatter, Pearson r, "
                    "fitted slope against the linear-model prediction 2/(2+rho)) over the synapses whose "
                    "posterior the data set (sigma_post <= s_p/2; the others sit near the prior), and the "
                    "predictive distributions on the test set.\n\n"
                    "The default is a quick preset (about 15 s of one core): the embedded 5,000 digits, a "
                    "784-50-10 network, 3 epochs of Adam at lr 1e-2 with b2 = 0.99 from sigma = 0.05, s = 0.1, "
                    "s_p = 1. It shows sigma and sigma_post correlated (r about 0.8) with slopes close to "
                    "2/(2+rho), falling as rho rises. --paper takes the paper's training settings instead "
                    "(784-100-100-10, 50 epochs, lr 5e-4, b2 0.999, sigma from 1e-4; add --dataset mnist). "
                    "Options given explicitly override either preset.\n\n"
                    "Each finished network is saved in <out>/runs/; rerunning resumes. Writes "
                    "bayes_sigmas.csv, bayes_predictive.csv, bayes.json and the figures (PNG, PDF).",
        epilog="examples:\n"
               "  minisyn bayes                                   # quick preset (embedded digits)\n"
               "  minisyn bayes --dataset mnist --data-dir DIR    # the quick preset on MNIST (~12x longer)\n"
               "  minisyn bayes --paper --dataset mnist --data-dir DIR   # the paper's training settings (hours)\n")
    g = p.add_argument_group("bayes")
    g.add_argument("--paper", action="store_true",
                   help="start from the paper's training settings instead of the quick preset")
    g.add_argument("--rho", type=kit.floats, default=None,
                   help="reliability-cost exponents, comma separated (fractions allowed) " + h("rhos"))
    g.add_argument("--s", type=float, default=None,
                   help="scale s of the EE cost weights c = s^rho / rho, the s-form of §A8 " + h("s"))
    g.add_argument("--c", type=float, default=None, help="one cost weight c for every rho, instead of s^rho / rho")
    g.add_argument("--lambda", dest="lam", type=float, default=None, help="L1 weight of the EE networks " + h("lam"))
    g.add_argument("--prior-sigma", type=float, default=None,
                   help="BBB prior standard deviation s_p " + h("prior_sigma") + "; the linear theory assumes a "
                        "flat prior, and posteriors near s_p are left out of the fit")
    g = p.add_argument_group("network and training")
    g.add_argument("--sizes", type=kit.sizes, default=None, help="layer widths " + h("sizes"))
    g.add_argument("--epochs", type=int, default=None, help="epochs per network " + h("epochs"))
    g.add_argument("--batch-size", type=int, default=None, help="minibatch size " + h("batch_size"))
    g.add_argument("--lr", type=float, default=None, help="Adam learning rate " + h("lr"))
    g.add_argument("--adam-b2", type=float, default=None,
                   help="Adam's second-moment decay " + h("adam_b2") + ". With 0.999 the first, huge cost "
                        "gradients on a small sigma stay in Adam's memory for ~1,000 steps and hold sigma's "
                        "steps small")
    g.add_argument("--sigma-init", type=float, default=None,
                   help="initial sigma " + h("sigma_init") + ". Adam moves phi = softplus^-1(sigma) by at most "
                        "about --lr per step, so short runs need a larger --lr or --sigma-init for sigma to move")
    g.add_argument("--eval-samples", type=int, default=None,
                   help="weight samples S averaged in the predictive distributions " + h("eval_samples"))
    kit.add_data_options(p, test_limit=True)
    kit.add_run_options(p, default_out="runs/bayes", resumable=True,
                        force_help="retrain networks already saved in --out")
    p.set_defaults(func=run_cli)


def run_cli(args):
    args.rhos = args.rho                   # every command calls it --rho; run_*(rhos=...)
    kit.apply_preset(args, QUICK_SETTINGS, PAPER_SETTINGS, use_paper=args.paper)
    if min(args.rhos) <= 0:
        raise kit.CLIError(f"--rho values must be > 0, got {args.rhos}")
    for name in ("prior_sigma", "sigma_init", "s", "lr"):
        if not getattr(args, name) > 0:
            raise kit.CLIError(f"--{name.replace('_', '-')} must be > 0, got {getattr(args, name)}")
    if args.c is not None:
        kit.at_least("--c", args.c, 0)
    kit.at_least("--lambda", args.lam, 0)
    if not 0 <= args.adam_b2 < 1:
        raise kit.CLIError(f"--adam-b2 must lie in [0, 1), got {args.adam_b2}")
    for name in ("epochs", "batch_size", "eval_samples"):
        kit.at_least(f"--{name.replace('_', '-')}", getattr(args, name))
    for name in ("train_limit", "test_limit"):
        if getattr(args, name) is not None:
            kit.at_least(f"--{name.replace('_', '-')}", getattr(args, name))
    backend = kit.backend_from_args(args)
    out = kit.out_dir(args)
    preset = {name: getattr(args, name) for name in QUICK_SETTINGS}   # run_bayes's own parameter names
    result = run_bayes(out, **preset, seed=args.seed, data_dir=args.data_dir, download=not args.no_download,
                       train_limit=args.train_limit, test_limit=args.test_limit, backend=backend, force=args.force,
                       progress=not args.no_progress, log=lambda m: print(m, file=sys.stderr))
    print_table(result)
    print(f"trained {result['trained']}, reused {result['skipped']}; results in {out}/ (runs/, bayes_sigmas.csv, "
          f"bayes_predictive.csv, bayes.json, fig7_bayes_*.png/pdf, app4_fig1_predictive.png/pdf)")
    return 0
