"""Training and evaluation loops (MODEL.md §A4, §B2).

One step: zero the gradients, evaluate the minibatch objective and its
gradient (:meth:`MLP.objective`), update (an optimiser or the presynaptic
rule). An epoch visits every training example once in a seeded random order.
"""
from __future__ import annotations

import time

import numpy as np

from minisyn.losses import one_hot
from minisyn.optim import SGD, Adam
from minisyn.rules import PresynapticRule

__all__ = ["TrainingDiverged", "make_optimizer", "train", "accuracy", "evaluate", "prepare_arrays"]

OPTIMISERS = ("adam", "sgd", "presynaptic")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; ``history`` holds the finished epochs."""

    def __init__(self, message, history):
        super().__init__(message)
        self.history = history


def make_optimizer(net, name, lr, **kwargs):
    """An optimiser or learning rule for ``net`` by name.

    ``'adam'`` and ``'sgd'`` update every parameter; ``'presynaptic'`` (Bernoulli
    synapses only) applies the rule of §B2, taking ``d_up``, ``d_down``,
    ``g_lim``, ``p_min``, ``p_freeze``, ``lr_factor`` from ``kwargs``.
    """
    if name == "adam":
        return Adam(net.params(), lr, net.be, **kwargs)
    if name == "sgd":
        return SGD(net.params(), lr, net.be, **kwargs)
    if name == "presynaptic":
        if net.synapse != "bernoulli":
            raise ValueError("the presynaptic rule needs Bernoulli synapses (--synapse bernoulli)")
        return PresynapticRule(net.synaptic, lr, net.be, **kwargs)
    raise ValueError(f"optimizer must be one of {OPTIMISERS}, got {name!r}")


def prepare_arrays(x, y, backend):
    """Host data to backend arrays, checking shapes and values.

    Parameters
    ----------
    x : ndarray of shape (n, d), finite
    y : ndarray of shape (n,), integer labels >= 0
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 2:
        raise ValueError(f"inputs must have shape (n_examples, n_features), got {x.shape}")
    if y.shape != (x.shape[0],):
        raise ValueError(f"labels must have shape ({x.shape[0]},) to match the inputs, got {y.shape}")
    if not np.issubdtype(x.dtype, np.number) or not np.isfinite(x).all():
        raise ValueError("inputs must be finite numbers (found NaN, inf or a non-numeric dtype)")
    if not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
        raise ValueError("labels must be non-negative integers")
    return backend.floats(x), backend.asarray(y.astype(np.int64))


def _check_net_input(net, x):
    if x.shape[-1] != net.sizes[0]:
        raise ValueError(f"the network takes {net.sizes[0]} inputs but the data has {x.shape[-1]} features")


def train(net, optimizer, x, y, *, epochs, batch_size, costs=(), seed=0, n_classes=None,
          x_val=None, y_val=None, progress=True, on_epoch=None):
    """Train ``net`` for ``epochs`` epochs of shuffled minibatches.

    Parameters
    ----------
    net : MLP
    optimizer : SGD, Adam or PresynapticRule
    x : backend array of shape (n, d)
    y : backend int array of shape (n,)
    epochs, batch_size : int
    costs : sequence of costs added to the objective (divided by n, §A4)
    seed : int
        Seeds the order of the examples (host generator; ensemble members
        share it).
    x_val, y_val : backend arrays, optional
        Evaluated (sampled weights) after each epoch.
    progress : bool
        Show a progress bar on stderr.
    on_epoch : callable, optional
        Called as ``on_epoch(epoch, history)`` after each epoch.

    Returns
    -------
    history : dict of lists, one entry per epoch; per-member values are lists.
    """
    from tqdm.auto import tqdm

    be, xp = net.be, net.be.xp
    n = x.shape[0]
    _check_net_input(net, x)
    if int(epochs) < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    if not 1 <= int(batch_size) <= n:
        raise ValueError(f"batch size {batch_size} must lie between 1 and the {n} training examples")
    n_classes = n_classes or net.sizes[-1]
    order_rng = np.random.default_rng(seed)
    steps = n // batch_size                                # the last partial batch is dropped
    history = {k: [] for k in ("epoch", "loss", "ce", "cost", "train_acc", "val_acc", "seconds")}
    bar = tqdm(total=epochs * steps, disable=not progress, unit="step", leave=False, mininterval=0.5)
    try:
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            order = be.asarray(order_rng.permutation(n))
            sums = {k: xp.zeros(net.lead, dtype=be.dtype) for k in ("loss", "ce", "cost")}
            correct = xp.zeros(net.lead, dtype=be.dtype)
            for s in range(steps):
                idx = order[s * batch_size:(s + 1) * batch_size]
                yb = y[idx]
                net.zero_grad()
                out = net.objective(x[idx], one_hot(yb, n_classes, xp, be.dtype), n, costs)
                optimizer.step()
                for k in sums:
                    sums[k] += out[k]
                correct += (out["logits"].argmax(axis=-1) == yb).sum(axis=-1)
                bar.update(1)
            mean = {k: be.to_numpy(v) / steps for k, v in sums.items()}
            if not np.isfinite(mean["loss"]).all():
                raise TrainingDiverged(
                    f"the loss became non-finite in epoch {epoch}: lower the learning rate or the costs", history)
            history["epoch"].append(epoch)
            for k in sums:
                history[k].append(mean[k].tolist())
            history["train_acc"].append((be.to_numpy(correct) / (steps * batch_size)).tolist())
            history["val_acc"].append(None if x_val is None else accuracy(net, x_val, y_val).tolist())
            history["seconds"].append(time.perf_counter() - t0)
            bar.set_postfix(epoch=epoch, loss=float(np.mean(mean["loss"])))
            if on_epoch is not None:
                on_epoch(epoch, history)
    finally:
        bar.close()
    return history


def accuracy(net, x, y, mode="sample", samples=1, batch_size=1000):
    """Classification accuracy, one value per ensemble member (host array).

    Parameters
    ----------
    mode : {'sample', 'mean', 'predictive'}
        ``'sample'``: one noise sample per batch of ``batch_size`` examples;
        ``'mean'``: mean weights; ``'predictive'``: argmax of the softmax
        averaged over ``samples`` noise samples.
    """
    if mode not in ("sample", "mean", "predictive"):
        raise ValueError(f"mode must be 'sample', 'mean' or 'predictive', got {mode!r}")
    _check_net_input(net, x)
    xp = net.be.xp
    correct = xp.zeros(net.lead, dtype=net.be.dtype)
    for start in range(0, x.shape[0], batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        if mode == "predictive":
            scores = net.predict_proba(xb, "sample", samples)
        else:
            scores = net.forward(xb, mode)
        correct += (scores.argmax(axis=-1) == yb).sum(axis=-1)
    return net.be.to_numpy(correct) / x.shape[0]


def evaluate(net, x, y, samples=10):
    """Accuracies with sampled weights, mean weights and the S-sample predictive (§A4)."""
    return {
        "sampled": accuracy(net, x, y, "sample").tolist(),
        "mean": accuracy(net, x, y, "mean").tolist(),
        "predictive": accuracy(net, x, y, "predictive", samples).tolist(),
    }


