"""Softmax cross-entropy, written to be numerically stable.

Logits are ``(*E, B, C)``; targets are one-hot ``(B, C)`` or ``(*E, B, C)``.
Losses are means over the batch axis, one per ensemble member (shape ``E``).
"""
from __future__ import annotations

__all__ = ["log_softmax", "softmax", "cross_entropy", "one_hot"]


def log_softmax(a, xp):
    """``a - logsumexp(a)`` over the last axis, shifted by the max for stability."""
    z = a - a.max(axis=-1, keepdims=True)
    return z - xp.log(xp.exp(z).sum(axis=-1, keepdims=True))


def softmax(a, xp):
    """``exp(a) / sum(exp(a))`` over the last axis."""
    z = xp.exp(a - a.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def cross_entropy(logits, targets, xp):
    """Mean softmax cross-entropy and its gradient with respect to the logits.

    Parameters
    ----------
    logits : array of shape (*E, B, C)
    targets : array of shape (B, C) or (*E, B, C)
        One-hot labels (rows of a probability simplex work too).
    xp : array module

    Returns
    -------
    loss : array of shape E
        ``-(1/B) sum_n sum_c y_nc log softmax(a_n)_c``.
    dL_dlogits : array of shape (*E, B, C)
        ``(softmax(a) - y) / B``.
    """
    B = logits.shape[-2]
    logp = log_softmax(logits, xp)
    loss = -(targets * logp).sum(axis=(-2, -1)) / B
    dL_dlogits = (xp.exp(logp) - targets) / B
    return loss, dL_dlogits


def one_hot(labels, n_classes, xp, dtype):
    """Integer labels ``(..., B)`` to one-hot ``(..., B, n_classes)``."""
    return (labels[..., None] == xp.arange(n_classes)).astype(dtype)
