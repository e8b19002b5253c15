"""The presynaptic learning rule (MODEL.md §B2, §B5; Schug et al.).

After the gradient ``g = dL/dm`` of a minibatch, each Bernoulli synapse moves
its expected strength by gradient descent, slowed by ``(1 - p)`` when
consolidating, and its release probability up when ``|g|`` is large and down
otherwise. Synapses whose ``p`` has reached ``p_freeze`` keep their ``p``
(but not their strength) fixed.
"""
from __future__ import annotations

import numpy as np

from minisyn.ops import per_member

__all__ = ["PresynapticRule"]


class PresynapticRule:
    """Presynaptic plasticity with optional consolidation.

    Parameters
    ----------
    layers : list of BernoulliLinear
    lr : float or sequence of float
        Base learning rate ``eta`` of the expected strengths.
    backend : Backend
    d_up, d_down : float
        Release-probability steps (0.07 and 0.07 in the energy experiments;
        0.0520 and 0.0516 for lifelong learning).
    g_lim : float
        Gradient-magnitude threshold (1e-3).
    p_min : float
        Lower bound of ``p`` (0.25).
    p_freeze : float
        ``p`` is frozen once ``p >= p_freeze`` (1 means no freezing; 0.9353
        for lifelong learning).
    lr_factor : bool
        Multiply the learning rate by ``(1 - p)`` (consolidation, §B5; off in
        the energy experiments).
    plastic_p : bool
        ``False`` leaves ``p`` fixed (the "fixed release" control of §B3).
    """

    def __init__(self, layers, lr, backend, d_up=0.07, d_down=0.07, g_lim=1e-3, p_min=0.25,
                 p_freeze=1.0, lr_factor=False, plastic_p=True):
        for name, v in (("lr", lr), ("g_lim", g_lim)):
            if not (np.isfinite(np.asarray(v, float)).all() and (np.asarray(v) > 0).all()):
                raise ValueError(f"{name} must be finite and > 0, got {v}")
        if not (0 <= d_up <= 1 and 0 <= d_down <= 1):
            raise ValueError(f"d_up and d_down must lie in [0, 1], got {d_up}, {d_down}")
        if not 0 < p_min <= 1:
            raise ValueError(f"p_min must lie in (0, 1], got {p_min}")
        if not p_min <= p_freeze <= 1:
            raise ValueError(f"p_freeze must lie in [p_min, 1], got {p_freeze}")
        self.layers, self.be = list(layers), backend
        self.d_up, self.d_down, self.g_lim = d_up, d_down, g_lim
        self.p_min, self.p_freeze = p_min, p_freeze
        self.lr_factor, self.plastic_p = lr_factor, plastic_p
        self._eta = [per_member(lr, layer.m.value.ndim, backend) for layer in self.layers]

    def step(self):
        xp = self.be.xp
        for layer, eta in zip(self.layers, self._eta):
            m, p, g = layer.m.value, layer.p, layer.m.grad
            # expected strength: m <- m - eta (1 - p) g   (or without the (1 - p))
            m -= eta * ((1.0 - p) * g if self.lr_factor else g)
            if not self.plastic_p:
                continue
            up = xp.abs(g) >= self.g_lim                              # large gradient: potentiate
            step = xp.where(up, self.d_up, -self.d_down)
            p_new = xp.clip(p + (1.0 - p) * step, self.p_min, 1.0)    # p <- clip(p + (1-p)(...))
            # frozen synapses keep their p
            layer.p = xp.where(p >= self.p_freeze, p, p_new).astype(p.dtype)
