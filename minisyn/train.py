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

__all__ = ["TrainingDiverged", "make_optimizer", "fit", "train", "objective_step", "minibatches",
           "divergence_cause", "accuracy", "evaluate", "prepare_arrays", "check_training_inputs"]

OPTIMISERS = ("adam", "sgd", "presynaptic")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; ``history`` holds the finished epochs.

    :func:`fit` puts the parameters of the last finished epoch back into the
    network before it raises (never non-finite values); ``cause`` names what
    went non-finite first (the cross-entropy, a cost, a parameter group).
    """

    def __init__(self, message, history, cause=""):
        super().__init__(message)
        self.history = history
        self.cause = cause


def divergence_cause(net, sums=None):
    """What became non-finite: the parts of the loss and the parameter groups (``layer1.mu``),
    with the options most likely to help, in one sentence."""
    be = net.be
    parts = [k for k, v in (sums or {}).items() if k != "loss" and not np.isfinite(be.to_numpy(v)).all()]
    groups = [f"layer{i}.{p.name}" for i, layer in enumerate(net.synaptic) for p in layer.params
              if not np.isfinite(be.to_numpy(p.value)).all()]
    grads = [f"layer{i}.{p.name}" for i, layer in enumerate(net.synaptic) for p in layer.params
             if not np.isfinite(be.to_numpy(p.grad)).all()]
    said = []
    if parts:
        said.append("non-finite " + " and ".join({"ce": "cross-entropy", "cost": "costs"}.get(k, k) for k in parts))
    if groups:
        said.append("non-finite parameters in " + ", ".join(groups))
    elif grads:
        said.append("non-finite gradients of " + ", ".join(grads))
    if parts == ["cost"] or (grads and not groups and "ce" not in parts):
        fix = ("the costs overflow the floating type: lower --c, raise --sigma-init, or use --dtype float64")
    else:
        fix = "the updates overshoot: lower the learning rate (--lr)"
    return ("; ".join(said) or "a non-finite loss") + f" ({fix})"


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
        if not net.synapse_type.presynaptic:
            raise ValueError(f"the presynaptic rule needs Bernoulli synapses (--synapse bernoulli) or another "
                             f"type with release probabilities, not {net.synapse}")
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


def check_training_inputs(net, x, y, names=("x", "y"), n_classes=None):
    """Check inputs ``x`` ``(n, d)`` and labels ``y`` ``(n,)`` (backend arrays) against ``net``.

    Raises ``ValueError`` naming the argument: the rank and width of ``x``,
    finiteness (one pass over ``x``), integer labels of shape ``(n,)`` in
    ``0 .. n_classes - 1``.
    """
    be, xp = net.be, net.be.xp
    nx, ny = names
    n_classes = net.sizes[-1] if n_classes is None else int(n_classes)
    if getattr(x, "ndim", None) not in (2, 2 + len(net.lead)):
        raise ValueError(f"{nx} must have shape (n_examples, {net.sizes[0]}), got {getattr(x, 'shape', type(x))}")
    if x.shape[-1] != net.sizes[0]:
        raise ValueError(f"the network takes {net.sizes[0]} inputs but {nx} has {x.shape[-1]} features")
    if y is not None:
        if getattr(y, "shape", None) != (x.shape[-2],):
            raise ValueError(f"{ny} must have shape ({x.shape[-2]},) to match {nx}, got "
                             f"{getattr(y, 'shape', type(y))}")
        if not np.issubdtype(np.dtype(y.dtype), np.integer):
            raise ValueError(f"{ny} must hold integer class labels, got dtype {y.dtype}")
        if y.shape[0] and not (be.scalar(y.min()) >= 0 and be.scalar(y.max()) < n_classes):
            raise ValueError(f"{ny} must lie in 0..{n_classes - 1} (the network has {n_classes} outputs), "
                             f"got labels from {be.scalar(y.min()):g} to {be.scalar(y.max()):g}")
    if not be.scalar(xp.isfinite(x).all()):
        raise ValueError(f"{nx} contains NaN or infinite values: clean the inputs (the network would learn "
                         "nothing from them)")


def check_costs(net, costs, n_train):
    """The costs' gradients at the network's present parameters must be finite.

    A reliability cost ``c sigma^-rho`` at a tiny ``sigma`` can overflow the
    floating type (float32 ends at 3.4e38): training would only produce NaN.
    One evaluation of the costs; raises ``ValueError`` naming the parameters
    and what to change.
    """
    if not costs:
        return
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        net.zero_grad()
        net.add_costs(costs, n_train)
        bad = [f"layer{i}.{p.name}" for i, layer in enumerate(net.synaptic) for p in layer.params
               if not np.isfinite(net.be.to_numpy(p.grad)).all()]
        net.zero_grad()
    if bad:
        raise ValueError(f"the costs' gradients overflow {net.be.dtype.name} at the initial parameters "
                         f"({', '.join(bad)}): raise --sigma-init, lower --c or --rho, or use --dtype float64")


def check_members(net, *objects):
    """Per-member hyperparameters (learning rates, ``c``, ``rho``, ...) of ``objects`` must
    have one value per ensemble member; raises ``ValueError`` naming the one that does not."""
    K = net.ensemble
    for obj in objects:
        for name, value in vars(obj).items():
            if name.startswith("_") or isinstance(value, (str, dict)) or np.ndim(value) == 0:
                continue
            try:
                arr = np.asarray(value, dtype=float)
            except (TypeError, ValueError):
                continue                                   # not numbers (a list of parameters, say)
            if arr.ndim == 1 and (K is None or arr.shape[0] != K):
                raise ValueError(f"{type(obj).__name__} {name} has {arr.shape[0]} values, but the network "
                                 + (f"is an ensemble of {K}" if K else "is not an ensemble (give one value)"))


def minibatches(x, y, batch_size, rng, backend):
    """The default batch iterator: one epoch of shuffled minibatches ``(x_b, y_b)``.

    The order comes from ``rng`` (a host generator, so ensemble members share
    it); the last partial batch is dropped.
    """
    n = x.shape[0]
    order = backend.asarray(rng.permutation(n))
    for s in range(n // batch_size):
        idx = order[s * batch_size:(s + 1) * batch_size]
        yield x[idx], y[idx]


def fit(net, update, batches, *, epochs=1, steps_per_epoch=None, n_classes=None, x_val=None, y_val=None,
        check_every=None, progress=True, on_step=None, on_epoch=None):
    """The training loop every experiment runs: epochs of minibatch updates, with hooks.

    Parameters
    ----------
    net : MLP
    update : callable
        ``update(x_b, targets) -> dict`` does one training step on a minibatch
        (``targets`` one-hot) and returns at least ``'loss'`` (one value per
        ensemble member); ``'ce'``, ``'cost'`` and ``'logits'`` are recorded
        where given. :func:`train` uses :func:`objective_step`.
    batches : callable
        ``batches(epoch) -> iterable of (x_b, y_b)``: the batch iterator of an
        epoch (``epoch`` counts from 1), e.g. :func:`minibatches`.
    epochs : int
    steps_per_epoch : int, optional
        For the progress bar only.
    x_val, y_val : backend arrays, optional
        Evaluated (sampled weights) after each epoch.
    check_every : int, optional
        Also check every this many steps that the loss is finite (one host
        synchronisation each); the loss is always checked at each epoch's end.
    on_step : callable, optional
        ``on_step(step, out)`` after each update (``step`` counts from 1 over
        the whole run; ``out`` is ``update``'s dict).
    on_epoch : callable, optional
        ``on_epoch(epoch, history)`` after each epoch.

    Returns
    -------
    history : dict of lists, one entry per epoch (``epoch``, ``loss``, ``ce``,
        ``cost``, ``train_acc``, ``val_acc``, ``seconds``); per-member values are lists.

    Raises
    ------
    TrainingDiverged
        When the loss becomes NaN or infinite; its ``history`` holds the finished epochs.
    """
    from tqdm.auto import tqdm

    be, xp = net.be, net.be.xp
    n_classes = n_classes or net.sizes[-1]
    if int(epochs) < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    history = {k: [] for k in ("epoch", "loss", "ce", "cost", "train_acc", "val_acc", "seconds")}
    total = None if steps_per_epoch is None else int(epochs) * int(steps_per_epoch)
    bar = tqdm(total=total, disable=not progress, unit="step", leave=False, mininterval=0.5)
    step = 0
    finite = net.state()                                   # the parameters of the last finite epoch

    def diverged(where, sums):
        cause = divergence_cause(net, sums)
        net.load_state(finite)
        done = history["epoch"][-1] if history["epoch"] else 0
        return TrainingDiverged(f"the loss became non-finite {where}: {cause}. The parameters are those "
                                f"of the end of epoch {done}", history, cause)

    # Overflow on the way to a divergence is reported once, as TrainingDiverged with its cause,
    # not as numpy warnings at every step.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        try:
            for epoch in range(1, int(epochs) + 1):
                t0 = time.perf_counter()
                sums, correct, seen, steps = {}, None, 0, 0
                for xb, yb in batches(epoch):
                    out = update(xb, one_hot(yb, n_classes, xp, be.dtype))
                    step += 1
                    steps += 1
                    for k in ("loss", "ce", "cost"):
                        if k in out:
                            sums[k] = out[k] + sums[k] if k in sums else xp.zeros(net.lead, be.dtype) + out[k]
                    if "logits" in out:
                        hits = (out["logits"].argmax(axis=-1) == yb).sum(axis=-1)
                        correct = hits if correct is None else correct + hits
                        seen += yb.shape[0]
                    if check_every and step % int(check_every) == 0 and \
                            not np.isfinite(be.to_numpy(out["loss"])).all():
                        raise diverged(f"at step {step}", {k: out[k] for k in ("loss", "ce", "cost") if k in out})
                    if on_step is not None:
                        on_step(step, out)
                    bar.update(1)
                mean = {k: be.to_numpy(v) / max(steps, 1) for k, v in sums.items()}
                if "loss" in mean and not np.isfinite(mean["loss"]).all():
                    raise diverged(f"in epoch {epoch}", sums)
                finite = net.state()
                history["epoch"].append(epoch)
                for k in ("loss", "ce", "cost"):
                    history[k].append(mean[k].tolist() if k in mean else None)
                history["train_acc"].append(None if correct is None else (be.to_numpy(correct) / seen).tolist())
                history["val_acc"].append(None if x_val is None else accuracy(net, x_val, y_val).tolist())
                history["seconds"].append(time.perf_counter() - t0)
                if "loss" in mean:
                    bar.set_postfix(epoch=epoch, loss=float(np.mean(mean["loss"])))
                if on_epoch is not None:
                    on_epoch(epoch, history)
        finally:
            bar.close()
        return history


def objective_step(net, optimizer, n_train, costs=(), on_gradient=None):
    """The standard update: the objective of MODEL.md §A4 and one optimiser step.

    Order within a step: zero the gradients; the minibatch cross-entropy and
    its gradient; ``on_gradient(out)`` (the gradient of the cross-entropy
    alone is in each ``Param.grad`` at that moment); the costs' gradients
    (:meth:`MLP.add_costs`); the optimiser's step.
    """
    def update(xb, targets):
        net.zero_grad()
        out = net.objective(xb, targets, n_train)                  # cross-entropy and its gradient
        if on_gradient is not None:
            on_gradient(out)
        out["cost"] = net.add_costs(costs, n_train, cached=True)    # (sum of costs) / N and theirs
        out["loss"] = out["ce"] + out["cost"]
        optimizer.step()
        return out

    return update


def train(net, optimizer, x, y, *, epochs, batch_size, costs=(), seed=0, n_classes=None,
          x_val=None, y_val=None, progress=True, on_epoch=None, on_step=None, on_gradient=None):
    """Train ``net`` for ``epochs`` epochs of shuffled minibatches (:func:`fit` with
    :func:`objective_step` and :func:`minibatches`).

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
    on_epoch, on_step, on_gradient : callable, optional
        Hooks: see :func:`fit` and :func:`objective_step`.

    Returns
    -------
    history : dict of lists, one entry per epoch; per-member values are lists.
    """
    check_training_inputs(net, x, y, n_classes=n_classes)
    check_members(net, optimizer, *costs)
    check_costs(net, costs, x.shape[0])
    n = x.shape[0]
    if not 1 <= int(batch_size) <= n:
        raise ValueError(f"batch size {batch_size} must lie between 1 and the {n} training examples")
    order_rng = np.random.default_rng(seed)
    return fit(net, objective_step(net, optimizer, n, costs, on_gradient),
               lambda epoch: minibatches(x, y, int(batch_size), order_rng, net.be),
               epochs=epochs, steps_per_epoch=n // int(batch_size), n_classes=n_classes, x_val=x_val,
               y_val=y_val, progress=progress, on_step=on_step, on_epoch=on_epoch)


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
    if int(samples) < 1 or int(batch_size) < 1:
        raise ValueError(f"samples and batch_size must be >= 1, got {samples}, {batch_size}")
    check_training_inputs(net, x, y)
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


