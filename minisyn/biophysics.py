"""The quantal synapse and its four biophysical reliability costs (MODEL.md §A1, §A2).

A connection has ``n`` docked vesicles, each released with probability ``p``
and each giving a PSP of size ``q`` (§A1). Each of the four mechanisms of §A2
is written twice:

- as an *energy function* of ``(n, p, q)`` (what the synapse pays for), and
- as a *parameter map* ``sigma -> (n, p, q)``: the synapse that has noise
  level ``sigma`` at the fixed mean ``mu``, with one of ``n`` or ``p`` held
  fixed, the other varying, and ``q`` compensating to keep ``mu`` fixed.

Composing the two gives the cost of reliability, ``cost(sigma)``, which is an
exact power law ``cost ∝ sigma^-rho`` for each mechanism. ``n`` is allowed to
be real-valued (the continuum of the paper's calculation).

These are host (numpy) scalar maths, not model arrays: every function accepts
Python floats or numpy arrays and broadcasts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = [
    "quantal_moments",
    "compensatory_q",
    "release_probability",
    "calcium_concentration",
    "calcium_cost",
    "membrane_cost",
    "actin_cost",
    "trafficking_cost",
    "calcium_parameters",
    "vesicle_parameters",
    "Mechanism",
    "MECHANISMS",
    "reliability_cost",
]


# -- §A1 the quantal model ---------------------------------------------------------
def quantal_moments(n, p, q):
    """Mean and standard deviation of the PSP of a quantal connection (MODEL.md §A1).

    Parameters
    ----------
    n : float or array
        Number of docked vesicles (real values allowed, ``> 0``).
    p : float or array
        Release probability of each vesicle, in ``(0, 1]``.
    q : float or array
        PSP size of one vesicle.

    Returns
    -------
    mu, sigma : float or array
        ``mu = n p q`` and ``sigma = sqrt(n p (1-p)) |q|``.
    """
    n, p, q = (np.asarray(v, dtype=float) for v in (n, p, q))
    return n * p * q, np.sqrt(n * p * (1.0 - p)) * np.abs(q)


def compensatory_q(mu, n, p):
    """The quantal size ``q = mu / (n p)`` that keeps the mean at ``mu`` (§A1, §A2)."""
    return np.asarray(mu, dtype=float) / (np.asarray(n, dtype=float) * np.asarray(p, dtype=float))


# -- the calcium Hill equation (§A2, first row) --------------------------------------
def release_probability(ca, K=1.0):
    """Release probability from calcium, Hill coefficient 4: ``p/(1-p) = K [Ca]^4`` (§A2).

    Returns ``p = K [Ca]^4 / (1 + K [Ca]^4)``.
    """
    odds = K * np.asarray(ca, dtype=float) ** 4
    return odds / (1.0 + odds)


def calcium_concentration(p, K=1.0):
    """The calcium concentration giving release probability ``p``: ``[Ca] = (p / (K (1-p)))^(1/4)``.

    The inverse of :func:`release_probability` (MODEL.md §A2).
    """
    p = np.asarray(p, dtype=float)
    return (p / (K * (1.0 - p))) ** 0.25


# -- §A2 the four energy functions of (n, p, q) -------------------------------------
def calcium_cost(n, p, q, kappa=1.0, K=1.0):
    """Calcium efflux: pumping costs ``kappa [Ca]``, with ``[Ca]`` from the Hill equation (§A2).

    Depends on ``p`` only; ``n`` and ``q`` are accepted so that every energy
    function has the same signature.
    """
    del n, q
    return kappa * calcium_concentration(p, K)


def membrane_cost(n, p, q):
    """Vesicle membrane: total area ``n r^2`` with vesicle volume ``r^3 ∝ q``, i.e. ``n q^(2/3)`` (§A2)."""
    del p
    return np.asarray(n, dtype=float) * np.cbrt(np.asarray(q, dtype=float)) ** 2


def actin_cost(n, p, q):
    """Actin: filament length ``∝ n r``, i.e. ``n q^(1/3)`` (§A2)."""
    del p
    return np.asarray(n, dtype=float) * np.cbrt(np.asarray(q, dtype=float))


def trafficking_cost(n, p, q):
    """Trafficking: vesicles moved per spike, ``n p`` (§A2)."""
    del q
    return np.asarray(n, dtype=float) * np.asarray(p, dtype=float)


# -- §A2 the synapse with noise level sigma at fixed mean -------------------------------
def calcium_parameters(sigma, mu=1.0, n=1.0):
    """``(n, p, q)`` with standard deviation ``sigma`` and mean ``mu``; ``p`` varies, ``n`` fixed.

    From §A1, ``sigma^2 = mu^2 (1-p) / (n p)``, so ``p/(1-p) = mu^2 / (n sigma^2)``
    and ``p = mu^2 / (mu^2 + n sigma^2)``; then ``q = mu / (n p)``.
    """
    sigma, mu, n = (np.asarray(v, dtype=float) for v in (sigma, mu, n))
    p = mu**2 / (mu**2 + n * sigma**2)
    return n, p, compensatory_q(mu, n, p)


def vesicle_parameters(sigma, mu=1.0, p=0.5):
    """``(n, p, q)`` with standard deviation ``sigma`` and mean ``mu``; ``n`` varies, ``p`` fixed.

    From §A1, ``n = mu^2 (1-p) / (p sigma^2)`` (real-valued), then ``q = mu / (n p)``.
    Used by the membrane, actin and trafficking mechanisms.
    """
    sigma, mu, p = (np.asarray(v, dtype=float) for v in (sigma, mu, p))
    n = mu**2 * (1.0 - p) / (p * sigma**2)
    return n, p, compensatory_q(mu, n, p)


@dataclass(frozen=True)
class Mechanism:
    """One reliability-cost mechanism of MODEL.md §A2.

    Attributes
    ----------
    name : str
    rho : float
        Exponent of the power law ``cost ∝ sigma^-rho``.
    varies : {'p', 'n'}
        The quantal parameter that sets the noise level (``q`` compensates).
    fixed_default : float
        Default value of the parameter held fixed (``n`` for calcium, ``p`` otherwise).
    energy : callable
        ``energy(n, p, q)``: the energy the synapse spends.
    parameters : callable
        ``parameters(sigma, mu, fixed)``: the ``(n, p, q)`` of noise level ``sigma``.
    """

    name: str
    rho: float
    varies: str
    fixed_default: float
    energy: Callable
    parameters: Callable

    def cost(self, sigma, mu=1.0, fixed=None):
        """The energy of the synapse with noise level ``sigma`` and mean ``mu`` (§A2)."""
        fixed = self.fixed_default if fixed is None else fixed
        return self.energy(*self.parameters(sigma, mu, fixed))


MECHANISMS = {
    "calcium": Mechanism("calcium efflux", 1 / 2, "p", 1.0, calcium_cost, calcium_parameters),
    "membrane": Mechanism("vesicle membrane", 2 / 3, "n", 0.5, membrane_cost, vesicle_parameters),
    "actin": Mechanism("actin", 4 / 3, "n", 0.5, actin_cost, vesicle_parameters),
    "trafficking": Mechanism("trafficking", 2.0, "n", 0.5, trafficking_cost, vesicle_parameters),
}
"""The four mechanisms of MODEL.md §A2, keyed by short name, in order of rho."""


def reliability_cost(mechanism, sigma, mu=1.0, fixed=None):
    """Energy of the synapse of noise level ``sigma`` under ``mechanism`` (a key of :data:`MECHANISMS`)."""
    return MECHANISMS[mechanism].cost(sigma, mu, fixed)
