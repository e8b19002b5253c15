"""The presynaptic learning rule (MODEL.md §B2, §B5; Schug et al.).

After the gradient ``g = dL/dm`` of a minibatch, each Bernoulli synapse moves
its expected strength by gradient descent, slowed by ``(1 - p)`` when
consolidating, and its release probability up when ``|g|`` is large and down
otherwise. Synapses whose ``p`` has reached ``p_freeze`` keep their ``p``
(but not their strength) fixed.

Weight decay (the L2 term of the energy experiments, §B3) enters the strength
update only, ``m <- m - eta ((1 - p) g + l2 m)``, and the potentiation test
``|g| >= g_lim`` sees the data gradient ``g`` alone, as in the authors' code
(``DynamicDropConnect.update_params`` adds the decay, ``update_probs`` gets
the plain cross-entropy gradient). Putting the L2 term into ``g`` instead
would let weight decay itself raise ``p`` wherever ``l2 |m| >= g_lim``.
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
    weight_decay : float or sequence of float
        L2 strength ``l2`` (one per ensemble member, or one for all): adds
        ``eta * l2 * m`` to the strength update, never slowed by ``(1 - p)``
        and never seen by the release-probability update.
    """

    def __init__(self, layers, lr, backend, d_up=0.07, d_down=0.07, g_lim=1e-3, p_min=0.25,
                 p_freeze=1.0, lr_factor=False, plastic_p=True, weight_decay=0.0):
        for name, v in (("lr", lr), ("g_lim", g_lim)):
            if not (np.isfinite(np.asarray(v, float)).all() and (np.asarray(v) > 0).all()):
                raise ValueError(f"{name} must be finite and > 0, got {v}")
        wd = np.asarray(weight_decay, float)
        if not (np.isfinite(wd).all() and (wd >= 0).all()):
            raise ValueError(f"weight_decay must be finite and >= 0, got {weight_decay}")
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
        self._wd = None if not wd.any() else [per_member(weight_decay, layer.m.value.ndim, backend)
                                              for layer in self.layers]

    def step(self):
        xp = self.be.xp
        for i, (layer, eta) in enumerate(zip(self.layers, self._eta)):
            m, p, g = layer.m.value, layer.p, layer.m.grad
            # expected strength: m <- m - eta ((1 - p) g + l2 m)   (or without the (1 - p))
            update = (1.0 - p) * g if self.lr_factor else g
            if self._wd is not None:
                update = update + self._wd[i] * m
            m -= eta * update
            if not self.plastic_p:
                continue
            up = xp.abs(g) >= self.g_lim                              # large gradient: potentiate
            step = xp.where(up, self.d_up, -self.d_down)
            p_new = xp.clip(p + (1.0 - p) * step, self.p_min, 1.0)    # p <- clip(p + (1-p)(...))
            # frozen synapses keep their p
            layer.p = xp.where(p >= self.p_freeze, p, p_new).astype(p.dtype)
