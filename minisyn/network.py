"""Networks: a multilayer perceptron of stochastic synapses, and the perceptron.

:class:`MLP` composes synaptic layers (:mod:`minisyn.layers`) with ReLU
hidden units and a softmax output, and evaluates the whole objective of
MODEL.md §A4 (cross-entropy plus costs) with its gradient. With ``ensemble=K``
every array gains a leading axis of K independent networks that run through
the same layer code.
"""
from __future__ import annotations

import numpy as np

from minisyn.backend import get_backend
from minisyn.layers import SYNAPSES, BernoulliLinear, ReLU, synapse_type
from minisyn.losses import cross_entropy, softmax
from minisyn.rules import PresynapticRule

__all__ = ["MLP", "Perceptron", "SYNAPSES"]


def _seeds(seed, ensemble):
    """One seed per ensemble member, or a single seed (integers >= 0)."""
    for s in np.ravel(seed):
        if not (np.issubdtype(np.asarray(s).dtype, np.integer) or float(s).is_integer()) or s < 0:
            raise ValueError(f"seed must be an integer >= 0 (or one per ensemble member), got {seed!r}")
    if ensemble is None:
        if np.ndim(seed) != 0:
            raise ValueError("a list of seeds needs ensemble=K")
        return int(seed)
    if np.ndim(seed) == 0:
        return [int(seed) + k for k in range(ensemble)]
    seeds = [int(s) for s in seed]
    if len(seeds) != ensemble:
        raise ValueError(f"ensemble={ensemble} needs {ensemble} seeds, got {len(seeds)}")
    return seeds


class MLP:
    """A feed-forward network of stochastic synapses.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, e.g. ``(784, 100, 100, 10)``.
    synapse : str
        A registered synapse type (:data:`minisyn.layers.SYNAPSES`):
        ``'gaussian'``, ``'bernoulli'``, ``'deterministic'``.
    backend : Backend, str or None
    seed : int or sequence of int
        Seeds the initial weights and the synaptic noise (one per member).
    ensemble : int or None
        Number K of independent networks sharing a leading axis.
    scheme : {'weights', 'local'}
        Gaussian sampling scheme (§A3).
    noise : {'heterogeneous', 'homogeneous'}
        Gaussian noise setting (§A4): a sigma per synapse or one per network.
    bias : bool or None
        Default: the synapse type's ``default_bias`` (True for Gaussian and
        deterministic synapses, False for Bernoulli synapses, §B1).
    sigma_init, mu_init : float
        Gaussian initial noise level and mean range (1e-4 and 0.1, §A4).
    p_init : float
        Bernoulli initial release probability (0.25, §B1).
    release_p : float or None
        Fixed forward release probability ("ghost" control, §B5).
    relu_after : sequence of bool or None
        Whether a ReLU follows each synaptic layer. Default: after every
        hidden layer and not after the output (the papers' text). Paper A's
        code has ``(False, True, True)``: no ReLU after the first layer and a
        ReLU on the logits (EfficientBayes ``sims-fig2and3.py``@5617f3b,
        lines 110-114; docs/results/differences.md, A1).
    **synapse_options
        Options of the synapse type's own, passed to its ``build`` (quantal
        synapses: ``n_sites``, ``quantal_scheme``, ``p_learning``).
    """

    def __init__(self, sizes, synapse="gaussian", backend=None, seed=0, ensemble=None,
                 scheme="weights", noise="heterogeneous", bias=None, sigma_init=1e-4,
                 mu_init=0.1, p_init=0.25, release_p=None, relu_after=None, **synapse_options):
        sizes = [int(n) for n in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"sizes must list at least two positive widths, got {sizes}")
        cls = self.synapse_type = synapse_type(synapse)
        if noise not in ("heterogeneous", "homogeneous"):
            raise ValueError(f"noise must be 'heterogeneous' or 'homogeneous', got {noise!r}")
        if ensemble is not None and int(ensemble) < 1:
            raise ValueError(f"ensemble must be a positive integer, got {ensemble}")
        if not sigma_init > 0:
            raise ValueError(f"sigma_init must be > 0, got {sigma_init}")
        n_layers = len(sizes) - 1
        relu_after = [i < n_layers - 1 for i in range(n_layers)] if relu_after is None else \
            [bool(r) for r in relu_after]
        if len(relu_after) != n_layers:
            raise ValueError(f"relu_after needs one entry per synaptic layer ({n_layers}), got {len(relu_after)}")
        self.relu_after = tuple(relu_after)
        be = self.be = get_backend(backend)
        self.sizes, self.synapse, self.noise, self.scheme = sizes, synapse, noise, scheme
        self.ensemble = None if ensemble is None else int(ensemble)
        self.lead = () if ensemble is None else (self.ensemble,)
        self.seed = _seeds(seed, self.ensemble)
        self.gen = be.generator(self.seed)
        options = dict(backend=be, gen=self.gen, lead=self.lead, bias=cls.default_bias if bias is None else bias,
                       scheme=scheme, noise=noise, sigma_init=sigma_init, mu_init=mu_init, p_init=p_init,
                       release_p=release_p, **synapse_options)
        shared = {}                                  # network-wide parameters (a homogeneous phi)
        self.synaptic, self.layers = [], []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layer = cls.build(n_in, n_out, shared=shared, **options)
            layer.needs_input_grad = i > 0          # nothing upstream of the input layer
            self.synaptic.append(layer)
            self.layers.append(layer)
            if relu_after[i]:
                self.layers.append(ReLU(be))

    # -- parameters ----------------------------------------------------------
    def params(self):
        """Unique trainable parameters (a shared phi appears once)."""
        seen, out = set(), []
        for layer in self.synaptic:
            for p in layer.params:
                if id(p) not in seen:
                    seen.add(id(p))
                    out.append(p)
        return out

    def zero_grad(self):
        for p in self.params():
            p.grad[...] = 0

    def sigmas(self):
        """Per-layer noise levels, broadcast to the weight shapes (Gaussian only)."""
        xp = self.be.xp
        return [xp.broadcast_to(layer.sigma(), layer.mu.shape) for layer in self.synaptic]

    @property
    def n_synapses(self):
        return sum(int(np.prod(layer.weight_shape[len(self.lead):])) for layer in self.synaptic)

    # -- passes --------------------------------------------------------------
    def forward(self, x, mode="sample"):
        """Logits ``(*E, B, n_out)`` for inputs ``(B, n_in)`` or ``(*E, B, n_in)``."""
        for layer in self.layers:
            x = layer.forward(x, mode)
        return x

    def backward(self, dL_dlogits):
        """Accumulate every parameter gradient from ``dL/dlogits``."""
        g = dL_dlogits
        for layer in reversed(self.layers):
            g = layer.backward(g)
        return g   # None: the input layer computes no dL/dx

    def objective(self, x, targets, n_train, costs=(), mode="sample"):
        """Minibatch objective of MODEL.md §A4 and its gradient.

        ``mean_batch CE + (sum of costs) / N``, one value per ensemble member.
        Gradients are added into each ``Param.grad`` (call :meth:`zero_grad`
        first).

        Parameters
        ----------
        x : array of shape (B, n_in) or (*E, B, n_in)
        targets : array of shape (B, C) or (*E, B, C)
            One-hot labels.
        n_train : int
            Training-set size ``N``.
        costs : sequence of cost objects (:mod:`minisyn.costs`)

        Returns
        -------
        dict with ``'loss'`` (total), ``'ce'`` and ``'cost'``, each of shape E.
        """
        xp = self.be.xp
        logits = self.forward(x, mode)
        ce, dL_dlogits = cross_entropy(logits, targets, xp)
        self.backward(dL_dlogits)
        cost = self.add_costs(costs, n_train, cached=True)
        return {"loss": ce + cost, "ce": ce, "cost": cost, "logits": logits}

    def add_costs(self, costs, n_train, cached=False):
        """Add ``(sum of costs) / N`` and its gradient; return the value.

        ``cached=True`` reuses each layer's sigma from the forward pass just
        run (as :meth:`objective` does).
        """
        inv_n = 1.0 / n_train
        total = self.be.xp.zeros(self.lead, dtype=self.be.dtype)
        for cost in costs:
            for layer in self.synaptic:
                value = layer.add_cost(cost, inv_n, cached)    # the layer's type knows where the cost acts
                total = total + value * inv_n
        return total

    def predict_proba(self, x, mode="sample", samples=1):
        """Class probabilities; with ``samples > 1``, the average over samples."""
        xp = self.be.xp
        probs = softmax(self.forward(x, mode), xp)
        for _ in range(samples - 1):
            probs = probs + softmax(self.forward(x, mode), xp)
        return probs / samples

    # -- saving --------------------------------------------------------------
    def state(self):
        """Host copies of every array, keyed ``layer{i}.{name}``."""
        out = {}
        for i, layer in enumerate(self.synaptic):
            out.update(layer.state(f"layer{i}"))
        return out

    def load_state(self, state):
        """Set parameters from :meth:`state` output (checking shapes)."""
        for i, layer in enumerate(self.synaptic):
            layer.load_state(state, f"layer{i}")

    def describe(self, **settings):
        """Summary numbers of the trained network from its synapse type (``sigma_bar``, ``energy``, ...)."""
        return self.synapse_type.describe(self, **settings)


class Perceptron:
    """A one-layer perceptron with Bernoulli synapses, ``y = sign(sum_i w_i x_i)`` (MODEL.md §B6).

    Expected strengths follow Rosenblatt's rule, ``eta * y * x`` on a mistake,
    averaged over a group of patterns before each update; with ``stochastic``
    synapses the update is passed to the presynaptic rule as ``g`` (so §B2
    applies, with its ``(1 - p)`` factor), otherwise applied directly.

    Parameters
    ----------
    n : int
        Number of inputs N (capacity 2N patterns).
    backend : Backend, str or None
    seed : int
    stochastic : bool
        Bernoulli synapses with presynaptic plasticity, or a standard perceptron.
    lr : float
    rule_kwargs : dict
        Passed to :class:`~minisyn.rules.PresynapticRule` (``d_up``, ``g_lim``, ...).
    """

    def __init__(self, n, backend=None, seed=0, stochastic=True, lr=1.0, p_init=0.25, rule_kwargs=None):
        be = self.be = get_backend(backend)
        self.n, self.stochastic, self.lr = int(n), stochastic, lr
        self.gen = be.generator(seed)
        self.layer = BernoulliLinear(self.n, 1, be, self.gen, p_init=p_init if stochastic else 1.0)
        self.layer.m.value[...] = 0
        kwargs = dict(d_up=0.07, d_down=0.07, g_lim=1e-3, p_min=p_init, lr_factor=True)
        kwargs.update(rule_kwargs or {})
        self.rule = PresynapticRule([self.layer], lr, be, **kwargs) if stochastic else None

    def predict(self, x, mode="sample"):
        """``sign(w . x)`` for patterns ``(B, N)`` in {-1, +1}; returns ``(B,)``."""
        a = self.layer.forward(x, mode)[..., 0]
        return self.be.xp.where(a >= 0, 1.0, -1.0).astype(self.be.dtype)

    def update(self, x, y):
        """One Rosenblatt step averaged over the patterns ``x (B, N)``, labels ``y (B,)``."""
        wrong = (self.predict(x) != y).astype(self.be.dtype)
        # descent direction: minus the averaged Rosenblatt update eta y x on mistakes
        g = -((wrong * y)[:, None] * x).mean(axis=0)[None, :]
        if self.stochastic:
            self.layer.m.grad[...] = g
            self.rule.step()
        else:
            self.layer.m.value -= self.lr * g
        return wrong.mean()
