"""Lifelong learning with presynaptic consolidation (MODEL.md §B5; Figs. 4 and 5a).

Protocols (task builders work on any MNIST-like data set: ``embedded``,
``mnist``, ``fashion-mnist``):

- ``split``: 5 tasks, digit pairs (0,1) (2,3) (4,5) (6,7) (8,9); the label is
  which digit of the pair (0: the even one, 1: the odd one), 2 outputs, one
  shared head (:func:`split_tasks`).
- ``permuted``: ``n_tasks`` tasks, each a fixed random pixel permutation
  seeded by the run's seed; by default task 1 is the *identity* (the original
  images), ``permute_first=True`` permutes it too; 10 outputs
  (:func:`permuted_tasks`).
- ``continuous``: the permuted tasks presented as one stream of minibatches in
  which consecutive tasks blend: over a transition of ``T`` steps the share of
  the new task's examples in a minibatch rises linearly from 0 to 1
  (:func:`continuous_schedule`). No method is told where a task ends (EWC,
  which needs a task switch, consolidates at the nominal boundaries).

Methods (:data:`METHODS`):

- ``presynaptic``: Bernoulli synapses and the presynaptic rule with
  consolidation (``m <- m - eta (1 - p) g``, ``p`` frozen at ``p >= p_freeze``),
  the lifelong values of §B2 (:data:`LIFELONG_RULE`);
- ``sgd``: deterministic synapses, plain SGD (the "standard" model);
- ``ewc``: deterministic synapses, SGD on the cross-entropy plus the EWC
  penalty :class:`minisyn.baselines.EWC` (Fisher stored after each task);
- ``bgd``: deterministic network whose weights are the means of
  :class:`minisyn.baselines.BGD` (Zeno et al. 2018);
- ``no-consolidation`` (ablation): Bernoulli synapses and presynaptic
  plasticity, but no ``(1 - p)`` factor and no freezing;
- ``ghost`` (ablation): ``p`` evolves by §B2 and scales the learning rate, but
  the forward pass releases with a fixed probability 0.5.

Every network has no biases (§B1). Per run (protocol, method, seed) the result
is the accuracy matrix ``acc[i, j]`` (test accuracy on task ``j`` after task
``i``), the first task's test accuracy every ``eval_every`` steps, and the final
mean accuracy ``mean_j acc[-1, j]``. Each finished run is saved atomically as
``<out>/runs/<protocol>_<method>_seed<seed>.json``; running again skips the runs
already saved (resume). Data stay on the host (numpy) until they are moved
to the backend once; all model arithmetic runs through ``be.xp``.
"""
from __future__ import annotations

import csv
import io
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minisyn.output import pyplot

__all__ = ["PROTOCOLS", "METHODS", "LIFELONG_RULE", "PAPER_SETTINGS", "QUICK_SETTINGS", "Task",
           "split_tasks", "permuted_tasks", "continuous_schedule", "batch_stream", "run_one", "run_key",
           "run_lifelong", "summarise", "write_summary_csv", "plot_matrices", "plot_summary", "load_data",
           "register"]

PROTOCOLS = ("split", "permuted", "continuous")

#: method name -> (label for tables and figures, colour)
METHODS = {
    "presynaptic": ("presynaptic consolidation", "C1"),
    "sgd": ("standard (deterministic SGD)", "C7"),
    "ewc": ("EWC", "C0"),
    "bgd": ("BGD", "C2"),
    "no-consolidation": ("no consolidation (ablation)", "C3"),
    "ghost": ("ghost release p=0.5 (ablation)", "C4"),
}
BERNOULLI_METHODS = ("presynaptic", "no-consolidation", "ghost")
EVAL_MODES = ("sample", "mean", "predictive")
PREDICTIVE_SAMPLES = 10  # release samples averaged by eval_mode='predictive' (the authors' test_samples)

#: Presynaptic-rule values for lifelong learning (MODEL.md §B2, the authors' configs).
LIFELONG_RULE = dict(d_up=0.0520, d_down=0.0516, g_lim=1e-3, p_min=0.25, p_freeze=0.9353, lr_factor=True)
#: Learning rate of the expected strengths (§B2): 1e-3 for Split, 1e-2 for Permuted MNIST.
PAPER_LR = {"split": 1e-3, "permuted": 1e-2, "continuous": 1e-2}

# The paper (§B1, §B5): 784-200-200-out, minibatch 100, 10 epochs a task, full MNIST.
PAPER_SETTINGS = dict(dataset="mnist", hidden=(200, 200), epochs=10, batch_size=100, n_tasks=10,
                      lr=None, seeds=(0, 1, 2, 3, 4), fisher_samples=1000, bgd_samples=10, bgd_eta=1.0,
                      bgd_sigma=0.06, ewc_lambda=1000.0)
# Quick: the embedded 5,000-digit sample, a smaller net, larger steps (few steps a task).
QUICK_SETTINGS = dict(dataset="embedded", hidden=(100, 100), epochs=5, batch_size=50, n_tasks=5,
                      lr={"split": 0.05, "permuted": 0.05, "continuous": 0.05}, seeds=(0, 1, 2),
                      fisher_samples=200, bgd_samples=4, bgd_eta=10.0, bgd_sigma=0.06, ewc_lambda=100.0)


# ---------------------------------------------------------------------------------------------
# Tasks
@dataclass
class Task:
    """One task: examples of the base data set, their task labels and a pixel permutation.

    Attributes
    ----------
    name : str
    train_idx, test_idx : ndarray of int
        Rows of the base training / test inputs that belong to the task.
    train_y, test_y : ndarray of int
        Task labels of those rows.
    perm : ndarray of int or None
        Pixel permutation applied to the inputs (``x[:, perm]``); None: identity.
    """

    name: str
    train_idx: np.ndarray
    train_y: np.ndarray
    test_idx: np.ndarray
    test_y: np.ndarray
    perm: np.ndarray | None = None


SPLIT_PAIRS = ((0, 1), (2, 3), (4, 5), (6, 7), (8, 9))


def split_tasks(y_train, y_test, pairs=SPLIT_PAIRS):
    """Split MNIST: one task per digit pair; the label is which digit of the pair (0 or 1)."""
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    tasks = []
    for a, b in pairs:
        tr = np.flatnonzero((y_train == a) | (y_train == b))
        te = np.flatnonzero((y_test == a) | (y_test == b))
        if tr.size == 0 or te.size == 0:
            raise ValueError(f"the data hold no examples of the digit pair ({a}, {b})")
        tasks.append(Task(f"{a}/{b}", tr, (y_train[tr] == b).astype(np.int64),
                          te, (y_test[te] == b).astype(np.int64)))
    return tasks


def permutations(n_tasks, n_pixels, seed, permute_first=False):
    """The pixel permutations of Permuted MNIST, fixed by ``seed`` (task 1: identity unless ``permute_first``)."""
    rng = np.random.default_rng([int(seed), 2718])
    perms = [rng.permutation(n_pixels) for _ in range(int(n_tasks))]
    if not permute_first:
        perms[0] = np.arange(n_pixels)
    return perms


def permuted_tasks(y_train, y_test, n_tasks, n_pixels, seed, permute_first=False):
    """Permuted MNIST: ``n_tasks`` tasks over all examples and labels (0..9), one permutation each."""
    if int(n_tasks) < 1:
        raise ValueError(f"n_tasks must be >= 1, got {n_tasks}")
    y_train, y_test = np.asarray(y_train, np.int64), np.asarray(y_test, np.int64)
    tr, te = np.arange(len(y_train)), np.arange(len(y_test))
    perms = permutations(n_tasks, n_pixels, seed, permute_first)
    return [Task(f"perm {k + 1}", tr, y_train, te, y_test, None if (k == 0 and not permute_first) else perm)
            for k, perm in enumerate(perms)]


def continuous_schedule(n_tasks, steps_per_task, transition):
    """Share of each task in the minibatch of every step, shape ``(n_tasks * steps_per_task, n_tasks)``.

    Task ``k`` nominally owns steps ``[k S, (k + 1) S)``. The transition from
    task ``k`` to ``k + 1`` lasts ``transition`` steps centred on the boundary
    ``(k + 1) S``; over it the share of task ``k + 1`` rises linearly from 0
    (first transition step) to 1 (last), ``j / (T - 1)``; the rest belongs to
    task ``k``. ``transition`` 0 or 1 gives abrupt switches.
    """
    n_tasks, S, T = int(n_tasks), int(steps_per_task), int(transition)
    if n_tasks < 1 or S < 1:
        raise ValueError("need n_tasks >= 1 and steps_per_task >= 1")
    if not 0 <= T <= S:
        raise ValueError(f"transition must lie between 0 and steps_per_task ({S}), got {T}")
    shares = np.zeros((n_tasks * S, n_tasks))
    owner = np.arange(n_tasks * S) // S
    shares[np.arange(n_tasks * S), owner] = 1.0
    if T >= 2:
        ramp = np.arange(T) / (T - 1)
        for k in range(n_tasks - 1):
            steps = (k + 1) * S - T // 2 + np.arange(T)
            shares[steps] = 0.0
            shares[steps, k + 1] = ramp
            shares[steps, k] = 1.0 - ramp
    return shares


def transition_starts(n_tasks, steps_per_task, transition):
    """Step after which the accuracy row of task ``i`` is recorded: just before the next transition begins."""
    T = int(transition) if int(transition) >= 2 else 0
    ends = [(k + 1) * int(steps_per_task) - T // 2 for k in range(int(n_tasks) - 1)]
    return ends + [int(n_tasks) * int(steps_per_task)]


def batch_stream(tasks, shares, batch_size, rng):
    """Minibatch compositions: for each step, a list of ``(task, rows of the task)``.

    A step draws ``round(share * B)`` examples from each task (the largest
    share takes the rounding remainder); each task's examples are visited in
    a fresh random order per pass, so an abrupt schedule of ``E * (n // B)``
    steps a task is ``E`` epochs.
    """
    orders = [rng.permutation(len(t.train_idx)) for t in tasks]
    pos = [0] * len(tasks)
    for row in shares:
        counts = np.floor(row * batch_size + 1e-9).astype(int)
        counts[int(np.argmax(row))] += batch_size - counts.sum()
        batch = []
        for k in np.flatnonzero(counts):
            n, c = len(orders[k]), int(counts[k])
            take = []
            while c > 0:
                if pos[k] >= n:
                    orders[k], pos[k] = rng.permutation(n), 0
                m = min(c, n - pos[k])
                take.append(orders[k][pos[k]:pos[k] + m])
                pos[k] += m
                c -= m
            batch.append((int(k), np.concatenate(take)))
        yield batch


def build_tasks(protocol, y_train, y_test, n_pixels, seed, n_tasks=10, permute_first=False):
    if protocol == "split":
        return split_tasks(y_train, y_test)
    if protocol in ("permuted", "continuous"):
        return permuted_tasks(y_train, y_test, n_tasks, n_pixels, seed, permute_first)
    raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")


# ---------------------------------------------------------------------------------------------
# One run
def scores_for(net, x, mode):
    """Class scores whose argmax is the prediction under ``mode`` (one of ``EVAL_MODES``)."""
    if mode == "predictive":
        return net.predict_proba(x, "sample", PREDICTIVE_SAMPLES)
    return net.forward(x, mode)


class _DeviceTasks:
    """Base inputs on the backend, with each task's rows, labels and permutation."""

    def __init__(self, be, x_train, x_test, tasks):
        self.be, self.tasks = be, tasks
        self.x, self.xt = be.floats(x_train), be.floats(x_test)
        self.perm = [None if t.perm is None else be.asarray(np.asarray(t.perm, np.int64)) for t in tasks]
        self.ytr = [be.asarray(t.train_y.astype(np.int64)) for t in tasks]   # indexed by task rows
        self.tr_idx = [be.asarray(t.train_idx.astype(np.int64)) for t in tasks]

    def inputs(self, base, rows, k):
        xb = base[rows]
        return xb if self.perm[k] is None else xb[:, self.perm[k]]

    def batch(self, parts):
        """Inputs and labels of one minibatch ``[(task, task rows), ...]``."""
        xp = self.be.xp
        xs, ys = [], []
        for k, rows in parts:
            r = self.be.asarray(rows.astype(np.int64))
            xs.append(self.inputs(self.x, self.tr_idx[k][r], k))
            ys.append(self.ytr[k][r])
        if len(xs) == 1:
            return xs[0], ys[0]
        return xp.concatenate(xs, axis=0), xp.concatenate(ys, axis=0)

    def task_arrays(self, k, limit=None, test=False):
        """Inputs and labels of task ``k`` (first ``limit`` examples), training or test rows."""
        t = self.tasks[k]
        idx, y = (t.test_idx, t.test_y) if test else (t.train_idx, t.train_y)
        if limit is not None:
            idx, y = idx[:limit], y[:limit]
        return self.inputs(self.xt if test else self.x, self.be.asarray(idx.astype(np.int64)), k), \
            self.be.asarray(y.astype(np.int64))

    def accuracy(self, net, k, mode, chunk=2000):
        """Test accuracy of ``net`` on task ``k`` (host float)."""
        t = self.tasks[k]
        correct = 0.0
        for s in range(0, len(t.test_idx), chunk):
            rows = self.be.asarray(t.test_idx[s:s + chunk].astype(np.int64))
            y = self.be.asarray(t.test_y[s:s + chunk].astype(np.int64))
            scores = scores_for(net, self.inputs(self.xt, rows, k), mode)
            correct += self.be.scalar((scores.argmax(axis=-1) == y).sum())
        return correct / len(t.test_idx)


def make_method(method, sizes, be, seed, lr, *, rule=None, ewc_lambda=100.0, fisher_mode="mean",
                bgd_eta=1.0, bgd_sigma=0.02, bgd_samples=10):
    """Network and update for one method; returns ``(net, step, on_task_end)``.

    ``step(x, onehot)`` does one training step on a minibatch; ``on_task_end(x, y)``
    is called with a task's training data after it (EWC's consolidation).
    """
    from minisyn.baselines import BGD, EWC
    from minisyn.network import MLP
    from minisyn.optim import SGD
    from minisyn.rules import PresynapticRule

    if method not in METHODS:
        raise ValueError(f"method must be one of {tuple(METHODS)}, got {method!r}")
    rule = dict(LIFELONG_RULE if rule is None else rule)
    if method in BERNOULLI_METHODS:
        if method == "no-consolidation":
            rule.update(lr_factor=False, p_freeze=1.0)
        net = MLP(sizes, "bernoulli", be, seed=seed, bias=False, p_init=rule["p_min"],
                  release_p=0.5 if method == "ghost" else None)
        opt = PresynapticRule(net.synaptic, lr, be, **rule)
    else:
        net = MLP(sizes, "deterministic", be, seed=seed, bias=False)
        opt = SGD(net.params(), lr, be)
    ewc = EWC(ewc_lambda, mode=fisher_mode) if method == "ewc" else None
    bgd = BGD(net.params(), be, eta=bgd_eta, sigma_init=bgd_sigma, n_samples=bgd_samples,
              seed=int(seed) * 1000 + 7) if method == "bgd" else None

    def step(x, targets):
        net.zero_grad()
        if bgd is not None:
            return bgd.mlp_step(net, x, targets, x.shape[0])
        out = net.objective(x, targets, x.shape[0])
        if ewc is not None and ewc.anchors:
            ewc.add_grad(net)
        opt.step()
        return out["loss"]

    def on_task_end(x, y):
        if ewc is not None:
            ewc.consolidate(net, x, y)

    return net, step, on_task_end


def run_key(protocol, method, seed):
    return f"{protocol}_{method}_seed{int(seed)}"


def run_one(protocol, method, seed, x_train, y_train, x_test, y_test, *, hidden=(100, 100), epochs=5,
            batch_size=100, lr=None, n_tasks=10, permute_first=False, transition=None, eval_every=None,
            eval_mode="sample", eval_limit=None, rule=None, ewc_lambda=100.0, fisher_samples=200,
            bgd_eta=1.0, bgd_sigma=0.06, bgd_samples=10, backend=None, progress=False):
    """Train one method on one protocol; returns a result dict of host numbers.

    Parameters
    ----------
    protocol : {'split', 'permuted', 'continuous'}
    method : one of :data:`METHODS`
    seed : int
        Seeds the initial weights, the synaptic noise, the example order and
        (Permuted) the pixel permutations.
    x_train, x_test : host arrays ``(n, d)`` in [0, 1]; y_train, y_test : host int arrays
    hidden : hidden widths (the paper: 200, 200)
    epochs : passes through each task's training examples (the paper: 10)
    lr : learning rate of SGD and of the rule's expected strengths (default: §B2's 1e-3 / 1e-2)
    transition : steps of a continuous transition (default: half the steps of a task)
    eval_every : steps between evaluations of the first task (default: ~10 per task)
    eval_mode : 'sample' (one release sample, the stochastic network as it runs), 'mean'
        (w = m) or 'predictive' (argmax of the softmax averaged over ``PREDICTIVE_SAMPLES``
        release samples, as the authors' code evaluates); deterministic networks and BGD's
        mean weights are always evaluated as they are
    eval_limit : test examples of the first task used for the curve (None: all)
    fisher_samples : training examples of a task in EWC's Fisher information

    Returns
    -------
    dict with ``matrix`` (n_tasks x n_tasks), ``first_task`` (``step``, ``task``
    (fractional task index), ``acc``), ``final_mean``, ``mean_p``, ``seconds``.
    """
    from minisyn.backend import get_backend
    from minisyn.losses import one_hot

    be = get_backend(backend)
    t0 = time.perf_counter()
    x_train, x_test = np.asarray(x_train, np.float32), np.asarray(x_test, np.float32)
    tasks = build_tasks(protocol, y_train, y_test, x_train.shape[1], seed, n_tasks, permute_first)
    n_out = 2 if protocol == "split" else 10
    sizes = [x_train.shape[1], *[int(h) for h in hidden], n_out]
    lr = PAPER_LR[protocol] if lr is None else float(lr)
    net, step, on_task_end = make_method(
        method, sizes, be, seed, lr, rule=rule, ewc_lambda=ewc_lambda, bgd_eta=bgd_eta, bgd_sigma=bgd_sigma,
        bgd_samples=bgd_samples)
    dev = _DeviceTasks(be, x_train, x_test, tasks)
    K = len(tasks)
    steps_per_task = [int(epochs) * (len(t.train_idx) // int(batch_size)) for t in tasks]
    if min(steps_per_task) < 1:
        raise ValueError(f"a task has fewer than batch_size={batch_size} training examples")
    if protocol == "continuous":
        S = min(steps_per_task)
        T = S // 2 if transition is None else int(transition)
        shares = continuous_schedule(K, S, T)
        row_after = transition_starts(K, S, T)
    else:
        shares = np.concatenate([np.tile(np.eye(K)[k], (s, 1)) for k, s in enumerate(steps_per_task)])
        row_after = list(np.cumsum(steps_per_task))
    total = shares.shape[0]
    eval_every = max(1, min(steps_per_task) // 10) if eval_every is None else max(1, int(eval_every))
    if eval_mode not in EVAL_MODES:
        raise ValueError(f"eval_mode must be one of {', '.join(EVAL_MODES)}, got {eval_mode!r}")
    mode = eval_mode if method in BERNOULLI_METHODS else "mean"
    first_limit = None if eval_limit is None else int(eval_limit)

    def first_acc():
        if first_limit is None:
            return dev.accuracy(net, 0, mode)
        x, y = dev.task_arrays(0, first_limit, test=True)
        return be.scalar((scores_for(net, x, mode).argmax(axis=-1) == y).mean())

    from tqdm.auto import tqdm

    rng = np.random.default_rng([int(seed), 31])
    matrix = np.full((K, K), np.nan)
    curve = {"step": [0], "task": [0.0], "acc": [first_acc()]}
    nominal = np.concatenate([[0], np.cumsum(steps_per_task)]) if protocol != "continuous" \
        else np.arange(K + 1) * shares.shape[0] // K
    row, loss_sum = 0, 0.0
    bar = tqdm(total=total, disable=not progress, unit="step", leave=False, mininterval=0.5)
    try:
        for s, parts in enumerate(batch_stream(tasks, shares, int(batch_size), rng), start=1):
            x, y = dev.batch(parts)
            loss = step(x, one_hot(y, n_out, be.xp, be.dtype))
            if s % eval_every == 0 or s == total:
                loss_sum = be.scalar(loss)
                if not np.isfinite(loss_sum):
                    raise FloatingPointError(f"{method}: the loss became non-finite at step {s}; lower --lr "
                                             "(or --ewc-lambda, --bgd-eta)")
                k = int(np.searchsorted(nominal, s, side="right")) - 1
                frac = k + (s - nominal[min(k, K - 1)]) / max(1, nominal[min(k + 1, K)] - nominal[min(k, K - 1)])
                curve["step"].append(s)
                curve["task"].append(float(min(frac, K)))
                curve["acc"].append(first_acc())
            while row < K and s == row_after[row]:
                matrix[row] = [dev.accuracy(net, j, mode) for j in range(K)]
                if row < K - 1:
                    on_task_end(*dev.task_arrays(row, fisher_samples))
                row += 1
            bar.update(1)
    finally:
        bar.close()
    mean_p = None
    if method in BERNOULLI_METHODS:
        ps = [be.to_numpy(layer.p) for layer in net.synaptic]
        mean_p = float(sum(p.sum() for p in ps) / sum(p.size for p in ps))
    return {"matrix": matrix.tolist(), "first_task": curve, "final_mean": float(np.mean(matrix[-1])),
            "mean_p": mean_p, "steps": int(total), "steps_per_task": steps_per_task,
            "task_names": [t.name for t in tasks], "seconds": time.perf_counter() - t0}


# ---------------------------------------------------------------------------------------------
# Many runs, resume, summaries
def load_data(dataset="embedded", data_dir=None, download=True, train_limit=None, test_limit=None, seed=0):
    """Host arrays ``(x_train, y_train, x_test, y_test, ds)`` in [0, 1]; limits keep a seeded random subset."""
    from minisyn import datasets

    ds = datasets.load_dataset(dataset, data_dir=data_dir, download=download)
    x, y = datasets.preprocess(ds.x_train), np.asarray(ds.y_train, np.int64)
    xt, yt = datasets.preprocess(ds.x_test), np.asarray(ds.y_test, np.int64)
    rng = np.random.default_rng([int(seed), 5])
    if train_limit is not None:
        keep = np.sort(rng.permutation(len(y))[: int(train_limit)])
        x, y = x[keep], y[keep]
    if test_limit is not None:
        keep = np.sort(rng.permutation(len(yt))[: int(test_limit)])
        xt, yt = xt[keep], yt[keep]
    return x, y, xt, yt, ds


# Settings that only change the runs of some methods: a saved run of any other method stays valid
# when they change (so e.g. a new --ewc-lambda retrains EWC alone).
METHOD_SETTINGS = {
    "eval_mode": BERNOULLI_METHODS,
    "rule": BERNOULLI_METHODS,
    "ewc_lambda": ("ewc",),
    "fisher_samples": ("ewc",),
    "bgd_eta": ("bgd",),
    "bgd_sigma": ("bgd",),
    "bgd_samples": ("bgd",),
}


def _config_key(cfg, method=None):
    """The saved configuration as a string, leaving out settings that ``method`` does not use."""
    cfg = dict(cfg or {})
    if method is not None:
        for name, users in METHOD_SETTINGS.items():
            if method not in users:
                cfg.pop(name, None)
    return json.dumps(cfg, sort_keys=True, default=str)


def run_lifelong(out, protocol, methods, seeds, data, *, force=False, progress=True, **kwargs):
    """Every (method, seed) run of one protocol; saved as ``<out>/runs/<key>.json``, resumed on rerun.

    ``kwargs`` go to :func:`run_one` (they form the saved configuration; a
    saved run with another configuration is an error unless ``force``).
    Returns ``{method: [result per seed]}``.
    """
    from tqdm.auto import tqdm

    from minisyn.cli import save_json

    for m in methods:
        if m not in METHODS:
            raise ValueError(f"unknown method {m!r}: choose from {', '.join(METHODS)}")
    runs_dir = Path(out) / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    cfg = {k: (list(v) if isinstance(v, tuple) else v) for k, v in kwargs.items() if k not in ("backend",)}
    results = {m: [] for m in methods}
    jobs = [(m, s) for m in methods for s in seeds]
    bar = tqdm(jobs, desc=f"lifelong {protocol}", unit="run", disable=not progress)
    for m, s in bar:
        path = runs_dir / f"{run_key(protocol, m, s)}.json"
        if path.exists() and not force:
            saved = json.loads(path.read_text())
            if _config_key(saved.get("config"), m) != _config_key(cfg, m):
                raise ValueError(f"{path} was run with another configuration: choose another --out, "
                                 "or pass --force to rerun")
            results[m].append(saved)
            continue
        bar.set_postfix(method=m, seed=s)
        r = run_one(protocol, m, s, *data, progress=False, **kwargs)
        r.update(protocol=protocol, method=m, seed=int(s), config=cfg, status="finished")
        save_json(path, r)
        results[m].append(r)
    return results


def mean_sd(a, axis=0):
    """Mean and sample SD over seeds (SD 0 for one seed)."""
    a = np.asarray(a, dtype=np.float64)
    sd = a.std(axis=axis, ddof=1) if a.shape[axis] > 1 else np.zeros_like(a.mean(axis=axis))
    return a.mean(axis=axis), sd


def summarise(results):
    """Rows ``{method, label, n_seeds, final_mean, final_sd, first_task_mean, first_task_sd}``."""
    rows = []
    for m, runs in results.items():
        if not runs:
            continue
        final = [r["final_mean"] for r in runs]
        first = [r["matrix"][-1][0] for r in runs]
        fm, fs = mean_sd(final)
        tm, ts = mean_sd(first)
        rows.append({"method": m, "label": METHODS[m][0], "n_seeds": len(runs), "final_mean": float(fm),
                     "final_sd": float(fs), "first_task_mean": float(tm), "first_task_sd": float(ts),
                     "seconds_per_run": float(np.mean([r["seconds"] for r in runs]))})
    return rows


def write_summary_csv(path, rows):
    from minisyn.cli import atomic_write

    buf = io.StringIO()
    keys = ["method", "label", "n_seeds", "final_mean", "final_sd", "first_task_mean", "first_task_sd",
            "seconds_per_run"]
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{r[k]:.6g}" if isinstance(r[k], float) else r[k]) for k in keys})
    atomic_write(path, buf.getvalue())


def format_table(rows, protocol):
    lines = [f"final mean accuracy over tasks ({protocol}), mean ± SD over seeds",
             f"{'method':34s} {'seeds':>5s} {'final mean acc':>17s} {'task 1 at end':>17s} {'s/run':>7s}"]
    for r in rows:
        lines.append(f"{r['label']:34s} {r['n_seeds']:5d} {r['final_mean']:8.4f} ± {r['final_sd']:6.4f} "
                     f"{r['first_task_mean']:8.4f} ± {r['first_task_sd']:6.4f} {r['seconds_per_run']:7.1f}")
    return "\n".join(lines)


def _save_fig(fig, stem):
    fig.savefig(f"{stem}.png", dpi=130)
    fig.savefig(f"{stem}.pdf")


def plot_matrices(results, stem, protocol):
    """Seed-averaged accuracy matrices, one panel per method (PNG and PDF at ``stem``)."""
    plt = pyplot()

    methods = [m for m, runs in results.items() if runs]
    fig, axes = plt.subplots(1, len(methods), figsize=(2.9 * len(methods) + 0.8, 3.1), squeeze=False,
                             constrained_layout=True)
    im = None
    for ax, m in zip(axes[0], methods):
        mat = np.mean([r["matrix"] for r in results[m]], axis=0)
        K = mat.shape[0]
        im = ax.imshow(mat, vmin=0.5 if protocol == "split" else 0.0, vmax=1.0, cmap="viridis")
        for i in range(K):
            for j in range(K):
                if K <= 6:
                    ax.text(j, i, f"{mat[i, j]:.2f}", ha="center", va="center", fontsize=7,
                            color="w" if mat[i, j] < 0.8 else "k")
        ax.set_title(METHODS[m][0], fontsize=8)
        ax.set_xlabel("test task j")
        ax.set_ylabel("after training task i")
        ax.set_xticks(range(K), [str(k + 1) for k in range(K)])
        ax.set_yticks(range(K), [str(k + 1) for k in range(K)])
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="test accuracy")
    _save_fig(fig, stem)
    plt.close(fig)


def plot_summary(results, stem, protocol):
    """First-task accuracy over training (left) and final mean accuracy per method (right)."""
    plt = pyplot()

    methods = [m for m, runs in results.items() if runs]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True,
                                 gridspec_kw={"width_ratios": [1.6, 1]})
    for m in methods:
        label, color = METHODS[m]
        curves = [r["first_task"] for r in results[m]]
        n = min(len(c["acc"]) for c in curves)
        t = np.asarray(curves[0]["task"][:n])
        mu, sd = mean_sd([c["acc"][:n] for c in curves])
        a1.plot(t, mu, color=color, label=label)
        a1.fill_between(t, mu - sd, mu + sd, color=color, alpha=0.2, lw=0)
    K = len(results[methods[0]][0]["matrix"])
    for k in range(1, K):
        a1.axvline(k, color="0.85", lw=0.8, zorder=0)
    a1.set_xlabel("training progress (tasks)")
    a1.set_ylabel("test accuracy on task 1")
    a1.set_title(f"first task during training ({protocol})", fontsize=9)
    a1.legend(fontsize=7, loc="lower left")
    rows = summarise({m: results[m] for m in methods})
    x = np.arange(len(rows))
    a2.bar(x, [r["final_mean"] for r in rows], yerr=[r["final_sd"] for r in rows], capsize=3,
           color=[METHODS[r["method"]][1] for r in rows], alpha=0.85)
    for i, m in enumerate(methods):
        finals = [r["final_mean"] for r in results[m]]
        a2.scatter(np.full(len(finals), i) + np.linspace(-0.15, 0.15, len(finals)), finals, s=8, color="k",
                   zorder=3)
    a2.set_xticks(x, [r["label"].replace(" (", "\n(") for r in rows], rotation=35, ha="right", fontsize=7)
    lo = min(r["final_mean"] - r["final_sd"] for r in rows)
    a2.set_ylim(max(0.0, lo - 0.05), 1.0)
    a2.set_ylabel("final mean accuracy over tasks")
    a2.set_title("mean ± SD over seeds (dots: seeds)", fontsize=9)
    _save_fig(fig, stem)
    plt.close(fig)


def report(out, protocol, results, quiet=False):
    """Write ``<protocol>_summary.csv``/``.json`` and the figures; return the printed table."""
    from minisyn.cli import save_json

    out = Path(out)
    rows = summarise(results)
    write_summary_csv(out / f"{protocol}_summary.csv", rows)
    save_json(out / f"{protocol}_summary.json", {"protocol": protocol, "rows": rows})
    plot_matrices(results, str(out / f"{protocol}_matrices"), protocol)
    plot_summary(results, str(out / f"{protocol}_first_task_and_final"), protocol)
    table = format_table(rows, protocol)
    if not quiet:
        print(table)
    return table


# ---------------------------------------------------------------------------------------------
# Command line
def _list(text):
    return [v.strip() for v in text.split(",") if v.strip()]


def _ints(text):
    return [int(v) for v in _list(text)]


def register(sub):
    from minisyn.cli import _Formatter, add_data_options, add_run_options

    q = QUICK_SETTINGS
    p = sub.add_parser(
        "lifelong", formatter_class=_Formatter,
        help="lifelong learning: Split / Permuted / continuous MNIST (Figs. 4 and 5a)",
        description="Learn tasks one after another (MODEL.md §B5) with presynaptic consolidation "
                    "(Bernoulli synapses, the rule of §B2 with the (1 - p) learning-rate factor and "
                    "freezing), plain SGD, EWC, BGD and the two ablations (no consolidation; ghost "
                    "release probabilities).\n\nPer method and seed: the accuracy matrix acc[i, j] (task j "
                    "after task i), the first task's accuracy during training and the final mean "
                    "accuracy. Runs are saved in <out>/runs/ as they finish; rerunning resumes. Writes "
                    "<protocol>_summary.csv/.json and figures (PNG, PDF) to --out.",
        epilog="examples:\n"
               "  minisyn lifelong                                # quick: embedded data, split, 3 seeds\n"
               "  minisyn lifelong --protocol permuted --n-tasks 5\n"
               "  minisyn lifelong --dataset mnist --data-dir DIR --paper --seeds 0,1,2,3,4\n")
    g = p.add_argument_group("protocol")
    g.add_argument("--protocol", choices=PROTOCOLS, default="split", help="task sequence")
    g.add_argument("--methods", type=_list, default=list(METHODS),
                   help=f"comma separated, from: {', '.join(METHODS)}")
    g.add_argument("--seeds", type=_ints, default=None, help="comma separated seeds (default: --seed and the "
                   "next ones, --n-seeds in all)")
    g.add_argument("--n-seeds", type=int, default=len(q["seeds"]), help="number of seeds when --seeds is not given")
    g.add_argument("--n-tasks", type=int, default=None,
                   help=f"permuted/continuous: number of tasks (default {q['n_tasks']}; paper 10, --paper)")
    g.add_argument("--permute-first", action="store_true",
                   help="permuted: permute task 1 too (default: task 1 is the original images)")
    g.add_argument("--transition", type=int, default=None,
                   help="continuous: steps over which one task blends into the next (default: half a task)")
    g.add_argument("--paper", action="store_true",
                   help="the paper's settings: hidden 200,200, 10 epochs a task, minibatch 100, lr 1e-3 "
                        "(split) / 1e-2 (permuted), 10 permuted tasks, Fisher on 1000 examples, BGD K=10")
    g = p.add_argument_group("network and training")
    g.add_argument("--sizes", type=_ints, default=None,
                   help=f"hidden widths, comma separated (default {','.join(map(str, q['hidden']))}; paper 200,200)")
    g.add_argument("--epochs-per-task", type=int, default=None, help=f"default {q['epochs']} (paper 10)")
    g.add_argument("--batch-size", type=int, default=None, help=f"default {q['batch_size']} (paper 100)")
    g.add_argument("--lr", type=float, default=None,
                   help="learning rate of SGD, EWC and the rule's strengths (default 0.05 quick; paper "
                        "1e-3 split, 1e-2 permuted)")
    g.add_argument("--eval-mode", choices=EVAL_MODES, default="sample",
                   help="Bernoulli networks: evaluate with one release sample, the mean weights, or the "
                        f"softmax averaged over {PREDICTIVE_SAMPLES} release samples ('predictive', as "
                        "the authors' code)")
    g.add_argument("--eval-every", type=int, default=None, help="steps between first-task evaluations")
    g.add_argument("--test-limit", type=int, default=None, help="use a random subset of the test set")
    g = p.add_argument_group("baselines")
    g.add_argument("--ewc-lambda", type=float, default=None, help=f"EWC penalty strength lam (default {q['ewc_lambda']:g}; 1000 with --paper)")
    g.add_argument("--fisher-samples", type=int, default=None,
                   help=f"training examples per task in EWC's Fisher (default {q['fisher_samples']})")
    g.add_argument("--bgd-eta", type=float, default=None,
                   help=f"BGD mean learning rate (default {q['bgd_eta']:g} quick, 1 with --paper as Zeno et al.)")
    g.add_argument("--bgd-sigma", type=float, default=None, help=f"BGD initial standard deviation (default {q['bgd_sigma']:g})")
    g.add_argument("--bgd-samples", type=int, default=None, help=f"BGD Monte-Carlo samples K (default {q['bgd_samples']})")
    add_data_options(p)
    add_run_options(p)
    for action in p._actions:
        if action.dest == "out":
            action.help = "output folder (default: runs/lifelong); rerunning into it resumes"
        if action.dest == "force":
            action.help = "rerun runs already saved in --out"
        if action.dest == "seed":
            action.help = "first seed (with --n-seeds)"
    p.set_defaults(func=run_cli)


def settings_from_args(args):
    """run_one keyword arguments from parsed options (quick defaults, or --paper)."""
    base = PAPER_SETTINGS if args.paper else QUICK_SETTINGS
    lr = args.lr
    if lr is None:
        lr = PAPER_LR[args.protocol] if base["lr"] is None else base["lr"][args.protocol]
    return dict(
        hidden=list(args.sizes or base["hidden"]), epochs=args.epochs_per_task or base["epochs"],
        batch_size=args.batch_size or base["batch_size"], lr=lr, n_tasks=args.n_tasks or base["n_tasks"],
        permute_first=args.permute_first, transition=args.transition, eval_every=args.eval_every,
        eval_mode=args.eval_mode, ewc_lambda=_pick(args.ewc_lambda, base["ewc_lambda"]),
        fisher_samples=args.fisher_samples or base["fisher_samples"], bgd_eta=_pick(args.bgd_eta, base["bgd_eta"]),
        bgd_sigma=_pick(args.bgd_sigma, base["bgd_sigma"]), bgd_samples=args.bgd_samples or base["bgd_samples"])


def _pick(value, default):
    return default if value is None else value


def run_cli(args):
    from minisyn.cli import CLIError, backend_from_args, save_json

    if getattr(args, "val_fraction", 0):
        raise CLIError("--val-fraction is not used by lifelong (tasks are evaluated on the test set)")
    seeds = args.seeds if args.seeds else list(range(args.seed, args.seed + args.n_seeds))
    if not seeds:
        raise CLIError("no seeds given")
    bad = [m for m in args.methods if m not in METHODS]
    if bad or not args.methods:
        raise CLIError(f"unknown method(s) {bad}: choose from {', '.join(METHODS)}")
    kw = settings_from_args(args)
    for name in ("epochs", "batch_size", "n_tasks", "fisher_samples", "bgd_samples"):
        if int(kw[name]) < 1:
            raise CLIError(f"{name.replace('_', '-')} must be >= 1, got {kw[name]}")
    backend = backend_from_args(args)
    dataset = "mnist" if (args.paper and args.dataset == "embedded") else args.dataset
    data = load_data(dataset, args.data_dir, not args.no_download, args.train_limit, args.test_limit)
    out = Path(args.out or Path("runs") / "lifelong")
    out.mkdir(parents=True, exist_ok=True)
    print(f"minisyn lifelong: {args.protocol} on {dataset} ({len(data[1])} training examples), methods "
          f"{', '.join(args.methods)}, seeds {seeds}; results go to {out}/", file=sys.stderr)
    kw.update(backend=backend)
    results = run_lifelong(out, args.protocol, args.methods, seeds, data[:4], force=args.force,
                           progress=not args.no_progress, **kw)
    save_json(out / f"{args.protocol}_config.json",
              {"dataset": dataset, "data_source": str(data[4].source), "seeds": seeds, "methods": args.methods,
               "backend": backend.name, "dtype": backend.dtype.name,
               **{k: v for k, v in kw.items() if k != "backend"}})
    report(out, args.protocol, results)
    print(f"saved in {out}/ ({args.protocol}_summary.csv, figures, runs/)")
    return 0
