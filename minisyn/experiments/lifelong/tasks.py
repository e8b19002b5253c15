"""Task sequences of lifelong learning (MODEL.md §B5): builders, schedules, the minibatch stream.

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
  (:func:`continuous_schedule`).

Tasks are rows of host arrays; :class:`DeviceTasks` holds the base inputs on
a backend and builds each minibatch and each task's test accuracy from them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PROTOCOLS", "SPLIT_PAIRS", "EVAL_MODES", "PREDICTIVE_SAMPLES", "Task", "split_tasks", "permutations",
           "permuted_tasks", "continuous_schedule", "transition_starts", "batch_stream", "build_tasks",
           "scores_for", "DeviceTasks"]

PROTOCOLS = ("split", "permuted", "continuous")
SPLIT_PAIRS = ((0, 1), (2, 3), (4, 5), (6, 7), (8, 9))
EVAL_MODES = ("sample", "mean", "predictive")
PREDICTIVE_SAMPLES = 10  # release samples averaged by eval_mode='predictive' (the authors' test_samples)


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
    """The tasks of ``protocol`` (one of :data:`PROTOCOLS`) over the base labels."""
    if protocol == "split":
        return split_tasks(y_train, y_test)
    if protocol in ("permuted", "continuous"):
        return permuted_tasks(y_train, y_test, n_tasks, n_pixels, seed, permute_first)
    raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")


def scores_for(net, x, mode):
    """Class scores whose argmax is the prediction under ``mode`` (one of :data:`EVAL_MODES`)."""
    if mode == "predictive":
        return net.predict_proba(x, "sample", PREDICTIVE_SAMPLES)
    return net.forward(x, mode)


class DeviceTasks:
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
