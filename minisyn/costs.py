"""Costs on synaptic parameters, each with its gradient (MODEL.md §A4, §A8, §B3).

A cost acts on one kind of parameter: the *reliability* costs on the noise
level ``sigma``, the *magnitude* costs on the mean ``mu`` (or the expected
strength ``m`` of a Bernoulli synapse). ``value(theta)`` sums over the two
trailing (synapse) axes and returns one number per ensemble member;
``grad(theta)`` is elementwise. Hyperparameters may be scalars or one value
per ensemble member.
"""
from __future__ import annotations

import numpy as np

from minisyn.biophysics import MECHANISMS
from minisyn.ops import per_member

__all__ = ["PowerLawCost", "L1Cost", "L2Cost", "EntropicCost", "sigma_bar", "reported_reliability_cost"]

_SYNAPSE_AXES = (-2, -1)


def _check_positive(name, value, strict=True):
    v = np.asarray(value, dtype=float)
    bad = ~np.isfinite(v) | ((v <= 0) if strict else (v < 0))
    if bad.any():
        rule = "> 0" if strict else ">= 0"
        raise ValueError(f"{name} must be finite and {rule}, got {value}")


class _Cost:
    target = "mu"   # which parameter it acts on: 'mu' or 'sigma'

    def value_and_grad(self, theta, backend, scale=1.0, out=None):
        """The value and ``scale`` times the gradient.

        ``out``, a scratch array of ``theta``'s shape, may receive the
        gradient (costs that write it in place use it; the others ignore it).
        """
        g = self.grad(theta, backend)
        return self.value(theta, backend), (g if scale == 1.0 else g * scale)

    def _h(self, value, theta, backend):
        """``value`` shaped to broadcast against ``theta`` (cached per shape)."""
        if np.ndim(value) == 0:
            return float(value)
        cache = self.__dict__.setdefault("_cache", {})
        key = (id(value), theta.ndim, backend.name, backend.dtype.name)
        if key not in cache:
            cache[key] = per_member(value, theta.ndim, backend)
        return cache[key]


class PowerLawCost(_Cost):
    """Reliability cost ``c * sum_i sigma_i^-rho`` (MODEL.md §A4).

    The "s-form" ``(1/rho) (s/sigma)^rho`` with ``s = (c rho)^(1/rho)`` is the
    same cost: build it with :meth:`from_s`.

    Parameters
    ----------
    c : float or sequence of float
        Cost weight, ``>= 0``.
    rho : float or sequence of float
        Exponent, ``> 0`` (1/2, 2/3, 4/3 or 2 for the four mechanisms of §A2).
    """

    target = "sigma"

    def __init__(self, c, rho):
        _check_positive("c", c, strict=False)
        self.c, self.rho = c, rho

    @property
    def rho(self):
        """The exponent(s); setting it re-checks it and re-chooses how the power is taken."""
        return self._rho

    @rho.setter
    def rho(self, value):
        _check_positive("rho", value)
        self._rho = value
        self._rho_common = _common_value(value)   # one rho for every member: root-based powers
        self.__dict__.pop("_cache", None)          # per-member arrays made from the old value

    @classmethod
    def from_s(cls, s, rho):
        """The cost ``(1/rho) (s/sigma)^rho``, i.e. ``c = s^rho / rho``."""
        _check_positive("s", s)
        _check_positive("rho", rho)
        return cls(np.asarray(s, float) ** np.asarray(rho, float) / np.asarray(rho, float), rho)

    def _c_rho(self, sigma, backend):
        return self._h(self.c, sigma, backend), self._h(self.rho, sigma, backend)

    def _power(self, sigma, backend, out=None):
        """``sigma^-rho`` (into ``out`` if given).

        For the four mechanisms' exponents (and 1), when every ensemble member
        has the same rho, the power comes from a square or cube root and a
        reciprocal; otherwise as ``exp(-rho log sigma)``. Both are far faster
        than ``**`` in numpy.
        """
        c, rho = self._c_rho(sigma, backend)
        xp = backend.xp
        t = out
        r = self._rho_common
        if r == 0.5:
            t = xp.sqrt(sigma, out=t)
        elif r == 1.0:
            t = xp.multiply(sigma, 1.0, out=t)
        elif r == 2.0:
            t = xp.multiply(sigma, sigma, out=t)
        elif r == 2.0 / 3.0:
            t = xp.cbrt(sigma, out=t)
            t *= t
        elif r == 4.0 / 3.0:
            t = xp.cbrt(sigma, out=t)
            t *= sigma
        else:
            t = xp.log(sigma, out=t)
            t *= -rho
            return c, rho, xp.exp(t, out=t)
        return c, rho, xp.divide(1.0, t, out=t)     # sigma^-rho = 1 / sigma^rho

    def value(self, sigma, backend):
        c, _, t = self._power(sigma, backend)
        return (c * t).sum(axis=_SYNAPSE_AXES)

    def grad(self, sigma, backend):
        return self.value_and_grad(sigma, backend)[1]

    def value_and_grad(self, sigma, backend, scale=1.0, out=None):
        """Both at the price of one power: ``d/dsigma c sigma^-rho = -rho c sigma^-rho / sigma``."""
        c, rho, t = self._power(sigma, backend, out)
        value = c * t.sum(axis=_SYNAPSE_AXES) if isinstance(c, float) else (c * t).sum(axis=_SYNAPSE_AXES)
        t /= sigma
        t *= -rho * c * scale
        return value, t


def _common_value(value):
    """``value`` as a float when it is a scalar or every entry is equal, else None."""
    v = np.asarray(value, dtype=float)
    if v.ndim == 0:
        return float(v)
    return float(v.flat[0]) if v.size and (v == v.flat[0]).all() else None


class EntropicCost(_Cost):
    """Entropic cost ``-weight * sum_i log sigma_i`` (MODEL.md §A8): minus the entropy of Q."""

    target = "sigma"

    def __init__(self, weight=1.0):
        _check_positive("weight", weight, strict=False)
        self.weight = weight

    def value(self, sigma, backend):
        return -(self._h(self.weight, sigma, backend) * backend.xp.log(sigma)).sum(axis=_SYNAPSE_AXES)

    def grad(self, sigma, backend):
        return -self._h(self.weight, sigma, backend) / sigma


class L1Cost(_Cost):
    """Magnitude cost ``lam * sum_i |mu_i|`` (MODEL.md §A4; a Laplace prior, §A8)."""

    def __init__(self, lam):
        _check_positive("lambda", lam, strict=False)
        self.lam = lam

    def value(self, mu, backend):
        return (self._h(self.lam, mu, backend) * backend.xp.abs(mu)).sum(axis=_SYNAPSE_AXES)

    def grad(self, mu, backend):
        return self._h(self.lam, mu, backend) * backend.xp.sign(mu)

    def value_and_grad(self, mu, backend, scale=1.0, out=None):
        xp = backend.xp
        lam = self._h(self.lam, mu, backend)
        a = xp.abs(mu, out=out)
        value = lam * a.sum(axis=_SYNAPSE_AXES) if isinstance(lam, float) else (lam * a).sum(axis=_SYNAPSE_AXES)
        g = xp.sign(mu, out=a)
        g *= lam * scale
        return value, g


class L2Cost(_Cost):
    """Weight decay ``(lam/2) * sum_i mu_i^2``, gradient ``lam * mu`` (MODEL.md §B3)."""

    def __init__(self, lam):
        _check_positive("lambda", lam, strict=False)
        self.lam = lam

    def value(self, mu, backend):
        return 0.5 * (self._h(self.lam, mu, backend) * (mu * mu)).sum(axis=_SYNAPSE_AXES)

    def grad(self, mu, backend):
        return self._h(self.lam, mu, backend) * mu


def sigma_bar(sigmas, backend):
    """Reported noise level ``sqrt(mean_i sigma_i^2)`` over all synapses (§A4).

    ``sigmas`` is a list of per-layer arrays ``(*E, out, in)``; returns shape ``E``.
    """
    total = sum((s * s).sum(axis=_SYNAPSE_AXES) for s in sigmas)
    count = sum(s.shape[-1] * s.shape[-2] for s in sigmas)
    return backend.xp.sqrt(total / count)


def reported_reliability_cost(sigmas, rho, backend):
    """Reported reliability cost ``sum_i (1/rho) sigma_i^-rho`` (``s = 1``, §A4)."""
    return sum(PowerLawCost.from_s(1.0, rho).value(s, backend) for s in sigmas)


class GaussianPriorKL(_Cost):
    """The sigma part of ``KL(Q || P)`` for ``Q = N(mu, sigma^2)``, ``P = N(0, s_p^2)`` (MODEL.md §A8).

    Per synapse the closed form is

        KL_i = log(s_p / sigma_i) + (sigma_i^2 + mu_i^2) / (2 s_p^2) - 1/2,

    which splits into a sigma part (this cost, target ``'sigma'``)

        log s_p - log sigma_i + sigma_i^2 / (2 s_p^2) - 1/2,
        d/dsigma_i = -1/sigma_i + sigma_i / s_p^2,

    i.e. the entropic cost of :class:`EntropicCost` plus a quadratic in sigma
    (the constant does not change gradients; it makes the two parts sum to the
    KL exactly), and a mu part ``mu_i^2 / (2 s_p^2)``: weight decay
    ``L2Cost(1 / s_p^2)`` (:meth:`mu_cost`). Use both with
    ``MLP.add_costs``/``MLP.objective`` (:meth:`costs`): the minibatch
    objective ``mean CE + KL / N`` is minus the ELBO over N (Bayes by backprop).

    Parameters
    ----------
    prior_sigma : float or sequence of float
        Prior standard deviation ``s_p > 0`` (one per ensemble member allowed).
    """

    target = "sigma"

    def __init__(self, prior_sigma):
        _check_positive("prior_sigma", prior_sigma)
        self.prior_sigma = prior_sigma
        self._inv_var = 1.0 / np.asarray(prior_sigma, float) ** 2 if np.ndim(prior_sigma) else 1.0 / float(prior_sigma) ** 2
        self._log_sp = np.log(np.asarray(prior_sigma, float)) if np.ndim(prior_sigma) else float(np.log(prior_sigma))

    def mu_cost(self):
        """The mu part of the KL, ``sum_i mu_i^2 / (2 s_p^2)``: ``L2Cost(1 / s_p^2)``."""
        return L2Cost(self._inv_var)

    def costs(self):
        """``[self, self.mu_cost()]``: the whole KL as costs for ``MLP.add_costs``."""
        return [self, self.mu_cost()]

    def value(self, sigma, backend):
        xp = backend.xp
        inv_var = self._h(self._inv_var, sigma, backend)
        per = (0.5 * inv_var) * (sigma * sigma) - xp.log(sigma)
        n = sigma.shape[-1] * sigma.shape[-2]
        const = self._h(self._log_sp, sigma, backend)
        if not isinstance(const, float):
            const = const.reshape(const.shape[:-2])
        return per.sum(axis=_SYNAPSE_AXES) + n * (const - 0.5)

    def grad(self, sigma, backend):
        return self._h(self._inv_var, sigma, backend) * sigma - 1.0 / sigma

    def kl(self, mu, sigma, backend):
        """The closed-form ``sum_i KL(N(mu_i, sigma_i^2) || N(0, s_p^2))`` (per member)."""
        return self.value(sigma, backend) + self.mu_cost().value(mu, backend)


__all__ += ["GaussianPriorKL"]


# -- §A2 the four mechanisms as costs of the quantal synapse (n, p, q) --------------------
class QuantalCost(_Cost):
    """``c * sum_i E(n, p_i, q_i)``: the energy of one mechanism of MODEL.md §A2 as a cost of a
    quantal synapse (:class:`minisyn.layers.QuantalLinear`, Part C).

    ``theta`` is the tuple ``(n, p, q)``: the number of release sites (a
    number, or an array that broadcasts), the release probabilities and the
    signed quantal sizes (arrays ``(*E, out, in)``). :meth:`value` sums over the
    synapses, one value per ensemble member; :meth:`grad` gives
    ``(dC/dp, dC/dq)`` elementwise, ``None`` for a parameter the energy does not
    depend on. The layer carries them on to its own parameters. Each
    subclass writes ``E`` and its two partial derivatives beside each other;
    :data:`minisyn.biophysics.MECHANISMS` (``mechanism``) gives the law
    ``E ∝ sigma^-rho`` it obeys at fixed mean as its varying parameter moves.

    Parameters
    ----------
    c : float or sequence of float
        Cost weight, ``>= 0`` (one per ensemble member allowed).
    """

    target = "quantal"
    mechanism = None          # key of minisyn.biophysics.MECHANISMS

    def __init__(self, c):
        _check_positive("c", c, strict=False)
        self.c = c

    @property
    def rho(self):
        """The exponent of the mechanism's law ``E ∝ sigma^-rho`` at fixed mean (§A2)."""
        return MECHANISMS[self.mechanism].rho

    def energy(self, n, p, q, xp):
        """``E(n, p, q)`` per synapse."""
        raise NotImplementedError

    def partials(self, n, p, q, xp):
        """``(dE/dp, dE/dq)`` per synapse (``None`` where ``E`` does not depend on it)."""
        raise NotImplementedError

    def value(self, theta, backend):
        n, p, q = theta
        return (self._h(self.c, q, backend) * self.energy(n, p, q, backend.xp)).sum(axis=_SYNAPSE_AXES)

    def grad(self, theta, backend):
        n, p, q = theta
        c = self._h(self.c, q, backend)
        return tuple(None if d is None else c * d for d in self.partials(n, p, q, backend.xp))

    def value_and_grad(self, theta, backend, scale=1.0, out=None):
        """The value and ``scale`` times ``(dC/dp, dC/dq)``."""
        value, (dp, dq) = self.value(theta, backend), self.grad(theta, backend)
        if scale != 1.0:
            dp, dq = (None if d is None else d * scale for d in (dp, dq))
        return value, (dp, dq)


def _abs_power_slope(q, t, xp):
    """``sign(q) / t`` with ``t = |q|^a > 0`` away from 0, and 0 at ``q = 0`` (no inf, no NaN)."""
    return xp.sign(q) / xp.maximum(t, xp.finfo(t.dtype).tiny)


class CalciumCost(QuantalCost):
    """Calcium efflux, ``E = [Ca] = (p / (1 - p))^(1/4)`` (Hill coefficient 4, ``K = kappa = 1``; §A2).

    ``dE/dp = E / (4 p (1 - p))``: the log-odds derivative ``d log E / dp`` is
    ``(1/4) (1/p + 1/(1-p))``. Depends on ``p`` alone; ``rho = 1/2``.
    """

    mechanism = "calcium"

    def energy(self, n, p, q, xp):
        return xp.sqrt(xp.sqrt(p / (1.0 - p)))              # (p/(1-p))^(1/4)

    def partials(self, n, p, q, xp):
        pbar = 1.0 - p
        return self.energy(n, p, q, xp) / (4.0 * p * pbar), None   # dE/dp = E / (4 p (1-p))


class MembraneCost(QuantalCost):
    """Vesicle membrane, ``E = n |q|^(2/3)`` (area ``n r^2``, volume ``r^3 ∝ |q|``; §A2).

    ``dE/dq = (2/3) n sign(q) |q|^(-1/3)`` (0 at ``q = 0``); ``rho = 2/3`` as ``n`` varies.
    """

    mechanism = "membrane"

    def energy(self, n, p, q, xp):
        t = xp.cbrt(xp.abs(q))
        return n * (t * t)                                   # n |q|^(2/3)

    def partials(self, n, p, q, xp):
        return None, (2.0 / 3.0) * n * _abs_power_slope(q, xp.cbrt(xp.abs(q)), xp)


class ActinCost(QuantalCost):
    """Actin, ``E = n |q|^(1/3)`` (filament length ``∝ n r``; §A2).

    ``dE/dq = (1/3) n sign(q) |q|^(-2/3)`` (0 at ``q = 0``); ``rho = 4/3`` as ``n`` varies.
    """

    mechanism = "actin"

    def energy(self, n, p, q, xp):
        return n * xp.cbrt(xp.abs(q))                       # n |q|^(1/3)

    def partials(self, n, p, q, xp):
        t = xp.cbrt(xp.abs(q))
        return None, (1.0 / 3.0) * n * _abs_power_slope(q, t * t, xp)


class TraffickingCost(QuantalCost):
    """Trafficking, ``E = n p`` (vesicles moved per spike; §A2). ``dE/dp = n``; ``rho = 2`` as ``n`` varies."""

    mechanism = "trafficking"

    def energy(self, n, p, q, xp):
        return n * p

    def partials(self, n, p, q, xp):
        return n * xp.ones_like(p), None                     # dE/dp = n, shaped like p


#: The four mechanisms of MODEL.md §A2 as costs of ``(n, p, q)``, keyed like ``biophysics.MECHANISMS``.
QUANTAL_COSTS = {cls.mechanism: cls for cls in (CalciumCost, MembraneCost, ActinCost, TraffickingCost)}


def quantal_cost(mechanism, c):
    """The cost ``c * sum_i E(n, p_i, q_i)`` of ``mechanism`` (a key of :data:`QUANTAL_COSTS`)."""
    if mechanism not in QUANTAL_COSTS:
        raise ValueError(f"mechanism must be one of {tuple(QUANTAL_COSTS)}, got {mechanism!r}")
    return QUANTAL_COSTS[mechanism](c)


__all__ += ["QuantalCost", "CalciumCost", "MembraneCost", "ActinCost", "TraffickingCost", "QUANTAL_COSTS",
            "quantal_cost"]
