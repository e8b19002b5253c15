"""Optimisers with explicit state: SGD and Adam (MODEL.md §A5).

Both update a list of :class:`~minisyn.layers.Param` in place from their
``grad``. The learning rate may be a scalar or one value per ensemble member.
"""
from __future__ import annotations

import numpy as np

from minisyn.ops import per_member

__all__ = ["SGD", "Adam"]


def _check_lr(lr):
    v = np.asarray(lr, dtype=float)
    if not (np.isfinite(v).all() and (v > 0).all()):
        raise ValueError(f"learning rate must be finite and > 0, got {lr}")


class SGD:
    """Stochastic gradient descent ``theta <- theta - eta * (f * g + l2 * theta)``.

    Parameters
    ----------
    params : list of Param
    lr : float or sequence of float
        Base learning rate ``eta``.
    backend : Backend
    lr_factor : dict, optional
        Maps ``id(param)`` to a callable returning that parameter's
        learning-rate factor ``f`` (an array broadcastable to it), evaluated
        at each step.
    weight_decay : float or sequence of float
        L2 strength ``l2`` (one per ensemble member, or one for all), as
        ``torch.optim.SGD(weight_decay=...)``: the gradient of ``(l2/2) theta^2``
        added to the update, outside the learning-rate factor.
    """

    def __init__(self, params, lr, backend, lr_factor=None, weight_decay=0.0):
        _check_lr(lr)
        wd = np.asarray(weight_decay, float)
        if not (np.isfinite(wd).all() and (wd >= 0).all()):
            raise ValueError(f"weight_decay must be finite and >= 0, got {weight_decay}")
        self.params, self.lr, self.be = list(params), lr, backend
        self.lr_factor = dict(lr_factor or {})
        self._eta = [per_member(lr, p.value.ndim, backend) for p in self.params]
        self._wd = None if not wd.any() else [per_member(weight_decay, p.value.ndim, backend)
                                              for p in self.params]

    def step(self):
        for i, (p, eta) in enumerate(zip(self.params, self._eta)):
            factor = self.lr_factor.get(id(p))
            update = p.grad if factor is None else factor() * p.grad
            if self._wd is not None:
                update = update + self._wd[i] * p.value
            p.value -= eta * update


class Adam:
    """Adam (Kingma & Ba 2015), MODEL.md §A5; ``t`` counts steps from 1.

    Parameters
    ----------
    params : list of Param
    lr : float or sequence of float
        Base learning rate ``eta`` (5e-4 in the first paper).
    backend : Backend
    b1, b2, eps : float
    """

    def __init__(self, params, lr, backend, b1=0.9, b2=0.999, eps=1e-8):
        _check_lr(lr)
        if not (0 <= b1 < 1 and 0 <= b2 < 1 and eps > 0):
            raise ValueError(f"Adam needs 0 <= b1, b2 < 1 and eps > 0, got {b1}, {b2}, {eps}")
        xp = backend.xp
        self.params, self.lr, self.be = list(params), lr, backend
        self.b1, self.b2, self.eps = b1, b2, eps
        self.t = 0                                                # steps taken
        # The moments are stored scaled, m~ = m / (1 - b1) and v~ = v / (1 - b2): their
        # updates m~ = b1 m~ + g and v~ = b2 v~ + g^2 then take two and three passes over
        # the synapses instead of three and four. ``m`` and ``v`` give the moments themselves.
        self._ms = [xp.zeros_like(p.value) for p in self.params]
        self._vs = [xp.zeros_like(p.value) for p in self.params]
        self._eta = [per_member(lr, p.value.ndim, backend) for p in self.params]
        self._buf = [xp.empty_like(p.value) for p in self.params]  # scratch: no temporaries per step

    @property
    def m(self):
        """First moments ``m`` (MODEL.md §A5), one array per parameter (copies)."""
        return [ms * (1.0 - self.b1) for ms in self._ms]

    @property
    def v(self):
        """Second moments ``v`` (MODEL.md §A5), one array per parameter (copies)."""
        return [vs * (1.0 - self.b2) for vs in self._vs]

    def step(self):
        xp = self.be.xp
        self.t += 1
        c1 = 1.0 - self.b1**self.t                                # bias corrections
        c2 = 1.0 - self.b2**self.t
        # theta -= eta m_hat / (sqrt(v_hat) + eps), m_hat = m / c1, v_hat = v / c2. With
        # m = (1-b1) m~, v = (1-b2) v~ and q = sqrt((1-b2)/c2) this is
        # theta -= (eta (1-b1) / (c1 q)) m~ / (sqrt(v~) + eps / q).
        q = ((1.0 - self.b2) / c2) ** 0.5
        k = (1.0 - self.b1) / (c1 * q)
        eps = self.eps / q
        for p, m, v, eta, buf in zip(self.params, self._ms, self._vs, self._eta, self._buf):
            g = p.grad
            m *= self.b1                                          # m~ = b1 m~ + g
            m += g
            v *= self.b2                                          # v~ = b2 v~ + g^2
            xp.multiply(g, g, out=buf)
            v += buf
            xp.sqrt(v, out=buf)
            buf += eps
            xp.divide(m, buf, out=buf)
            buf *= eta * k
            p.value -= buf

    def effective_lr(self, param):
        """Per-synapse learning rate ``eta / (sqrt(v_hat) + eps)`` (§A5)."""
        xp = self.be.xp
        i = next(i for i, p in enumerate(self.params) if p is param)
        c2 = 1.0 - self.b2 ** max(self.t, 1)
        return self._eta[i] / (xp.sqrt(self._vs[i] * ((1.0 - self.b2) / c2)) + self.eps)
