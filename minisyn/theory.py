"""Closed forms: the linear model, the bound, two synapses (MODEL.md §A7, §A8, §A9).

Linear regression ``y = X w + noise`` with Gaussian synapses
``w ~ N(mu, diag(sigma^2))``; ``X`` is ``(T, D)``: T data points, D synapses.
Everything here is exact host (numpy) maths, used by the tests and the demos
as the reference the trained networks are compared with.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "hessian_diag",
    "expected_cost",
    "expected_cost_grad",
    "optimal_sigma",
    "posterior_sigma",
    "predicted_slopes",
    "c_bi",
    "c_vi",
    "two_synapse_expected_cost",
    "EqualCostSigmas",
    "equal_cost_sigmas",
]


def _f(a):
    return np.asarray(a, dtype=float)


# -- §A7 the linear model ---------------------------------------------------------------
def hessian_diag(X):
    """``Hcal_ii = sum_t x_ti^2``: the diagonal of ``X^T X`` (MODEL.md §A7).

    It is the diagonal of the Hessian of :func:`expected_cost` with respect to ``mu``.
    """
    X = _f(X)
    return np.einsum("ti,ti->i", X, X)


def expected_cost(X, y, mu, sigma):
    """``C = (1/2) ||y - X mu||^2 + (1/2) sum_i sigma_i^2 Hcal_ii`` (MODEL.md §A7).

    The exact value of ``(1/2) sum_t E_w (y_t - x_t . w)^2`` for
    ``w ~ N(mu, diag(sigma^2))``: ``x_t . w`` has mean ``x_t . mu`` and
    variance ``sum_i x_ti^2 sigma_i^2``.
    """
    r = _f(y) - _f(X) @ _f(mu)
    return 0.5 * r @ r + 0.5 * hessian_diag(X) @ _f(sigma) ** 2


def expected_cost_grad(X, y, mu, sigma):
    """Gradients of :func:`expected_cost`: ``(-X^T (y - X mu), sigma * Hcal)`` (MODEL.md §A7)."""
    X = _f(X)
    return -X.T @ (_f(y) - X @ _f(mu)), _f(sigma) * hessian_diag(X)


def optimal_sigma(X, c, rho):
    """Minimiser of ``C + c sum_i sigma_i^-rho``: ``sigma_i = (c rho / Hcal_ii)^(1/(2+rho))`` (§A7).

    Setting ``dL/dsigma_i = sigma_i Hcal_ii - c rho sigma_i^-(rho+1) = 0``.
    """
    return (c * rho / hessian_diag(X)) ** (1.0 / (2.0 + rho))


def posterior_sigma(X):
    """Mean-field posterior standard deviation with a flat prior, ``Hcal_ii^-1/2`` (§A7)."""
    return 1.0 / np.sqrt(hessian_diag(X))


def predicted_slopes(rho):
    """Log-log slopes of the optimal sigma: ``(2/(2+rho), -1/(2+rho))`` (MODEL.md §A7).

    The first is against the posterior sigma, the second against ``Hcal_ii``.
    """
    rho = _f(rho)
    return 2.0 / (2.0 + rho), -1.0 / (2.0 + rho)


# -- §A8 the bound ----------------------------------------------------------------------
def c_bi(sigma, s, rho):
    """Biological reliability cost in s-form plus constants,
    ``C_BI = (1/rho) (s/sigma)^rho - 1/rho - log s`` (MODEL.md §A8).

    Written as ``expm1(rho log(s/sigma)) / rho - log s``: the same number, but
    without the cancellation of ``(s/sigma)^rho - 1`` as ``rho -> 0``.
    """
    sigma, s, rho = _f(sigma), _f(s), _f(rho)
    return np.expm1(rho * np.log(s / sigma)) / rho - np.log(s)


def c_vi(sigma):
    """Entropic reliability cost of variational inference, ``C_VI = -log sigma`` (MODEL.md §A8)."""
    return -np.log(_f(sigma))


# -- §A9 two synapses -------------------------------------------------------------------
def two_synapse_expected_cost(h, sigma, offset=0.0):
    """Expected quadratic performance cost ``E_w (1/2) sum_i h_i (w_i - w_i*)^2`` (MODEL.md §A9).

    With ``w_i ~ N(w_i* + offset_i, sigma_i^2)`` this is
    ``(1/2) sum_i h_i (offset_i^2 + sigma_i^2)``. Any number of synapses works;
    the picture of §A9 has two.
    """
    h, sigma, offset = np.broadcast_arrays(_f(h), _f(sigma), _f(offset))
    return 0.5 * np.sum(h * (offset**2 + sigma**2), axis=-1)


@dataclass(frozen=True)
class EqualCostSigmas:
    """Optimised heterogeneous and shared homogeneous noise at the same reliability cost (§A9)."""

    h: np.ndarray
    c: float
    rho: float
    sigma_het: np.ndarray
    sigma_hom: float
    reliability_cost: float      # c sum_i sigma_i^-rho, the same for both
    expected_cost_het: float
    expected_cost_hom: float


def equal_cost_sigmas(h, c, rho):
    """Compare optimised per-synapse sigma with one shared sigma of equal reliability cost (§A9).

    The heterogeneous noise is the optimum of §A7 with ``Hcal = h``:
    ``sigma_i = (c rho / h_i)^(1/(2+rho))``, paying ``R = c sum_i sigma_i^-rho``.
    The shared ``sigma`` paying the same ``R`` solves ``D c sigma^-rho = R``.
    Because the heterogeneous sigma minimises ``E + c sum sigma^-rho`` (uniquely:
    in ``u_i = sigma_i^-rho`` the objective is strictly convex), it has the lower
    expected cost ``E`` among all noise levels with reliability cost ``R``,
    strictly unless every ``h_i`` is equal.
    """
    h = _f(h)
    sigma_het = (c * rho / h) ** (1.0 / (2.0 + rho))
    R = c * np.sum(sigma_het ** -rho)
    sigma_hom = float((R / (h.size * c)) ** (-1.0 / rho))
    return EqualCostSigmas(
        h=h, c=float(c), rho=float(rho), sigma_het=sigma_het, sigma_hom=sigma_hom,
        reliability_cost=float(R),
        expected_cost_het=float(two_synapse_expected_cost(h, sigma_het)),
        expected_cost_hom=float(two_synapse_expected_cost(h, sigma_hom)),
    )
