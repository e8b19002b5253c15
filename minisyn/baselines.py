"""Lifelong-learning baselines (MODEL.md §B5): EWC and BGD.

- :class:`EWC` (Kirkpatrick et al. 2017): after each task ``k`` store the
  weights ``theta*_k`` and their diagonal empirical Fisher information
  ``F_k`` (:func:`minisyn.analysis.empirical_fisher`); afterwards add the cost
  ``(lam/2) sum_k sum_i F_k,i (theta_i - theta*_k,i)^2`` and its gradient.
- :class:`BGD` (Zeno et al. 2018): Gaussian weights ``theta = mu + sigma eps``
  with K Monte-Carlo samples per step, the gradients coming from the engine's
  forward and backward passes at each sample; of the minibatch-mean loss, or
  (``batch_gradient='sum'``, as Zeno et al.'s code) of the minibatch-summed loss.

Both act on the weight parameter of each synaptic layer (``layer.mu`` of a
deterministic MLP, ``MLP(..., synapse='deterministic')``; biases are its last
column).
"""
from __future__ import annotations

import numpy as np

from minisyn.analysis import empirical_fisher

__all__ = ["EWC", "BGD", "BATCH_GRADIENTS", "bgd_update"]

#: the loss whose gradient BGD is fed: the minibatch mean, or its sum (B times the mean's)
BATCH_GRADIENTS = ("mean", "sum")


class EWC:
    """Elastic weight consolidation (MODEL.md §B5).

    Parameters
    ----------
    lam : float
        Strength ``lam`` of the quadratic penalty.
    mode : {'mean', 'sample'}
        How the Fisher information is computed (:func:`empirical_fisher`).

    Examples
    --------
    After training on task k::

        ewc.consolidate(net, x_k, y_k)

    and in every later step, after ``net.objective``::

        penalty = ewc.add_grad(net)
    """

    def __init__(self, lam, mode="mean"):
        if not (np.isfinite(lam) and lam >= 0):
            raise ValueError(f"lam must be finite and >= 0, got {lam}")
        self.lam, self.mode = float(lam), mode
        self.anchors = []      # per task: list of theta*_k, one per layer
        self.fishers = []      # per task: list of F_k, one per layer

    @staticmethod
    def _thetas(net):
        return [layer.params[0] for layer in net.synaptic]

    def consolidate(self, net, x, y):
        """Store ``theta*_k`` and the diagonal Fisher ``F_k`` after a task.

        Overwrites (zeroes) the parameters' gradients.
        """
        fisher = empirical_fisher(net, x, y, mode=self.mode)
        self.anchors.append([t.value.copy() for t in self._thetas(net)])
        self.fishers.append(fisher)

    def value_and_grad(self, net):
        """Penalty ``(lam/2) sum_k sum_i F_k,i (theta_i - theta*_k,i)^2`` and its gradient.

        The gradient is ``lam sum_k F_k (theta - theta*_k)``.

        Returns
        -------
        value : 0-d backend array
        grads : list of backend arrays, one per layer (shaped like its weights)
        """
        xp = net.be.xp
        thetas = self._thetas(net)
        value = xp.zeros((), dtype=net.be.dtype)
        grads = [xp.zeros_like(t.value) for t in thetas]
        for anchor, fisher in zip(self.anchors, self.fishers):
            for i, (t, t_star, F) in enumerate(zip(thetas, anchor, fisher)):
                d = t.value - t_star
                value = value + 0.5 * self.lam * (F * d * d).sum()
                grads[i] += self.lam * F * d
        return value, grads

    def add_grad(self, net, scale=1.0):
        """Add ``scale`` times the penalty's gradient into ``Param.grad``; return ``scale`` times its value."""
        value, grads = self.value_and_grad(net)
        for t, g in zip(self._thetas(net), grads):
            t.grad += scale * g
        return scale * value


def bgd_update(mu, sigma, mean_g, mean_g_eps, eta, xp):
    """One BGD step of Zeno et al. (2018) (MODEL.md §B5).

        mu    <- mu - eta sigma^2 E[g]
        sigma <- sigma sqrt(1 + (sigma E[g eps] / 2)^2) - sigma^2 E[g eps] / 2

    With ``a = sigma E[g eps] / 2`` the second line is
    ``sigma (sqrt(1 + a^2) - a)``, positive for every ``a``; for ``a > 0`` it
    is evaluated as ``sigma / (sqrt(1 + a^2) + a)``, which avoids the
    cancellation that would round ``sigma`` to 0 for large ``a``.

    Returns
    -------
    (mu_new, sigma_new)
    """
    a = 0.5 * sigma * mean_g_eps
    root = xp.hypot(1.0, a)                                  # sqrt(1 + a^2) without overflow
    shrink = xp.where(a > 0, 1.0 / (root + xp.abs(a)), root - a)
    return mu - eta * sigma * sigma * mean_g, sigma * shrink


class BGD:
    """Bayesian gradient descent (Zeno et al. 2018; MODEL.md §B5).

    Every parameter ``theta`` in ``params`` gets a mean ``mu`` (the
    parameter's value between steps) and a standard deviation ``sigma``.
    A step draws K samples ``theta = mu + sigma eps``, evaluates the gradient
    ``g`` at each through ``closure``, and applies :func:`bgd_update` with the
    Monte-Carlo means ``E[g]`` and ``E[g eps]``.

    Zeno et al.'s code feeds BGD the gradient of the minibatch-*summed* loss:
    it multiplies the gradient of the mean loss by the batch size B
    (igolan/bgd@275cab5 ``optimizers_lib/bgd_optimizer.py`` line 84
    ``grad = group["params"][0].grad.data.mul(batch_size)``, called with
    ``batch_size=inputs.size(0)`` from ``nn_utils/NNTrainer.py`` lines
    344-345). Then ``E[g]`` and ``E[g eps]`` are B times those of the mean
    loss: ``mu`` moves as the mean-loss BGD at ``eta B`` would, and ``sigma``
    shrinks as if ``E[g eps]`` were B times larger, which no ``eta`` gives
    (docs/results/differences.md, B16).

    Parameters
    ----------
    params : list of Param
        E.g. ``net.params()`` of a deterministic MLP.
    backend : Backend
    eta : float
        Mean learning rate (1 in Zeno et al.).
    sigma_init : float
        Initial standard deviation.
    n_samples : int
        K, the number of Monte-Carlo samples per step.
    seed : int
        Seeds ``eps``.
    batch_gradient : {'mean', 'sum'}
        What :meth:`mlp_step` feeds the update: the gradient of the
        minibatch-mean cross-entropy, or of the minibatch-summed one (B times
        larger; Zeno et al.'s code).
    """

    def __init__(self, params, backend, eta=1.0, sigma_init=0.02, n_samples=10, seed=0, batch_gradient="mean"):
        if not (eta > 0 and sigma_init > 0 and int(n_samples) >= 1):
            raise ValueError("BGD needs eta > 0, sigma_init > 0 and n_samples >= 1")
        if batch_gradient not in BATCH_GRADIENTS:
            raise ValueError(f"batch_gradient must be one of {BATCH_GRADIENTS}, got {batch_gradient!r}")
        xp = backend.xp
        self.params, self.be = list(params), backend
        self.eta, self.n_samples, self.batch_gradient = float(eta), int(n_samples), batch_gradient
        self.gen = backend.generator(seed)
        self.mu = [p.value.copy() for p in self.params]
        self.sigma = [xp.full(p.shape, sigma_init, dtype=backend.dtype) for p in self.params]

    def step(self, closure, scale=1.0):
        """One update; ``closure()`` must add the loss gradient at the current
        parameter values into ``Param.grad`` (gradients are zeroed before each
        call) and return the loss; the update uses ``scale`` times that
        gradient. Returns the mean loss over the samples."""
        xp = self.be.xp
        self.mu = [p.value.copy() for p in self.params]      # the mean, also if the values were set from outside
        mean_g = [xp.zeros_like(m) for m in self.mu]
        mean_ge = [xp.zeros_like(m) for m in self.mu]
        loss = 0.0
        for _ in range(self.n_samples):
            eps = [self.gen.normal(m.shape) for m in self.mu]
            for p, m, s, e in zip(self.params, self.mu, self.sigma, eps):
                p.value[...] = m + s * e                       # theta = mu + sigma eps
                p.grad[...] = 0
            loss = loss + closure()
            for i, (p, e) in enumerate(zip(self.params, eps)):
                g = scale * p.grad                             # the loss's gradient (times B: summed loss)
                mean_g[i] += g / self.n_samples                # E[g]
                mean_ge[i] += g * e / self.n_samples           # E[g eps]
        for i, p in enumerate(self.params):
            self.mu[i], self.sigma[i] = bgd_update(self.mu[i], self.sigma[i], mean_g[i], mean_ge[i], self.eta, xp)
            p.value[...] = self.mu[i]
        return loss / self.n_samples

    def mlp_step(self, net, x, targets, n_train):
        """A :meth:`step` on the cross-entropy of ``net`` for one minibatch (one-hot ``targets``):
        its minibatch mean, or with ``batch_gradient='sum'`` its sum (the mean's gradient times
        the batch size). Returns the mean loss."""
        scale = x.shape[-2] if self.batch_gradient == "sum" else 1.0
        return self.step(lambda: net.objective(x, targets, n_train, mode="mean")["loss"], scale)
