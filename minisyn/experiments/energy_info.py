"""Energy against information for three release models (MODEL.md §B3; Fig. 1 of the second paper).

An L2 sweep trains, for every regularisation strength ``l2``, three networks
of Bernoulli-type synapses (784-200-200-10, ReLU, no biases, minibatch 100,
learning rate 0.05):

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
energy needed to reach a target information (3 bits by default).
``minisyn energy-info`` and ``demos/fig1_energy_information.py`` call
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

__all__ = ["MODELS", "ENERGY_RULE", "QUICK_SETTINGS", "PAPER_SETTINGS", "l2_grid", "run_key",
           "train_models", "test_probabilities", "energy_at_information", "run_energy_info", "write_csv",
           "plot_energy_info", "print_table", "register", "run_cli"]

MODELS = ("plastic", "fixed", "deterministic")
# the energy-experiment values of the presynaptic rule (MODEL.md §B2)
ENERGY_RULE = dict(d_up=0.07, d_down=0.07, g_lim=1e-3, p_min=0.25, p_freeze=1.0, lr_factor=False)
# quick: the embedded 5,000 digits, 5 epochs, 5 L2 values
QUICK_SETTINGS = dict(dataset="embedded", sizes=(784, 200, 200, 10), l2_min=1e-3, l2_max=2e-1, n_l2=5,
                      epochs=5, batch_size=100, lr=0.05)
# the paper's setting: full MNIST, 50 epochs (the L2 grid is ours: the paper does not list it)
PAPER_SETTINGS = dict(dataset="mnist", sizes=(784, 200, 200, 10), l2_min=1e-5, l2_max=1e-1, n_l2=9,
                      epochs=50, batch_size=100, lr=0.05, inputs="standardized")
DEFAULT_TARGET_BITS = 3.0
# further information levels tabulated next to the target (a quick run may not reach 3 bits)
LEVELS_BITS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0)


def l2_grid(l2_min=1e-3, l2_max=2e-1, n_l2=5):
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


def train_models(model, backend, x, y, x_test, y_test, *, l2s, sizes=(784, 200, 200, 10), epochs=3,
                 batch_size=100, lr=0.05, seed=0,
                 fixed_p=None, eval_mode="sample", progress=False):
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
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    be = backend
    K = len(l2s)
    n = x.shape[0]
    decay = [float(v) for v in l2s]
    if model == "deterministic":
        net = MLP(sizes, "deterministic", be, seed=[seed] * K, ensemble=K, bias=False)
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


# How the L2 term reaches the release-probability rule: "weight_decay" (the
# rule sees the cross-entropy gradient alone) or "cost" (runs saved before
# this setting existed, where the L2 gradient was part of ``g``).
L2_MODE = "weight_decay"


def run_energy_info(out, *, l2s=None, l2_min=1e-3, l2_max=2e-1, n_l2=5, sizes=(784, 200, 200, 10), epochs=5,
                    batch_size=100, lr=0.05, ensemble_size=8, seed=0, eval_mode="sample",
                    target_bits=DEFAULT_TARGET_BITS, dataset="embedded", data_dir=None, download=True,
                    train_limit=None, backend=None, force=False, progress=True, plot=True, models=MODELS,
                    log=print, inputs="unit"):
    """Train (or resume) the sweep into ``out``; write the tables and the figure.

    Returns a dict with ``'records'``, ``'trained'`` (networks trained by this
    call), ``'skipped'``, ``'energy_at_target'`` (per model) and ``'figures'``.
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
    if "fixed" in models and "plastic" not in models:
        raise ValueError("the fixed-release model takes its p from the plastic model: include 'plastic'")
    if int(ensemble_size) < 1 or int(epochs) < 1 or int(batch_size) < 1:
        raise ValueError("ensemble_size, epochs and batch_size must be >= 1")
    if eval_mode not in ("sample", "mean"):
        raise ValueError(f"eval_mode must be 'sample' or 'mean', got {eval_mode!r}")
    out = Path(out)
    settings = {"sizes": [int(s) for s in sizes], "epochs": int(epochs), "batch_size": int(batch_size),
                "lr": float(lr), "dataset": dataset, "train_limit": train_limit, "dtype": be.dtype.name,
                "eval_mode": eval_mode, "rule": ENERGY_RULE, "inputs": inputs, "l2_mode": L2_MODE}
    # runs saved before a setting existed: [0, 1] pixels, the L2 gradient in the rule's g
    # (so those are refused: today's runs put it in the weight decay)
    store = kit.RunStore(out, force, defaults={"inputs": "unit", "l2_mode": "cost"})
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
                fixed_p = [done[run_key("plastic", l2, seed)]["mean_p"] for l2 in chunk]
            records, _ = train_models(model, be, *data.arrays(), l2s=chunk, sizes=sizes, epochs=epochs,
                                      batch_size=batch_size, lr=lr, seed=seed, fixed_p=fixed_p,
                                      eval_mode=eval_mode, progress=progress)
            for rec in records:
                done[rec["key"]] = store.save(rec["key"], rec, settings)
            trained += len(records)
            log(f"  {model}: trained l2 = {', '.join(f'{v:.2e}' for v in chunk)} "
                f"({records[0]['train_seconds']:.1f} s, {records[0]['ms_per_step']:.1f} ms/step)")
    records = [done[run_key(m, l2, seed)] for m in models for l2 in l2s]
    targets = summarise(records, target_bits)
    write_csv(out / "energy_info.csv", records)
    write_target_csv(out / "energy_at_information.csv", records, target_bits)
    figures = plot_energy_info(records, out, target_bits, targets) if plot else []
    summary = {"settings": settings, "l2s": l2s, "models": list(models), "seed": seed, "backend": be.name,
               "target_bits": target_bits, "energy_at_target": targets,
               "energy_at_levels": {str(k): v for k, v in energy_at_levels(records, LEVELS_BITS).items()},
               "trained_this_call": trained,
               "runs": [r["key"] for r in records]}
    save_json(out / "energy_info.json", summary)
    return {"records": records, "trained": trained, "skipped": len(records) - trained,
            "energy_at_target": targets, "figures": figures, "summary": summary}


def summarise(records, target_bits):
    """Energy at ``target_bits`` for each model present in ``records``."""
    out = {}
    for model in MODELS:
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


def plot_energy_info(records, out, target_bits=DEFAULT_TARGET_BITS, targets=None):
    """Fig. 1: information against energy (all three models on one axes), plus
    accuracy and mean activity against energy. Returns the file paths."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator

    plt = pyplot()

    out = Path(out)
    targets = targets if targets is not None else summarise(records, target_bits)
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
        t = targets.get(model)
        if t and t["status"] == "interpolated":
            axes[0].plot([t["energy"]], [target_bits], "x", color=COLOURS[model], ms=8, mew=2)
    axes[0].axhline(target_bits, color="0.7", lw=0.8, ls="--")
    axes[0].axhline(np.log2(10), color="0.85", lw=0.8, ls=":")
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
    axes[0].legend(fontsize=7.5, frameon=False)
    return save_figure(fig, out, "fig1_energy_information", dpi=120)


def print_table(records, targets, target_bits, file=None):
    print(f"{'model':>13s} {'l2':>9s} {'I [bits]':>8s} {'energy':>9s} {'acc':>6s} {'rate':>7s} {'mean p':>6s}",
          file=file)
    for r in records:
        print(f"{r['model']:>13s} {r['l2']:9.2e} {r['information_bits']:8.3f} {r['energy']:9.1f} "
              f"{r['test_accuracy']:6.3f} {r['mean_activity']:7.4f} {r['mean_p']:6.3f}", file=file)
    print(f"energy needed for I = {target_bits:g} bits:", file=file)
    for model, t in targets.items():
        value = f"{t['energy']:.1f}" if np.isfinite(t["energy"]) else "—"
        note = {"interpolated": "", "below_lowest": " (reached at the lowest energy: an upper bound)",
                "not_reached": f" (not reached; at most {t['max_information_bits']:.3f} bits)"}[t["status"]]
        print(f"  {model:>13s}: {value}{note}", file=file)


# -- the command line -------------------------------------------------------------
def register(sub):
    q = QUICK_SETTINGS
    p = sub.add_parser(
        "energy-info", formatter_class=kit.Formatter,
        help="information against energy for plastic, fixed and no release noise (Fig. 1, §B3)",
        description="Sweep the L2 strength (objective CE + (l2/2)|m|^2) for three models: plastic stochastic "
                    "release (presynaptic rule, d_up = d_down = 0.07, g_lim = 1e-3), fixed release at the "
                    "plastic model's mean p, and deterministic synapses (p = 1, SGD). Measure the mutual "
                    "information I(Y; Yhat) from the soft confusion matrix, the energy sum|m|, the mean "
                    "hidden rate and the accuracy on the test set (MODEL.md §B3).\n\n"
                    "Each finished network is saved in <out>/runs/; rerunning resumes. Writes "
                    "energy_info.csv, energy_info.json, energy_at_information.csv and "
                    "fig1_energy_information.png/pdf.",
        epilog="examples:\n"
               "  minisyn energy-info                                # quick: embedded data, 5 epochs\n"
               "  minisyn energy-info --dataset mnist --data-dir DIR --epochs 50 \\\n"
               "      --l2-min 1e-5 --l2-max 1e-1 --n-l2 9 --inputs standardized   # the paper's setting\n")
    g = p.add_argument_group("sweep")
    g.add_argument("--l2", type=kit.floats, default=None, help="L2 strengths, comma separated (overrides the grid)")
    g.add_argument("--l2-min", type=float, default=q["l2_min"], help="smallest L2 strength")
    g.add_argument("--l2-max", type=float, default=q["l2_max"], help="largest L2 strength")
    g.add_argument("--n-l2", type=int, default=q["n_l2"], help="number of log-spaced L2 strengths")
    g.add_argument("--target-bits", type=float, default=DEFAULT_TARGET_BITS,
                   help="information level at which to compare the models' energies")
    g.add_argument("--eval-mode", choices=("sample", "mean"), default="sample",
                   help="test outputs with sampled release, or with the mean weights")
    g.add_argument("--ensemble-size", type=int, default=8,
                   help="most networks trained at once (lowered to fit in half the available memory)")
    kit.add_inputs_option(g)
    g = p.add_argument_group("network and training")
    g.add_argument("--sizes", type=kit.sizes, default=list(q["sizes"]), help="layer widths")
    g.add_argument("--epochs", type=int, default=q["epochs"], help="epochs per network (paper: 50)")
    g.add_argument("--batch-size", type=int, default=q["batch_size"], help="minibatch size")
    g.add_argument("--lr", type=float, default=q["lr"], help="learning rate of m (all three models)")
    kit.add_data_options(p)
    kit.add_run_options(p, default_out="runs/energy-info", resumable=True)
    p.set_defaults(func=run_cli)


def run_cli(args):
    for option in ("--n-l2", "--ensemble-size", "--epochs", "--batch-size"):
        kit.at_least(option, getattr(args, option[2:].replace("-", "_")))
    if args.train_limit is not None:
        kit.at_least("--train-limit", args.train_limit)
    backend = kit.backend_from_args(args)
    out = kit.out_dir(args)
    result = run_energy_info(out, l2s=args.l2, l2_min=args.l2_min, l2_max=args.l2_max, n_l2=args.n_l2,
                             sizes=args.sizes, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                             ensemble_size=args.ensemble_size, seed=args.seed, eval_mode=args.eval_mode,
                             target_bits=args.target_bits, dataset=args.dataset, data_dir=args.data_dir,
                             download=not args.no_download, train_limit=args.train_limit, backend=backend,
                             force=args.force, progress=not args.no_progress,
                             log=lambda m: print(m, file=sys.stderr), inputs=args.inputs)
    print_table(result["records"], result["energy_at_target"], args.target_bits)
    print(f"trained {result['trained']}, reused {result['skipped']}; results in {out}/")
    return 0
