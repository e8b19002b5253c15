"""Energy against information for three release models (MODEL.md §B3; Fig. 1 of the second paper).

An L2 sweep trains, for every regularisation strength ``l2``, three networks
of Bernoulli-type synapses (ReLU, no biases; the paper: 784-200-200-10,
minibatch 100, learning rate 0.05):

- ``plastic``: stochastic release with presynaptic plasticity (§B2, the
  energy-experiment values ``d_up = d_down = 0.07``, ``g_lim = 1e-3``, no
  ``(1 - p)`` learning-rate factor, no freezing);
- ``fixed``: stochastic release, every synapse at the *mean* release
  probability that the plastic network learned at the same ``l2``, never
  changed (``PresynapticRule(plastic_p=False)``); so the plastic runs go first;
- ``deterministic``: ``p = 1`` (``MLP(synapse='deterministic', bias=False)``),
  plain SGD.

The objective is ``mean_batch CE + (l2 / 2) sum_i m_i^2``: ``l2`` is the
weight-decay coefficient on the scale of the mean cross-entropy, so a grid
means the same on any dataset. It acts as weight decay in the optimiser
(``PresynapticRule(weight_decay=...)``, ``SGD(weight_decay=...)``), so that
the release probabilities follow the cross-entropy gradient alone, as in the
authors' code. ``inputs='standardized'`` shifts and scales the pixels by the
training set's mean and SD, as the authors' data loader does
(``Normalize((0.1307,), (0.3081,))`` on MNIST).

Each network is measured on the test set (:mod:`minisyn.information`): the
mutual information ``I(Y; Yhat)`` in bits from the soft confusion matrix, the
energy ``sum_i |m_i|``, the mean hidden rate, and the accuracy. The L2 values
of one model train together as an ensemble (``MLP(ensemble=K)``, per-member
weight decay); member k equals a lone network with the same seed.

The data come from :func:`minisyn.experiments.kit.prepare_data`. Every
finished network is saved as ``<out>/runs/<key>.json`` with its settings
(:class:`~minisyn.experiments.kit.RunStore`) as soon as its ensemble
finishes; rerunning skips saved networks (resume) and refuses those saved
with other settings.
:func:`energy_at_information` interpolates along each model's curve the
energy needed to reach an information level; :func:`comparison_level` picks
the level at which the three models are compared: the target (2 bits in the
quick preset, 3 bits in the paper's) if every model's curve rises through
it, else the highest lower level (in steps of a quarter bit) that every
model reaches, said so in :func:`comparison_lines`.
``minisyn energy-info`` and ``demos/paper_b_fig1_energy_information.py`` call
:func:`run_energy_info`.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from minisyn.backend import get_backend
from minisyn.experiments import kit
from minisyn.information import energy, mean_activity, mutual_information
from minisyn.losses import softmax
from minisyn.network import MLP
from minisyn.optim import SGD
from minisyn.output import no_minor_labels, pyplot, save_csv, save_figure, save_json
from minisyn.resources import fit_ensemble_size, member_bytes
from minisyn.rules import PresynapticRule
from minisyn.train import TrainingDiverged, accuracy, train

__all__ = ["MODELS", "ENERGY_RULE", "QUICK_SETTINGS", "PAPER_SETTINGS", "AUTHORS_SETTINGS", "l2_grid", "run_key",
           "train_models", "test_probabilities", "energy_at_information", "comparison_level",
           "comparison_lines", "run_energy_info", "write_csv", "plot_energy_info", "print_table", "register",
           "run_cli"]

MODELS = ("plastic", "fixed", "deterministic")
# the energy-experiment values of the presynaptic rule (MODEL.md §B2)
ENERGY_RULE = dict(d_up=0.07, d_down=0.07, g_lim=1e-3, p_min=0.25, p_freeze=1.0, lr_factor=False)
# The quick default (about half a minute of one core): the embedded 5,000 digits, standardised
# pixels, a 784-64-64-10 network, 30 epochs (1,500 steps) at lr 0.1, five L2 values from 1e-3 to
# 0.1, compared at 2 bits. Release probabilities separate only over many steps (p moves by at
# most 7 % of its distance to 1 or to p_min a step): after 250 steps of the 784-200-200-10
# network at lr 0.05 the mean p was still 0.29, the stochastic networks carried 0.5 bits and
# the deterministic one 1.6, the reverse of Fig. 1. The narrower network makes 1,500 steps
# affordable, and the larger learning rate trains it that far. Near the ceiling (2.5 bits here,
# 3 bits on MNIST) the deterministic network catches up (docs/results/energy.md).
QUICK_SETTINGS = dict(dataset="embedded", sizes=(784, 64, 64, 10), l2_min=1e-3, l2_max=1e-1, n_l2=5,
                      epochs=30, batch_size=100, lr=0.1, inputs="standardized", target_bits=2.0)
# the paper's setting: full MNIST, 50 epochs (the L2 grid is ours: the paper does not list it)
PAPER_SETTINGS = dict(dataset="mnist", sizes=(784, 200, 200, 10), l2_min=1e-5, l2_max=1e-1, n_l2=9,
                      epochs=50, batch_size=100, lr=0.05, inputs="standardized", target_bits=3.0)
# ``--authors``: what the authors' code for Fig. 1 (smonsays/presynaptic-stochasticity@ba8e41c,
# exp_energy.sh and etc/*_mnist_energy.json; docs/results/differences.md, B6-B8) changes from
# PAPER_SETTINGS, and nothing fitted to a curve:
# - l2s (B8): exp_energy.sh line 9 `weightdecays=( 0.0 0.001 0.005 0.01 0.05 0.1)`;
# - fixed_release 0.4 (B6): exp_energy.sh line 18 `--prob_release 0.4 --learning_rate 0.05`, one p for
#   every L2 (the paper's text: the plastic model's mean p);
# - deterministic_lr 0.08 and deterministic_bias (B7, B2): etc/mlp_mnist_energy.json lines 11-14
#   `"fixed_bias": true, "learning_rate": 0.08`: torch's nn.Linear with biases, all trained by SGD
#   (with the weight decay on them too).
# Agrees already: 784-200-200-10, 50 epochs, batch 100, plastic lr 0.05, the rule's values
# (etc/dyn_mnist_energy.json), standardised pixels (lib/data.py lines 610-613). Not replicated:
# the DDC networks' fixed random biases and the fixed control's trainable biases (B2: small, no
# bias synapses in minisyn's Bernoulli networks), the seeds 2019-2021 (line 8: pass --seed),
# test outputs from one release sample per 100 examples rather than per 1,000 (B13), and the
# activity as a sum over hidden units rather than a mean (B14: a scale).
AUTHORS_SETTINGS = dict(PAPER_SETTINGS, l2=(0.0, 0.001, 0.005, 0.01, 0.05, 0.1), fixed_release=0.4,
                        deterministic_lr=0.08, deterministic_bias=True)
DEFAULT_TARGET_BITS = QUICK_SETTINGS["target_bits"]
# further information levels tabulated next to the target
LEVELS_BITS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
# where the target is not reached by every model, the models are compared at the highest
# multiple of this (below the target) that every model's curve rises through
LEVEL_STEP = 0.25


def l2_grid(l2_min=1e-3, l2_max=1e-1, n_l2=5):
    """``n_l2`` log-spaced L2 strengths from ``l2_min`` to ``l2_max``."""
    if not (0 < l2_min <= l2_max) or int(n_l2) < 1:
        raise ValueError(f"need 0 < l2_min <= l2_max and n_l2 >= 1, got {l2_min}, {l2_max}, {n_l2}")
    if int(n_l2) == 1:
        return np.array([float(l2_min)])
    return np.logspace(np.log10(l2_min), np.log10(l2_max), int(n_l2))


def run_key(model, l2, seed):
    """File-name-safe key of one network."""
    return f"{model}_l2{l2:.6e}_seed{seed}".replace("+", "")


def test_probabilities(net, x, mode="sample", batch_size=1000):
    """Softmax outputs ``(*E, n, C)`` on ``x``, in batches (one release sample per batch)."""
    xp = net.be.xp
    parts = [softmax(net.forward(x[s:s + batch_size], mode), xp) for s in range(0, x.shape[0], batch_size)]
    return parts[0] if len(parts) == 1 else xp.concatenate(parts, axis=-2)


def _mean_p(net):
    """Mean release probability over all synapses of each member (host array, shape E)."""
    be = net.be
    total = sum(be.to_numpy(layer.p.sum(axis=(-2, -1))).astype(np.float64) for layer in net.synaptic)
    count = sum(layer.p.shape[-1] * layer.p.shape[-2] for layer in net.synaptic)
    return np.atleast_1d(total / count)


def train_models(model, backend, x, y, x_test, y_test, *, l2s, sizes=(784, 200, 200, 10), epochs=50,
                 batch_size=100, lr=0.05, seed=0,
                 fixed_p=None, eval_mode="sample", progress=False, bias=False):
    """Train one ensemble of ``len(l2s)`` networks of ``model``.

    Returns ``(records, net)``: one result dict per network, and the trained
    ensemble.

    Parameters
    ----------
    model : {'plastic', 'fixed', 'deterministic'}
    l2s : sequence of float
        Weight-decay coefficients (objective ``CE + (l2/2) |m|^2``). They act
        as weight decay in the optimiser, so the presynaptic rule's
        ``|g| >= g_lim`` test sees the cross-entropy gradient alone, as in the
        authors' code (see :mod:`minisyn.rules`).
    fixed_p : sequence of float
        For ``'fixed'``: member k's release probability (the plastic network's
        mean ``p`` at ``l2s[k]``).
    eval_mode : {'sample', 'mean'}
        Test outputs with sampled release (one sample per batch of 1,000) or
        with the mean weights ``w = m``.
    bias : bool
        For ``'deterministic'``: trained biases (the authors' code; the paper's
        text has none).
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    be = backend
    K = len(l2s)
    n = x.shape[0]
    decay = [float(v) for v in l2s]
    if model == "deterministic":
        net = MLP(sizes, "deterministic", be, seed=[seed] * K, ensemble=K, bias=bool(bias))
        opt = SGD(net.params(), lr, be, weight_decay=decay)
    else:
        net = MLP(sizes, "bernoulli", be, seed=[seed] * K, ensemble=K, p_init=ENERGY_RULE["p_min"])
        plastic = model == "plastic"
        if not plastic:
            if fixed_p is None or len(fixed_p) != K:
                raise ValueError("the fixed-release model needs one release probability per L2 value (fixed_p)")
            fp = np.asarray(fixed_p, dtype=np.float64)
            if not ((fp > 0) & (fp <= 1)).all():
                raise ValueError(f"fixed release probabilities must lie in (0, 1], got {fixed_p}")
            col = be.floats(fp.reshape(K, 1, 1))
            for layer in net.synaptic:
                layer.p = layer.p * 0 + col                     # every synapse of member k at fixed_p[k]
        opt = PresynapticRule(net.synaptic, lr, be, plastic_p=plastic, weight_decay=decay, **ENERGY_RULE)
    t0 = time.perf_counter()
    status = "finished"
    try:
        history = train(net, opt, x, y, epochs=epochs, batch_size=batch_size, seed=seed,
                        progress=progress)
    except TrainingDiverged as err:
        status, history = "diverged", err.history
    seconds = time.perf_counter() - t0
    probs = test_probabilities(net, x_test, eval_mode)
    info = np.atleast_1d(mutual_information(probs, y_test, net.sizes[-1], be))
    en = np.atleast_1d(energy(net))
    act = np.atleast_1d(mean_activity(net, x_test, eval_mode))
    acc = accuracy(net, x_test, y_test, eval_mode)
    acc_mean = accuracy(net, x_test, y_test, "mean")
    mean_p = _mean_p(net) if model != "deterministic" else np.ones(K)
    steps = max(1, epochs * (n // batch_size))
    records = []
    for k in range(K):
        records.append({
            "key": run_key(model, float(l2s[k]), seed), "model": model, "l2": float(l2s[k]), "seed": int(seed),
            "status": status, "information_bits": float(info[k]), "energy": float(en[k]),
            "mean_activity": float(act[k]), "test_accuracy": float(acc[k]), "test_accuracy_mean": float(acc_mean[k]),
            "mean_p": float(mean_p[k]),
            "fixed_p": None if fixed_p is None else float(fixed_p[k]),
            "final_loss": history["loss"][-1][k] if history["loss"] else None,
            "final_train_acc": history["train_acc"][-1][k] if history["train_acc"] else None,
            "ensemble_size": K, "train_seconds": seconds, "ms_per_step": 1e3 * seconds / steps,
        })
    return records, net


def energy_at_information(energies, infos, target, log_energy=True):
    """Energy a model needs to reach ``target`` bits, interpolated along its curve.

    The points are ordered by energy; the first segment on which the
    information rises from below ``target`` to at least ``target`` is
    interpolated linearly (in ``log10(energy)`` when ``log_energy``, the
    axis of the figure).

    Returns
    -------
    dict with ``'energy'`` (float, NaN when not reached) and ``'status'``:
    ``'interpolated'``, ``'below_lowest'`` (the lowest-energy point already
    reaches the target: its energy is an upper bound) or ``'not_reached'``.
    """
    e = np.asarray(energies, dtype=np.float64)
    i = np.asarray(infos, dtype=np.float64)
    if e.shape != i.shape or e.ndim != 1:
        raise ValueError("energies and infos must be 1-d sequences of the same length")
    ok = np.isfinite(e) & np.isfinite(i) & ((e > 0) if log_energy else True)
    e, i = e[ok], i[ok]
    if e.size == 0:
        return {"energy": float("nan"), "status": "not_reached"}
    order = np.argsort(e, kind="stable")
    e, i = e[order], i[order]
    if i[0] >= target:
        return {"energy": float(e[0]), "status": "below_lowest"}
    u = np.log10(e) if log_energy else e
    for j in range(1, e.size):
        if i[j - 1] < target <= i[j]:
            t = (target - i[j - 1]) / (i[j] - i[j - 1])
            v = u[j - 1] + t * (u[j] - u[j - 1])
            return {"energy": float(10 ** v if log_energy else v), "status": "interpolated"}
    return {"energy": float("nan"), "status": "not_reached"}


def comparison_level(records, target_bits, step=LEVEL_STEP):
    """The information level at which to compare the models of ``records``.

    ``target_bits`` if every model's curve rises through it (status
    ``'interpolated'`` in :func:`energy_at_information`), else the highest
    multiple of ``step`` below the target that every model's curve rises
    through; ``None`` if there is no such level. A level that a model reaches
    already at its lowest energy (``'below_lowest'``) does not count: its
    energy there is only an upper bound.
    """
    models = [m for m in MODELS if any(r["model"] == m for r in records)]
    if not models:
        return None
    below = np.arange(np.ceil(target_bits / step) - 1, 0, -1) * step
    for level in (float(target_bits), *(float(v) for v in below)):
        if all(t["status"] == "interpolated" for t in summarise(records, level, models).values()):
            return level
    return None


def comparison_lines(records, target_bits, step=LEVEL_STEP):
    """What the sweep shows, in a few lines: the models' energies at the comparison level
    (:func:`comparison_level`), whether plastic release is the cheapest (Fig. 1), and, where
    the run cannot show it, the command that does."""
    remedy = ("the quick default (minisyn energy-info, no options) shows it; else train longer (--epochs) "
              "or widen the L2 grid (--l2-min, --l2-max)")
    level = comparison_level(records, target_bits, step)
    targets = summarise(records, target_bits)
    lines = []
    missed = [f"{m}: at most {t['max_information_bits']:.2f} bits" if t["status"] == "not_reached"
              else f"{m}: above it at every L2 value" for m, t in targets.items() if t["status"] != "interpolated"]
    if level is None:
        return [f"no information level is reached by every model along its curve ({'; '.join(missed)}): "
                f"this run cannot compare the energies of Fig. 1; {remedy}"]
    if level != float(target_bits):
        lines.append(f"not every model's curve passes {target_bits:g} bits ({'; '.join(missed)}): comparing "
                     f"at {level:g} bits, the highest level (in steps of {step:g}) that all of them pass")
    at = summarise(records, level)
    energies = ", ".join(f"{m} {t['energy']:.0f}" for m, t in at.items())
    lines.append(f"energy needed for I = {level:g} bits: {energies}")
    if "plastic" in at and len(at) > 1:
        others = {m: t["energy"] for m, t in at.items() if m != "plastic"}
        e = at["plastic"]["energy"]
        if all(e < v for v in others.values()):
            lines.append("plastic release is the cheapest, as in Fig. 1: "
                         + ", ".join(f"{1 - e / v:.0%} less energy than {m}" for m, v in others.items()))
        else:
            lines.append("plastic release is not the cheapest here (Fig. 1: it is): "
                         + ", ".join(f"{e / v:.2f}x the energy of {m}" for m, v in others.items())
                         + f"; {remedy}")
    return lines


# How the L2 term reaches the release-probability rule: "weight_decay" (the
# rule sees the cross-entropy gradient alone) or "cost" (runs saved before
# this setting existed, where the L2 gradient was part of ``g``).
L2_MODE = "weight_decay"


_Q = QUICK_SETTINGS


def run_energy_info(out, *, l2s=None, l2_min=_Q["l2_min"], l2_max=_Q["l2_max"], n_l2=_Q["n_l2"], sizes=_Q["sizes"],
                    epochs=_Q["epochs"], batch_size=_Q["batch_size"], lr=_Q["lr"], ensemble_size=8, seed=0,
                    eval_mode="sample", target_bits=_Q["target_bits"], dataset=_Q["dataset"], data_dir=None,
                    download=True, train_limit=None, backend=None, force=False, progress=True, plot=True,
                    models=MODELS, log=print, inputs=_Q["inputs"], fixed_release=None, deterministic_lr=None,
                    deterministic_bias=False):
    """Train (or resume) the sweep into ``out``; write the tables and the figure.

    The defaults are :data:`QUICK_SETTINGS`; :data:`PAPER_SETTINGS` holds the paper's,
    :data:`AUTHORS_SETTINGS` the authors' code's: ``fixed_release`` (one p for the
    fixed model at every L2; ``None``: the plastic model's mean p at the same L2),
    ``deterministic_lr`` (``None``: ``lr``) and ``deterministic_bias``.

    Returns a dict with ``'records'``, ``'trained'`` (networks trained by this
    call), ``'skipped'``, ``'energy_at_target'`` (per model), ``'comparison'``
    (the level of :func:`comparison_level`, ``None`` if there is none, and the
    energies there), ``'lines'`` (:func:`comparison_lines`) and ``'figures'``.
    Raises ``ValueError`` for bad settings or a folder of runs saved with
    other settings, and :class:`~minisyn.experiments.kit.CLIError` where
    ``sizes[0]`` or ``batch_size`` does not fit the data.
    """
    be = get_backend(backend)
    l2s = [float(v) for v in (l2_grid(l2_min, l2_max, n_l2) if l2s is None else l2s)]
    if not l2s or min(l2s) < 0:
        raise ValueError(f"L2 strengths must be >= 0, got {l2s}")
    for m in models:
        if m not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {m!r}")
    if "fixed" in models and "plastic" not in models and fixed_release is None:
        raise ValueError("the fixed-release model takes its p from the plastic model: include 'plastic'")
    if int(ensemble_size) < 1 or int(epochs) < 1 or int(batch_size) < 1:
        raise ValueError("ensemble_size, epochs and batch_size must be >= 1")
    if eval_mode not in ("sample", "mean"):
        raise ValueError(f"eval_mode must be 'sample' or 'mean', got {eval_mode!r}")
    if fixed_release is not None and not 0 < float(fixed_release) <= 1:
        raise ValueError(f"fixed_release must lie in (0, 1], got {fixed_release}")
    det_lr = float(lr if deterministic_lr is None else deterministic_lr)
    out = Path(out)
    settings = {"sizes": [int(s) for s in sizes], "epochs": int(epochs), "batch_size": int(batch_size),
                "lr": float(lr), "dataset": dataset, "train_limit": train_limit, "dtype": be.dtype.name,
                "eval_mode": eval_mode, "rule": ENERGY_RULE, "inputs": inputs, "l2_mode": L2_MODE,
                "fixed_release": None if fixed_release is None else float(fixed_release),
                "deterministic_lr": det_lr, "deterministic_bias": bool(deterministic_bias)}
    # runs saved before a setting existed: [0, 1] pixels, the L2 gradient in the rule's g
    # (so those are refused: today's runs put it in the weight decay)
    store = kit.RunStore(out, force, defaults={"inputs": "unit", "l2_mode": "cost", "fixed_release": None,
                                               "deterministic_lr": float(lr), "deterministic_bias": False})
    plan = [(model, l2) for model in models for l2 in l2s]
    saved = {t: store.load(run_key(*t, seed), settings) for t in plan}
    done = {rec["key"]: rec for rec in saved.values() if rec is not None}
    n_todo = len(plan) - len(done)
    log(f"energy-info: {len(plan)} networks ({len(done)} already saved in {store.dir}, {n_todo} to train)")
    data = None
    if n_todo:
        data = kit.prepare_data(dataset, data_dir=data_dir, download=download, train_limit=train_limit,
                                inputs=inputs, seed=seed, backend=be)
        data.check(sizes, batch_size)
        per = max(member_bytes(sizes, batch_size, be.dtype, "deterministic" if m == "deterministic" else "bernoulli",
                               bias=False) for m in models)
        ensemble_size, why = fit_ensemble_size(ensemble_size, per, be)
        if why:
            log(f"energy-info: {why}")
    trained = 0
    for model in models:                                   # plastic first: fixed needs its mean p
        todo = [l2 for l2 in l2s if saved[(model, l2)] is None]
        for start in range(0, len(todo), int(ensemble_size)):
            chunk = todo[start:start + int(ensemble_size)]
            fixed_p = None
            if model == "fixed":
                fixed_p = [done[run_key("plastic", l2, seed)]["mean_p"] if fixed_release is None
                           else float(fixed_release) for l2 in chunk]
            records, _ = train_models(model, be, *data.arrays(), l2s=chunk, sizes=sizes, epochs=epochs,
                                      batch_size=batch_size, lr=det_lr if model == "deterministic" else lr,
                                      seed=seed, fixed_p=fixed_p, eval_mode=eval_mode, progress=progress,
                                      bias=deterministic_bias)
            for rec in records:
                done[rec["key"]] = store.save(rec["key"], rec, settings)
            trained += len(records)
            log(f"  {model}: trained l2 = {', '.join(f'{v:.2e}' for v in chunk)} "
                f"({records[0]['train_seconds']:.1f} s, {records[0]['ms_per_step']:.1f} ms/step)")
    records = [done[run_key(m, l2, seed)] for m in models for l2 in l2s]
    targets = summarise(records, target_bits)
    level = comparison_level(records, target_bits)
    comparison = {"level_bits": level, "target_bits": target_bits,
                  "energy": None if level is None else {m: t["energy"] for m, t in summarise(records, level).items()}}
    lines = comparison_lines(records, target_bits)
    write_csv(out / "energy_info.csv", records)
    write_target_csv(out / "energy_at_information.csv", records, target_bits)
    figures = plot_energy_info(records, out, target_bits, level) if plot else []
    summary = {"settings": settings, "l2s": l2s, "models": list(models), "seed": seed, "backend": be.name,
               "target_bits": target_bits, "energy_at_target": targets, "comparison": comparison,
               "verdict": lines,
               "energy_at_levels": {str(k): v for k, v in energy_at_levels(records, LEVELS_BITS).items()},
               "trained_this_call": trained,
               "runs": [r["key"] for r in records]}
    save_json(out / "energy_info.json", summary)
    return {"records": records, "trained": trained, "skipped": len(records) - trained,
            "energy_at_target": targets, "comparison": comparison, "lines": lines, "figures": figures,
            "summary": summary}


def summarise(records, target_bits, models=MODELS):
    """Energy at ``target_bits`` for each model (of ``models``) present in ``records``."""
    out = {}
    for model in models:
        rows = [r for r in records if r["model"] == model]
        if rows:
            res = energy_at_information([r["energy"] for r in rows], [r["information_bits"] for r in rows],
                                        target_bits)
            res["max_information_bits"] = max(r["information_bits"] for r in rows)
            out[model] = res
    return out


CSV_COLUMNS = ("key", "model", "l2", "seed", "status", "information_bits", "energy", "mean_activity",
               "test_accuracy", "test_accuracy_mean", "mean_p", "fixed_p", "final_loss", "final_train_acc",
               "ms_per_step")


def write_csv(path, records):
    save_csv(path, CSV_COLUMNS, [[r.get(k) for k in CSV_COLUMNS] for r in records])


def energy_at_levels(records, levels):
    """``{level: summarise(records, level)}`` for every information level."""
    return {float(v): summarise(records, v) for v in levels}


def write_target_csv(path, records, target_bits, levels=LEVELS_BITS):
    """Energy each model needs for ``target_bits`` and for further ``levels`` (one row per model and level)."""
    rows = []
    for level in sorted(set(levels) | {float(target_bits)}):
        for model, t in summarise(records, level).items():
            rows.append((model, str(level), repr(t["energy"]), t["status"], repr(t["max_information_bits"]),
                         int(level == float(target_bits))))
    save_csv(path, ("model", "information_bits", "energy", "status", "max_information_bits", "is_target"), rows)


COLOURS = {"plastic": "tab:red", "fixed": "tab:blue", "deterministic": "0.3"}
LABELS = {"plastic": "plastic stochastic release", "fixed": "fixed release (mean p)",
          "deterministic": "deterministic (p = 1)"}


_AUTO = object()


def plot_energy_info(records, out, target_bits=DEFAULT_TARGET_BITS, level=_AUTO):
    """Fig. 1: information against energy (all three models on one axes), plus
    accuracy and mean activity against energy. Returns the file paths.

    The crosses mark each model's energy at the comparison ``level``
    (:func:`comparison_level` unless given; ``None``: no crosses); a target
    that not every model reaches is drawn as a fainter line."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator

    plt = pyplot()

    out = Path(out)
    if level is _AUTO:
        level = comparison_level(records, target_bits)
    at = summarise(records, level) if level is not None else {}
    fig, axes = plt.subplots(1, 3, figsize=(11.5, 3.4), constrained_layout=True)
    for model in MODELS:
        rows = sorted((r for r in records if r["model"] == model), key=lambda r: r["energy"])
        if not rows:
            continue
        e = np.array([r["energy"] for r in rows])
        for ax, key in zip(axes, ("information_bits", "test_accuracy", "mean_activity")):
            v = np.array([r[key] for r in rows])
            ok = np.isfinite(e) & np.isfinite(v) & (e > 0)
            ax.plot(e[ok], v[ok], "o-", ms=3.5, color=COLOURS[model], label=LABELS[model])
        t = at.get(model)
        if t and t["status"] == "interpolated":
            axes[0].plot([t["energy"]], [level], "x", color=COLOURS[model], ms=8, mew=2)
    if level is not None:
        axes[0].axhline(level, color="0.6", lw=0.8, ls="--", label=f"compared at {level:g} bits")
    if level != float(target_bits):
        axes[0].axhline(target_bits, color="0.8", lw=0.8, ls="-.",
                        label=f"target {target_bits:g} bits (not passed by every model)")
    axes[0].axhline(np.log2(10), color="0.85", lw=0.8, ls=":")
    axes[0].set_ylim(0, np.log2(10) * 1.04)          # 0 to log2(10) bits: all the information there is
    axes[1].set_ylim(0, 1)
    axes[2].set_ylim(bottom=0)
    for ax, label in zip(axes, ("mutual information I(Y; Yhat) [bits]", "test accuracy", "mean hidden rate")):
        ax.set_xscale("log")
        # energies span about one decade: label 1, 2, 5 x 10^k in plain numbers, no minor labels
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        no_minor_labels(ax)
        ax.set_xlabel(r"energy $\sum_i |m_i|$")
        ax.set_ylabel(label)
    axes[0].set_title("a  information vs energy", loc="left", fontsize=10)
    axes[1].set_title("accuracy", loc="left", fontsize=10)
    axes[2].set_title("activity", loc="left", fontsize=10)
    axes[0].legend(fontsize=7, frameon=False, loc="lower right")
    return save_figure(fig, out, "fig1_energy_information", dpi=120)


def print_table(records, target_bits, file=None):
    """The networks, then :func:`comparison_lines` (the energies at the comparison level)."""
    print(f"{'model':>13s} {'l2':>9s} {'I [bits]':>8s} {'energy':>9s} {'acc':>6s} {'rate':>7s} {'mean p':>6s}",
          file=file)
    for r in records:
        print(f"{r['model']:>13s} {r['l2']:9.2e} {r['information_bits']:8.3f} {r['energy']:9.1f} "
              f"{r['test_accuracy']:6.3f} {r['mean_activity']:7.4f} {r['mean_p']:6.3f}", file=file)
    for line in comparison_lines(records, target_bits):
        print(line, file=file)


# -- the command line -------------------------------------------------------------
def _preset(name):
    """'(quick: Q; --paper: P)' for an option's help."""
    show = lambda v: ",".join(str(x) for x in v) if isinstance(v, tuple) else f"{v:g}"  # noqa: E731
    return f"(quick: {show(QUICK_SETTINGS[name])}; --paper: {show(PAPER_SETTINGS[name])})"


def register(sub):
    q = QUICK_SETTINGS
    p = sub.add_parser(
        "energy-info", formatter_class=kit.Formatter,
        help="information against energy for plastic, fixed and no release noise (Fig. 1, §B3)",
        description="Sweep the L2 strength (objective CE + (l2/2)|m|^2) for three models: plastic stochastic "
                    "release (presynaptic rule, d_up = d_down = 0.07, g_lim = 1e-3), fixed release at the "
                    "plastic model's mean p, and deterministic synapses (p = 1, SGD). Measure the mutual "
                    "information I(Y; Yhat) from the soft confusion matrix, the energy sum|m|, the mean "
                    "hidden rate and the accuracy on the test set (MODEL.md §B3), and compare the energy "
                    "each model needs for the same information.\n\n"
                    "The default is a quick preset (about half a minute of one core): the embedded 5,000 "
                    f"digits, standardised pixels, a {'-'.join(map(str, q['sizes']))} network, {q['epochs']} "
                    f"epochs at lr {q['lr']:g} (1,500 steps, so that release probabilities separate), "
                    f"{q['n_l2']} L2 values from {q['l2_min']:g} to {q['l2_max']:g}, compared at "
                    f"{q['target_bits']:g} bits. It shows plastic release needing the least energy, fixed "
                    "release the most. --paper takes the paper's settings instead (784-200-200-10, 50 epochs "
                    "at lr 0.05, 9 L2 values from 1e-5 to 0.1, compared at 3 bits: hours; add --dataset "
                    "mnist). Options given explicitly override either preset. Where not every model's curve "
                    "passes --target-bits, the models are compared at the highest level below it that all "
                    "pass, and the command says so.\n\n"
                    "Each finished network is saved in <out>/runs/; rerunning resumes. Writes "
                    "energy_info.csv, energy_info.json, energy_at_information.csv and "
                    "fig1_energy_information.png/pdf.",
        epilog="examples:\n"
               "  minisyn energy-info                                  # quick preset (embedded digits)\n"
               "  minisyn energy-info --dataset mnist --data-dir DIR   # quick preset on MNIST: clearer, ~15x longer\n"
               "  minisyn energy-info --paper --dataset mnist --data-dir DIR   # the paper's setting (hours)\n"
               "  minisyn energy-info --authors --dataset mnist --data-dir DIR --seed 2019   # the authors' code\n")
    g = p.add_argument_group("sweep")
    g.add_argument("--paper", action="store_true", help="start from the paper's settings instead of the quick preset")
    g.add_argument("--authors", action="store_true",
                   help="start from the settings of the authors' code for Fig. 1 (presynaptic-stochasticity@ba8e41c "
                        "exp_energy.sh, etc/mlp_mnist_energy.json): --paper's, with L2 0, 1e-3, 5e-3, 0.01, 0.05, "
                        "0.1 (exp_energy.sh line 9), the fixed model at p = 0.4 for every L2 (line 18), and the "
                        "deterministic model at lr 0.08 with trained biases (json lines 11-14); "
                        "docs/results/differences.md, B2 and B6-B8. The authors ran seeds 2019-2021 (--seed)")
    g.add_argument("--l2", type=kit.floats, default=None, help="L2 strengths, comma separated (overrides the grid)")
    g.add_argument("--l2-min", type=float, default=None, help="smallest L2 strength " + _preset("l2_min"))
    g.add_argument("--l2-max", type=float, default=None, help="largest L2 strength " + _preset("l2_max"))
    g.add_argument("--n-l2", type=int, default=None, help="number of log-spaced L2 strengths " + _preset("n_l2"))
    g.add_argument("--target-bits", type=float, default=None,
                   help="information level at which to compare the models' energies " + _preset("target_bits"))
    g.add_argument("--eval-mode", choices=("sample", "mean"), default="sample",
                   help="test outputs with sampled release, or with the mean weights")
    g.add_argument("--ensemble-size", type=int, default=8,
                   help="most networks trained at once (lowered to fit in half the available memory)")
    kit.add_inputs_option(g)
    p.set_defaults(inputs=None)                 # from the preset: standardised in both
    g = p.add_argument_group("network and training")
    g.add_argument("--sizes", type=kit.sizes, default=None, help="layer widths " + _preset("sizes"))
    g.add_argument("--epochs", type=int, default=None, help="epochs per network " + _preset("epochs"))
    g.add_argument("--batch-size", type=int, default=None, help="minibatch size " + _preset("batch_size"))
    g.add_argument("--lr", type=float, default=None, help="learning rate of m, all three models " + _preset("lr"))
    kit.add_data_options(p)
    kit.add_run_options(p, default_out="runs/energy-info", resumable=True)
    p.set_defaults(func=run_cli)


def run_cli(args):
    if args.paper and args.authors:
        raise kit.CLIError("--paper and --authors are two presets: give one")
    kit.apply_preset(args, {k: v for k, v in QUICK_SETTINGS.items() if k != "dataset"},
                     {k: v for k, v in (AUTHORS_SETTINGS if args.authors else PAPER_SETTINGS).items()
                      if k != "dataset"}, use_paper=args.paper or args.authors)
    for option in ("--n-l2", "--ensemble-size", "--epochs", "--batch-size"):
        kit.at_least(option, getattr(args, option[2:].replace("-", "_")))
    if args.train_limit is not None:
        kit.at_least("--train-limit", args.train_limit)
    for option in ("--l2-min", "--l2-max", "--lr", "--target-bits"):
        value = getattr(args, option[2:].replace("-", "_"))
        if not value > 0:
            raise kit.CLIError(f"{option} must be > 0, got {value}")
    if args.l2 is not None and min(args.l2) < 0:
        raise kit.CLIError(f"--l2 values must be >= 0, got {args.l2}")
    backend = kit.backend_from_args(args)
    out = kit.out_dir(args)
    result = run_energy_info(out, l2s=args.l2, l2_min=args.l2_min, l2_max=args.l2_max, n_l2=args.n_l2,
                             sizes=args.sizes, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                             ensemble_size=args.ensemble_size, seed=args.seed, eval_mode=args.eval_mode,
                             target_bits=args.target_bits, dataset=args.dataset, data_dir=args.data_dir,
                             download=not args.no_download, train_limit=args.train_limit, backend=backend,
                             force=args.force, progress=not args.no_progress,
                             log=lambda m: print(m, file=sys.stderr), inputs=args.inputs,
                             fixed_release=getattr(args, "fixed_release", None),
                             deterministic_lr=getattr(args, "deterministic_lr", None),
                             deterministic_bias=getattr(args, "deterministic_bias", False))
    print_table(result["records"], args.target_bits)
    print(f"trained {result['trained']}, reused {result['skipped']}; results in {out}/")
    return 0
