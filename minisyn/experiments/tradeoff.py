"""The accuracy / noise / energy tradeoff sweep (MODEL.md §A4; Figs. 2 and 3 of the first paper).

For every reliability-cost exponent ``rho``, cost weight ``c`` and noise
setting (heterogeneous: a sigma per synapse; homogeneous: one sigma per
network) a Gaussian-synapse MLP is trained on

    mean_batch CE + (lambda sum_i |mu_i| + c sum_i sigma_i^-rho) / N        (§A4)

and measured on the test set:

- test accuracy with sampled weights (one noise sample per evaluation batch),
  with mean weights ``w = mu``, and of the predictive distribution averaged
  over ``S`` samples (:func:`minisyn.train.evaluate`);
- the noise level ``sigma_bar = sqrt(mean_i sigma_i^2)`` (:func:`minisyn.costs.sigma_bar`);
- the reported reliability cost ``sum_i (1/rho) sigma_i^-rho`` (``s = 1``,
  :func:`minisyn.costs.reported_reliability_cost`), one ``rho`` per network.

Networks that share a noise setting and a rho train together as one ensemble,
``MLP(..., ensemble=K, seed=[seed] * K)``, each member with its own ``c``
passed as an array to :class:`~minisyn.costs.PowerLawCost`. Member ``k`` sees
the same random numbers as a lone network with its seed (one draw a step
serves them all), so an ensemble's result for a network equals that network
trained alone.

The data come from :func:`minisyn.experiments.kit.prepare_data`. Every
finished network is saved as ``<out>/runs/<key>.json`` with its settings
(:class:`~minisyn.experiments.kit.RunStore`); running the same command again
skips networks already saved (resume) and refuses those saved with other
settings. ``minisyn sweep`` (the command line) and ``demos/paper_a_fig2_fig3_tradeoff.py`` call
:func:`run_sweep`, from :data:`QUICK_SETTINGS` (the default: shows the tradeoff on the
embedded digits in about half a minute of one core), :data:`PAPER_SETTINGS` (``--paper``) or
:data:`AUTHORS_SETTINGS` (``--authors``: the authors' code behind the published figures, each
setting traced in docs/results/differences.md). A sweep of the authors' network on MNIST is
compared point by point with the published data (:mod:`minisyn.experiments.published`).
Where sigma_bar has not followed c (:func:`flat_curves`: too few steps for sigma to reach its
tradeoff), :func:`run_sweep` says so in one line and names the options that fix it.
Measured results: docs/results/tradeoff.md.
"""
from __future__ import annotations

import multiprocessing
import signal
import sys
import time
from pathlib import Path

import numpy as np

from minisyn.backend import get_backend
from minisyn.costs import L1Cost, PowerLawCost, reported_reliability_cost, sigma_bar
from minisyn.experiments import kit, published
from minisyn.network import MLP
from minisyn.optim import Adam
from minisyn.output import pyplot, save_csv, save_figure, save_json
from minisyn.resources import fit_ensemble_size, member_bytes
from minisyn.train import TrainingDiverged, evaluate, train

__all__ = ["RHOS", "NOISES", "c_grid", "run_key", "train_ensemble", "run_sweep", "write_csv", "plot_sweep",
           "print_table", "register", "run_cli", "flat_curves", "FLAT_ADVICE", "PAPER_SETTINGS", "QUICK_SETTINGS",
           "AUTHORS_SETTINGS", "HOMOGENEOUS_COSTS",
           "OLD_RUN_DEFAULTS"]

RHOS = (0.5, 2.0 / 3.0, 4.0 / 3.0, 2.0)
NOISES = ("heterogeneous", "homogeneous")

# The paper's sweep (MODEL.md §A4): c = 10^(-3 + 0.25 k), k = 0..29; 50 epochs of
# minibatches of 20 with Adam, lambda = 1e-4, on full MNIST with standardised pixels.
# The learning rate is the authors' sweep code's 1e-4, not the text's 5e-4: Adam moves a
# parameter by about lr per step whatever its gradient, so over 150,000 steps at 5e-4 the
# sigma of synapses from silent units (which only the cost acts on) creeps up to ~75 in phi
# and sets sigma_bar (docs/results/tradeoff.md).
PAPER_SETTINGS = dict(dataset="mnist", sizes=(784, 100, 100, 10), rhos=RHOS, c_min=1e-3, c_max=10 ** 4.25,
                      n_c=30, epochs=50, batch_size=20, lr=1e-4, lam=1e-4, sigma_init=1e-4, adam_b2=0.999,
                      inputs="standardized", relu_after=None, homogeneous_cost="single")
# The quick default (about half a minute of one core): the embedded 5,000 digits, one hidden
# layer of 50, rho 1/2 and 2, five c from 1e-3 to 10, 4 epochs (1,000 steps). Sigma has to
# reach its tradeoff in those steps, so it starts at 0.05 and moves at lr 1e-2, and Adam's
# second moment remembers 100 steps (b2 = 0.99) instead of 1,000: with 0.999 the huge first
# gradients of the cost c sigma^-rho stay in v, Adam's steps on phi shrink as the gradient falls,
# and sigma stops at a level set by rho and the number of steps, the same for every c
# (docs/tradeoff-and-importance.md, "Adam's memory").
QUICK_SETTINGS = dict(dataset="embedded", sizes=(784, 50, 10), rhos=(0.5, 2.0), c_min=1e-3, c_max=10.0,
                      n_c=5, epochs=4, batch_size=20, lr=1e-2, lam=1e-4, sigma_init=0.05, adam_b2=0.99,
                      inputs="standardized", relu_after=None, homogeneous_cost="single")
# The authors' code (JamesMalkin/EfficientBayes; docs/results/differences.md gives each line):
# what it changes from PAPER_SETTINGS, and nothing fitted to a curve.
# - relu_after (A1): `x = self.linear1(...)`, `F.relu(self.linear2(...))`, `F.relu(self.linear3(...))`,
#   sims-fig2and3.py@5617f3b lines 110-114 (network.py@6a0b408 lines 90-94 agrees).
# - homogeneous_cost "authors" (A2): the cost of the shared sigma S = RMS of the per-synapse sigmas,
#   N * cost(S), is added to the per-synapse costs sum_i cost(sigma_i), which the code adds whatever
#   the noise setting (lines 61-63, 66-80). All sigma_i start equal and get equal gradients, so the
#   objective is 2 N cost(S): a homogeneous network trains at 2c.
# - lam 0.01 (A3): `0.01*torch.sum(torch.abs(mu))`, line 104 (the sims scripts, nearest the data;
#   network.py has 0.1, an earlier version with the NLL scaled by 10 B, the same in these units).
# - c from 1e-4 to 10^3.25, 30 values (A4): the grid was not saved with the data; this is the one
#   under which the published data line up with the first upload, whose grid is known from its
#   saved costs (minisyn/data/authors_fig2_fig3.md). The committed script's own grid, 10^-2..10^4
#   in 25 values (line 225), matches neither upload.
# - float64 (A8): `dtype=torch.double`, lines 45-50 and 135.
# What stays as in PAPER_SETTINGS agrees with the code already: lr 1e-4 (line 237), batch 20 (25),
# 50 epochs (130), standardised pixels (18), sigma from 1e-4 and mu from U(-0.1, 0.1) (45-50),
# Adam's defaults. Not replicated (their effect is measured in differences.md): a noise draw per 20
# test examples rather than per 1,000 (A7), and one torch seed for the whole sweep (A11).
AUTHORS_SETTINGS = dict(PAPER_SETTINGS, c_min=1e-4, c_max=10 ** 3.25, lam=0.01, relu_after=(False, True, True),
                        homogeneous_cost="authors", dtype="float64")
#: the homogeneous cost: MODEL.md §A4's N cost(sigma), or the authors' code's 2 N cost(sigma)
HOMOGENEOUS_COSTS = {"single": 1.0, "authors": 2.0}


def c_grid(c_min=1e-3, c_max=10 ** 4.25, n_c=30):
    """``n_c`` log-spaced cost weights from ``c_min`` to ``c_max`` (the paper: 1e-3 .. 10^4.25, 30 values)."""
    if not (0 < c_min <= c_max) or int(n_c) < 1:
        raise ValueError(f"need 0 < c_min <= c_max and n_c >= 1, got {c_min}, {c_max}, {n_c}")
    if int(n_c) == 1:
        return np.array([float(c_min)])
    return np.logspace(np.log10(c_min), np.log10(c_max), int(n_c))


def run_key(noise, rho, c, seed):
    """File-name-safe key of one network of the sweep."""
    return f"{noise[:3]}_rho{rho:.6g}_c{c:.6e}_seed{seed}".replace("+", "")


def train_ensemble(backend, x, y, x_test, y_test, *, noise, cs, rhos, sizes, epochs, batch_size, lr, lam,
                   seed=0, scheme="weights", eval_samples=10, sigma_init=1e-4, adam_b2=0.999, progress=False,
                   relu_after=None, homogeneous_cost="single"):
    """Train one ensemble of ``len(cs)`` networks (member k: cost weight ``cs[k]``, exponent ``rhos[k]``).

    Every member has seed ``seed`` (the same initial weights and noise stream as
    a lone ``MLP(sizes, seed=seed)``); the example order is seeded by ``seed`` too.
    ``adam_b2`` is Adam's second-moment decay (the paper: 0.999). ``relu_after``
    places the ReLUs (:class:`~minisyn.network.MLP`); ``homogeneous_cost``
    (:data:`HOMOGENEOUS_COSTS`) multiplies c for homogeneous networks.

    Returns a list of per-network result dicts (host numbers).
    """
    K = len(cs)
    net = MLP(sizes, "gaussian", backend, seed=[seed] * K, ensemble=K, scheme=scheme, noise=noise,
              sigma_init=sigma_init, relu_after=relu_after)
    factor = HOMOGENEOUS_COSTS[homogeneous_cost] if noise == "homogeneous" else 1.0
    costs = [PowerLawCost(factor * np.asarray(cs, float), np.asarray(rhos, float)), L1Cost(lam)]
    opt = Adam(net.params(), lr, backend, b2=adam_b2)
    t0 = time.perf_counter()
    status = "finished"
    try:
        history = train(net, opt, x, y, epochs=epochs, batch_size=batch_size, costs=costs, seed=seed,
                        progress=progress)
    except TrainingDiverged as err:
        status, history = "diverged", err.history
    seconds = time.perf_counter() - t0
    steps = max(1, epochs * (x.shape[0] // batch_size))
    test = evaluate(net, x_test, y_test, samples=eval_samples)
    sigmas = net.sigmas()
    sbar = backend.to_numpy(sigma_bar(sigmas, backend))
    weights = [s[..., :-1] if layer.bias else s for s, layer in zip(sigmas, net.synaptic)]   # biases left out
    sbar_w = backend.to_numpy(sigma_bar(weights, backend))
    records = []
    for k in range(K):
        # the reported cost uses member k's own rho (s = 1): sum_i (1/rho_k) sigma_i^-rho_k
        rel = backend.scalar(reported_reliability_cost([s[k] for s in sigmas], float(rhos[k]), backend))
        rel_w = backend.scalar(reported_reliability_cost([s[k] for s in weights], float(rhos[k]), backend))
        records.append({
            "key": run_key(noise, float(rhos[k]), float(cs[k]), seed),
            "status": status, "noise": noise, "rho": float(rhos[k]), "c": float(cs[k]), "seed": int(seed),
            "test_accuracy": {m: float(v[k]) for m, v in test.items()},
            "sigma_bar": float(sbar[k]),
            "reliability_cost": rel,
            "sigma_bar_weights": float(sbar_w[k]), "reliability_cost_weights": rel_w,
            "final_loss": history["loss"][-1][k] if history["loss"] else None,
            "final_ce": history["ce"][-1][k] if history["ce"] else None,
            "final_train_acc": history["train_acc"][-1][k] if history["train_acc"] else None,
            "ensemble_size": K, "train_seconds": seconds, "ms_per_step": 1e3 * seconds / steps,
        })
    return records


_Q = QUICK_SETTINGS
# Settings added after some runs were saved, with the value those runs used.
OLD_RUN_DEFAULTS = {"inputs": "unit", "adam_b2": 0.999, "relu_after": None, "homogeneous_cost": "single"}


def run_sweep(out, *, rhos=_Q["rhos"], cs=None, c_min=_Q["c_min"], c_max=_Q["c_max"], n_c=_Q["n_c"],
              noises=NOISES, sizes=_Q["sizes"], epochs=_Q["epochs"], batch_size=_Q["batch_size"], lr=_Q["lr"],
              lam=_Q["lam"], ensemble_size=16, seed=0, scheme="weights", eval_samples=10,
              sigma_init=_Q["sigma_init"], adam_b2=_Q["adam_b2"], dataset=_Q["dataset"], data_dir=None,
              download=True, train_limit=None, backend=None, force=False, progress=True, plot=True, log=print,
              workers=1, inputs=_Q["inputs"], relu_after=None, homogeneous_cost="single"):
    """Train (or resume) the sweep into ``out``; write the CSV and the figures.

    The defaults are :data:`QUICK_SETTINGS`; :data:`PAPER_SETTINGS` holds the paper's.

    Parameters
    ----------
    out : path
        Output folder; ``runs/`` inside holds one JSON per network.
    cs : sequence of float, optional
        The cost weights; default ``c_grid(c_min, c_max, n_c)``.
    ensemble_size : int
        The most networks trained at once, lowered where an ensemble would use
        more than half the memory available to a worker
        (:func:`minisyn.resources.fit_ensemble_size`). An ensemble
        holds networks of one noise setting and one rho; its members share
        the seed, so they share one noise draw per step.
    force : bool
        Retrain networks already saved.
    workers : int
        Ensembles trained at once in separate processes (CPU backends; one
        BLAS thread each). On a CPU, ``workers`` = number of cores gives the
        most networks per hour: an ensemble shares the Python overhead and the
        noise draws, not the rest of the per-synapse work.
    inputs : {'unit', 'standardized'}
        Pixels in [0, 1], or shifted and scaled by the training set's mean and
        standard deviation (see :func:`minisyn.datasets.standardize` for why
        this changes sigma_bar).
    adam_b2 : float
        Adam's second-moment decay (the paper: 0.999; the quick default 0.99).
    relu_after : sequence of bool or None
        Where the ReLUs are (:class:`~minisyn.network.MLP`; the authors' code:
        ``(False, True, True)``).
    homogeneous_cost : {'single', 'authors'}
        A homogeneous network's cost: N cost(sigma) (MODEL.md §A4), or the
        authors' code's 2 N cost(sigma) (:data:`AUTHORS_SETTINGS`).

    Raises ``ValueError`` for bad settings or a folder of runs saved with
    other settings, and :class:`~minisyn.experiments.kit.CLIError` where
    ``sizes[0]`` or ``batch_size`` does not fit the data.

    Returns
    -------
    dict with ``'records'`` (one per network, sorted), ``'trained'`` (the number
    trained by this call), ``'skipped'`` and the output paths.
    """
    from tqdm.auto import tqdm

    be = get_backend(backend)
    rhos = [float(r) for r in rhos]
    cs = [float(c) for c in (c_grid(c_min, c_max, n_c) if cs is None else cs)]
    for n in noises:
        if n not in NOISES:
            raise ValueError(f"noise must be one of {NOISES}, got {n!r}")
    if int(ensemble_size) < 1 or int(epochs) < 1 or int(batch_size) < 1:
        raise ValueError("ensemble_size, epochs and batch_size must be >= 1")
    if int(workers) < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if not 0 <= adam_b2 < 1:
        raise ValueError(f"adam_b2 must lie in [0, 1), got {adam_b2}")
    if homogeneous_cost not in HOMOGENEOUS_COSTS:
        raise ValueError(f"homogeneous_cost must be one of {sorted(HOMOGENEOUS_COSTS)}, got {homogeneous_cost!r}")
    relu_after = None if relu_after is None else [bool(r) for r in relu_after]
    if relu_after is not None and len(relu_after) != len(sizes) - 1:
        raise ValueError(f"relu_after needs one entry per layer of {list(sizes)}, got {relu_after}")
    if int(workers) > 1 and be.name == "cupy":
        raise ValueError("workers > 1 is for CPU backends; on a GPU use a larger ensemble instead")
    out = Path(out)
    # everything besides (noise, rho, c, seed) that a saved run must match to be reused;
    # runs saved before ``inputs`` existed used [0, 1] pixels
    settings = {"sizes": [int(s) for s in sizes], "epochs": int(epochs), "batch_size": int(batch_size),
                "lr": float(lr), "lambda": float(lam), "scheme": scheme, "dataset": dataset,
                "train_limit": train_limit, "dtype": be.dtype.name, "eval_samples": int(eval_samples),
                "sigma_init": float(sigma_init), "inputs": inputs, "adam_b2": float(adam_b2),
                "relu_after": relu_after, "homogeneous_cost": homogeneous_cost}
    store = kit.RunStore(out, force, defaults=OLD_RUN_DEFAULTS)
    plan = [(noise, rho, c) for noise in noises for rho in rhos for c in cs]
    saved = {t: store.load(run_key(*t, seed), settings) for t in plan}
    done = {rec["key"]: rec for rec in saved.values() if rec is not None}
    todo = [t for t in plan if saved[t] is None]
    data = None
    if todo:
        data = kit.prepare_data(dataset, data_dir=data_dir, download=download, train_limit=train_limit,
                                inputs=inputs, seed=seed, backend=be)
        data.check(sizes, batch_size)
    log(f"sweep: {len(plan)} networks ({len(done)} already saved in {store.dir}, {len(todo)} to train), "
        f"ensembles of up to {ensemble_size}")
    if todo:
        per = max(member_bytes(sizes, batch_size, be.dtype, "gaussian", n) for n in {t[0] for t in todo})
        ensemble_size, why = fit_ensemble_size(ensemble_size, per, be, workers=int(workers))
        if why:
            log(f"sweep: {why}")
    jobs = []
    # one ensemble holds one noise setting and one rho (its members differ in c): a
    # common rho lets the cost take a root instead of exp and log (costs.PowerLawCost)
    for noise, rho in dict.fromkeys((t[0], t[1]) for t in todo):
        group = [t for t in todo if t[0] == noise and t[1] == rho]
        for start in range(0, len(group), int(ensemble_size)):
            chunk = group[start:start + int(ensemble_size)]
            jobs.append(dict(noise=noise, cs=[t[2] for t in chunk], rhos=[t[1] for t in chunk], sizes=sizes,
                             epochs=epochs, batch_size=batch_size, lr=lr, lam=lam, seed=seed, scheme=scheme,
                             eval_samples=eval_samples, sigma_init=sigma_init, adam_b2=adam_b2,
                             relu_after=relu_after, homogeneous_cost=homogeneous_cost))
    trained = 0
    bar = tqdm(total=len(todo), disable=not progress, unit="net", desc="sweep")
    try:
        for records in _run_jobs(jobs, be, None if data is None else data.arrays(), int(workers)):
            for rec in records:          # saved as each ensemble finishes: a rerun resumes from here
                done[rec["key"]] = store.save(rec["key"], rec, settings)
            trained += len(records)
            bar.update(len(records))
            bar.set_postfix(ms_per_step=f"{records[0]['ms_per_step']:.1f}")
    finally:
        bar.close()
    records = [done[run_key(n, r, c, seed)] for n, r, c in plan]
    flat = flat_curves(records)
    if flat:
        log(f"sweep: sigma_bar does not follow c ({'; '.join(flat)}): {FLAT_ADVICE}")
    write_csv(out / "sweep.csv", records)
    figures = plot_sweep(records, out) if plot else []
    compared = {}
    if dataset == "mnist" and [int(n) for n in sizes] == [784, 100, 100, 10]:   # the authors' network
        compared = published.write_comparison(records, out, log=log) if plot else {}
    summary = {"settings": settings, "rhos": rhos, "cs": cs, "noises": list(noises), "seed": seed,
               "ensemble_size": int(ensemble_size), "backend": be.name, "networks": len(plan),
               "trained_this_call": trained, "runs": [r["key"] for r in records], "sigma_bar_not_following_c": flat,
               "published_comparison": compared}
    save_json(out / "sweep.json", summary)
    return {"records": records, "trained": trained, "skipped": len(plan) - trained,
            "csv": out / "sweep.csv", "figures": figures, "summary": summary}


def flat_curves(records, min_rise=1.5, min_step=1.02):
    """The (noise, rho) series whose sigma_bar has not followed c, as short descriptions.

    A series is *flat* where sigma_bar rises by less than ``min_rise`` times
    over a c range of at least 100, and *levels off* where it rises by less
    than ``min_step`` times between its two largest c (at least 3 apart):
    sigma has then not reached its tradeoff in the steps it had (Adam moves
    phi by about ``lr`` a step at most; the notes on :data:`QUICK_SETTINGS`).
    """
    found = []
    for noise in NOISES:
        for rho in sorted({r["rho"] for r in records if r["noise"] == noise}):
            cs, sb = _series(records, noise, rho, "c", "sigma_bar")
            if cs.size < 2 or not np.all(np.isfinite(sb)) or sb.min() <= 0:
                continue
            if cs[-1] / cs[0] >= 100 and sb[-1] / sb[0] < min_rise:
                found.append(f"{noise} rho={kit.rho_label(rho)}: {sb[0]:.3g} to {sb[-1]:.3g}")
            elif cs[-1] / cs[-2] >= 3 and sb[-1] / sb[-2] < min_step:
                found.append(f"{noise} rho={kit.rho_label(rho)}: levels off at {sb[-1]:.3g}")
    return found


FLAT_ADVICE = ("sigma has not reached its tradeoff in the steps it had. The quick default (minisyn sweep, "
               "no options) shows it; otherwise give sigma more --epochs, a larger --lr or --sigma-init, "
               "or --adam-b2 0.99")


_SHARED = {}   # the data, inherited by forked worker processes instead of being pickled


def _quiet_worker():
    """Workers leave Ctrl-C and SIGTERM to the main process, which stops them (no traceback each)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _train_job(job):
    with kit.blas_threads(1):
        return train_ensemble(_SHARED["backend"], *_SHARED["data"], **job)


def _run_jobs(jobs, backend, data, workers):
    """Yield each job's records as it finishes, in this process or in ``workers`` forked ones."""
    if workers == 1 or len(jobs) <= 1:
        for job in jobs:
            yield train_ensemble(backend, *data, **job)
        return
    _SHARED.update(backend=backend, data=data)
    pool = multiprocessing.get_context("fork").Pool(workers, initializer=_quiet_worker)
    try:
        yield from pool.imap_unordered(_train_job, jobs)
        pool.close()
    finally:
        pool.terminate()                 # on an interrupt: the unfinished ensembles are dropped, not waited for
        pool.join()
        _SHARED.clear()


CSV_COLUMNS = ("key", "noise", "rho", "c", "seed", "status", "acc_sampled", "acc_mean", "acc_predictive",
               "sigma_bar", "reliability_cost", "sigma_bar_weights", "reliability_cost_weights", "final_loss",
               "final_ce", "final_train_acc", "ms_per_step")


def write_csv(path, records):
    rows = []
    for r in records:
        acc = r["test_accuracy"]
        row = dict(r, acc_sampled=acc["sampled"], acc_mean=acc["mean"], acc_predictive=acc["predictive"])
        rows.append([row.get(k) for k in CSV_COLUMNS])    # runs saved before a column existed: empty
    save_csv(path, CSV_COLUMNS, rows)


COLOURS = {"heterogeneous": "tab:green", "homogeneous": "0.5"}


def _series(records, noise, rho, xkey, ykey):
    rows = [r for r in records if r["noise"] == noise and abs(r["rho"] - rho) < 1e-12]
    get = {"acc": lambda r: r["test_accuracy"]["sampled"]}
    xs = np.array([get.get(xkey, lambda r: r[xkey])(r) for r in rows], float)
    ys = np.array([get.get(ykey, lambda r: r[ykey])(r) for r in rows], float)
    order = np.argsort(xs)
    return xs[order], ys[order]


def _tick_label(x, _pos=None):
    """A tick as a short label: 0.05, 20, 1e5, 4.5e7 -> '0.05', '20', '$10^{5}$', '$4.5{\\times}10^{7}$'."""
    if x <= 0:
        return ""
    if 1e-3 <= x < 1e4:
        return f"{x:g}"
    e = int(np.floor(np.log10(x) + 1e-9))
    m = x / 10.0 ** e
    return f"$10^{{{e}}}$" if abs(m - 1) < 1e-6 else f"${m:.2g}{{\\times}}10^{{{e}}}$"


def _tidy_log_axis(axis, values):
    """Readable ticks on a log axis holding ``values``, never minor labels (they overprint
    on short ranges): labels at decades where the data span two or more, at 1 and 3 times
    a power of ten over one to two decades, at 1, 2 and 5 times over a factor of 5 to 10,
    at two or three evenly spaced values over less. A
    range under a factor of 2 is widened to a factor of 2 around its geometric mean, so
    that a flat series shows as flat."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    v = np.asarray(values, float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return
    lo, hi = v.min(), v.max()
    if hi / lo < 2:
        mid = np.sqrt(lo * hi)
        lo, hi = mid / np.sqrt(2), mid * np.sqrt(2)
        (axis.axes.set_xlim if axis is axis.axes.xaxis else axis.axes.set_ylim)(lo, hi)
    ratio = hi / lo
    if ratio >= 5:                       # every such range holds two or more of these ticks
        subs = (1.0,) if ratio >= 100 else (1.0, 3.0) if ratio >= 10 else (1.0, 2.0, 5.0)
        axis.set_major_locator(LogLocator(base=10, subs=subs))
    else:                                # so short that log and linear spacing look alike
        axis.set_major_locator(MaxNLocator(nbins=3))
    axis.set_major_formatter(FuncFormatter(_tick_label))
    axis.set_minor_formatter(NullFormatter())


def plot_sweep(records, out):
    """Fig. 2 (accuracy and sigma_bar against c) and Fig. 3 (accuracy against sigma_bar,
    reliability cost against sigma_bar, accuracy against reliability cost), one
    column per rho, both noise settings on the same axes. Returns the file paths."""
    plt = pyplot()

    out = Path(out)
    rhos = sorted({r["rho"] for r in records})
    noises = [n for n in NOISES if any(r["noise"] == n for r in records)]
    labels = {"c": "cost weight c", "acc": "test accuracy (sampled)", "sigma_bar": r"$\bar\sigma$",
              "reliability_cost": r"reliability cost $\sum_i \sigma_i^{-\rho}/\rho$"}
    figs = {
        "fig2_accuracy_sigma_vs_c": [("c", "acc", "log", "linear"), ("c", "sigma_bar", "log", "log")],
        "fig3_tradeoffs": [("sigma_bar", "acc", "log", "linear"),
                           ("sigma_bar", "reliability_cost", "log", "log"),
                           ("reliability_cost", "acc", "log", "linear")],
    }
    paths = []
    for stem, rows in figs.items():
        ncol = len(rhos)
        fig, axes = plt.subplots(len(rows), ncol, figsize=(3.2 * ncol + 0.4, 2.7 * len(rows)),
                                 squeeze=False, constrained_layout=True)
        for j, rho in enumerate(rhos):
            for i, (xk, yk, xs, ys) in enumerate(rows):
                ax = axes[i, j]
                shown = {"x": [], "y": []}
                for noise in noises:
                    xv, yv = _series(records, noise, rho, xk, yk)
                    ok = np.isfinite(xv) & np.isfinite(yv) & ((xv > 0) if xs == "log" else True)
                    ax.plot(xv[ok], yv[ok], "o-", ms=3, color=COLOURS[noise], label=noise)
                    shown["x"] += list(xv[ok])
                    shown["y"] += list(yv[ok])
                ax.set_xscale(xs)
                ax.set_yscale(ys)
                for axis, scale, vals in ((ax.xaxis, xs, shown["x"]), (ax.yaxis, ys, shown["y"])):
                    if scale == "log":
                        _tidy_log_axis(axis, vals)
                if yk == "acc":
                    ax.set_ylim(0, 1)          # accuracy lives in [0, 1]; chance is 0.1
                ax.set_xlabel(labels[xk])
                if j == 0:
                    ax.set_ylabel(labels[yk])
                if i == 0:
                    ax.set_title(rf"$\rho$ = {kit.rho_label(rho)}")
        axes[0, 0].legend(fontsize=8, frameon=False)
        paths += save_figure(fig, out, stem, dpi=110)
    return paths


# -- the command line -------------------------------------------------------------
def register(sub):
    q, pp = QUICK_SETTINGS, PAPER_SETTINGS
    h = kit.preset_help(q, pp)
    p = sub.add_parser(
        "sweep", formatter_class=kit.Formatter,
        help="the accuracy / noise / reliability-cost tradeoff sweep (Figs. 2 and 3)",
        description="Train Gaussian-synapse networks over a grid of reliability-cost exponents rho, cost "
                    "weights c and noise settings (MODEL.md §A4); plot accuracy and sigma_bar against c "
                    "(Fig. 2) and accuracy / reliability cost against sigma_bar (Fig. 3).\n\n"
                    "The default is a quick preset (about half a minute of one core): the embedded 5,000 "
                    "digits, standardised pixels, a 784-50-10 network, rho 1/2 and 2, five c from 1e-3 to "
                    "10, 4 epochs of Adam at lr 1e-2 with b2 = 0.99 from sigma = 0.05, so that sigma reaches "
                    "its tradeoff in 1,000 steps. It shows accuracy falling and sigma_bar rising with c, and "
                    "heterogeneous noise far more accurate than homogeneous noise once c is large. --paper "
                    "takes the paper's settings instead (784-100-100-10, 4 rho, 30 c from 1e-3 to 10^4.25, "
                    "50 epochs, lr 1e-4, b2 0.999, sigma from 1e-4: 240 networks, hours; add --dataset "
                    "mnist). --authors takes the settings of the authors' code behind the published figures and, on "
                    "MNIST, compares the runs with the published data. Options given explicitly override "
                    "any preset.\n\n"
                    "Networks sharing a noise setting and rho train together as ensembles. Each finished "
                    "network is saved in <out>/runs/; running the same command again resumes. Writes "
                    "sweep.csv, sweep.json and the figures (PNG, PDF) to --out.",
        epilog="examples:\n"
               "  minisyn sweep                                  # quick preset (embedded digits)\n"
               "  minisyn sweep --dataset mnist --data-dir DIR   # the quick preset on MNIST (12x the steps)\n"
               "  minisyn sweep --paper --dataset mnist --data-dir DIR --workers 2   # the paper's sweep\n"
               "  minisyn sweep --authors --dataset mnist --rho 1/2,2 --workers 2    # the authors' code, "
               "against their data\n")
    g = p.add_argument_group("sweep")
    g.add_argument("--paper", action="store_true",
                   help="start from the paper's settings instead of the quick preset")
    g.add_argument("--authors", action="store_true",
                   help="start from the settings of the authors' code behind the published figures "
                        "(EfficientBayes sims-fig2and3.py@5617f3b): --paper's, with the ReLUs after layers 2 and "
                        "3 only (lines 110-114), the homogeneous cost counted twice (61-80), --lambda 0.01 "
                        "(104), c from 1e-4 to 10^3.25 (the grid the published data line up on) and float64 "
                        "(45-50); docs/results/differences.md traces each. On MNIST the runs are compared "
                        "with the published data (published_comparison.*). The published data fit "
                        "--relu-after 1,1,0 --homogeneous-cost single (or --paper) instead: measured there")
    g.add_argument("--rho", type=kit.floats, default=None,
                   help="reliability-cost exponents, comma separated (fractions allowed: 1/2,2/3,4/3,2) "
                        + h("rhos"))
    g.add_argument("--c-min", type=float, default=None, help="smallest cost weight c " + h("c_min"))
    g.add_argument("--c-max", type=float, default=None, help="largest cost weight c " + h("c_max"))
    g.add_argument("--n-c", type=int, default=None, help="number of log-spaced c values " + h("n_c"))
    g.add_argument("--noise", choices=NOISES + ("both",), default="both", help="noise setting(s)")
    g.add_argument("--ensemble-size", type=int, default=16,
                   help="most networks trained at once (lowered to fit in half the available memory)")
    g.add_argument("--workers", type=int, default=1,
                   help="ensembles trained at once in separate processes (CPU: up to the number of cores)")
    g = p.add_argument_group("network and training")
    g.add_argument("--sizes", type=kit.sizes, default=None, help="layer widths " + h("sizes"))
    g.add_argument("--scheme", choices=("weights", "local"), default="weights", help="Gaussian sampling scheme")
    g.add_argument("--epochs", type=int, default=None, help="epochs per network " + h("epochs"))
    g.add_argument("--batch-size", type=int, default=None, help="minibatch size " + h("batch_size"))
    g.add_argument("--lr", type=float, default=None,
                   help="Adam learning rate " + h("lr") + "; the paper's text says 5e-4, its sweep code 1e-4")
    g.add_argument("--adam-b2", type=float, default=None,
                   help="Adam's second-moment decay " + h("adam_b2") + ". With 0.999 the first, huge "
                        "gradients of the cost on a small sigma stay in Adam's memory for ~1,000 steps and "
                        "hold sigma's steps small, so a short run ends with the same sigma for every c")
    g.add_argument("--lambda", dest="lam", type=float, default=None, help="L1 magnitude cost weight " + h("lam"))
    g.add_argument("--sigma-init", type=float, default=None,
                   help="initial sigma " + h("sigma_init") + ". Adam moves phi = softplus^-1(sigma) by at "
                        "most about --lr per step, so short runs need a larger --lr or --sigma-init for "
                        "sigma to move")
    g.add_argument("--eval-samples", type=int, default=10, help="samples S of the predictive accuracy")
    kit.add_relu_option(g)
    g.add_argument("--homogeneous-cost", choices=tuple(HOMOGENEOUS_COSTS), default=None,
                   help="a homogeneous network's cost: 'single' N c sigma^-rho (MODEL.md §A4), or 'authors' "
                        "2 N c sigma^-rho, as the authors' code adds the per-synapse costs to N cost(sigma) "
                        "(default: single; --authors: authors)")
    kit.add_inputs_option(g)
    p.set_defaults(inputs=None)            # from the preset: standardised in both
    kit.add_data_options(p)
    kit.add_run_options(p, default_out="runs/sweep", resumable=True)
    p.set_defaults(func=run_cli)


def run_cli(args):
    args.rhos = args.rho                   # every command calls it --rho; run_*(rhos=...)
    if args.paper and args.authors:
        raise kit.CLIError("--paper and --authors are two presets: give one")
    kit.apply_preset(args, QUICK_SETTINGS, AUTHORS_SETTINGS if args.authors else PAPER_SETTINGS,
                     use_paper=args.paper or args.authors)
    for option in ("--n-c", "--ensemble-size", "--workers", "--epochs", "--batch-size", "--eval-samples"):
        kit.at_least(option, getattr(args, option[2:].replace("-", "_")))
    if args.train_limit is not None:
        kit.at_least("--train-limit", args.train_limit)
    if not 0 <= args.adam_b2 < 1:
        raise kit.CLIError(f"--adam-b2 must lie in [0, 1), got {args.adam_b2}")
    for option in ("--c-min", "--c-max", "--sigma-init", "--lr"):
        if not getattr(args, option[2:].replace("-", "_")) > 0:
            raise kit.CLIError(f"{option} must be > 0, got {getattr(args, option[2:].replace('-', '_'))}")
    backend = kit.backend_from_args(args)
    out = kit.out_dir(args)
    noises = NOISES if args.noise == "both" else (args.noise,)
    preset = {name: getattr(args, name) for name in QUICK_SETTINGS}   # run_sweep's own parameter names
    result = run_sweep(out, **preset, noises=noises, ensemble_size=args.ensemble_size,
                       seed=args.seed, scheme=args.scheme, eval_samples=args.eval_samples, data_dir=args.data_dir,
                       download=not args.no_download, train_limit=args.train_limit, backend=backend,
                       force=args.force, progress=not args.no_progress, workers=args.workers,
                       log=lambda m: print(m, file=sys.stderr))
    print_table(result["records"])
    print(f"trained {result['trained']}, reused {result['skipped']}; results in {out}/ "
          f"(runs/, sweep.csv, sweep.json, fig2_*.png/pdf, fig3_*.png/pdf)")
    return 0


def print_table(records, file=None):
    print(f"{'noise':>13s} {'rho':>5s} {'c':>10s} {'acc':>7s} {'acc_mean':>8s} {'sigma_bar':>10s} {'rel_cost':>11s}",
          file=file)
    for r in records:
        a = r["test_accuracy"]
        print(f"{r['noise']:>13s} {kit.rho_label(r['rho']):>5s} {r['c']:10.3e} {a['sampled']:7.4f} {a['mean']:8.4f} "
              f"{r['sigma_bar']:10.4g} {r['reliability_cost']:11.4g}", file=file)
