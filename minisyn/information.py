"""Energy and information of a trained network (MODEL.md §B3).

- :func:`soft_confusion`: ``P(yhat | y)``, the mean softmax output over the
  examples of each true class;
- :func:`mutual_information`: ``I(Y; Yhat)`` in bits from that soft confusion
  matrix, with ``P(y)`` the class frequency;
- :func:`energy`: the synaptic energy ``E = sum_ij |m_ij|``;
- :func:`mean_activity`: the metabolic cost of activity, the mean hidden rate.

Probabilities may carry leading ensemble axes ``(*E, n, C)`` (labels are
shared); every result then has one value per member. Results come back to the
host (Python floats for one network, numpy arrays of shape ``E`` otherwise).
"""
from __future__ import annotations

import numpy as np

from minisyn.backend import get_backend
from minisyn.layers import ReLU
from minisyn.losses import one_hot
from minisyn.ops import T

__all__ = ["soft_confusion", "mutual_information", "energy", "mean_activity"]


def _host(be, a):
    """A backend value as a Python float (0-d) or a host numpy array."""
    a = np.asarray(be.to_numpy(a), dtype=np.float64)
    return float(a) if a.ndim == 0 else a


def _class_sums(probs, labels, n_classes, be):
    """``S[y, yhat] = sum_{n: y_n = y} probs[n, yhat]`` and the class counts ``n_y``."""
    xp = be.xp
    if probs.shape[-1] != n_classes:
        raise ValueError(f"probabilities have {probs.shape[-1]} classes on the last axis, expected {n_classes}")
    if labels.shape != probs.shape[-2:-1]:
        raise ValueError(f"labels of shape {tuple(labels.shape)} do not match probabilities {tuple(probs.shape)}")
    Y = one_hot(labels, n_classes, xp, probs.dtype)      # (n, C)
    return T(Y, xp) @ probs, Y.sum(axis=0)               # (*E, C, C), (C,)


def soft_confusion(probs, labels, n_classes, backend=None):
    """Soft confusion matrix ``P(yhat | y)`` (MODEL.md §B3).

    Parameters
    ----------
    probs : backend array of shape (n, C) or (*E, n, C)
        Output class probabilities (rows of the simplex, e.g. softmax outputs).
    labels : backend int array of shape (n,)
    n_classes : int
    backend : Backend, str or None

    Returns
    -------
    backend array of shape (*E, C, C)
        Row ``y`` is the mean of ``probs`` over the examples of class ``y``;
        a class without examples has a row of zeros.
    """
    be = get_backend(backend)
    sums, counts = _class_sums(probs, labels, n_classes, be)
    return sums / be.xp.maximum(counts, 1.0)[:, None]


def mutual_information(probs, labels, n_classes=None, backend=None):
    """Mutual information ``I(Y; Yhat)`` in bits (MODEL.md §B3).

    With ``P(y) = n_y / n`` and ``P(yhat | y)`` from :func:`soft_confusion`,
    the joint is ``P(y, yhat) = P(y) P(yhat | y) = S[y, yhat] / n`` and

        I = sum_{y, yhat} P(y, yhat) log2( P(yhat | y) / P(yhat) ),
        P(yhat) = sum_y P(y, yhat).

    Terms with ``P(y, yhat) = 0`` contribute 0 (the limit of ``q log q``).
    ``0 <= I <= log2 C``.

    Parameters
    ----------
    probs : backend array of shape (n, C) or (*E, n, C)
    labels : backend int array of shape (n,)
    n_classes : int, optional
        Default: ``probs.shape[-1]``.
    backend : Backend, str or None

    Returns
    -------
    float, or numpy array of shape E
    """
    be = get_backend(backend)
    xp = be.xp
    n_classes = n_classes or probs.shape[-1]
    sums, counts = _class_sums(probs, labels, n_classes, be)
    n = labels.shape[0]
    joint = sums / n                                       # P(y, yhat)
    p_y = (counts / n)[:, None]                            # P(y)
    p_yhat = joint.sum(axis=-2, keepdims=True)             # P(yhat)
    pos = joint > 0                                        # then P(y) > 0 and P(yhat) > 0
    ratio = xp.where(pos, joint, 1.0) / xp.where(pos, p_y * p_yhat, 1.0)   # P(yhat|y)/P(yhat)
    return _host(be, (joint * xp.log2(ratio)).sum(axis=(-2, -1)))


def energy(net):
    """Synaptic energy ``E = sum_ij |m_ij|`` over every synapse (MODEL.md §B3).

    Uses the expected strengths (``m`` of Bernoulli synapses, ``mu`` of
    Gaussian and deterministic ones, biases included where present).

    Returns
    -------
    float, or numpy array of shape E (one value per ensemble member)
    """
    xp = net.be.xp
    total = sum(xp.abs(layer.mean_weight()).sum(axis=(-2, -1)) for layer in net.synaptic)
    return _host(net.be, total)


def mean_activity(net, x, mode="mean"):
    """Mean rate of the hidden ReLU units, the metabolic cost of activity (MODEL.md §B3).

    The average of ``f(a)`` over every hidden neuron of every hidden layer and
    every example of ``x``.

    Parameters
    ----------
    net : MLP
    x : backend array of shape (n, n_in)
    mode : {'mean', 'sample'}
        Mean weights, or one noise sample per forward pass.

    Returns
    -------
    float, or numpy array of shape E
    """
    if len(net.sizes) < 3:
        raise ValueError("the network has no hidden layer")
    total, units = 0.0, 0
    for layer in net.layers:
        x = layer.forward(x, mode)
        if isinstance(layer, ReLU):
            total = total + x.sum(axis=(-2, -1))
            units += x.shape[-1]
    return _host(net.be, total / (units * x.shape[-2]))
