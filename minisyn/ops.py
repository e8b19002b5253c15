"""Small array helpers shared by layers, costs and optimisers.

Every function takes the array module ``xp`` explicitly or reads it from a
:class:`~minisyn.backend.Backend`, so the same lines run on numpy, CuPy and the
strict stand-in.

Arrays may carry leading axes. A parameter of a single network has shape
``(out, in)``; the same parameter of an ensemble of K networks has shape
``(K, out, in)``. Layer code therefore transposes only the two trailing axes
(:func:`T`) and reduces only over explicit trailing axes.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["T", "softplus", "logistic", "logistic_from_softplus", "inverse_softplus", "sum_to_shape", "per_member"]


def T(a, xp):
    """Swap the two trailing axes: ``W^T`` for a stack of matrices."""
    return xp.swapaxes(a, -1, -2)


def softplus(phi, xp, out=None, work=None):
    """``log(1 + exp(phi))`` without overflow (MODEL.md §A3).

    Written as ``max(phi, 0) + log1p(exp(-|phi|))``, with
    ``max(phi, 0) = (phi + |phi|) / 2``: the same function, no overflow for
    large ``phi``, and several times faster than ``logaddexp`` in numpy.
    ``out`` (an array of ``phi``'s shape and dtype, not ``phi`` itself)
    receives the result, and ``work`` (another such array) holds ``|phi|``,
    saving both allocations.
    """
    if getattr(phi, "ndim", 0) == 0:                # scalars: the plain formula
        return max(float(phi), 0.0) + math.log1p(math.exp(-abs(float(phi))))
    a = xp.abs(phi, out=work)
    out = xp.negative(a, out=out)
    xp.exp(out, out=out)
    xp.log1p(out, out=out)          # log1p(exp(-|phi|))
    a += phi
    a *= 0.5                        # max(phi, 0)
    out += a
    return out


def logistic_from_softplus(sigma, xp, out=None):
    """``logistic(phi)`` from ``sigma = softplus(phi)``, as ``1 - exp(-sigma)``.

    Exact: ``exp(-sigma) = 1 / (1 + e^phi)``. ``-expm1(-sigma)`` keeps full
    relative precision for tiny sigma (where the slope is about sigma) and
    costs one transcendental pass, where ``logistic(phi)`` costs several.
    """
    out = xp.negative(sigma, out=out)
    xp.expm1(out, out=out)
    return xp.negative(out, out=out)


def logistic(phi, xp):
    """``1 / (1 + exp(-phi))``, the derivative of softplus (MODEL.md §A3).

    With ``e = exp(-|phi|)`` it is ``1 / (1 + e)`` for ``phi >= 0`` and
    ``e / (1 + e)`` otherwise: no overflow, and full relative precision for
    very negative ``phi`` (tiny sigma), where ``(1 + tanh(phi/2)) / 2`` would
    round to zero in float32.
    """
    e = xp.exp(-xp.abs(phi))
    return xp.where(phi >= 0, 1.0, e) / (1.0 + e)


def inverse_softplus(sigma):
    """The ``phi`` with ``softplus(phi) = sigma`` (a host scalar), for initialisation."""
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    return sigma + math.log(-math.expm1(-sigma))  # = log(exp(sigma) - 1), stable


def sum_to_shape(g, shape, xp):
    """Sum a broadcast gradient ``g`` back to ``shape``.

    Where a parameter was broadcast in the forward pass (a homogeneous sigma of
    shape ``(K, 1, 1)`` used for a ``(K, out, in)`` weight, say), its gradient
    is the sum over the broadcast axes.
    """
    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g


def per_member(value, ndim, backend):
    """A hyperparameter ready to broadcast against an ``ndim``-dimensional array.

    A scalar stays a Python float. A sequence of K values (one per ensemble
    member) becomes a backend array of shape ``(K, 1, ..., 1)`` with ``ndim``
    axes, so that member k's arrays meet member k's value.
    """
    if np.ndim(value) == 0:
        return float(value)
    host = np.asarray(value, dtype=backend.dtype)
    if host.ndim != 1:
        raise ValueError(f"a per-member hyperparameter must be a scalar or 1-d, got shape {host.shape}")
    return backend.asarray(host.reshape(host.shape + (1,) * (ndim - 1)))
