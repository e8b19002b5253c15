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
        # float32 overflows where g^2 / (1 - b2) passes 3.4e38, i.e. |g| above about 6e17 (an extreme
        # reliability cost at a tiny sigma): v~ would be inf and the step 0 for good. The moments are
        # therefore those of g 2^-s, with an exponent s per parameter that grows when needed
        # (_guard_moments; float32 on the CPU backends, where a check costs no device sync).
        self._shift = [0] * len(self.params)
        self._guard = np.dtype(backend.dtype) == np.float32 and backend.name != "cupy"

    @property
    def m(self):
        """First moments ``m`` (MODEL.md §A5), one array per parameter (copies; float64
        for a parameter whose moments are stored shifted, where ``m`` may pass float32's range)."""
        return [(ms.astype("float64") if s else ms) * ((1.0 - self.b1) * 2.0**s)
                for ms, s in zip(self._ms, self._shift)]

    @property
    def v(self):
        """Second moments ``v`` (MODEL.md §A5), one array per parameter (copies; float64 where shifted)."""
        return [(vs.astype("float64") if s else vs) * ((1.0 - self.b2) * 4.0**s)
                for vs, s in zip(self._vs, self._shift)]

    #: the stored v~ is brought back below 2^(2 LOW) when it would pass 2^(2 HIGH)
    #: (float32's largest number is about 2^128)
    HIGH, LOW = 50, 40
    #: steps at which the guard looks: the first two, then every CHECK_EVERY
    CHECK_EVERY = 32

    def _guard_moments(self, i, g):
        """Keep parameter ``i``'s stored moments finite in float32 (three reductions, every few steps).

        Adam's step ``m_hat / (sqrt(v_hat) + eps)`` is unchanged when the moments
        are those of ``g 2^-s`` and ``eps`` becomes ``eps 2^-s``, and scaling by a
        power of two is exact. Where this step's ``v~ = b2 v~ + (g 2^-s)^2`` would
        pass ``2^(2 HIGH)``, ``s`` grows and the stored moments are scaled down.
        Moments that overflowed all the same (a gradient that grew by more than
        ``2^(128 - 2 HIGH)`` between two checks) restart from zero.
        """
        s = self._shift[i]
        gmax = max(float(g.max()), -float(g.min())) * 2.0**-s if g.size else 0.0
        vmax = float(self._vs[i].max()) if g.size else 0.0
        if not np.isfinite(gmax):
            return                                                     # a non-finite gradient: divergence
        if not np.isfinite(vmax):                                      # overflowed since the last check
            self._ms[i][...] = 0
            self._vs[i][...] = 0
            vmax = 0.0
        coming = self.b2 * vmax + gmax * gmax                          # v~ after this step (float64 here)
        if coming < 2.0 ** (2 * self.HIGH):
            return
        d = int(np.ceil(0.5 * np.log2(coming))) - self.LOW
        self._ms[i] *= 2.0**-d                                         # the moments of g 2^-(s + d)
        self._vs[i] *= 4.0**-d
        self._shift[i] = s + d

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
        check = self._guard and (self.t <= 2 or self.t % self.CHECK_EVERY == 0)
        for i, (p, m, v, eta, buf) in enumerate(zip(self.params, self._ms, self._vs, self._eta, self._buf)):
            g = p.grad
            if check:
                self._guard_moments(i, g)
            s = self._shift[i]
            if s:                                                 # the moments of g 2^-s (_guard_moments)
                g = xp.multiply(g, 2.0**-s, out=buf)
            m *= self.b1                                          # m~ = b1 m~ + g
            m += g
            v *= self.b2                                          # v~ = b2 v~ + g^2
            xp.multiply(g, g, out=buf)
            v += buf
            xp.sqrt(v, out=buf)
            buf += eps * 2.0**-s
            xp.divide(m, buf, out=buf)
            buf *= eta * k
            p.value -= buf

    def effective_lr(self, param):
        """Per-synapse learning rate ``eta / (sqrt(v_hat) + eps)`` (§A5)."""
        xp = self.be.xp
        i = next(i for i, p in enumerate(self.params) if p is param)
        c2 = 1.0 - self.b2 ** max(self.t, 1)
        s = self._shift[i]
        return self._eta[i] * 2.0**-s / (xp.sqrt(self._vs[i] * ((1.0 - self.b2) / c2)) + self.eps * 2.0**-s)
