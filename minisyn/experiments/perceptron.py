"""Lifelong memorisation with a perceptron of stochastic synapses (MODEL.md §B6; Fig. 5b, c).

A sequence of tasks, each a set of random patterns ``x`` uniform on
``{-1, +1}^N`` with random labels ``y`` in ``{-1, +1}``, is learned one task
after the other by :class:`minisyn.network.Perceptron`: Rosenblatt's rule,
averaged over groups of 5 patterns, with

- Bernoulli synapses and the presynaptic rule with consolidation (the
  ``(1 - p)`` learning-rate factor and freezing of ``p``, §B2, §B5): the
  *stochastic* perceptron;
- deterministic synapses: the *standard* perceptron.

Measured: accuracy on the first task after every pass, the accuracy on every
task after each task, and the final mean accuracy; and, in a sweep, the final
mean accuracy against the load ``n_tasks * n_patterns / (2N)`` (2N is the
capacity of a perceptron).

Patterns live on the host (numpy) and go to the backend once per task; all
model arithmetic runs through the backend's ``xp`` inside ``Perceptron``.
"""
from __future__ import annotations

import numpy as np

from minisyn.backend import get_backend
from minisyn.network import Perceptron

__all__ = ["LIFELONG_RULE", "make_tasks", "task_accuracy", "train_lifelong", "compare", "load_sweep",
           "patterns_for_load"]

#: Presynaptic-rule values for lifelong learning (MODEL.md §B2: the authors' configs).
LIFELONG_RULE = dict(d_up=0.0520, d_down=0.0516, g_lim=1e-3, p_freeze=0.9353, lr_factor=True)


def make_tasks(n_tasks, n_patterns, n_inputs, seed):
    """Random ±1 patterns and labels for ``n_tasks`` tasks (host arrays).

    Returns
    -------
    x : ndarray of shape (n_tasks, n_patterns, n_inputs)
    y : ndarray of shape (n_tasks, n_patterns)
    """
    rng = np.random.default_rng(seed)
    x = rng.choice([-1.0, 1.0], size=(n_tasks, n_patterns, n_inputs))
    y = rng.choice([-1.0, 1.0], size=(n_tasks, n_patterns))
    return x, y


def task_accuracy(net, x, y, mode="sample"):
    """Fraction of patterns ``x`` (backend, ``(P, N)``) classified as ``y``."""
    return net.be.scalar((net.predict(x, mode) == y).mean())


def train_lifelong(n_inputs=1000, n_tasks=5, n_patterns=100, passes=25, group=5, stochastic=True,
                   seed=0, lr=1.0, rule_kwargs=None, eval_mode="sample", backend=None):
    """Learn ``n_tasks`` memorisation tasks one after another (MODEL.md §B6).

    Each pass visits a task's patterns in a fresh random order, in groups of
    ``group`` patterns, one averaged Rosenblatt update per group.

    Parameters
    ----------
    n_inputs : int
        N (capacity 2N patterns).
    n_tasks, n_patterns, passes, group : int
    stochastic : bool
        Stochastic perceptron with consolidation, or the standard one.
    seed : int
        Seeds the patterns, the order of presentation and the synaptic noise;
        the same seed gives both models the same tasks and orders.
    lr : float
    rule_kwargs : dict or None
        Presynaptic-rule settings; default :data:`LIFELONG_RULE`.
    eval_mode : {'sample', 'mean'}
        Accuracy with sampled release (the network as it runs) or mean weights.
    backend : Backend, str or None

    Returns
    -------
    dict with
        ``first_task`` : (n_tasks * passes,) accuracy on task 1 after every pass;
        ``matrix`` : (n_tasks, n_tasks), ``matrix[t, k]`` = accuracy on task k after task t;
        ``mean_accuracy`` : mean of the last row;
        ``train_error`` : (n_tasks * passes,) fraction of misclassified patterns during each pass;
        ``mean_p`` : mean release probability at the end (1 for the standard perceptron).
    """
    if n_patterns % group:
        raise ValueError(f"n_patterns ({n_patterns}) must be a multiple of the group size ({group})")
    be = get_backend(backend)
    xs, ys = make_tasks(n_tasks, n_patterns, n_inputs, seed)
    rng = np.random.default_rng([seed, 1])
    rule = dict(LIFELONG_RULE if rule_kwargs is None else rule_kwargs)
    net = Perceptron(n_inputs, be, seed=seed + 1, stochastic=stochastic, lr=lr, rule_kwargs=rule)
    tasks = [(be.floats(x), be.floats(y)) for x, y in zip(xs, ys)]
    first, errors, matrix = [], [], np.zeros((n_tasks, n_tasks))
    for t, (x, y) in enumerate(tasks):
        for _ in range(passes):
            order = rng.permutation(n_patterns)
            wrong = 0.0
            for start in range(0, n_patterns, group):
                idx = be.asarray(order[start:start + group])
                wrong += be.scalar(net.update(x[idx], y[idx]))
            errors.append(wrong * group / n_patterns)
            first.append(task_accuracy(net, *tasks[0], eval_mode))
        matrix[t] = [task_accuracy(net, xk, yk, eval_mode) for xk, yk in tasks]
    mean_p = float(be.to_numpy(net.layer.p).mean())
    return {"first_task": np.array(first), "matrix": matrix, "mean_accuracy": float(matrix[-1].mean()),
            "train_error": np.array(errors), "mean_p": mean_p}


def compare(seeds, **kwargs):
    """Both perceptrons over several seeds; ``kwargs`` go to :func:`train_lifelong`.

    Returns
    -------
    dict ``{'stochastic': runs, 'standard': runs}``, each a dict of arrays
    stacked over seeds (leading axis ``len(seeds)``).
    """
    out = {}
    for name, stochastic in (("stochastic", True), ("standard", False)):
        runs = [train_lifelong(seed=int(s), stochastic=stochastic, **kwargs) for s in seeds]
        out[name] = {k: np.array([r[k] for r in runs]) for k in runs[0]}
    return out


def patterns_for_load(load, n_inputs, n_tasks, group=5):
    """Patterns per task for a total load ``n_tasks * P / (2N)``, a multiple of ``group`` (at least one group)."""
    p = load * 2 * n_inputs / n_tasks
    return max(group, int(round(p / group)) * group)


def load_sweep(loads, seeds, n_inputs=1000, n_tasks=5, **kwargs):
    """Final mean and first-task accuracy against load for both perceptrons.

    Parameters
    ----------
    loads : sequence of float
        Total load ``n_tasks * n_patterns / (2N)`` (1 = capacity).
    seeds : sequence of int

    Returns
    -------
    dict with ``'load'``, ``'n_patterns'`` and, per model, ``'<model>_mean'``
    and ``'<model>_first'`` arrays of shape ``(len(loads), len(seeds))``.
    """
    n_patterns = [patterns_for_load(f, n_inputs, n_tasks) for f in loads]
    out = {"load": np.array([n_tasks * p / (2 * n_inputs) for p in n_patterns]), "n_patterns": np.array(n_patterns)}
    rows = [compare(seeds, n_inputs=n_inputs, n_tasks=n_tasks, n_patterns=p, **kwargs) for p in n_patterns]
    for name in ("stochastic", "standard"):
        out[f"{name}_mean"] = np.array([r[name]["mean_accuracy"] for r in rows])
        out[f"{name}_first"] = np.array([r[name]["matrix"][:, -1, 0] for r in rows])
    return out
